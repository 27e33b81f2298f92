#!/usr/bin/env bash
# atom at scale: a store of N atoms (default 1,000,000) next to stock git on
# the same trail, in one run on one machine.
#
#   1. generate N realistic records (fixed seed: agents, types, projects,
#      paths and summary words with skewed frequencies, influence links
#      within sessions, two years of ascending timestamps) as JSON lines,
#      and the same commits as a `git fast-import` stream;
#   2. `atom import -` of the records vs `git fast-import` of N one-file
#      commits: wall time and peak RSS;
#   3. `git gc` of the trail (minutes at 1M; SKIP_GC=1 skips it);
#   4. index size vs the packed objects;
#   5. read commands (log with filters, show, trails, stats, search, trace):
#      whole-process wall time, median of 5, each next to `git log -20` on
#      the same trail (goal: within 3x);
#   6. `atom verify` and `atom reindex`: peak RSS (goal <= 256 MiB) and wall
#      time next to `git log --format=%B` over the trail;
#   7. `atom record` p50 of 20 on the N store vs on an empty store (goal
#      ratio <= 1.3), then `atom rollback` to the atom before the tip and the
#      `atom log -n 20` after it (goal: within 9x of `git log -20`).
#
# Usage: benches/scale.sh [N]      (default 1000000; needs a release build)
# Environment:
#   ATOM_BIN=PATH  the atom binary (default: target/release/atom)
#   KEEP=DIR       keep the store in DIR/store (and what the run picked in
#                  DIR/picks.json) for a later REUSE
#   REUSE=DIR      measure the store a KEEP run left instead of generating
#                  and importing again (N then comes from DIR/picks.json)
#   SKIP_GC=1      do not `git gc` the trail
# The Markdown table goes to stdout (wall time, and CPU time because the
# machine may be shared), progress to stderr. reindex, record and rollback
# write to a scratch copy of a kept store, so a REUSE run measures the same
# N atoms again.
set -euo pipefail
N=${1:-1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
atom=${ATOM_BIN:-$here/target/release/atom}
case $atom in */*) ;; *) atom=$(command -v "$atom" || echo "$atom") ;; esac
[ -x "$atom" ] || { echo "error: no atom binary at $atom (cargo build --release, or set ATOM_BIN)" >&2; exit 2; }
atom=$(cd "$(dirname "$atom")" && pwd)/$(basename "$atom")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# Neither the user's git config nor their atom store may leak into the run.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 ATOM_AGENT=bench
unset ATOM_HOME
python3 - "$N" "$atom" "$tmp" "${KEEP:-}" "${REUSE:-}" "${SKIP_GC:-}" <<'PY'
import collections, datetime, json, os, random, shutil, statistics, subprocess, sys, time

n, atom, tmp, keep, reuse, skip_gc = int(sys.argv[1]), *sys.argv[2:]
DEVNULL = subprocess.DEVNULL
RUNS = 5
MiB = 1024 * 1024


def say(msg):
    print(msg, file=sys.stderr, flush=True)


phases = []


class Phase:
    """Times one phase of the run and says when it starts and ends."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        say(f"== {self.name}")
        self.t = time.perf_counter()

    def __exit__(self, *exc):
        dt = time.perf_counter() - self.t
        phases.append((self.name, dt))
        say(f"   {self.name}: {dt:.1f} s")


def run(cmd, env=None, stdin=None, stdout=DEVNULL):
    """Run a command; on failure show its stderr and stop."""
    p = subprocess.run(cmd, env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    if p.returncode != 0:
        say(f"error: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
        sys.exit(1)
    return p


def out(cmd, env=None):
    return run(cmd, env=env, stdout=subprocess.PIPE).stdout.decode()


def measure(cmd, env=None, stdin=None):
    """Run one command in a fresh child: (wall s, CPU s, peak RSS bytes).
    wait4 reports that child's own rusage; RUSAGE_CHILDREN of this process
    would be the maximum over every child so far (git gc included). CPU time
    (user + sys) is printed next to wall time because the machine may be
    shared: it moves less than wall time when other work runs."""
    with open(os.path.join(tmp, "stderr"), "w+b") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            say(f"error: {' '.join(cmd)} exited {p.returncode}:\n{err.read().decode(errors='replace')}")
            sys.exit(1)
    return dt, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def wall(cmd, env=None):
    return measure(cmd, env)[0]


def settle():
    """Flush dirty pages before timing: otherwise the writeback of what the
    previous phase wrote (hundreds of MB at 1M) lands on the next command's
    fsyncs and reads."""
    os.sync()


def git(git_dir, *args):
    return ["git", "--git-dir", git_dir, *args]


# -- the records ---------------------------------------------------------------
# Who does what, with skewed frequencies (weights). Sessions of one agent in
# one project give the trail its shape: a SESSION atom opens one, its atoms
# build on each other through influenced_by, and a few sessions start from
# an earlier DECISION, so `atom trace` has real, bounded provenance to draw.
AGENTS = [("claude-code", 34), ("codex", 18), ("qwen", 14), ("gemini-cli", 10), ("cursor", 9),
          ("perplexity", 6), ("maria", 5), ("tomasz", 4)]
MODELS = {"claude-code": "claude-sonnet-4", "codex": "gpt-5-codex", "qwen": "qwen3-coder",
          "gemini-cli": "gemini-2.5-pro", "cursor": "cursor-fast", "perplexity": "sonar-pro"}
OPS = {"EDIT": ["edit_file", "edit_file", "create_file", "delete_file"],
       "TOOL": ["run_command", "run_tests", "call_tool"], "PROMPT": ["user_prompt"],
       "TASK": ["create_task", "update_task", "complete_task"], "NOTE": ["note"], "COMMIT": ["commit"],
       "RESEARCH": ["research", "web_search", "read_docs"],
       "CFG": ["modify_file", "add_setting", "remove_setting"],
       "DECISION": ["save_decision", "revise_decision"], "REVIEW": ["review_pr", "approve", "request_changes"],
       "DEPLOY": ["deploy", "promote", "canary"]}
# The body of a session, by kind of agent (SESSION atoms open and close it).
MIX = {
    "coder": [("EDIT", 24), ("TOOL", 18), ("PROMPT", 10), ("TASK", 7), ("NOTE", 5), ("COMMIT", 8),
              ("RESEARCH", 5), ("CFG", 6), ("DECISION", 4), ("REVIEW", 3), ("DEPLOY", 2)],
    "researcher": [("RESEARCH", 60), ("NOTE", 15), ("PROMPT", 15), ("DECISION", 5), ("TASK", 5)],
    "person": [("DECISION", 18), ("REVIEW", 20), ("NOTE", 15), ("TASK", 20), ("DEPLOY", 7), ("CFG", 8),
               ("COMMIT", 7), ("EDIT", 5)],
}
KIND = {"perplexity": "researcher", "maria": "person", "tomasz": "person"}
# Real words head the vocabulary (they read like summaries); generated words
# (consonant-vowel syllables, so never a path or metadata-key token) make up
# the long tail that search words of middling frequency come from.
HEAD = """fix add update remove refactor tune raise lower check test build deploy config cache
frame pacing latency memory leak crash startup shutdown parser loader renderer shader driver
kernel scheduler thread lock queue buffer socket timeout retry error warning log metric trace
index query schema migration table column user account login token session cookie header api
endpoint route handler request response client server proxy gateway limit quota budget cost
review plan design decision research survey benchmark profile regression flaky release version
branch merge conflict rebase patch hotfix rollout canary staging production cluster node pod
container image volume disk network dns certificate secret key permission role policy audit
report dashboard alert incident outage recovery backup restore snapshot sync mirror replica
vulkan proton wine steam gaming mesa gpu cpu frequency governor swap zram hugepage sysctl""".split()


def vocabulary(size, rng):
    cons, vows = "bdfgklmnprstvz", "aeiou"
    words, seen = list(HEAD), set(HEAD)
    while len(words) < size:
        w = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def _cum(weights):
    """Running totals, the cum_weights random.choices wants."""
    total = 0
    for w in weights:
        total += w
        yield total


def zipf_cum(k, s=1.0):
    """Cumulative Zipf weights for k items: item r has weight 1/(r+1)^s."""
    cum, total = [], 0.0
    for r in range(k):
        total += 1.0 / (r + 1) ** s
        cum.append(total)
    return cum


def generate(n, jsonl_path, fi_path):
    """Write n records (JSON lines) and the same commits as a fast-import
    stream, one record at a time; return what the benchmark should query."""
    rng = random.Random(20241127)
    vocab = vocabulary(3000, rng)
    vocab_cum = zipf_cum(len(vocab))
    paths = ([f"src/mod{m}/f{f}.rs" for m in range(100) for f in range(30)]
             + [f"config/f{f}.env" for f in range(400)]
             + [f"docs/ch{c}/f{f}.md" for c in range(20) for f in range(30)]
             + [f"tests/t{t}/f{f}.py" for t in range(40) for f in range(15)]
             + [f"web/c{c}/f{f}.ts" for c in range(40) for f in range(10)])
    rng.shuffle(paths)
    path_cum = zipf_cum(len(paths), 0.9)
    config_paths = [p for p in paths if p.startswith("config/")]
    config_cum = zipf_cum(len(config_paths), 0.9)
    adj = "amber brisk cobalt dusty eager fern granite hollow ivory jade".split()
    noun = "atlas beacon comet delta ember forge harbor lattice meadow nexus".split()
    projects = [f"{a}-{b}" for a in adj for b in noun]
    rng.shuffle(projects)
    projects = projects[:50]
    project_cum = zipf_cum(len(projects), 0.8)
    agent_names = [a for a, _ in AGENTS]
    agent_cum = list(_cum(w for _, w in AGENTS))
    mixes = {k: ([t for t, _ in v], list(_cum(w for _, w in v))) for k, v in MIX.items()}

    end = datetime.datetime(2025, 6, 30, tzinfo=datetime.timezone.utc)
    start = end - datetime.timedelta(days=730)
    span = (end - start).total_seconds()
    path_count, word_count = collections.Counter(), collections.Counter()
    per_day = collections.Counter()
    decisions = collections.deque(maxlen=500)  # (id, depth) of recent DECISION atoms
    open_sessions, session_no = [], 0
    picks = {"n": n}

    def words(k):
        return rng.choices(vocab, cum_weights=vocab_cum, k=k)

    def new_session():
        nonlocal session_no
        session_no += 1
        agent = rng.choices(agent_names, cum_weights=agent_cum)[0]
        return {"agent": agent, "kind": KIND.get(agent, "coder"), "name": f"sess-{session_no:07d}",
                "project": rng.choices(projects, cum_weights=project_cum)[0],
                "left": 2 + min(int(rng.expovariate(1 / 18)), 120), "atoms": []}

    with open(jsonl_path, "w") as jf, open(fi_path, "wb") as ff:
        for i in range(n):
            if len(open_sessions) < 3:
                open_sessions.append(new_session())
            s = rng.choice(open_sessions)
            at = start + datetime.timedelta(seconds=int((i + rng.random()) * span / n))
            day = at.strftime("%Y%m%d")
            per_day[day] += 1
            links, depth = [], 0
            if not s["atoms"]:
                typ, op = "SESSION", "session_start"
                if decisions and rng.random() < 0.1:
                    d = rng.choice(decisions)
                    links, depth = [d[0]], d[1] + 1
            elif s["left"] <= 1:
                typ, op = "SESSION", "session_end"
                links, depth = [s["atoms"][0][0]], s["atoms"][0][1] + 1
            else:
                types, cum = mixes[s["kind"]]
                typ = rng.choices(types, cum_weights=cum)[0]
                op = rng.choice(OPS[typ])
                if rng.random() < 0.6:
                    prev = s["atoms"][-1]
                    links, depth = [prev[0]], prev[1] + 1
                if typ == "DECISION":
                    research = [a for a in s["atoms"][-20:] if a[2] == "RESEARCH"]
                    if research:
                        r = rng.choice(research)
                        if r[0] not in links:
                            links.append(r[0])
                            depth = max(depth, r[1] + 1)
            atom_id = f"ATOM-{typ}-{day}-{per_day[day]:03d}"
            title_words = words(rng.randint(3, 7))
            summary_words = words(rng.randint(5, 14))
            meta = {"title": " ".join(title_words).capitalize(), "session": s["name"]}
            if s["agent"] in MODELS:
                meta["model"] = MODELS[s["agent"]]
            touched = []
            if typ in ("EDIT", "CFG") or (typ in ("TOOL", "REVIEW") and rng.random() < 0.3):
                if typ == "CFG":
                    p = rng.choices(config_paths, cum_weights=config_cum)[0]
                else:
                    p = rng.choices(paths, cum_weights=path_cum)[0]
                meta["path"] = p
                touched.append(p)
            if typ == "COMMIT" or (typ == "EDIT" and rng.random() < 0.1):
                many = sorted(set(rng.choices(paths, cum_weights=path_cum, k=rng.randint(2, 6))))
                meta["paths"] = many
                touched.extend(many)
            if typ == "EDIT":
                meta["lines_added"], meta["lines_removed"] = rng.randint(0, 400), rng.randint(0, 200)
            elif typ == "TOOL":
                meta["command"] = rng.choice(["cargo test", "cargo clippy", "npm test", "pytest -q", "make"])
                meta["exit_code"] = rng.choice([0, 0, 0, 0, 1, 101])
            elif typ == "COMMIT":
                meta["commit"] = f"{rng.getrandbits(160):040x}"
                meta["branch"] = rng.choice(["main", "main", "dev", f"feat/{rng.choice(vocab[:200])}"])
            elif typ == "DEPLOY":
                meta["env"] = rng.choice(["staging", "staging", "production"])
                meta["version"] = f"v{rng.randint(0, 3)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
            rec = {"atom_id": atom_id, "type": typ, "operation": op, "agent": s["agent"],
                   "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "project": s["project"],
                   "summary": " ".join(summary_words), "metadata": meta}
            if links:
                rec["influenced_by"] = links
            if s["kind"] != "person" and rng.random() < 0.9:
                rec["token_cost"] = int(rng.lognormvariate(7.5, 1.2))
            elif s["kind"] == "person" and rng.random() < 0.2:
                rec["token_cost"] = rng.randint(100, 5000)
            line = json.dumps(rec, separators=(",", ":"))
            jf.write(line + "\n")

            # The same event as a one-file git commit (what compare-git.sh does),
            # with a message of atom's shape so `git log` prints similar bytes.
            ts = int(at.timestamp())
            msg = (f"{atom_id} {op}: {rec['summary']}\n\nAtom-Id: {atom_id}\nAtom-Type: {typ}\n"
                   f"Agent: {s['agent']}\n").encode()
            data = (line + "\n").encode()
            ff.write(b"commit refs/heads/main\n")
            ff.write(f"author {s['agent']} <{s['agent']}@agents.atom> {ts} +0000\n".encode())
            ff.write(f"committer bench <bench@localhost> {ts} +0000\n".encode())
            ff.write(b"data %d\n%s" % (len(msg), msg))
            ff.write(b"M 100644 inline atom.json\ndata %d\n%s\n" % (len(data), data))

            path_count.update(set(touched))
            word_count.update(set(title_words) | set(summary_words))
            s["atoms"].append((atom_id, depth, typ))
            s["left"] -= 1
            if typ == "DECISION":
                decisions.append((atom_id, depth))
            if op == "session_end":
                open_sessions.remove(s)
            if i == n // 2:
                picks["middle_id"] = atom_id
            # trace: the first atom past the middle with a deep provenance
            if i >= n // 2 and "trace_id" not in picks and depth >= 5:
                picks["trace_id"], picks["trace_depth"] = atom_id, depth
            if (i + 1) % 100000 == 0:
                say(f"   generated {i + 1:,}")
    picks.setdefault("trace_id", picks["middle_id"])
    picks["end"] = at.strftime("%Y-%m-%d")
    picks["since"] = (at - datetime.timedelta(days=91)).strftime("%Y-%m-%d")
    # "Mid-frequency": the path (word) in about 0.1% of the atoms; the
    # counts run from a handful to tens of percent, so this is neither a
    # lookup of one row nor a scan of a large part of the index.
    for key, counter in (("path", path_count), ("word", word_count)):
        value, hits = min(counter.items(), key=lambda kv: (abs(kv[1] - n / 1000), kv[0]))
        picks[key], picks[key + "_hits"] = value, hits
        picks[key + "_distinct"] = len(counter)
    return picks


# -- where the store lives -----------------------------------------------------
if reuse and keep and os.path.abspath(reuse) != os.path.abspath(keep):
    sys.exit("error: give KEEP or REUSE, not both (a reused store is kept anyway)")
base = reuse or keep or os.path.join(tmp, "kept")
home = os.path.join(base, "store")
picks_file = os.path.join(base, "picks.json")
persistent = bool(reuse or keep)
if reuse:
    if not os.path.exists(picks_file):
        sys.exit(f"error: {picks_file} is missing: REUSE takes the directory a KEEP run filled")
    with open(picks_file) as f:
        picks = json.load(f)
    n = picks["n"]
    say(f"reusing the store of {n:,} atoms in {home}")
elif keep and os.path.exists(home):
    sys.exit(f"error: {home} exists; use REUSE={keep} to measure it again, or another KEEP directory")
os.makedirs(base, exist_ok=True)
env = dict(os.environ, ATOM_HOME=home)
git_dir = os.path.join(home, "trail.git")
version = out([atom, "--version"]).strip()
load_at_start = os.getloadavg()[0]  # printed with the table: was the machine busy?
say(f"{version}, N={n:,}")

rows = []


def row(what, a, g, ratio, goal, ok):
    verdict = "—" if ok is None else ("met" if ok else "MISSED")
    rows.append((what, a, g, ratio, goal, verdict))
    say(f"   {what}: atom {a} | git {g} | {ratio} (goal {goal}: {verdict})")


def ms(s):
    return f"{s * 1e3:.1f} ms"


def secs(s):
    return f"{s:.1f} s" if s >= 10 else f"{s:.2f} s"


def p50(runs):
    """Median wall and median CPU time of measure() results."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def both(w, c, unit=ms):
    return f"{unit(w)} ({unit(c)} CPU)"


# -- 1-2. generate and import ---------------------------------------------------
if not reuse:
    jsonl, stream = os.path.join(tmp, "records.jsonl"), os.path.join(tmp, "commits.fi")
    # Both inputs are written to files first, so that making them does not
    # compete with the import for the CPU; the import then streams its file
    # through stdin, as `atom import -` would read a pipe.
    with Phase(f"generate {n:,} records"):
        picks = generate(n, jsonl, stream)
    with Phase(f"atom import of {n:,}"):
        run([atom, "init", "-q"], env=env)
        settle()
        with open(jsonl, "rb") as f:
            aw, ac, arss = measure([atom, "-q", "import", "-"], env=env, stdin=f)
    with Phase(f"git fast-import of {n:,}"):
        fi = os.path.join(tmp, "fi.git")
        run(["git", "init", "-q", "--bare", fi])
        settle()
        with open(stream, "rb") as f:
            gw, gc_, grss = measure(git(fi, "fast-import", "--quiet"), stdin=f)
        shutil.rmtree(fi)
    os.remove(jsonl)
    os.remove(stream)
    row(f"`atom import` of {n:,} vs `git fast-import` (unsigned)", f"{both(aw, ac, secs)}, {arss / MiB:.0f} MiB peak",
        f"{both(gw, gc_, secs)}, {grss / MiB:.0f} MiB peak", f"{aw / gw:.1f}x git's time", "<= 2.5x", aw / gw <= 2.5)
    picks["gc"] = False
    with open(picks_file, "w") as f:
        json.dump(picks, f, indent=1)

count = int(out(git(git_dir, "rev-list", "--count", "main")))
if count != n:
    sys.exit(f"error: the trail has {count} commits, expected {n}")
say(f"   picked: path {picks['path']} ({picks['path_hits']} atoms), word {picks['word']} "
    f"({picks['word_hits']} atoms), middle {picks['middle_id']}, trace {picks['trace_id']}")

# -- 3. git gc -------------------------------------------------------------------
if skip_gc:
    say("== git gc skipped (SKIP_GC): the trail stays as imported")
elif picks.get("gc"):
    say("== git gc skipped: the reused store was packed by the run that kept it")
else:
    # Minutes and about 2 GB of memory at 1M (pack-objects finds deltas).
    with Phase("git gc"):
        run(git(git_dir, "gc", "-q"))
    picks["gc"] = True
    with open(picks_file, "w") as f:
        json.dump(picks, f, indent=1)

# Every atom command first brings the index up to date with the refs. What
# that costs right after an import or a gc is not what the read commands are
# timed for: run one untimed (its time is in the phase list).
with Phase("first atom command on the store"):
    run([atom, "log", "-n", "1"], env=env)


# -- 4. sizes ----------------------------------------------------------------------
def index_bytes(h):
    return sum(os.path.getsize(os.path.join(h, f)) for f in ("index.sqlite", "index.sqlite-wal")
               if os.path.exists(os.path.join(h, f)))


def pack_bytes():
    counts = dict(l.split(": ") for l in out(git(git_dir, "count-objects", "-v")).splitlines())
    return (int(counts["size-pack"]) + int(counts["size"])) * 1024, int(counts["count"])


ix = index_bytes(home)
packed, loose = pack_bytes()
row(f"index size vs git objects{'' if picks.get('gc') else ' (not gc-ed)'}",
    f"{ix / MiB:.0f} MiB (`index.sqlite` + `-wal`)",
    f"{packed / MiB:.0f} MiB (`count-objects -v`: size-pack{f' + {loose} loose' if loose else ''})",
    f"{ix / packed:.2f}x", "<= 1.0x", ix <= packed)


# -- 5. read commands --------------------------------------------------------------
def versus_git_log(what, cmd, goal, e=env):
    """Median of RUNS of `cmd`, each run followed by one of `git log -20`
    on the same trail, so both see the same machine load."""
    warm = wall(cmd, e)
    a, g = [], []
    for _ in range(RUNS):
        a.append(measure(cmd, e))
        g.append(measure(git(e["ATOM_HOME"] + "/trail.git", "log", "-20")))
    (aw, ac), (gw, gc_) = p50(a), p50(g)
    row(what, both(aw, ac), f"`git log -20` {both(gw, gc_)}", f"{aw / gw:.1f}x", f"<= {goal}x", aw <= goal * gw)
    say(f"      (first run {ms(warm)})")


with Phase("read commands"):
    settle()
    mid, trace_id = picks["middle_id"], picks["trace_id"]
    for what, args in [
        ("log -n 20", ["log", "-n", "20"]),
        ("log --agent qwen -n 20", ["log", "--agent", "qwen", "-n", "20"]),
        (f"log --path {picks['path']} -n 20 ({picks['path_hits']:,} atoms have it)",
         ["log", "--path", picks["path"], "-n", "20"]),
        (f"log --type DECISION --since {picks['since']} -n 20",
         ["log", "--type", "DECISION", "--since", picks["since"], "-n", "20"]),
        ("log --json -n 20", ["log", "--json", "-n", "20"]),
        (f"show {mid}", ["show", mid]),
        ("trails", ["trails"]),
        ("stats", ["stats"]),
        ("stats --by day", ["stats", "--by", "day"]),
        (f"search {picks['word']} -n 20 ({picks['word_hits']:,} atoms have it)", ["search", picks["word"], "-n", "20"]),
        (f"trace {trace_id} ({picks.get('trace_depth', 0)} links deep)", ["trace", trace_id]),
    ]:
        versus_git_log(f"`atom {what}`", [atom, *args], 3)

# -- from here on the store is written to (reindex, record, rollback) ---------------
def scratch_copy(src, dst):
    """A copy of a store to write to, so a kept store stays as it was. Git
    objects never change once written (new ones get new files), so loose
    objects and packs are hard-linked; everything else (refs, config, the
    index, which SQLite writes in place) is copied."""
    def link_or_copy(s, d):
        parent = os.path.basename(os.path.dirname(s))
        grand = os.path.basename(os.path.dirname(os.path.dirname(s)))
        if grand == "objects" and (parent == "pack" or len(parent) == 2):
            try:
                os.link(s, d)
                return d
            except OSError:  # another file system
                pass
        return shutil.copy2(s, d)
    shutil.copytree(src, dst, copy_function=link_or_copy)


if persistent:
    with Phase("scratch copy of the store"):
        work = os.path.join(tmp, "scratch")
        scratch_copy(home, work)
else:
    work = home
wenv = dict(env, ATOM_HOME=work)
wgit = os.path.join(work, "trail.git")

# -- 6. verify and reindex ---------------------------------------------------------
with Phase("verify, reindex, git log --format=%B"):
    settle()
    gw, gc_ = p50([measure(git(wgit, "log", "--format=%B", "main")) for _ in range(3)])
    verify = measure([atom, "-q", "verify"], env=wenv)
    reindex = measure([atom, "-q", "reindex"], env=wenv)
for what, (w, c, rss), goal in [("verify", verify, None), ("reindex", reindex, 3)]:
    row(f"`atom {what}`: peak RSS", f"{rss / MiB:.0f} MiB", "—", "—", "<= 256 MiB", rss <= 256 * MiB)
    row(f"`atom {what}`: wall", both(w, c, secs), f"`git log --format=%B` {both(gw, gc_, secs)}",
        f"{w / gw:.1f}x", f"<= {goal}x" if goal else "—", w <= goal * gw if goal else None)
say(f"   index after reindex: {index_bytes(work) / MiB:.0f} MiB")

# -- 7. record and rollback --------------------------------------------------------

with Phase("atom record on the N store and on an empty store"):
    empty = dict(env, ATOM_HOME=os.path.join(tmp, "empty"))
    run([atom, "init", "-q"], env=empty)
    settle()
    big, small = [], []
    for i in range(20):  # alternate, so both see the same machine load
        cmd = [atom, "record", "EDIT", "edit_file", "--agent", "qwen", "--project", "amber-atlas",
               "--summary", f"bench edit {i} of the frame pacing loader", "--tokens", "1200",
               "--meta", json.dumps({"path": "src/mod1/f1.rs", "title": "Bench edit", "i": i})]
        big.append(measure(cmd, wenv))
        small.append(measure(cmd, empty))
    (bw, bc), (sw, sc) = p50(big), p50(small)
    row("`atom record` p50 of 20, N store vs empty store", f"{n:,} atoms: {both(bw, bc)}",
        f"empty store: {both(sw, sc)}", f"{bw / sw:.2f}x", "<= 1.3x", bw <= 1.3 * sw)

with Phase("atom rollback"):
    # Each round rolls back the atom at the tip (the previous round's ROLLBACK
    # atom from the second round on) and then lists the trail once.
    yes = ["--yes"] if "--yes" in out([atom, "rollback", "--help"]) else []
    settle()
    rb, after, g = [], [], []
    for _ in range(RUNS):
        ids = out(git(wgit, "log", "-2", "--format=%(trailers:key=Atom-Id,valueonly)", "main")).split()
        rb.append(measure([atom, "rollback", *yes, ids[1]], wenv))
        after.append(measure([atom, "log", "-n", "20"], wenv))
        g.append(measure(git(wgit, "log", "-20")))
    (rw, rc), (aw, ac), (gw, gc_) = p50(rb), p50(after), p50(g)
    for what, w, c in [("`atom rollback <the atom before the tip>`", rw, rc),
                       ("`atom log -n 20` right after a rollback", aw, ac)]:
        row(what, both(w, c), f"`git log -20` {both(gw, gc_)}", f"{w / gw:.1f}x", "<= 9x", w <= 9 * gw)

# -- the table ---------------------------------------------------------------------
print(f"{version}, {n:,} atoms ({picks['path_distinct']:,} distinct paths, {picks['word_distinct']:,} distinct "
      f"words), trail {'packed by `git gc`' if picks.get('gc') else 'not gc-ed'}; {os.cpu_count()} CPUs, "
      f"load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n")
print("| command | atom | git | ratio | goal | |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
say("phases: " + ", ".join(f"{name} {secs(dt)}" for name, dt in phases))
if persistent:
    say(f"the store is kept in {home} (measure it again with REUSE={base})")
PY
