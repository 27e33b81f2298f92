#!/usr/bin/env bash
# Index costs on a trail of N signed atoms (default 10000): a full `atom reindex`
# next to `git log --format=%B` over the same commits, and an end-to-end
# `atom log --agent X --path P -n 20` (one process each, index caught up).
# Usage: benches/reindex-vs-git.sh [N]   (needs a release build: cargo build --release)
# Writing the atoms takes about 10 ms each (every `atom record` signs and fsyncs).
set -euo pipefail
N=${1:-10000}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store
"$atom" init -q >/dev/null
python3 - "$N" "$atom" "$tmp/store" <<'PY'
import datetime, os, statistics, subprocess, sys, time
n, atom, store = int(sys.argv[1]), sys.argv[2], sys.argv[3]
agents = ["qwen", "claude-code", "perplexity", "alice"]
start = datetime.datetime(2024, 11, 27, tzinfo=datetime.timezone.utc)
t0 = time.perf_counter()
for i in range(n):
    at = (start + datetime.timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    subprocess.run([atom, "record", "CFG", "modify_file", "--agent", agents[i % 4],
                    "--summary", f"step {i}: tune frame pacing", "--set", f"path=conf/{i % 50}.env",
                    "--tokens", str(i % 1000), "--at", at], check=True, stdout=subprocess.DEVNULL)
    if (i + 1) % 1000 == 0:
        print(f"  recorded {i + 1}/{n}", file=sys.stderr)
print(f"recording {n} atoms: {time.perf_counter() - t0:.1f} s", flush=True)

def p50(cmd, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000

git_dir = os.path.join(store, "trail.git")
reindex = p50([atom, "-q", "reindex"], 5)
gitlog = p50(["git", "--git-dir", git_dir, "log", "--format=%B", "refs/heads/main"], 5)
log = p50([atom, "log", "--agent", "qwen", "--path", "conf/2.env", "-n", "20"], 10)
gitgrep = p50(["git", "--git-dir", git_dir, "log", "--author=qwen", "-n", "20", "--format=%B"], 10)
print(f"N = {n} signed atoms")
print(f"atom reindex (full rebuild)                      p50 {reindex:9.1f} ms  ({reindex * 1000 / n:.0f} us/atom)")
print(f"git log --format=%B (same commits)               p50 {gitlog:9.1f} ms")
print(f"atom log --agent qwen --path conf/2.env -n 20    p50 {log:9.1f} ms")
print(f"git log --author=qwen -n 20 --format=%B          p50 {gitgrep:9.1f} ms  (no path filter: it is in atom.json)")
PY
