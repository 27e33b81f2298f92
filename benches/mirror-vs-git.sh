#!/usr/bin/env bash
# The D1 mirror against a local D1 (Miniflare running tests/d1/worker.mjs on
# 127.0.0.1): `atom mirror push` of N signed atoms (default 1000), an
# incremental push of one more, `atom mirror restore` of all of them, next to
# `git push --mirror` of the same repository into a local bare repository.
# Usage: benches/mirror-vs-git.sh [N]   (needs a release build and `npm ci --prefix tests/d1`)
set -euo pipefail
N=${1:-1000}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d)
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store
export CLOUDFLARE_API_TOKEN=bench-token D1_TEST_TOKEN=bench-token
mkfifo "$tmp/keep"
(cd "$here/tests/d1" && exec node server.mjs <"$tmp/keep" >"$tmp/port") &
exec 3>"$tmp/keep" # server.mjs stops when this closes
trap 'exec 3>&-; wait; rm -rf "$tmp"' EXIT
"$atom" init -q >/dev/null
for i in $(seq 1 "$N"); do
  "$atom" record CFG modify_file --agent qwen --summary "step $i" --set "path=conf/$((i % 50)).env" >/dev/null
done
until grep -q port= "$tmp/port"; do sleep 0.1; done
port=$(sed -n 's/port=//p' "$tmp/port")
"$atom" mirror configure --account test-account --database test-db \
  --api-base "http://127.0.0.1:$port/client/v4" >/dev/null 2>&1
t() { local s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
push=$(t "$atom" -q mirror push)
"$atom" record CFG modify_file --summary one-more >/dev/null
incr=$(t "$atom" -q mirror push)
restore=$(t "$atom" -q mirror restore --to "$tmp/restored")
git init -q --bare "$tmp/plain.git"
gitpush=$(t git --git-dir "$ATOM_HOME/trail.git" push -q --mirror "$tmp/plain.git")
printf 'N = %s signed atoms\n' "$N"
printf 'atom mirror push (all, to local D1)        %6.2f s\n' "$push"
printf 'atom mirror push (1 new atom)              %6.2f s\n' "$incr"
printf 'atom mirror restore (all, verify included) %6.2f s\n' "$restore"
printf 'git push --mirror to a local bare repo     %6.2f s\n' "$gitpush"
