#!/usr/bin/env bash
# `atom import --from entire` at scale: a project repository with N Entire
# checkpoints of one session each on `entire/checkpoints/v1` (the layout of
# tests/fixtures/entire/) and N commits on main carrying `Entire-Checkpoint:`,
# written with `git fast-import`; imported into a new store, then again
# (every atom found by its source key, nothing written). Prints the times
# and the import's peak resident memory.
#
# Usage: benches/entire.sh [N]   (default 10,000; needs python3, GNU time)
# Environment: ATOM_BIN=PATH  the atom binary (default: target/release/atom)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
ATOM="${ATOM_BIN:-target/release/atom}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export ATOM_HOME="$WORK/store" HOME="$WORK" GIT_CONFIG_GLOBAL=/dev/null
git init -q -b main "$WORK/project"
python3 - "$N" > "$WORK/stream" <<'PY'
import json, sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b) + b + b"\n")
ids = ["%012x" % (0x5e6f00000000 + i * 7919) for i in range(n)]
# main: one commit per checkpoint, each naming it in its trailer
for i, cid in enumerate(ids):
    out.write(b"commit refs/heads/main\n")
    out.write(b"committer Ann <ann@example.com> %d +0000\n" % (1764547200 + i))
    data(b"Change %d\n\nEntire-Checkpoint: %s\n" % (i, cid.encode()))
    out.write(b"M 100644 inline src/f%d.rs\n" % (i % 100))
    data(b"fn f() { %d }\n" % i)
    out.write(b"\n")
# entire/checkpoints/v1: every checkpoint in one commit
out.write(b"commit refs/heads/entire/checkpoints/v1\n")
out.write(b"committer Entire <entire@example.com> 1764547200 +0000\n")
data(b"Checkpoint: bulk\n")
for i, cid in enumerate(ids):
    base = "%s/%s/" % (cid[:2], cid[2:])
    t = "2025-12-01T%02d:%02d:%02dZ" % (i // 3600 % 24, i // 60 % 60, i % 60)
    root = {"checkpoint_id": cid, "strategy": "manual-commit", "branch": "main",
            "checkpoints_count": 1, "files_touched": ["src/f%d.rs" % (i % 100)],
            "sessions": [{"metadata": "/" + base + "0/metadata.json"}]}
    sess = {"checkpoint_id": cid, "session_id": "s-%d" % i, "strategy": "manual-commit",
            "created_at": t, "branch": "main", "checkpoints_count": 1,
            "files_touched": ["src/f%d.rs" % (i % 100)], "agent": "Claude Code",
            "model": "claude-sonnet-4", "token_usage": {"input_tokens": 100 + i,
            "cache_creation_tokens": 10, "cache_read_tokens": 500, "output_tokens": 50,
            "api_call_count": 2}}
    for path, body in [("metadata.json", json.dumps(root, indent=2) + "\n"),
                       ("0/metadata.json", json.dumps(sess, indent=2) + "\n"),
                       ("0/prompt.txt", "Change number %d\n\n---\n\nand test it" % i),
                       ("0/full.jsonl", '{"type":"user","content":"Change number %d"}\n' % i)]:
        out.write(b"M 100644 inline " + (base + path).encode() + b"\n")
        data(body.encode())
out.write(b"\n")
PY
git -C "$WORK/project" fast-import --quiet < "$WORK/stream"
"$ATOM" init >/dev/null
t() { /usr/bin/time -f "%e s, peak RSS %M KiB" "$@" 2>&1 >/dev/null | tail -1; }
echo "checkpoints: $N (+ $N sessions, $N commits with the trailer); project objects: $(du -sh "$WORK/project/.git/objects" | cut -f1)"
echo "first import:               $(t "$ATOM" import --from entire "$WORK/project")"
echo "re-import, nothing new:     $(t "$ATOM" import --from entire "$WORK/project")"
"$ATOM" --json import --from entire "$WORK/project"
echo
