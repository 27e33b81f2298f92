//! The index (SPEC §4-5): incremental catch-up equals a full rebuild whatever
//! the refs do, damage is repaired from git, every `log` filter, and `search`,
//! `query`, `trace`, `stats` checked on their `--json` output.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::TestEnv;

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|a| a["record"]["atom_id"].as_str().expect("atom_id").to_owned())
        .collect()
}

fn log_ids(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut full = vec!["log"];
    full.extend_from_slice(args);
    ids(&env.atom_json(&full))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Four atoms with known fields: three on `main`, one on `side` (forked at the first).
struct Fixture {
    env: TestEnv,
    /// TASK plan, alice, p1, 2024-11-27T09:00Z, 10 tokens.
    plan: Value,
    /// CFG modify_file, qwen, p1, path gaming.env, 2024-11-27T10:00Z, 100 tokens.
    cfg: Value,
    /// RESEARCH research, claude, p2, built on cfg, 2024-11-28T08:00Z, 50 tokens.
    research: Value,
    /// DECISION save_decision on `side`, qwen, no project, built on research, 2024-11-29T12:00Z, 5 tokens.
    decision: Value,
}

impl Fixture {
    fn id(v: &Value) -> String {
        v["record"]["atom_id"].as_str().expect("atom_id").to_owned()
    }
    fn commit(v: &Value) -> String {
        v["commit"].as_str().expect("commit").to_owned()
    }

    fn new() -> Self {
        let env = TestEnv::init();
        let plan = env.record(&[
            "TASK",
            "plan",
            "--agent",
            "alice",
            "--project",
            "p1",
            "--summary",
            "plan the work",
            "--tokens",
            "10",
            "--at",
            "2024-11-27T09:00:00Z",
        ]);
        let cfg = env.record(&[
            "CFG",
            "modify_file",
            "--agent",
            "qwen",
            "--project",
            "p1",
            "--summary",
            "raise fps in gaming.env",
            "--set",
            "path=gaming.env",
            "--tokens",
            "100",
            "--at",
            "2024-11-27T10:00:00Z",
        ]);
        let research = env.record(&[
            "RESEARCH",
            "research",
            "--agent",
            "claude",
            "--project",
            "p2",
            "--summary",
            "benchmark a-b variants",
            "--meta",
            r#"{"note":"gaming.env tuning"}"#,
            "--influenced-by",
            &Self::id(&cfg),
            "--tokens",
            "50",
            "--at",
            "2024-11-28T08:00:00Z",
        ]);
        env.git(&["update-ref", "refs/heads/side", &Self::commit(&plan)]);
        env.git(&["symbolic-ref", "HEAD", "refs/heads/side"]);
        let decision = env.record(&[
            "DECISION",
            "save_decision",
            "--agent",
            "qwen",
            "--summary",
            "ship it",
            "--influenced-by",
            &Self::id(&research),
            "--tokens",
            "5",
            "--at",
            "2024-11-29T12:00:00Z",
        ]);
        env.git(&["symbolic-ref", "HEAD", "refs/heads/main"]);
        Fixture {
            env,
            plan,
            cfg,
            research,
            decision,
        }
    }

    fn ids(&self) -> [String; 4] {
        [&self.plan, &self.cfg, &self.research, &self.decision].map(Self::id)
    }
}

#[test]
fn every_log_filter() {
    let f = Fixture::new();
    let env = &f.env;
    let all = f.ids();
    let [plan, cfg, research, decision] = [0, 1, 2, 3].map(|i| all[i].as_str());
    let l = |args: &[&str]| log_ids(env, args);
    assert_eq!(l(&[]), [research, cfg, plan]);
    assert_eq!(l(&["--type", "CFG"]), [cfg]);
    assert_eq!(l(&["--agent", "qwen"]), [cfg]);
    assert_eq!(l(&["--all", "--agent", "qwen"]), [decision, cfg]);
    assert_eq!(l(&["--operation", "research"]), [research]);
    assert_eq!(l(&["--path", "gaming.env"]), [cfg]);
    assert_eq!(l(&["--path", "other.env"]), Vec::<String>::new());
    assert_eq!(l(&["--project", "p1"]), [cfg, plan]);
    assert_eq!(l(&["--since", "2024-11-28"]), [research]);
    assert_eq!(l(&["--until", "2024-11-28"]), [cfg, plan]);
    assert_eq!(
        l(&[
            "--since",
            "2024-11-27T10:00:00Z",
            "--until",
            "2024-11-28T08:00:00Z"
        ]),
        [cfg],
        "--since is inclusive, --until exclusive"
    );
    assert_eq!(l(&["--grep", "FPS"]), [cfg]);
    assert_eq!(l(&["--grep", "gaming.env"]), [research, cfg]);
    assert_eq!(l(&["-n", "1"]), [research]);
    assert_eq!(l(&["-n", "2", "--all"]).len(), 2);
    assert_eq!(
        l(&["--all"]).iter().cloned().collect::<BTreeSet<_>>(),
        set(&[plan, cfg, research, decision])
    );
    // REV: a trail, an atom id, a commit sha prefix.
    assert_eq!(l(&["side"]), [decision, plan]);
    assert_eq!(l(&[cfg]), [cfg, plan]);
    let sha = Fixture::commit(&f.research);
    assert_eq!(l(&[&sha[..8]]), [research, cfg, plan]);
    assert_eq!(l(&["side", "--agent", "qwen"]), [decision]);
    // Filters combine.
    assert_eq!(l(&["--all", "--project", "p1", "--type", "TASK"]), [plan]);
}

/// Types are upper case (`--type cfg` finds CFG), agents compare ignoring
/// case, and dates take relative forms; a bad date is one usage error naming
/// the forms.
#[test]
fn filters_ignore_case_and_take_relative_dates() {
    let f = Fixture::new();
    let env = &f.env;
    let all = f.ids();
    let [plan, cfg, research, decision] = [0, 1, 2, 3].map(|i| all[i].as_str());
    let l = |args: &[&str]| log_ids(env, args);
    assert_eq!(l(&["--type", "cfg"]), [cfg]);
    assert_eq!(l(&["--type", "Cfg"]), [cfg]);
    assert_eq!(l(&["--operation", "MODIFY_FILE"]), [cfg]);
    assert_eq!(l(&["--agent", "QWEN"]), [cfg]);
    assert_eq!(l(&["--all", "--agent", "Qwen"]), [decision, cfg]);
    // Another spelling of the same name is the same agent; no other agent is.
    let now = Fixture::id(&env.record(&["TASK", "plan", "--agent", "QWEN"]));
    let now = now.as_str();
    assert_eq!(l(&["--agent", "qwen"]), [now, cfg]);
    assert_eq!(l(&["--agent", "qwe"]), Vec::<String>::new());
    assert_eq!(l(&["--agent", "ALICE", "--type", "task"]), [plan]);

    // Relative dates: the new atom is of now, the fixture's of 2024.
    assert_eq!(l(&["--since", "yesterday"]), [now]);
    assert_eq!(l(&["--since", "2h"]), [now]);
    assert_eq!(l(&["--since", "1d"]), [now]);
    assert_eq!(l(&["--until", "1d"]), [research, cfg, plan]);
    assert_eq!(
        l(&["--since", "3000d", "--until", "yesterday"]),
        [research, cfg, plan]
    );
    for bad in ["3w", "tomorrow", "-1d", "2024-11-31", "2024/11/27", "1.5h"] {
        let out = env.atom_err(&["log", &format!("--since={bad}")], 2);
        let error = out.stderr.lines().next().unwrap();
        assert!(
            error.contains("YYYY-MM-DD") && error.contains("yesterday") && error.contains("Nd"),
            "{bad}: {out}"
        );
    }
    env.atom_err(&["log", "--until", "soon"], 2);

    // record --at takes the same forms.
    let midnight = env.record(&["TASK", "plan", "--at", "2024-11-30"]);
    assert_eq!(midnight["record"]["timestamp"], "2024-11-30T00:00:00Z");
    let ago = env.record(&["TASK", "plan", "--at", "3d"]);
    assert_eq!(
        l(&["--since", "4d", "--until", "2d", "--type", "TASK"]),
        [Fixture::id(&ago)],
        "the --at 3d atom: {ago:#}"
    );
    let out = env.atom_err(&["record", "TASK", "plan", "--at", "last week"], 2);
    assert!(out.stderr.contains("YYYY-MM-DD"), "{out}");
}

#[test]
fn search_lists_newest_first_quotes_and_refuses_empty_text() {
    let f = Fixture::new();
    let env = &f.env;
    let all = f.ids();
    let [cfg, research] = [1, 2].map(|i| all[i].as_str());
    let hits = env.atom_json(&["search", "gaming.env"]);
    // Newest match first, like log: research came after cfg.
    assert_eq!(ids(&hits), [research, cfg]);
    for hit in hits.as_array().unwrap() {
        let keys: BTreeSet<&str> = hit
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["commit", "record", "signature", "snippet"])
        );
        assert!(hit["snippet"].as_str().unwrap().contains("gaming"), "{hit}");
        assert_eq!(hit["signature"]["status"], "good");
    }
    // The same items as `log --json`, plus the snippet.
    let logged = env.atom_json(&["show", research]);
    assert_eq!(hits[0]["record"], logged["record"]);
    assert_eq!(hits[0]["commit"], logged["commit"]);
    assert_eq!(ids(&env.atom_json(&["search", "a-b"])), [research]);
    assert_eq!(ids(&env.atom_json(&["search", "RAISE", "fps"])), [cfg]);
    assert_eq!(
        ids(&env.atom_json(&["search", "gaming.env", "-n", "1"])),
        [research]
    );
    assert_eq!(ids(&env.atom_json(&["search", "bench*"])), [research]);
    // FTS5 syntax in user text is just text.
    for text in [
        "NOT",
        "\"unbalanced",
        "a AND (b",
        "col:x",
        "^x",
        "nothing-matches",
    ] {
        assert_eq!(
            ids(&env.atom_json(&["search", text])),
            Vec::<String>::new(),
            "{text}"
        );
    }
    let human = env.atom_ok(&["search", "fps"]);
    assert_eq!(human.lines().count(), 2, "{human}");
    assert!(human.starts_with(cfg), "{human}");
    assert!(human.contains("[fps]"), "{human}");
    env.atom_err(&["search", "  "], 2);
    env.atom_err(&["search", "*"], 2);
}

#[test]
fn query_reads_and_refuses_everything_else() {
    let f = Fixture::new();
    let env = &f.env;
    let rows = env.atom_json(&[
        "query",
        "SELECT atom_id, agent, token_cost, x'00ff' AS b, NULL AS n FROM atoms ORDER BY timestamp",
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["atom_id", "agent", "token_cost", "b", "n"],
        "columns in order"
    );
    assert_eq!(rows[0]["agent"], "alice");
    assert_eq!(rows[0]["token_cost"], 10);
    assert_eq!(rows[0]["b"], "00ff", "blobs as hex");
    assert_eq!(rows[0]["n"], Value::Null);
    // The stable tables of SPEC §4 and json_extract on metadata.
    let rows = env.atom_json(&[
        "query",
        "WITH p AS (SELECT atom_id FROM paths WHERE path = 'gaming.env')
         SELECT a.atom_id, json_extract(a.metadata, '$.path') AS path,
                (SELECT count(*) FROM trail_atoms t WHERE t.commit_id = a.commit_id) AS trails,
                (SELECT count(*) FROM influences i WHERE i.influenced_by = a.atom_id) AS used
         FROM atoms a JOIN p USING (atom_id)",
    ]);
    assert_eq!(rows[0]["atom_id"].as_str(), Some(f.ids()[1].as_str()));
    assert_eq!(rows[0]["path"], "gaming.env");
    assert_eq!(rows[0]["trails"], 1);
    assert_eq!(rows[0]["used"], 1);
    // Human: a header, a rule, one aligned line per row.
    let table = env.atom_ok(&[
        "query",
        "SELECT agent, count(*) AS n FROM atoms GROUP BY agent ORDER BY agent",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines,
        [
            "agent   n",
            "------  -",
            "alice   1",
            "claude  1",
            "qwen    2"
        ]
    );

    let before = env.atom_ok(&["--json", "log", "--all"]);
    let attached = env.path().join("attached.db");
    for sql in [
        "INSERT INTO atoms(atom_id) VALUES ('x')".to_owned(),
        "DELETE FROM atoms".to_owned(),
        "UPDATE atoms SET agent = 'mallory'".to_owned(),
        "DROP TABLE atoms".to_owned(),
        format!("ATTACH DATABASE '{}' AS x", attached.display()),
        "PRAGMA user_version = 99".to_owned(),
        "PRAGMA journal_mode = DELETE".to_owned(),
        "SELECT 1; DELETE FROM atoms".to_owned(),
        "SELECT 1; SELECT 2".to_owned(),
        "WITH x AS (SELECT 1) DELETE FROM atoms".to_owned(),
        "  -- only a comment".to_owned(),
        String::new(),
        "SELECT * FROM no_such_table".to_owned(),
        "SELEC 1".to_owned(),
    ] {
        let out = env.atom_err(&["query", &sql], 2);
        assert!(out.stdout.is_empty(), "{sql}: {out}");
    }
    assert!(!attached.exists(), "ATTACH created a file");
    assert_eq!(env.atom_ok(&["--json", "log", "--all"]), before);
    let n = env.atom_json(&[
        "query",
        "SELECT count(*) AS n, (SELECT max(agent) FROM atoms) AS a FROM atoms",
    ]);
    assert_eq!(n[0]["n"], 4);
    assert_eq!(n[0]["a"], "qwen");
    assert_eq!(env.atom(&["reindex", "--check"]).code, 0);
}

/// `reindex --check --json` counts the atoms of every trail (it printed 0).
#[test]
fn reindex_check_json_counts_the_atoms() {
    let f = Fixture::new();
    let check = f.env.atom_json(&["reindex", "--check"]);
    assert_eq!(check["atoms"], 4, "{check:#}");
    assert_eq!(check["differences"], json!([]));
    assert_eq!(f.env.atom_json(&["reindex"])["atoms"], 4);
}

/// `log -n 0` asks for nothing and gets nothing, quietly; only a trail that
/// really is empty is called empty.
#[test]
fn log_n_0_prints_nothing_and_empty_means_empty() {
    let env = TestEnv::init();
    let empty = env.atom(&["log"]);
    assert_eq!(empty.code, 0, "{empty}");
    assert!(empty.stdout.is_empty(), "{empty}");
    assert!(
        empty.stderr.contains("no atoms on trail main; add one"),
        "{empty}"
    );
    env.record(&["CFG", "modify_file", "--agent", "qwen"]);
    env.record(&["TASK", "plan", "--agent", "qwen"]);
    for args in [
        &["log", "-n", "0"][..],
        &["log", "-n", "0", "--agent", "qwen"],
    ] {
        let out = env.atom(args);
        assert_eq!(out.code, 0, "{args:?}: {out}");
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str()),
            ("", ""),
            "{args:?}"
        );
    }
    assert_eq!(env.atom_json(&["log", "-n", "0"]), json!([]));
    let none = env.atom(&["log", "--agent", "nobody"]);
    assert_eq!(none.code, 0, "{none}");
    assert_eq!(none.stderr.trim(), "no atoms on trail main match", "{none}");
    assert_eq!(env.atom_ok(&["log", "-n", "1"]).lines().count(), 1);
}

#[test]
fn query_sees_atoms_recorded_since_the_last_command() {
    let env = TestEnv::init();
    env.record(&["CFG", "modify_file"]);
    let count = || env.atom_json(&["query", "SELECT count(*) AS n FROM atoms"])[0]["n"].clone();
    assert_eq!(count(), 1);
    env.record(&["CFG", "modify_file"]);
    assert_eq!(count(), 2, "query must catch the index up first");
    std::fs::remove_file(env.store().join("index.sqlite")).unwrap();
    assert_eq!(count(), 2, "query on a store without an index");
}

#[test]
fn trace_up_and_down_in_every_format() {
    let f = Fixture::new();
    let env = &f.env;
    let all = f.ids();
    let [plan, cfg, research, decision] = [0, 1, 2, 3].map(|i| all[i].as_str());
    // Up from the decision on `side`: across trails to main's atoms.
    let up = env.atom_json(&["trace", decision]);
    assert_eq!(up["root"], decision);
    assert_eq!(up["direction"], "up");
    let nodes: Vec<&str> = up["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["atom_id"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, [decision, research, cfg]);
    let node = &up["nodes"][2];
    let keys: BTreeSet<&str> = node
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "agent",
            "atom_id",
            "commit",
            "handle",
            "summary",
            "timestamp",
            "type"
        ])
    );
    // No id is shared: each handle is the plain id, each commit the atom's.
    assert_eq!(node["handle"], cfg);
    assert_eq!(node["commit"], env.atom_json(&["show", cfg])["commit"]);
    assert_eq!(node["type"], "CFG");
    assert_eq!(node["agent"], "qwen");
    assert_eq!(node["timestamp"], "2024-11-27T10:00:00Z");
    let edge = |from: &str, to: &str| json!({"from": from, "to": to, "ambiguous": false});
    assert_eq!(
        up["edges"],
        json!([edge(cfg, research), edge(research, decision)])
    );
    // Down from cfg: the same atoms, the same edges.
    let down = env.atom_json(&["trace", cfg, "--down"]);
    assert_eq!(down["direction"], "down");
    assert_eq!(down["edges"], up["edges"]);
    // Alone: a node and no edge.
    let alone = env.atom_json(&["trace", plan, "--format", "json"]);
    assert_eq!(alone["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(alone["edges"], json!([]));

    let tree = env.atom_ok(&["trace", decision]);
    assert_eq!(
        tree,
        format!(
            "{decision} qwen: ship it\n└── {research} claude: benchmark a-b variants\n    └── {cfg} qwen: raise fps in gaming.env\n"
        )
    );
    let mermaid = env.atom_ok(&["trace", cfg, "--down", "--format", "mermaid"]);
    assert!(mermaid.starts_with("graph TD\n"), "{mermaid}");
    assert_eq!(mermaid.matches("-->").count(), 2, "{mermaid}");
    let dot = env.atom_ok(&["trace", cfg, "--down", "--format", "dot"]);
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(
        dot.contains(&format!("\"{cfg}\" -> \"{research}\";")),
        "{dot}"
    );
    assert!(dot.trim_end().ends_with('}'));
    env.atom_err(&["trace", "ATOM-CFG-20200101-001"], 1);
}

#[test]
fn trace_shows_a_shared_ancestor_once_per_path() {
    let env = TestEnv::init();
    let id = |v: Value| v["record"]["atom_id"].as_str().unwrap().to_owned();
    let a = id(env.record(&["TASK", "plan"]));
    let b = id(env.record(&["RESEARCH", "research", "--influenced-by", &a]));
    let c = id(env.record(&[
        "DECISION",
        "save_decision",
        "--influenced-by",
        &a,
        "--influenced-by",
        &b,
    ]));
    let up = env.atom_json(&["trace", &c]);
    assert_eq!(up["nodes"].as_array().unwrap().len(), 3, "{up}");
    assert_eq!(up["edges"].as_array().unwrap().len(), 3, "{up}");
    let tree = env.atom_ok(&["trace", &c]);
    assert_eq!(tree.lines().count(), 4, "{tree}");
    assert!(tree.contains("├── ") && tree.contains("└── "), "{tree}");
}

#[test]
fn stats_by_every_key() {
    let f = Fixture::new();
    let env = &f.env;
    let by = |key: &str| env.atom_json(&["stats", "--by", key]);
    let agents = env.atom_json(&["stats"]);
    assert_eq!(agents, by("agent"));
    for row in agents.as_array().unwrap() {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            ["key", "atoms", "token_cost"],
            "SPEC §5: exactly these keys"
        );
    }
    assert_eq!(
        agents,
        json!([
            {"key": "qwen", "atoms": 2, "token_cost": 105},
            {"key": "alice", "atoms": 1, "token_cost": 10},
            {"key": "claude", "atoms": 1, "token_cost": 50},
        ])
    );
    assert_eq!(
        by("day"),
        json!([
            {"key": "2024-11-27", "atoms": 2, "token_cost": 110},
            {"key": "2024-11-28", "atoms": 1, "token_cost": 50},
            {"key": "2024-11-29", "atoms": 1, "token_cost": 5},
        ])
    );
    assert_eq!(
        by("project"),
        json!([
            {"key": "p1", "atoms": 2, "token_cost": 110},
            {"key": null, "atoms": 1, "token_cost": 5},
            {"key": "p2", "atoms": 1, "token_cost": 50},
        ])
    );
    assert_eq!(by("type").as_array().unwrap().len(), 4);
    let human = env.atom_ok(&["stats"]);
    let last = human.lines().last().unwrap();
    assert_eq!(
        last.split_whitespace().collect::<Vec<_>>(),
        ["total", "4", "165"],
        "{human}"
    );
    assert_eq!(env.atom(&["stats", "--by", "month"]).code, 2);
    // Dates and a trail: counted over the matching atoms, same shape.
    for key in ["agent", "day", "project", "type"] {
        assert_eq!(
            env.atom_json(&["stats", "--by", key, "--since", "2000-01-01"]),
            by(key),
            "a range holding everything counts as the totals do"
        );
    }
    assert_eq!(
        env.atom_json(&[
            "stats",
            "--by",
            "day",
            "--since",
            "2024-11-28",
            "--until",
            "2024-11-29"
        ]),
        json!([{"key": "2024-11-28", "atoms": 1, "token_cost": 50}])
    );
    assert_eq!(
        env.atom_json(&["stats", "--until", "2024-11-28T00:00:00Z"]),
        json!([
            {"key": "alice", "atoms": 1, "token_cost": 10},
            {"key": "qwen", "atoms": 1, "token_cost": 100},
        ])
    );
    env.atom_err(&["stats", "--since", "last tuesday"], 2);
    let first = env.atom_json(&["log", "-n", "1"])[0]["record"]["atom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.atom_ok(&["fork", "short", "--from", &format!("{first}~2")]);
    let short = env.atom_json(&["stats", "--trail", "short", "--by", "day"]);
    let total: u64 = short
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["atoms"].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, env.log_ids(&["short"]).len(), "{short}");
    assert!(total < 4, "only the trail's atoms: {short}");
    // An empty store.
    let empty = TestEnv::init();
    assert_eq!(empty.atom_json(&["stats"]), json!([]));
}

/// A store with three atoms and its `log --json`.
fn small_store() -> (TestEnv, String) {
    let env = TestEnv::init();
    for i in 0..3 {
        env.record(&[
            "CFG",
            "modify_file",
            "--summary",
            &format!("step {i}"),
            "--set",
            "path=gaming.env",
        ]);
    }
    let log = env.atom_ok(&["--json", "log"]);
    (env, log)
}

/// Run `atom --json log`: it must print `expected`, exit 0 and say at most
/// one `note:` line on stderr; returns that stderr.
fn assert_log_heals(env: &TestEnv, expected: &str, what: &str) -> String {
    let out = env.atom(&["--json", "log"]);
    assert_eq!(out.code, 0, "{what}:\n{out}");
    assert_eq!(out.stdout, expected, "{what}: wrong log");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.is_empty() || (lines.len() == 1 && lines[0].starts_with("note: ")),
        "{what}: stderr:\n{}",
        out.stderr
    );
    assert_eq!(
        env.atom(&["reindex", "--check"]).code,
        0,
        "{what}: index not rebuilt right"
    );
    assert_eq!(
        env.atom_ok(&["--json", "log"]),
        expected,
        "{what}: second run"
    );
    out.stderr
}

#[test]
fn damaged_index_is_rebuilt_from_git() {
    let (env, expected) = small_store();
    let index = env.store().join("index.sqlite");
    let wal = env.store().join("index.sqlite-wal");

    std::fs::remove_file(&index).unwrap();
    let note = assert_log_heals(&env, &expected, "deleted index");
    assert!(
        note.starts_with("note: index ")
            && note
                .trim_end()
                .ends_with("was missing; rebuilt it from git (3 atoms)"),
        "the promised note: {note}"
    );
    // A second command has nothing to say.
    assert_eq!(env.atom(&["log"]).stderr, "");

    std::fs::write(&index, b"this is not a database, just garbage ".repeat(200)).unwrap();
    assert_log_heals(&env, &expected, "garbage index");

    let bytes = std::fs::read(&index).unwrap();
    assert!(bytes.len() > 4096, "the index has several pages");
    std::fs::write(&index, &bytes[..bytes.len() / 2]).unwrap();
    assert_log_heals(&env, &expected, "index truncated to half");

    std::fs::write(&index, b"").unwrap();
    assert_log_heals(&env, &expected, "empty index file");

    std::fs::write(&wal, b"junk in the write-ahead log ".repeat(100)).unwrap();
    assert_log_heals(&env, &expected, "junk WAL");

    // A writer that died mid-transaction, leaving uncommitted pages in the WAL.
    let crash = format!(
        "import os, sqlite3\n\
         c = sqlite3.connect({:?}, isolation_level=None)\n\
         c.execute('PRAGMA cache_size = 1')\n\
         c.execute('BEGIN IMMEDIATE')\n\
         for i in range(2000):\n\
         \x20   c.execute(\"INSERT INTO ref_tip VALUES (?, x'00')\", ('refs/heads/junk%d' % i,))\n\
         c.execute('DELETE FROM atom')\n\
         os._exit(0)\n",
        index.to_str().unwrap()
    );
    let out = env
        .command("python3")
        .args(["-c", &crash])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wal.exists(), "the crashed writer left a WAL");
    assert_log_heals(&env, &expected, "WAL of a crashed writer");

    // An index of a newer derivation is refused and left alone: an older
    // binary never deletes what a newer one built.
    let bump = format!(
        "import sqlite3\nc = sqlite3.connect({:?})\nc.execute('PRAGMA user_version = 999')\nc.commit()\n",
        index.to_str().unwrap()
    );
    let out = env.command("python3").args(["-c", &bump]).output().unwrap();
    assert!(out.status.success());
    for args in [&["log"][..], &["reindex"][..]] {
        let out = env.atom_err(args, 1);
        assert!(out.stderr.contains("written by a newer atom"), "{out}");
        assert!(out.stderr.contains("hint: "), "{out}");
    }
    let version = env
        .command("sqlite3")
        .arg(&index)
        .arg("PRAGMA user_version")
        .output();
    if let Ok(v) = version {
        assert_eq!(
            String::from_utf8_lossy(&v.stdout).trim(),
            "999",
            "left as it was"
        );
    }
    std::fs::remove_file(&index).unwrap();
    assert_log_heals(&env, &expected, "newer index moved away");

    // Another program's database, or a link to one, is never written to.
    let other = env.path().join("other.sqlite");
    let make = format!(
        "import sqlite3\nc = sqlite3.connect({:?})\nc.execute('CREATE TABLE mine(x)')\nc.commit()\n",
        other.to_str().unwrap()
    );
    assert!(env
        .command("python3")
        .args(["-c", &make])
        .output()
        .unwrap()
        .status
        .success());
    let before = std::fs::read(&other).unwrap();
    std::fs::remove_file(&index).unwrap();
    let _ = std::fs::remove_file(&wal);
    std::os::unix::fs::symlink(&other, &index).unwrap();
    let out = env.atom_err(&["log"], 1);
    assert!(out.stderr.contains("symbolic link"), "{out}");
    std::fs::remove_file(&index).unwrap();
    std::fs::copy(&other, &index).unwrap();
    let out = env.atom_err(&["log"], 1);
    assert!(out.stderr.contains("is not an atom index"), "{out}");
    assert_eq!(
        std::fs::read(&other).unwrap(),
        before,
        "the other database is untouched"
    );
    std::fs::remove_file(&index).unwrap();
    assert_log_heals(&env, &expected, "foreign file moved away");
}

/// A step of the random history of refs.
#[derive(Debug, Clone)]
enum Step {
    /// `atom record` on the current trail, maybe built on a known atom.
    Record { agent: usize, link: Option<usize> },
    /// `git update-ref refs/heads/<name> <an earlier commit>`: create or move a trail.
    SetRef { name: usize, commit: usize },
    /// `git update-ref -d`.
    DeleteRef { name: usize },
    /// `git update-ref refs/heads/main <an ancestor>`: reset backwards.
    ResetMain { back: usize },
}

const REF_NAMES: [&str; 3] = ["refs/heads/x", "refs/heads/y", "refs/atom/archive/main/1"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..3usize, prop::option::of(0..16usize))
            .prop_map(|(agent, link)| Step::Record { agent, link }),
        2 => (0..REF_NAMES.len(), 0..16usize).prop_map(|(name, commit)| Step::SetRef { name, commit }),
        1 => (0..REF_NAMES.len()).prop_map(|name| Step::DeleteRef { name }),
        1 => (1..4usize).prop_map(|back| Step::ResetMain { back }),
    ]
}

#[test]
fn incremental_index_equals_full_rebuild() {
    let config = ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(steps in prop::collection::vec(step(), 1..10))| {
        let env = TestEnv::init();
        let mut commits: Vec<String> = Vec::new();
        let mut known: Vec<String> = Vec::new();
        for s in &steps {
            match s {
                Step::Record { agent, link } => {
                    let agent = ["qwen", "claude", "alice"][*agent];
                    let mut args = vec!["CFG", "modify_file", "--agent", agent, "--set", "path=a.env"];
                    let linked;
                    if let (Some(i), false) = (link, known.is_empty()) {
                        linked = known[i % known.len()].clone();
                        args.extend(["--influenced-by", &linked]);
                    }
                    let v = env.record(&args);
                    commits.push(v["commit"].as_str().unwrap().to_owned());
                }
                Step::SetRef { name, commit } if !commits.is_empty() => {
                    env.git(&["update-ref", REF_NAMES[*name], &commits[commit % commits.len()]]);
                }
                Step::SetRef { .. } => {}
                Step::DeleteRef { name } => {
                    env.git(&["update-ref", "-d", REF_NAMES[*name]]);
                }
                Step::ResetMain { back } => {
                    let rev = format!("refs/heads/main~{back}");
                    let out = env.git_output(&["rev-parse", "--verify", "-q", &rev]);
                    if out.code == 0 {
                        env.git(&["update-ref", "refs/heads/main", out.stdout.trim()]);
                    }
                }
            }
            // A read after every step, so the index catches up step by step.
            known = log_ids(&env, &["--all"]);
        }
        let check = env.atom(&["reindex", "--check"]);
        prop_assert_eq!(check.code, 0, "incremental index differs from a rebuild:\n{}", check);
        // `log --all` lists exactly what git reaches from the trails and archives.
        let listed = env.atom_json(&["log", "--all"]);
        let listed_commits: BTreeSet<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["commit"].as_str().unwrap().to_owned())
            .collect();
        let reachable: BTreeSet<String> = env
            .git(&["rev-list", "--branches", "--glob=refs/atom/archive/*"])
            .lines()
            .map(str::to_owned)
            .collect();
        prop_assert_eq!(&listed_commits, &reachable);
        let before = env.atom_ok(&["--json", "log", "--all"]);
        env.atom_ok(&["reindex"]);
        prop_assert_eq!(env.atom_ok(&["--json", "log", "--all"]), before);
    });
}

/// Every process re-reads the whole WAL when it opens the index, and SQLite
/// never restarted a WAL that was re-read that way: it grew by every append.
#[test]
fn the_index_wal_stays_small_across_many_commands() {
    let env = TestEnv::init();
    let wal = env.store().join("index.sqlite-wal");
    let mut largest = 0;
    for i in 0..80 {
        env.atom_ok(&[
            "record",
            "CFG",
            "modify_file",
            "--set",
            &format!("path=conf/{i}.env"),
        ]);
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    assert!(
        largest < 2 << 20,
        "the WAL grew to {largest} bytes over 80 appends"
    );
    assert_eq!(env.atom_json(&["log"]).as_array().map(Vec::len), Some(80));
}

#[test]
fn search_matches_agent_and_project() {
    let env = TestEnv::init();
    let id = |v: Value| v["record"]["atom_id"].as_str().unwrap().to_owned();
    let by_qwen = id(env.record(&["CFG", "modify_file", "--agent", "qwen", "--summary", "tune"]));
    let in_bazza = id(env.record(&["TASK", "plan", "--project", "bazza-dx", "--summary", "x"]));
    id(env.record(&["TASK", "plan", "--agent", "alice", "--summary", "other"]));
    let hits = |q: &str| -> Vec<String> {
        env.atom_json(&["search", q])
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["record"]["atom_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(hits("qwen"), vec![by_qwen.clone()]);
    assert_eq!(hits("QWEN"), vec![by_qwen]);
    assert_eq!(hits("bazza"), vec![in_bazza]);
    assert!(hits("nobody").is_empty());
}
