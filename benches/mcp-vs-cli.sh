#!/usr/bin/env bash
# p50 wall time of one call through a running `atom mcp` (JSON-RPC round trip
# on stdio) next to one `atom` process doing the same: recording an atom
# (signed, fsynced), and listing the latest 20.
# Usage: benches/mcp-vs-cli.sh [N]   (needs a release build: cargo build --release)
set -euo pipefail
N=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_HOME=$tmp/store
"$atom" init -q >/dev/null
python3 - "$N" "$atom" <<'PY'
import json, statistics, subprocess, sys, time
n, atom = int(sys.argv[1]), sys.argv[2]
srv = subprocess.Popen([atom, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
next_id = 0
def call(method, params):
    global next_id
    next_id += 1
    srv.stdin.write(json.dumps({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params}) + "\n")
    srv.stdin.flush()
    while True:
        reply = json.loads(srv.stdout.readline())
        if reply.get("id") == next_id:
            assert "error" not in reply and not reply["result"].get("isError"), reply
            return reply
call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
srv.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n'); srv.stdin.flush()
def timed(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t
def cli(*args):
    subprocess.run([atom, *args], check=True, stdout=subprocess.DEVNULL)
rec_mcp, rec_cli, log_mcp, log_cli = [], [], [], []
for i in range(n):
    meta = {"path": "gaming.env", "i": i}
    rec_mcp.append(timed(lambda: call("tools/call", {"name": "atom_record", "arguments": {"type": "CFG", "operation": "modify_file", "agent": "qwen", "metadata": meta}})))
    rec_cli.append(timed(lambda: cli("record", "CFG", "modify_file", "--agent", "qwen", "--meta", json.dumps(meta))))
    log_mcp.append(timed(lambda: call("tools/call", {"name": "atom_log", "arguments": {"limit": 20}})))
    log_cli.append(timed(lambda: cli("--json", "log", "-n", "20")))
srv.stdin.close(); srv.wait()
p = lambda xs: statistics.median(xs) * 1000
print(f"record: atom_record over MCP p50 {p(rec_mcp):6.2f} ms   atom record process p50 {p(rec_cli):6.2f} ms")
print(f"log 20: atom_log over MCP    p50 {p(log_mcp):6.2f} ms   atom log --json process p50 {p(log_cli):6.2f} ms")
print(f"({2 * n} atoms recorded)")
PY
