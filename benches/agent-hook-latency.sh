#!/usr/bin/env bash
# Latency an agent hook adds to each event: p50 of N runs of
# `atom hook claude-code EVENT` with a documented payload on stdin, next to a
# no-op hook (`cat > /dev/null`, the cheapest command a hook can be) run the
# same way, interleaved. Each atom hook writes the event to the spool and
# forks a background drain that publishes it durably (fsync, rename, fsync of
# the directory) and records it, as in real use; when the previous event's
# drain still runs (events here come back to back), the hook publishes the
# event itself and leaves it to that drain. The drains run while the next
# events are timed. Then: how long until every spooled
# event is an atom (`atom agents drain` waits for the background drains), and
# SessionStart, which also reads the index to hand the agent prior work.
# Usage: benches/agent-hook-latency.sh [N]   (needs a release build: cargo build --release)
set -euo pipefail
N=${1:-200}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store
"$atom" init -q >/dev/null
mkdir -p "$tmp/proj/.git"
python3 - "$N" "$atom" "$tmp" "$here/tests/fixtures/agents/claude-code" <<'PY'
import json, os, statistics, subprocess, sys, time
n, atom, tmp, fixtures = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
proj = os.path.join(tmp, "proj")
def payload(name, **extra):
    with open(os.path.join(fixtures, name + ".json")) as f:
        p = json.load(f)
    p["cwd"] = proj
    p.update(extra)
    return json.dumps(p).encode()
def timed(cmd, data):
    t = time.perf_counter()
    subprocess.run(cmd, input=data, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
events = [("UserPromptSubmit", payload("UserPromptSubmit")),
          ("PostToolUse", payload("PostToolUse-Edit")),
          ("PostToolUse", payload("PostToolUse-Bash"))]
# The disk's floor: what one durable small file costs here (create, write,
# fsync, rename, fsync of the directory), the spool's write without atom.
floor_dir = os.path.join(tmp, "floor"); os.makedirs(floor_dir)
def durable_write(i, data):
    t = time.perf_counter()
    p = os.path.join(floor_dir, ".tmp-%d" % i)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data); os.fsync(fd); os.close(fd)
    os.rename(p, os.path.join(floor_dir, "%d" % i))
    d = os.open(floor_dir, os.O_RDONLY); os.fsync(d); os.close(d)
    return time.perf_counter() - t
noop, hook, floor = [], [], []
for i in range(n):
    event, data = events[i % len(events)]
    noop.append(timed(["cat"], data))
    hook.append(timed([atom, "hook", "claude-code", event], data))
    floor.append(durable_write(i, data))
t = time.perf_counter()
out = subprocess.run([atom, "--json", "agents", "drain"], check=True, capture_output=True).stdout
settle = time.perf_counter() - t
recorded = json.loads(subprocess.run([atom, "--json", "query", "select count(*) as c from atoms"], check=True, capture_output=True).stdout)[0]["c"]
start = [timed([atom, "hook", "claude-code", "SessionStart"], payload("SessionStart")) for _ in range(20)]
ms = lambda xs: statistics.median(xs) * 1000
q = lambda xs, p: sorted(xs)[int(len(xs) * p)] * 1000
print(f"{'no-op hook (cat > /dev/null)':44} p50 {ms(noop):6.2f} ms  p90 {q(noop, .9):6.2f} ms")
print(f"{'atom hook claude-code (prompt, edit, bash)':44} p50 {ms(hook):6.2f} ms  p90 {q(hook, .9):6.2f} ms")
print(f"{'added per event':44} p50 {ms(hook) - ms(noop):6.2f} ms")
print(f"{'  of which the disk: one durable small file':44} p50 {ms(floor):6.2f} ms  p90 {q(floor, .9):6.2f} ms  (in process, no atom)")
print(f"{'atom hook claude-code SessionStart (context)':44} p50 {ms(start):6.2f} ms  (p50 of 20)")
print(f"all {n} events recorded {settle * 1000:.0f} ms after the last hook returned; {recorded} atoms in the store")
PY
