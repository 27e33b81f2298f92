#!/usr/bin/env bash
# Latency the post-commit hook adds to `git commit`: p50 of N commits (each
# changing one file) in a repository without the hooks, then in one with
# `atom hooks install`. For attribution it also times the hook's parts alone:
# `atom record` of a COMMIT atom, the reads of the commit and `git notes add`.
# Usage: benches/hook-latency.sh [N]   (needs a release build: cargo build --release)
set -euo pipefail
N=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store
"$atom" init -q >/dev/null
"$atom" --store "$tmp/parts" init -q >/dev/null   # the parts' atoms go elsewhere
for r in plain hooked; do
	git init -q -b main "$tmp/$r"
	git -C "$tmp/$r" config user.name bench; git -C "$tmp/$r" config user.email bench@localhost
done
(cd "$tmp/hooked" && "$atom" hooks install -q >/dev/null)
python3 - "$N" "$atom" "$tmp" <<'PY'
import os, statistics, subprocess, sys, time
n, atom, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def timed(cmd, cwd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t
def commit(repo, i):
    with open(os.path.join(repo, "gaming.env"), "w") as f:
        f.write("i=%d\n" % i)
    subprocess.run(["git", "add", "gaming.env"], cwd=repo, check=True)
    return timed(["git", "commit", "-q", "-m", "event %d" % i], repo)
plain, hooked, rec, reads, notes = [], [], [], [], []
p, h = os.path.join(tmp, "plain"), os.path.join(tmp, "hooked")
for i in range(n):
    plain.append(commit(p, i))
    hooked.append(commit(h, i))
    # The hook's parts, one by one, on the plain repository.
    rec.append(timed([atom, "--store", os.path.join(tmp, "parts"), "record", "COMMIT", "commit", "--summary", "event %d" % i, "--meta",
        '{"repo":"%s","branch":"main","commit":"%040d","parents":[],"subject":"event","files":[{"path":"gaming.env","change":"modify","added":1,"removed":1}]}' % (p, i)], p))
    t = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=p, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in (
        ["git", "log", "-1", "-z", "--no-renames", "--raw", "--numstat", "-m", "--first-parent", "HEAD"],
        ["git", "rev-parse", "--show-toplevel", "--absolute-git-dir", "--symbolic-full-name", "HEAD"],
        ["git", "config", "--get-regexp", r"^remote\..*\.url$"])]
    for q in procs:
        q.wait()
    reads.append(time.perf_counter() - t)
    notes.append(timed(["git", "notes", "--ref=atom", "add", "-f", "-m", "ATOM-COMMIT-20240101-%03d" % (i + 1), "HEAD"], p))
ms = lambda xs: statistics.median(xs) * 1000
lo = lambda xs: min(xs) * 1000
rows = [("git commit, no hooks", plain), ("git commit, atom hooks installed", hooked),
        ("  parts: atom record (signed, fsynced)", rec), ("         3 git reads, side by side", reads),
        ("         git notes add", notes)]
for name, xs in rows[:2]:
    print(f"{name:40} p50 {ms(xs):7.2f} ms   min {lo(xs):7.2f} ms")
print(f"{'added by the hook':40} p50 {ms(hooked) - ms(plain):7.2f} ms   min {lo(hooked) - lo(plain):7.2f} ms")
for name, xs in rows[2:]:
    print(f"{name:40} p50 {ms(xs):7.2f} ms   min {lo(xs):7.2f} ms")
PY
