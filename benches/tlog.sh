#!/usr/bin/env bash
# The transparency log at scale: on a store of N imported atoms (default
# 100,000), as whole processes on one machine,
#
#   1. `atom prove` of the first, the middle and the last leaf (median of
#      RUNS; goal: under 50 ms at 1,000,000 atoms), and the size of each proof;
#   2. the check of those proofs by an independent implementation: Python's
#      hashlib and `cryptography` (OpenSSL's Ed25519), written here from the
#      C2SP specs and RFC 9162, in process and as a whole process, next to
#      `atom prove --check`;
#   3. `atom checkpoint`, `atom checkpoint --verifier-key`, and
#      `atom prove --consistency` from the first log commit's checkpoint to
#      the latest (checked by the same independent code);
#   4. `atom verify` and `atom verify --all` once each: on a store of one
#      trail they differ only by --all's check of every log commit (each
#      checkpoint re-derived from the leaves before it), whose share that is;
#   5. `atom record` p50 of 20 with the log on, on the N store and on an
#      empty store (each record appends a leaf and signs a checkpoint), and
#      `atom prove --consistency` from the checkpoint before those records.
#
# Usage: benches/tlog.sh [N]       (needs a release build and python3 with
#                                   the `cryptography` package)
# Environment:
#   ATOM_BIN=PATH  the atom binary (default: target/release/atom)
#   KEEP=DIR       keep the store in DIR/store for a later REUSE
#   REUSE=DIR      measure the store in DIR/store (kept by this script or by
#                  `KEEP=DIR benches/scale.sh`) instead of importing again;
#                  a store whose log lacks atoms (made before the log) gets
#                  them logged by one append first, which is timed
#   RUNS=K         runs per median (default 11)
#   VERIFY=0|1     measure verify and verify --all (default: 1 up to 200,000
#                  atoms; they take minutes at 1,000,000)
# The Markdown table goes to stdout, progress to stderr. `atom record` writes
# to a scratch copy of a kept store (its packs hard-linked), so a REUSE run
# measures the same store again.
set -euo pipefail
N=${1:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
case $atom in */*) ;; *) atom=$(command -v "$atom" || echo "$atom") ;; esac
[ -x "$atom" ] || { echo "error: no atom binary at $atom (cargo build --release, or set ATOM_BIN)" >&2; exit 2; }
atom=$(cd "$(dirname "$atom")" && pwd)/$(basename "$atom")
python3 -c 'import cryptography' 2>/dev/null \
  || { echo "error: the independent check needs python3 with the cryptography package" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_AGENT=bench
unset ATOM_HOME
python3 - "$N" "$atom" "$tmp" "${KEEP:-}" "${REUSE:-}" "${RUNS:-11}" "${VERIFY:-}" <<'PY'
import base64, datetime, hashlib, json, os, random, shutil, statistics, subprocess, sys, time

n, atom, tmp, keep, reuse = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
runs, verify_runs = int(sys.argv[6]), sys.argv[7]
DEVNULL = subprocess.DEVNULL


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, env=None, stdin=None, stdout=DEVNULL):
    p = subprocess.run(cmd, env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    if p.returncode != 0:
        say(f"error: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
        sys.exit(1)
    return p


def out(cmd, env=None):
    return run(cmd, env=env, stdout=subprocess.PIPE).stdout.decode()


def measure(cmd, env=None, stdin=None):
    """One command in a fresh child: (wall s, CPU s of that child)."""
    with open(os.path.join(tmp, "stderr"), "w+b") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            say(f"error: {' '.join(cmd)} failed:\n{err.read().decode(errors='replace')}")
            sys.exit(1)
    return dt, usage.ru_utime + usage.ru_stime


def p50(samples):
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def ms(s):
    return f"{s * 1e3:.1f} ms"


def both(w, c):
    return f"{ms(w)} ({ms(c)} CPU)"


rows = []


def row(what, value, goal="—", ok=None):
    verdict = "—" if ok is None else ("met" if ok else "MISSED")
    rows.append((what, value, goal, verdict))
    say(f"   {what}: {value} (goal {goal}: {verdict})")


# -- an independent checker, from c2sp.org/signed-note, c2sp.org/tlog-checkpoint,
#    c2sp.org/tlog-proof and RFC 9162 (sections 2.1.3.2 and 2.1.4.2); run in
#    this process and, written to a file, as a program of its own -------------------
CHECKER = r"""
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def open_note(note, vkey):
    # The checkpoint (origin, size, root) of a note signed by vkey.
    name, key_id, key = vkey.split("+", 2)
    key = base64.b64decode(key, validate=True)
    if key[0] != 1 or len(key) != 33:
        raise ValueError("not an Ed25519 verifier key")
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4] != bytes.fromhex(key_id):
        raise ValueError("key id")
    cut = note.rindex("\n\n")
    text, sigs = note[:cut + 1], note[cut + 2:]
    good = False
    for line in sigs.split("\n")[:-1]:
        dash, who, sig = line.split(" ")
        sig = base64.b64decode(sig, validate=True)
        if dash == "\u2014" and who == name and sig[:4] == bytes.fromhex(key_id):
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(sig[4:], text.encode())
            good = True
    if not good:
        raise ValueError("no signature by the key")
    origin, size, root = text.split("\n")[:3]
    if origin != name:
        raise ValueError("origin")
    return origin, int(size), base64.b64decode(root, validate=True)


def check_inclusion(path, size, root, index, leaf):
    fn, sn, r = index, size - 1, leaf
    if index >= size:
        return False
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def check_consistency(path, first, first_root, second, second_root):
    if first == second:
        return not path and first_root == second_root
    if first & (first - 1) == 0:
        path = [first_root] + path
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def check_proof(text, vkey):
    # The leaf data a c2sp.org/tlog-proof@v1 proves, or an exception.
    head, note = text.split("\n\n", 1)
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1" or not lines[1].startswith("extra "):
        raise ValueError("header")
    extra = base64.b64decode(lines[1][6:], validate=True)
    index = int(lines[2].removeprefix("index "))
    path = [base64.b64decode(l, validate=True) for l in lines[3:]]
    _, size, root = open_note(note, vkey)
    if not check_inclusion(path, size, root, index, hashlib.sha256(b"\x00" + extra).digest()):
        raise ValueError("inclusion path")
    return extra
"""
exec(CHECKER)

# -- the store ---------------------------------------------------------------------
base = reuse or keep or os.path.join(tmp, "kept")
home = os.path.join(base, "store")
if reuse:
    if not os.path.isdir(home):
        sys.exit(f"error: {home} is missing: REUSE takes the directory a KEEP run filled")
elif keep and os.path.exists(home):
    sys.exit(f"error: {home} exists; use REUSE={keep} to measure it again")
os.makedirs(base, exist_ok=True)
env = dict(os.environ, ATOM_HOME=home)
git_dir = os.path.join(home, "trail.git")
version = out([atom, "--version"]).strip()
load_at_start = os.getloadavg()[0]
phases = []


def phase(name, t):
    phases.append((name, time.perf_counter() - t))
    say(f"   {name}: {phases[-1][1]:.1f} s")


if not reuse:
    say(f"== generate and import {n:,} records")
    rng = random.Random(20241127)
    jsonl = os.path.join(tmp, "records.jsonl")
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    types = ["EDIT", "TOOL", "NOTE", "TASK", "RESEARCH", "DECISION", "CFG", "REVIEW"]
    agents = ["claude-code", "codex", "qwen", "gemini-cli", "maria"]
    with open(jsonl, "w") as f:
        for i in range(n):
            at = start + datetime.timedelta(seconds=i * 31)
            rec = {"type": rng.choice(types), "operation": "op", "agent": rng.choice(agents),
                   "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "summary": f"step {i} of the benchmark", "metadata": {"i": i}}
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    run([atom, "init", "-q"], env=env)
    t = time.perf_counter()
    with open(jsonl, "rb") as f:
        iw, ic = measure([atom, "-q", "import", "-"], env=env, stdin=f)
    phase(f"atom import of {n:,}", t)
    os.remove(jsonl)
    row(f"`atom import` of {n:,} (log on: leaves, hashes, one signed checkpoint per 65,536)",
        f"{iw:.1f} s ({ic:.1f} s CPU)")

t = time.perf_counter()
run([atom, "log", "-n", "1"], env=env)
phase("first atom command on the store (brings the index up to date)", t)
atoms = int(out(["git", "--git-dir", git_dir, "rev-list", "--count", "--branches",
                 "--glob=refs/atom/archive/*"]))
p = subprocess.run([atom, "--json", "checkpoint"], env=env, stdout=subprocess.PIPE, stderr=DEVNULL)
cp = json.loads(p.stdout) if p.returncode == 0 else {"size": 0}  # exit 1: the log is empty
if cp["size"] < atoms:
    # A store made before the log: its next append logs every atom.
    say(f"== the log holds {cp['size']:,} of {atoms:,} atoms: one append logs the rest")
    t = time.perf_counter()
    w, c = measure([atom, "record", "NOTE", "note", "--summary", "log the atoms"], env=env)
    phase("logging a store made before the log", t)
    row(f"logging the {atoms - cp['size']:,} atoms of a store made before the log (one `atom record`)",
        f"{w:.1f} s ({c:.1f} s CPU)")
    cp = json.loads(out([atom, "--json", "checkpoint"], env=env))
size = cp["size"]
say(f"{version}, {atoms:,} atoms, log of {size:,} leaves")

# The leaves, from the log's commits in git, to pick the first, middle and last.
chain = out(["git", "--git-dir", git_dir, "rev-list", "--reverse", "refs/atom/log"]).split()
cat = subprocess.run(["git", "--git-dir", git_dir, "cat-file", "--batch"],
                     input="".join(f"{c}:leaves\n" for c in chain).encode(), stdout=subprocess.PIPE, check=True).stdout
want = {0: "first", size // 2: "middle", size - 1: "last"}
picked, at, pos = {}, 0, 0
while pos < len(cat):
    header_end = cat.index(b"\n", pos)
    length = int(cat[pos:header_end].split()[2])
    blob = cat[header_end + 1:header_end + 1 + length]
    pos = header_end + 1 + length + 1
    for line in blob.decode().splitlines():
        if at in want:
            picked[want[at]] = (at, line)
        at += 1
if at != size:
    sys.exit(f"error: the log's commits hold {at} leaves, its checkpoint says {size}")
vkey = out([atom, "checkpoint", "--verifier-key"], env=env).strip()
note = out([atom, "checkpoint"], env=env)
open_note(note, vkey)

# -- 1-2. proofs and their checks ----------------------------------------------------
say("== atom prove")
proofs = {}
for which in ("first", "middle", "last"):
    index, leaf = picked[which]
    commit = leaf.split()[0]
    text = out([atom, "prove", commit], env=env)
    if check_proof(text, vkey).decode() != leaf:
        sys.exit(f"error: the proof of leaf {index} is not of {leaf}")
    proofs[which] = text
    measure([atom, "prove", commit], env)  # warm
    w, c = p50([measure([atom, "prove", commit], env) for _ in range(runs)])
    hashes = len(text.split("\n\n", 1)[0].split("\n")) - 3
    row(f"`atom prove` of the {which} leaf ({index:,}; {hashes} hashes, {len(text)} bytes)",
        both(w, c), "< 50 ms", w < 0.050)

say("== independent check")
reps = 2000
for which, text in proofs.items():
    t = time.perf_counter()
    for _ in range(reps):
        check_proof(text, vkey)
    per = (time.perf_counter() - t) / reps
    row(f"independent check of the {which} proof, in process (Python hashlib + cryptography, mean of {reps})",
        f"{per * 1e6:.0f} µs")
mid_file = os.path.join(tmp, "middle.tlog-proof")
with open(mid_file, "w") as f:
    f.write(proofs["middle"])
script = os.path.join(tmp, "check.py")
with open(script, "w") as f:
    # The same checker as a program of its own: the time a third party waits.
    f.write(CHECKER + "\ncheck_proof(open(sys.argv[1]).read(), sys.argv[2])\n")
w, c = p50([measure([sys.executable, script, mid_file, vkey]) for _ in range(runs)])
row("independent check of the middle proof, whole process (`python3 check.py`)", both(w, c))
w, c = p50([measure([atom, "prove", "--check", mid_file, "--key", vkey], env) for _ in range(runs)])
row("`atom prove --check` of the middle proof, whole process", both(w, c))

# -- 3. checkpoint and consistency -----------------------------------------------------
say("== atom checkpoint, atom prove --consistency")
w, c = p50([measure([atom, "checkpoint"], env) for _ in range(runs)])
row("`atom checkpoint`", both(w, c))
w, c = p50([measure([atom, "checkpoint", "--verifier-key"], env) for _ in range(runs)])
row("`atom checkpoint --verifier-key`", both(w, c))


def consistency(old_note, new_note, e):
    """Time `atom prove --consistency OLD NEW` on the store of `e`, and check
    its path with the independent code."""
    old_file, new_file = os.path.join(tmp, "old.note"), os.path.join(tmp, "new.note")
    with open(old_file, "w") as f:
        f.write(old_note)
    with open(new_file, "w") as f:
        f.write(new_note)
    _, old_size, old_root = open_note(old_note, vkey)
    _, new_size, new_root = open_note(new_note, vkey)
    cmd = [atom, "prove", "--consistency", old_file, new_file]
    path = [base64.b64decode(l) for l in out(cmd, env=e).split()]
    if not check_consistency(path, old_size, old_root, new_size, new_root):
        sys.exit("error: the consistency path does not check with the independent code")
    w, c = p50([measure(cmd, e) for _ in range(runs)])
    row(f"`atom prove --consistency` from {old_size:,} to {new_size:,} leaves ({len(path)} hashes; checked independently)",
        both(w, c))


if len(chain) > 1:
    consistency(out(["git", "--git-dir", git_dir, "show", f"{chain[0]}:checkpoint"]), note, env)

# -- verify: the share of the log's full check ---------------------------------------
if verify_runs == "1" or (verify_runs == "" and atoms <= 200_000):
    # One trail: `verify` and `verify --all` check the same atoms, and --all
    # also re-derives every log commit's checkpoint from the leaves in git.
    say("== atom verify and atom verify --all")
    os.sync()
    v = measure([atom, "-q", "verify"], env)
    va = measure([atom, "-q", "verify", "--all"], env)
    row("`atom verify` (every atom; the log's latest checkpoint and every leaf reached)",
        f"{v[0]:.1f} s ({v[1]:.1f} s CPU)")
    row("`atom verify --all` (the same, and every log commit's checkpoint re-derived from git)",
        f"{va[0]:.1f} s ({va[1]:.1f} s CPU)")
    row("their difference: the log chain check's share", f"{va[0] - v[0]:.2f} s ({va[1] - v[1]:.2f} s CPU)")

# -- 4. record with the log on ------------------------------------------------------------
def scratch_copy(src, dst):
    """A copy to write to: packs hard-linked (git never changes them), the rest copied."""
    def link_or_copy(s, d):
        parent = os.path.basename(os.path.dirname(s))
        grand = os.path.basename(os.path.dirname(os.path.dirname(s)))
        if grand == "objects" and (parent == "pack" or len(parent) == 2):
            try:
                os.link(s, d)
                return d
            except OSError:
                pass
        return shutil.copy2(s, d)
    shutil.copytree(src, dst, copy_function=link_or_copy)


say("== atom record, N store and empty store")
if reuse or keep:
    work = os.path.join(tmp, "scratch")
    scratch_copy(home, work)
else:
    work = home
wenv = dict(env, ATOM_HOME=work)
empty = dict(env, ATOM_HOME=os.path.join(tmp, "empty"))
run([atom, "init", "-q"], env=empty)
os.sync()
big, small = [], []
for i in range(20):
    cmd = [atom, "record", "EDIT", "edit_file", "--agent", "qwen", "--summary", f"bench edit {i}",
           "--meta", json.dumps({"path": "src/lib.rs", "i": i})]
    big.append(measure(cmd, wenv))
    small.append(measure(cmd, empty))
(bw, bc), (sw, sc) = p50(big), p50(small)
row(f"`atom record` p50 of 20 (a leaf and a signed checkpoint each), {atoms:,}-atom store", both(bw, bc))
row("`atom record` p50 of 20, empty store (same runs, alternating)", both(sw, sc))
after = json.loads(out([atom, "--json", "checkpoint"], env=wenv))
if after["size"] != size + 20:
    sys.exit(f"error: 20 records made a log of {after['size']}, not {size + 20}")
# What a witness that saw the checkpoint before the records asks for.
consistency(note, after["note"], wenv)

print(f"{version}, {atoms:,} atoms, log of {size:,} leaves in {len(chain):,} log commits; {os.cpu_count()} CPUs, "
      f"load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n")
print("| what | time | goal | |")
print("|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
say("phases: " + ", ".join(f"{name} {dt:.1f} s" for name, dt in phases))
if keep:
    say(f"the store is kept in {home} (measure it again with REUSE={base})")
PY
