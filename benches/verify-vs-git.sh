#!/usr/bin/env bash
# `atom verify` over N atoms (default 2000) next to stock git checking the
# signatures of the same commits with `git verify-commit`, one commit per
# call as a script would. git runs ssh-keygen per commit, so it is timed on a
# sample of commits (default 200) and extrapolated to N; the output says so.
# Usage: benches/verify-vs-git.sh [N] [SAMPLE]   (needs: cargo build --release)
set -euo pipefail
N=${1:-2000}
SAMPLE=${2:-200}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store ATOM_AGENT=bench
"$atom" init -q >/dev/null
echo "recording $N atoms..." >&2
for i in $(seq 1 "$N"); do
  "$atom" -q record CFG modify_file --summary "step $i" --set path=gaming.env --tokens "$i" >/dev/null
done
python3 - "$N" "$SAMPLE" "$atom" "$tmp" <<'PY'
import os, subprocess, sys, time
n, sample, atom, tmp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
git_dir = os.path.join(tmp, "store", "trail.git")
allowed = os.path.join(tmp, "store", "keys", "allowed_signers")
commits = subprocess.run(["git", "--git-dir", git_dir, "rev-list", "main"], check=True,
                         capture_output=True, text=True).stdout.split()
assert len(commits) == n, (len(commits), n)

runs = []
for _ in range(3):
    t = time.perf_counter()
    out = subprocess.run([atom, "verify"], check=True, capture_output=True, text=True)
    runs.append(time.perf_counter() - t)
atom_s = min(runs)
print(out.stdout.strip())

sample = min(sample, n)
picked = commits[:: max(1, n // sample)][:sample]
t = time.perf_counter()
for c in picked:
    subprocess.run(["git", "--git-dir", git_dir, "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                    "verify-commit", c], check=True, capture_output=True)
per_commit = (time.perf_counter() - t) / len(picked)
git_s = per_commit * n
print(f"atom verify, {n} atoms (digest, links, ids, signatures, trees; best of 3)  {atom_s:8.3f} s  ({atom_s / n * 1e6:6.0f} us/atom)")
print(f"git verify-commit per commit, timed on {len(picked)} of {n}, extrapolated     {git_s:8.3f} s  ({per_commit * 1e3:6.2f} ms/commit)")
print(f"ratio (git / atom)                                                        {git_s / atom_s:8.1f}x")
PY
