#!/usr/bin/env bash
# Peak memory of the commands that read a whole history: `atom verify`,
# `atom verify --all` and `atom reindex` on a store of N atoms (default
# 100,000), measured with `/usr/bin/time -f %M`. Goal for verify: at most
# 256 MiB at 1,000,000 atoms, so it may not grow with N by more than a few
# dozen bytes per atom.
#
#   1. generate N records (fixed seed: a few agents and types, one a minute,
#      a few hundred bytes each) and `atom import` them;
#   2. with MERGE=1: push the trail to a bare remote, `atom clone` it (pull
#      verifies every atom it fetches: its peak RSS is measured too), append
#      on both stores and join them by a MERGE atom, so that the history
#      verified has a merge;
#   3. `atom verify`, `atom verify --all`, `atom reindex`: peak RSS, wall
#      and CPU time, one run each (after one untimed command that brings the
#      index up to date).
#
# Usage: benches/verify-memory.sh [N]   (needs a release build)
# Environment:
#   ATOM_BIN=PATH  the atom binary (default: target/release/atom)
#   STORE=DIR      build the store in DIR/store and keep it; when DIR/store
#                  exists, measure it as it is (N is then ignored), e.g. to
#                  compare two binaries on the same store
#   MERGE=1        step 2
# The Markdown table goes to stdout, progress to stderr.
set -euo pipefail
N=${1:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
[ -x "$atom" ] || { echo "error: no atom binary at $atom (cargo build --release, or set ATOM_BIN)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time (GNU time) is needed for peak RSS" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_AGENT=bench
base=${STORE:-$tmp}
mkdir -p "$base"
export ATOM_HOME=$base/store

# One command: its peak RSS (MiB), wall and CPU seconds as a table row.
measure() {
    local what=$1; shift
    /usr/bin/time -f '%M %e %U %S' -o "$tmp/time" "$@" > /dev/null 2> "$tmp/stderr" || {
        echo "error: $* failed:" >&2; cat "$tmp/stderr" >&2; exit 1; }
    read -r kib wall user sys < "$tmp/time"
    awk -v w="$what" -v k="$kib" -v e="$wall" -v u="$user" -v s="$sys" \
        'BEGIN { printf "| %s | %.0f MiB | %.1f s | %.1f s |\n", w, k / 1024, e, u + s }' >> "$tmp/rows"
    echo "   $what: $((kib / 1024)) MiB, $wall s" >&2
}

if [ ! -d "$ATOM_HOME" ]; then
    echo "== generate and import $N records" >&2
    python3 - "$N" > "$tmp/records.jsonl" <<'PY'
import datetime, json, random, sys

n = int(sys.argv[1])
rng = random.Random(20241127)
agents = ["claude-code", "codex", "qwen", "gemini-cli", "maria"]
types = {"EDIT": "edit_file", "TOOL": "run_command", "TASK": "update_task", "NOTE": "note",
         "RESEARCH": "research", "DECISION": "save_decision", "CFG": "modify_file"}
words = "fix add update frame pacing latency memory leak parser loader cache index query schema \
retry timeout review plan deploy config shader driver kernel lock queue buffer socket".split()
start = datetime.datetime(2023, 7, 1, tzinfo=datetime.timezone.utc)
out = sys.stdout
for i in range(n):
    typ = rng.choice(list(types))
    at = start + datetime.timedelta(seconds=i * 60 + rng.randrange(60))
    meta = {"title": " ".join(rng.choices(words, k=5)), "session": f"sess-{i // 40:06d}"}
    if typ in ("EDIT", "CFG"):
        meta["path"] = f"src/mod{rng.randrange(100)}/f{rng.randrange(30)}.rs"
    rec = {"type": typ, "operation": types[typ], "agent": rng.choice(agents),
           "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "project": "amber-atlas",
           "summary": " ".join(rng.choices(words, k=rng.randint(5, 14))), "metadata": meta,
           "token_cost": rng.randint(100, 20000)}
    out.write(json.dumps(rec, separators=(",", ":")) + "\n")
PY
    "$atom" init -q >&2
    measure "\`atom import -\` of $N" "$atom" -q import "$tmp/records.jsonl"
    rm "$tmp/records.jsonl"

    if [ -n "${MERGE:-}" ]; then
        echo "== clone, append on both sides, merge" >&2
        remote=$base/shared.git
        git init -q --bare "$remote"
        "$atom" -q remote add origin "$remote" >&2
        "$atom" -q push >&2
        other=$base/other
        measure "\`atom clone\` of $N (pull verifies each atom)" env ATOM_HOME="$other" "$atom" -q clone "$remote"
        for i in 1 2 3; do
            ATOM_HOME=$other "$atom" -q record NOTE note --summary "other device $i" > /dev/null
            "$atom" -q record NOTE note --summary "this device $i" > /dev/null
        done
        ATOM_HOME=$other "$atom" -q push >&2
        "$atom" -q signers add other "$other/keys/atom_ed25519.pub" >&2
        "$atom" -q pull >&2
        [ "$(git --git-dir "$ATOM_HOME/trail.git" rev-list --merges --count main)" = 1 ] || {
            echo "error: the pull did not merge" >&2; exit 1; }
    fi
fi

atoms=$(git --git-dir "$ATOM_HOME/trail.git" rev-list --count --all)
merges=$(git --git-dir "$ATOM_HOME/trail.git" rev-list --count --merges --all)
"$atom" -q log -n 1 > /dev/null   # the index catches up here, not in what is measured
echo "== measure ($atoms commits)" >&2
measure "\`atom verify\`" "$atom" -q verify
measure "\`atom verify --all\`" "$atom" -q verify --all
measure "\`atom reindex\`" "$atom" -q reindex

echo "$("$atom" --version), $atoms atoms ($merges merges); $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| command | peak RSS | wall | CPU |"
echo "|---|---|---|---|"
cat "$tmp/rows"
