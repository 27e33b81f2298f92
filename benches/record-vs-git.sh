#!/usr/bin/env bash
# p50 wall time of one `atom record` process (signed, fsynced) next to one
# `git add` + `git commit -S` (ssh key) on the same machine.
# Usage: benches/record-vs-git.sh [N]   (needs a release build: cargo build --release)
set -euo pipefail
N=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store
"$atom" init -q >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key"
git init -q "$tmp/repo"
git -C "$tmp/repo" config user.name bench; git -C "$tmp/repo" config user.email bench@localhost
git -C "$tmp/repo" config gpg.format ssh; git -C "$tmp/repo" config user.signingkey "$tmp/key"
git -C "$tmp/repo" config core.fsync all
python3 - "$N" "$atom" "$tmp" <<'PY'
import os, statistics, subprocess, sys, time
n, atom, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def run(cmds):
    t = time.perf_counter()
    for c in cmds:
        subprocess.run(c, check=True, stdout=subprocess.DEVNULL, **c_kw)
    return time.perf_counter() - t
c_kw = {}
a, g = [], []
repo = os.path.join(tmp, "repo")
for i in range(n):
    a.append(run([[atom, "record", "CFG", "modify_file", "--agent", "qwen", "--meta", '{"path":"gaming.env","i":%d}' % i]]))
    with open(os.path.join(repo, "event.json"), "w") as f:
        f.write('{"path":"gaming.env","i":%d}\n' % i)
    g.append(run([["git", "-C", repo, "add", "event.json"], ["git", "-C", repo, "commit", "-q", "-S", "-m", "event %d" % i]]))
pa, pg = statistics.median(a) * 1000, statistics.median(g) * 1000
print(f"atom record (signed, fsynced)    p50 {pa:6.2f} ms")
print(f"git add + git commit -S (ssh)    p50 {pg:6.2f} ms")
print(f"ratio                            {pg / pa:6.1f}x")
PY
