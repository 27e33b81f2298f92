#!/usr/bin/env bash
# atom next to stock git on the same machine, in one run with shared setup.
# Prints a table with both wall time and CPU time (user + sys of the child
# processes: on a shared, loaded machine CPU time is the steadier figure).
#
#   1. N_RECORD sequential `atom record` vs `git add` + `git commit -S` (ssh
#      key, core.fsync=all) per event, p50 of one process per event.
#   1b. fsync/fdatasync calls per `atom record` vs per `git add` + `git
#      commit -S` (median of 3, counted with `strace -f -c`; skipped when
#      strace is not installed).
#   2. `atom import` of N_BULK records (signs and indexes every atom) vs
#      `git fast-import` of N_BULK one-file commits, unsigned.
#   3. `atom verify` of the imported trail vs `git verify-commit` per commit
#      (timed on VERIFY_SAMPLE commits, extrapolated to N_BULK).
#   4. `atom reindex` vs `git log --format=%B` over the same commits.
#   5. bytes per atom in objects/ after `git gc`.
#
# Usage: benches/compare-git.sh [N_RECORD] [N_BULK] [VERIFY_SAMPLE]
#        (defaults 200 100000 200; needs a release build: cargo build --release)
set -euo pipefail
N_RECORD=${1:-200}
N_BULK=${2:-100000}
SAMPLE=${3:-200}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_AGENT=bench
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key"
python3 - "$N_RECORD" "$N_BULK" "$SAMPLE" "$atom" "$tmp" <<'PY'
import datetime, json, os, resource, shutil, statistics, subprocess, sys, time

n_record, n_bulk, sample, atom, tmp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
DEVNULL = subprocess.DEVNULL

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def timed(cmds, **kw):
    """Run commands one after the other; (wall s, cpu s)."""
    c, t = cpu(), time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True, stdout=kw.get("stdout", DEVNULL), stderr=DEVNULL,
                       stdin=kw.get("stdin"), env=kw.get("env"))
    return time.perf_counter() - t, cpu() - c

def git(*args, **kw):
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True, **kw).stdout

rows = []
def row(what, a, g, ratio, goal, ok):
    rows.append((what, a, g, ratio, goal, "met" if ok else "MISSED"))
    print(f"  {what}: atom {a} | git {g} | {ratio} (goal {goal}: {'met' if ok else 'MISSED'})", file=sys.stderr, flush=True)

# 1. one event at a time -------------------------------------------------
env = dict(os.environ, ATOM_HOME=os.path.join(tmp, "rec"))
subprocess.run([atom, "init", "-q"], check=True, env=env, stdout=DEVNULL)
repo = os.path.join(tmp, "repo")
git("init", "-q", repo)
for k, v in [("user.name", "bench"), ("user.email", "bench@localhost"), ("gpg.format", "ssh"),
             ("user.signingkey", os.path.join(tmp, "key")), ("core.fsync", "all")]:
    git("-C", repo, "config", k, v)
aw, ac, gw, gc_ = [], [], [], []
for i in range(n_record):
    meta = '{"path":"gaming.env","i":%d}' % i
    w, c = timed([[atom, "record", "CFG", "modify_file", "--agent", "qwen", "--meta", meta]], env=env)
    aw.append(w); ac.append(c)
    with open(os.path.join(repo, "event.json"), "w") as f:
        f.write(meta + "\n")
    w, c = timed([["git", "-C", repo, "add", "event.json"],
                  ["git", "-C", repo, "commit", "-q", "-S", "-m", "event %d" % i]])
    gw.append(w); gc_.append(c)
a, g = statistics.median(aw) * 1e3, statistics.median(gw) * 1e3
row(f"1. one signed, durable event (p50 of {n_record})",
    f"{a:.1f} ms wall, {statistics.median(ac) * 1e3:.1f} ms CPU",
    f"{g:.1f} ms wall, {statistics.median(gc_) * 1e3:.1f} ms CPU", f"{g / a:.1f}x faster", ">= 5x", g / a >= 5)

# 1b. fsyncs per event ------------------------------------------------------
# Each fsync here costs ~150 us and more on a busy disk: a durable append
# should need a handful (objects, ref, their directories), not one per file.
strace = shutil.which("strace")
if strace:
    def fsyncs(cmds, **kw):
        """fsync + fdatasync calls made by the commands and their children."""
        calls, trace = 0, os.path.join(tmp, "strace.out")
        for cmd in cmds:
            subprocess.run([strace, "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", trace, *cmd],
                           check=True, stdout=DEVNULL, stderr=DEVNULL, env=kw.get("env"))
            with open(trace) as f:
                for line in f:
                    # % time, seconds, usecs/call, calls, [errors,] syscall
                    fields = line.split()
                    if fields and fields[-1] in ("fsync", "fdatasync"):
                        calls += int(fields[3])
        return calls
    af, gf = [], []
    for i in range(3):
        meta = '{"path":"gaming.env","fsync":%d}' % i
        af.append(fsyncs([[atom, "record", "CFG", "modify_file", "--agent", "qwen", "--meta", meta]], env=env))
        with open(os.path.join(repo, "event.json"), "w") as f:
            f.write(meta + "\n")
        gf.append(fsyncs([["git", "-C", repo, "add", "event.json"],
                          ["git", "-C", repo, "commit", "-q", "-S", "-m", "fsync %d" % i]]))
    a, g = statistics.median(af), statistics.median(gf)
    row("1b. fsync + fdatasync calls per event (median of 3, strace)", f"{a:.0f} per `atom record`",
        f"{g:.0f} per `git add` + `git commit -S` (core.fsync=all)", f"{a / g:.1f}x git's" if g else "—",
        "<= 5", a <= 5)
else:
    print("  1b. skipped: strace is not installed", file=sys.stderr, flush=True)

# 2. bulk ------------------------------------------------------------------
start = datetime.datetime(2024, 11, 27, tzinfo=datetime.timezone.utc)
agents = ["qwen", "claude-code", "perplexity", "alice"]
jsonl = os.path.join(tmp, "bulk.jsonl")
stream = os.path.join(tmp, "bulk.fi")
with open(jsonl, "w") as f, open(stream, "wb") as s:
    for i in range(n_bulk):
        at = start + datetime.timedelta(minutes=7 * i)
        rec = {"type": "CFG", "operation": "modify_file", "agent": agents[i % 4],
               "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "summary": f"step {i}: tune frame pacing",
               "metadata": {"path": f"conf/{i % 50}.env"}, "token_cost": i % 1000}
        line = json.dumps(rec, separators=(",", ":"), sort_keys=True)
        f.write(line + "\n")
        ts = int(at.timestamp())
        msg = f"step {i}: tune frame pacing\n".encode()
        data = (line + "\n").encode()
        s.write(b"commit refs/heads/main\n")
        s.write(f"author {agents[i % 4]} <a@agents.atom> {ts} +0000\n".encode())
        s.write(f"committer bench <bench@localhost> {ts} +0000\n".encode())
        s.write(b"data %d\n%s" % (len(msg), msg))
        s.write(b"M 100644 inline atom.json\ndata %d\n%s\n" % (len(data), data))
store = os.path.join(tmp, "bulk")
env = dict(os.environ, ATOM_HOME=store)
subprocess.run([atom, "init", "-q"], check=True, env=env, stdout=DEVNULL)
aw, ac = timed([[atom, "-q", "import", jsonl]], env=env)
fi = os.path.join(tmp, "fi.git")
git("init", "-q", "--bare", fi)
with open(stream, "rb") as s:
    gw, gcpu = timed([["git", "--git-dir", fi, "fast-import", "--quiet"]], stdin=s)
ar, gr = n_bulk / aw, n_bulk / gw
row(f"2. bulk write of {n_bulk} commits", f"`atom import` {aw:.1f} s wall, {ac:.1f} s CPU ({ar:,.0f}/s; signed, indexed)",
    f"`git fast-import` {gw:.1f} s wall, {gcpu:.1f} s CPU ({gr:,.0f}/s; unsigned)", f"{ar / gr:.2f}x the rate",
    ">= 0.4x", ar / gr >= 0.4)

# 3. verify -----------------------------------------------------------------
git_dir = os.path.join(store, "trail.git")
allowed = os.path.join(store, "keys", "allowed_signers")
vw, vc = timed([[atom, "verify"]], env=env)
commits = git("--git-dir", git_dir, "rev-list", "main").split()
assert len(commits) == n_bulk, (len(commits), n_bulk)
picked = commits[:: max(1, n_bulk // sample)][:sample]
w, c = timed([["git", "--git-dir", git_dir, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", x]
              for x in picked])
gw, gcpu = w / len(picked) * n_bulk, c / len(picked) * n_bulk
row(f"3. check every signature of {n_bulk}", f"`atom verify` {vw:.1f} s wall, {vc:.1f} s CPU",
    f"`git verify-commit` per commit {gw:.0f} s wall, {gcpu:.0f} s CPU ({len(picked)} timed, extrapolated)",
    f"{gw / vw:.0f}x faster", ">= 300x", gw / vw >= 300)

# 4. reindex -----------------------------------------------------------------
rw, rc = timed([[atom, "-q", "reindex"]], env=env)
lw, lc = timed([["git", "--git-dir", git_dir, "log", "--format=%B", "main"]])
row(f"4. rebuild the index of {n_bulk}", f"`atom reindex` {rw:.1f} s wall, {rc:.1f} s CPU",
    f"`git log --format=%B` {lw:.2f} s wall, {lc:.2f} s CPU", f"{rw / lw:.1f}x git's time", "<= 3x", rw / lw <= 3)

# 5. size --------------------------------------------------------------------
def objects_bytes(d):
    total = 0
    for root, _, files in os.walk(os.path.join(d, "objects")):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total
before = objects_bytes(git_dir)
git("--git-dir", git_dir, "gc", "-q")
after = objects_bytes(git_dir)
row(f"5. bytes per atom, {n_bulk} atoms", f"{before / n_bulk:.0f} B as imported, {after / n_bulk:.0f} B after `git gc`",
    f"fast-import pack {objects_bytes(fi) / n_bulk:.0f} B (unsigned)", f"{after / n_bulk:.0f} B", "<= 500 B",
    after / n_bulk <= 500)

print("| what | atom | stock git | ratio | goal | |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
PY
