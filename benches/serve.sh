#!/usr/bin/env bash
# `atom serve` on a large store: the time of every page and API answer,
# measured by curl over loopback (request sent to last byte received),
# median of RUNS after one warm-up request. Goal: each under 100 ms on a
# 1,000,000-atom store.
#
# Usage: benches/serve.sh STORE      (a store made by benches/scale.sh with
#                                     KEEP=DIR is DIR/store; needs a release build)
# Environment:
#   ATOM_BIN=PATH  the atom binary (default: target/release/atom)
#   RUNS=N         timed requests per address (default 7)
# The store is only read. Run as root, the server runs as `nobody`, so the
# store is opened as a user who cannot write it (SQLite read-only), as
# `atom serve` would read another user's store; the index must be up to
# date with the refs (any read command by the owner brings it up to date).
# The Markdown table goes to stdout, progress to stderr.
set -euo pipefail
store=${1:?usage: benches/serve.sh STORE}
store=$(cd "$store" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
[ -x "$atom" ] || { echo "error: no atom binary at $atom (cargo build --release, or set ATOM_BIN)" >&2; exit 2; }
runs=${RUNS:-7}
command -v curl >/dev/null || { echo "error: the benchmark needs curl" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "error: the benchmark needs sqlite3 (to pick atoms)" >&2; exit 2; }

tmp=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

as_reader=()
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  bin=$tmp/atom
  cp "$atom" "$bin"
  chmod 755 "$tmp" "$bin"
  atom=$bin
  as_reader=(runuser -u nobody --)
fi
"${as_reader[@]}" env HOME="$tmp" ATOM_HOME="$store" "$atom" serve --listen 127.0.0.1:0 -q >"$tmp/out" 2>"$tmp/err" &
server=$!
for _ in $(seq 100); do grep -q ' at http' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.* at \(http[^ ]*\)/\1/p' "$tmp/out")
[ -n "$url" ] || { echo "error: atom serve did not start:" >&2; cat "$tmp/err" >&2; exit 1; }
echo "serving $store at $url" >&2

# Atoms to ask about: the newest, one in the middle of the store (a deep
# page), and the one with the most influence links.
q() { "${as_reader[@]}" sqlite3 -readonly "file:$store/index.sqlite?mode=ro" "$1"; }
atoms=$(q "SELECT count(*) FROM atom")
newest=$(q "SELECT atom_id FROM atom ORDER BY n DESC LIMIT 1")
middle=$(q "SELECT lower(hex(commit_id)) FROM atom WHERE n = (SELECT max(n) / 2 FROM atom)")
middle_id=$(q "SELECT atom_id FROM atom WHERE n = (SELECT max(n) / 2 FROM atom)")
agent=$(q "SELECT key FROM stat WHERE dim = 'agent' ORDER BY atoms LIMIT 1")
word=$(q "SELECT record ->> '\$.summary' FROM atom WHERE n = (SELECT max(n) / 2 FROM atom)" | tr -cs 'A-Za-z0-9' '\n' | awk 'length > 3 {print; exit}')
echo "store: $atoms atoms; newest $newest; middle $middle_id" >&2

paths=(
  "/"
  "/?all=1"
  "/?after=$middle"
  "/?all=1&after=$middle"
  "/?agent=$agent"
  "/?q=$word"
  "/graph"
  "/atom/$middle_id"
  "/trace/$middle_id"
  "/tokens"
  "/status"
  "/api/log"
  "/api/log?all=1&after=$middle"
  "/api/search?q=$word"
  "/api/show/$middle_id"
  "/api/trace/$middle_id?down=1"
  "/api/stats?by=day"
  "/api/trails"
  "/api/archives"
  "/api/checkpoint"
)

echo "| request | status | bytes | median ms | max ms |"
echo "|---|---|---|---|---|"
for p in "${paths[@]}"; do
  curl -s -o /dev/null "$url${p#/}" || true
  times=()
  for _ in $(seq "$runs"); do
    line=$(curl -s -o "$tmp/body" -w '%{http_code} %{size_download} %{time_total}' "$url${p#/}")
    read -r code size t <<<"$line"
    times+=("$t")
  done
  stats=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f", a[int((NR+1)/2)]*1000, a[NR]*1000}')
  read -r med max <<<"$stats"
  shown=${p//$middle/MIDDLE_COMMIT}
  shown=${shown//$middle_id/MIDDLE_ID}
  echo "| \`$shown\` | $code | $size | $med | $max |"
done
