#!/usr/bin/env bash
# Latency the post-commit hook adds to `git commit`: p50 of N commits (each
# changing one file) in a repository without the hooks, then in one with
# `atom hooks install`, interleaved. The hook reads HEAD from git's files,
# writes the commit to the spool and forks a background drain, which
# publishes it durably (fsync, rename, fsync of the directory), records the
# COMMIT atom and writes the note while the next commits are timed. Then: how long until every commit is an atom with its note
# (`atom agents drain` waits for the background drains), and a check that
# none is missing. For attribution: a no-op post-commit hook (`exit 0`), and
# one `atom record` of a COMMIT atom, the signed, fsynced append the drain
# does per commit.
# Usage: benches/hook-latency.sh [N]   (needs a release build: cargo build --release)
set -euo pipefail
N=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store
"$atom" init -q >/dev/null
"$atom" --store "$tmp/parts" init -q >/dev/null   # the parts' atoms go elsewhere
for r in plain noop hooked; do
	git init -q -b main "$tmp/$r"
	git -C "$tmp/$r" config user.name bench; git -C "$tmp/$r" config user.email bench@localhost
done
printf '#!/bin/sh\nexit 0\n' > "$tmp/noop/.git/hooks/post-commit"; chmod +x "$tmp/noop/.git/hooks/post-commit"
(cd "$tmp/hooked" && "$atom" hooks install -q >/dev/null)
python3 - "$N" "$atom" "$tmp" <<'PY'
import json, os, statistics, subprocess, sys, time
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
plain, noop, hooked, rec = [], [], [], []
p, o, h = (os.path.join(tmp, r) for r in ("plain", "noop", "hooked"))
for i in range(n):
    plain.append(commit(p, i))
    noop.append(commit(o, i))
    hooked.append(commit(h, i))
    rec.append(timed([atom, "--store", os.path.join(tmp, "parts"), "record", "COMMIT", "commit", "--summary", "event %d" % i, "--meta",
        '{"repo":"%s","branch":"main","commit":"%040d","parents":[],"subject":"event","files":[{"path":"gaming.env","change":"modify","added":1,"removed":1}]}' % (p, i)], p))
t = time.perf_counter()
subprocess.run([atom, "-q", "agents", "drain"], check=True, stdout=subprocess.DEVNULL)
settle = time.perf_counter() - t
atoms = json.loads(subprocess.run([atom, "--json", "query", "select count(*) as c from atoms where type = 'COMMIT'"], check=True, capture_output=True).stdout)[0]["c"]
noted = len(subprocess.run(["git", "notes", "--ref=atom", "list"], cwd=h, check=True, capture_output=True).stdout.splitlines())
ms = lambda xs: statistics.median(xs) * 1000
lo = lambda xs: min(xs) * 1000
for name, xs in [("git commit, no hooks", plain), ("git commit, no-op post-commit hook", noop), ("git commit, atom hooks installed", hooked)]:
    print(f"{name:40} p50 {ms(xs):7.2f} ms   min {lo(xs):7.2f} ms")
print(f"{'added by the hook':40} p50 {ms(hooked) - ms(plain):7.2f} ms   (over the no-op hook: {ms(hooked) - ms(noop):.2f} ms)")
print(f"{'  the drain per commit: atom record':40} p50 {ms(rec):7.2f} ms   (off the commit's path)")
print(f"all {n} commits recorded {settle * 1000:.0f} ms after the last commit returned: {atoms} COMMIT atoms, {noted} notes")
if atoms != n or noted != n:
    sys.exit(f"error: {n} commits, {atoms} atoms, {noted} notes")
PY
