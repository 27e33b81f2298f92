#!/usr/bin/env bash
# `atom import --from context-sync` at scale: a context-sync database (its own
# schema, tests/fixtures/context_sync_schema.sql) with N rows spread over
# projects, decisions, notes and conversations, imported into a new store,
# then imported again (every row found by its source key, nothing written),
# then again after 100 new rows.
#
# Usage: benches/interop.sh [N]   (default 10,000; needs sqlite3)
# Environment: ATOM_BIN=PATH  the atom binary (default: target/release/atom)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
ATOM="${ATOM_BIN:-target/release/atom}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DB="$WORK/data.db"
export ATOM_HOME="$WORK/store" HOME="$WORK"

sqlite3 "$DB" < tests/fixtures/context_sync_schema.sql
# Rows from a recursive CTE: 10 projects, then N rows a second apart (ms).
sqlite3 "$DB" "
WITH RECURSIVE p(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p WHERE i < 10)
INSERT INTO projects SELECT 'p' || i, 'project-' || i, '/src/p' || i, NULL, '[\"Rust\"]',
  1732698000000 + i, 1732698000000 + i, 0 FROM p;
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < $N)
INSERT INTO decisions SELECT 'd' || i, 'p' || (i % 10 + 1), 'architecture',
  'decision number ' || i || ' about the cache layer', 'because of load ' || i,
  1732700000000 + i * 1000 FROM r WHERE i % 3 = 0;
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < $N)
INSERT INTO notes SELECT 'n' || i, 'p' || (i % 10 + 1), 'note ' || i || ' on staging',
  '[\"ops\"]', 1732700000000 + i * 1000 FROM r WHERE i % 3 = 1;
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < $N)
INSERT INTO conversations SELECT 'c' || i, 'p' || (i % 10 + 1), 'claude', 'assistant',
  'message ' || i, 1732700000000 + i * 1000, NULL FROM r WHERE i % 3 = 2;"

"$ATOM" init >/dev/null
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "rows: $((N + 10))"
echo "first import (s):  $(t "$ATOM" import --from context-sync "$DB")"
echo "re-import, nothing new (s): $(t "$ATOM" import --from context-sync "$DB")"
sqlite3 "$DB" "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 100)
INSERT INTO notes SELECT 'new' || i, 'p1', 'new note ' || i, NULL, 1732800000000 + i FROM r;"
echo "re-import, 100 new (s): $(t "$ATOM" import --from context-sync "$DB")"
"$ATOM" --json import --from context-sync "$DB"
echo
