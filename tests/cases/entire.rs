//! `atom import --from entire [REPO]`: Entire's checkpoints, committed into a
//! real project repository with the `git` binary as Entire lays them out
//! (`tests/fixtures/entire/`), become atoms linked to the COMMIT atoms that
//! `atom hooks` recorded for the commits carrying `Entire-Checkpoint:`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{by_source, TestEnv};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/entire");
const HEX: &str = "a3b2c4d5e6f7";
const EARLY: &str = "5e6f7a8b9c0d";
const ULID: &str = "01KXGTTNGCEACC83QZEJ5YAF0D";

/// A project repository inside the test's directory.
struct Project<'a> {
    env: &'a TestEnv,
    dir: PathBuf,
}

impl<'a> Project<'a> {
    fn new(env: &'a TestEnv) -> Self {
        let p = Project {
            env,
            dir: env.path().join("project"),
        };
        p.git_in(env.path(), &[], &["init", "-q", "-b", "main", "project"]);
        p.git(&["config", "user.name", "Ann Author"]);
        p.git(&["config", "user.email", "ann@example.com"]);
        p
    }

    fn git_in(&self, dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> String {
        let mut cmd = self.env.command("git");
        cmd.current_dir(dir).args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out: crate::common::Output = cmd.output().expect("run git").into();
        assert_eq!(out.code, 0, "git {args:?} failed:\n{out}");
        out.stdout.trim().to_owned()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.dir, &[], args)
    }

    /// Write `file` and commit it with `message` (hooks run); returns the commit.
    fn commit(&self, file: &str, text: &str, message: &str) -> String {
        let path = self.dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        self.git(&["add", "."]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// The tree of directory `layout`, written with a throwaway index.
    fn tree_of(&self, layout: &Path) -> String {
        let index = layout.with_extension("index");
        let index = index.to_str().unwrap();
        let work_tree = format!("--work-tree={}", layout.display());
        let vars = [("GIT_INDEX_FILE", index)];
        self.git_in(&self.dir, &vars, &[&work_tree, "add", "-A", "."]);
        let tree = self.git_in(&self.dir, &vars, &["write-tree"]);
        std::fs::remove_file(index).unwrap();
        tree
    }

    /// A commit of `layout`'s tree as Entire writes one (subject
    /// `Checkpoint: <id>`, its trailers), on top of `parent`, at `ref_name`.
    fn checkpoint_commit(&self, layout: &Path, id: &str, parent: Option<&str>, ref_name: &str) {
        let tree = self.tree_of(layout);
        let message = format!(
            "Checkpoint: {id}\n\nEntire-Session: 2025-12-01-8f76b0e8\nEntire-Strategy: manual-commit\nEntire-Agent: Claude Code\n"
        );
        let mut args = vec!["commit-tree", tree.as_str(), "-m", message.as_str()];
        if let Some(p) = parent {
            args.extend(["-p", p]);
        }
        let commit = self.git(&args);
        self.git(&["update-ref", ref_name, &commit]);
    }

    fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

/// Copy fixture checkpoint `id` to `dest`.
fn copy_fixture(id: &str, dest: &Path) {
    copy_dir(&Path::new(FIXTURES).join(id), dest);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The `entire/checkpoints/v1` tree: each checkpoint at `<id[:2]>/<id[2:]>/`.
fn v1_layout(env: &TestEnv, name: &str, ids: &[&str]) -> PathBuf {
    let root = env.path().join(name);
    for id in ids {
        copy_fixture(id, &root.join(&id[..2]).join(&id[2..]));
    }
    root
}

fn import(env: &TestEnv, project: &Project<'_>) -> Value {
    env.atom_json(&["import", "--from", "entire", project.path(), "--json"])
}

/// The project with three checkpoints: two on the branch (one annotating a
/// commit made before the hooks were installed), one as a per-checkpoint ref.
/// Returns the commits (before the hooks, login, rate limit).
fn project_with_checkpoints<'a>(env: &'a TestEnv) -> (Project<'a>, [String; 3]) {
    let project = Project::new(env);
    let early = project.commit(
        "README.md",
        "# project\n",
        &format!("Write a README\n\nEntire-Checkpoint: {EARLY}\n"),
    );
    env.atom_json(&["hooks", "install", "--repo", project.path()]);
    let login = project.commit(
        "src/login.rs",
        "fn login() {}\n",
        &format!("Add a login form\n\nValidates the email.\n\nEntire-Checkpoint: {HEX}\n"),
    );
    let limit = project.commit(
        "src/login.rs",
        "fn login() { limit(); }\n",
        &format!("Rate-limit failed logins\n\nEntire-Checkpoint: {ULID}\n"),
    );
    let v1 = v1_layout(env, "v1", &[HEX, EARLY]);
    project.checkpoint_commit(&v1, HEX, None, "refs/heads/entire/checkpoints/v1");
    let refs = env.path().join("ref-0");
    copy_fixture(ULID, &refs);
    project.checkpoint_commit(
        &refs,
        ULID,
        None,
        &format!("refs/entire/checkpoints/0D/{ULID}"),
    );
    // A checkpoint on both the branch and a ref (a repository moving to
    // refs) is read once, from its ref.
    let moved = env.path().join("ref-early");
    copy_fixture(EARLY, &moved);
    project.checkpoint_commit(
        &moved,
        EARLY,
        None,
        &format!("refs/entire/checkpoints/0d/{EARLY}"),
    );
    // Not checkpoints: the withdrawn v2 refs and a ref in the wrong shard.
    project.git(&["update-ref", "refs/entire/checkpoints/v2/main", &limit]);
    project.git(&[
        "update-ref",
        &format!("refs/entire/checkpoints/AB/{ULID}"),
        &limit,
    ]);
    (project, [early, login, limit])
}

#[test]
fn entire_checkpoints_become_atoms_linked_to_their_commits() {
    let env = TestEnv::init();
    let (project, [early, login, limit]) = project_with_checkpoints(&env);
    let commit_atoms = env.atom_json(&["log", "--type", "COMMIT", "--json"]);
    let commit_atom = |sha: &str| -> String {
        commit_atoms
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["record"]["metadata"]["commit"] == sha)
            .map(|a| a["record"]["atom_id"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no COMMIT atom for {sha}"))
    };

    let report = import(&env, &project);
    assert_eq!(report["imported"], 7, "3 checkpoints, 4 sessions: {report}");
    let all = env.records();
    let imported: Vec<&Value> = all.iter().filter(|r| r["type"] != "COMMIT").collect();
    let order: Vec<(String, String)> = imported
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_owned(),
                r["metadata"]["checkpoint_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("CHECKPOINT", EARLY),
        ("SESSION", EARLY),
        ("CHECKPOINT", HEX),
        ("SESSION", HEX),
        ("SESSION", HEX),
        ("CHECKPOINT", ULID),
        ("SESSION", ULID),
    ]
    .iter()
    .map(|(t, c)| (t.to_string(), c.to_string()))
    .collect();
    assert_eq!(
        order, expected,
        "checkpoints in time order, each before its sessions"
    );

    let hex = by_source(&all, "entire", "checkpoints", HEX);
    assert_eq!(hex["operation"], "checkpoint");
    assert_eq!(hex["agent"], "claude-code");
    assert_eq!(hex["timestamp"], "2025-12-01T10:23:45Z");
    assert_eq!(hex["project"], "project");
    assert_eq!(
        hex["summary"],
        format!("checkpoint {HEX}: Add a login form")
    );
    assert_eq!(hex["influenced_by"], json!([commit_atom(&login)]));
    assert_eq!(
        hex["token_cost"],
        Value::Null,
        "the sessions carry the cost"
    );
    assert_eq!(
        hex["metadata"]["commits"],
        json!([{"sha": login, "subject": "Add a login form"}])
    );
    assert_eq!(hex["metadata"]["storage"], "entire/checkpoints/v1");
    assert_eq!(hex["metadata"]["strategy"], "manual-commit");
    assert_eq!(hex["metadata"]["sessions"], 2);
    assert_eq!(hex["metadata"]["token_usage"]["input_tokens"], 1800);

    let claude = by_source(
        &all,
        "entire",
        "sessions",
        &format!("{HEX}/2025-12-01-8f76b0e8-b8f1-4a87-9186-848bdd83d62e"),
    );
    assert_eq!(claude["type"], "SESSION");
    assert_eq!(claude["agent"], "claude-code");
    assert_eq!(claude["timestamp"], "2025-12-01T10:23:45Z");
    assert_eq!(
        claude["token_cost"],
        1500 + 200 + 500,
        "input, cache writes, output"
    );
    assert_eq!(claude["summary"], "Add a login form with email validation");
    assert_eq!(claude["influenced_by"], json!([hex["atom_id"]]));
    let meta = &claude["metadata"];
    assert_eq!(meta["model"], "claude-sonnet-4-20250514");
    assert_eq!(meta["entire_agent"], "Claude Code");
    assert_eq!(meta["paths"], json!(["src/login.rs", "src/main.rs"]));
    assert_eq!(
        meta["prompts"],
        json!([
            "Add a login form to the app",
            "Now validate the email field"
        ])
    );
    assert_eq!(meta["commits"], json!([login]));
    let transcript = std::fs::metadata(Path::new(FIXTURES).join(HEX).join("0/full.jsonl")).unwrap();
    assert_eq!(
        meta["transcript"],
        json!({"file": "0/full.jsonl", "bytes": transcript.len(), "chunks": 1})
    );
    assert_eq!(meta["initial_attribution"]["agent_lines"], 146);

    let gemini = by_source(
        &all,
        "entire",
        "sessions",
        &format!("{HEX}/2025-12-01-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
    );
    assert_eq!(gemini["agent"], "gemini");
    assert_eq!(gemini["token_cost"], 300 + 120 + 50 + 10, "subagents count");
    assert_eq!(gemini["summary"], "Write a test for the login form");

    let before_hooks = by_source(&all, "entire", "checkpoints", EARLY);
    assert_eq!(
        before_hooks["influenced_by"],
        json!([]),
        "no COMMIT atom to link"
    );
    assert_eq!(before_hooks["metadata"]["commits"][0]["sha"], early);
    assert_eq!(
        before_hooks["metadata"]["storage"],
        format!("refs/entire/checkpoints/0d/{EARLY}")
    );

    let ulid = by_source(&all, "entire", "checkpoints", ULID);
    assert_eq!(
        ulid["metadata"]["storage"],
        format!("refs/entire/checkpoints/0D/{ULID}")
    );
    assert_eq!(ulid["influenced_by"], json!([commit_atom(&limit)]));
    assert_eq!(ulid["timestamp"], "2025-12-02T08:00:30Z", "+01:00 in UTC");
    let cursor = by_source(
        &all,
        "entire",
        "sessions",
        &format!("{ULID}/7d9e1f20-3a4b-4c5d-9e6f-708192a3b4c5"),
    );
    assert_eq!(cursor["agent"], "cursor");
    assert_eq!(cursor["token_cost"], 1250);
    assert!(
        cursor["metadata"].get("model").is_none(),
        "an empty model is left out"
    );
    assert_eq!(cursor["metadata"]["session_metrics"]["turn_count"], 4);

    // Files touched are indexed paths; trace follows the links to the commit.
    let found = env.atom_json(&["log", "--path", "tests/login.rs", "--json"]);
    let found: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["record"]["atom_id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [gemini["atom_id"].as_str().unwrap()]);
    let trace = env.atom_ok(&["trace", claude["atom_id"].as_str().unwrap()]);
    assert!(trace.contains(&commit_atom(&login)), "{trace}");

    // Importing again adds nothing; a session Entire adds later comes in alone.
    let again = env.atom(&["import", "--from", "entire", project.path()]);
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(again.stdout, "nothing new to import (7 already imported)\n");
    let ref_name = format!("refs/entire/checkpoints/0D/{ULID}");
    let parent = project.git(&["rev-parse", &ref_name]);
    let grown = env.path().join("ref-1");
    copy_fixture(ULID, &grown);
    copy_dir(&grown.join("0"), &grown.join("1"));
    let second = std::fs::read_to_string(grown.join("1/metadata.json"))
        .unwrap()
        .replace(
            "7d9e1f20-3a4b-4c5d-9e6f-708192a3b4c5",
            "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        )
        .replace("2025-12-02T09:00:30+01:00", "2025-12-02T09:40:00+01:00");
    std::fs::write(grown.join("1/metadata.json"), second).unwrap();
    project.checkpoint_commit(&grown, ULID, Some(&parent), &ref_name);
    let third = import(&env, &project);
    assert_eq!(third["imported"], 1, "{third}");
    assert_eq!(third["skipped"], 7, "{third}");
    let all = env.records();
    let added = all.last().unwrap();
    assert_eq!(
        added["metadata"]["source"]["id"],
        format!("{ULID}/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
    );
    assert_eq!(added["influenced_by"], json!([ulid["atom_id"]]));
}

#[test]
fn entire_secrets_are_masked_and_escapes_dropped() {
    let env = TestEnv::init();
    let project = Project::new(&env);
    project.commit(
        "README.md",
        "x\n",
        &format!("Readme\n\nEntire-Checkpoint: {EARLY}\n"),
    );
    let token = format!("{}_{}", "ghp", "aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uVwXyZ");
    let layout = v1_layout(&env, "v1", &[EARLY]);
    let session = layout.join("5e/6f7a8b9c0d/0");
    std::fs::write(
        session.join("prompt.txt"),
        format!("Write a README\u{1b}[2J using {token}\n\n---\n\nthanks"),
    )
    .unwrap();
    let meta = std::fs::read_to_string(session.join("metadata.json"))
        .unwrap()
        .replace("\"Claude Code\"", "\"Evil\\u001b]0;pwned\\u0007 Agent\"");
    std::fs::write(session.join("metadata.json"), meta).unwrap();
    project.checkpoint_commit(&layout, EARLY, None, "refs/heads/entire/checkpoints/v1");

    // Without REPO: the repository around the current directory.
    let sub = project.dir.join("src");
    std::fs::create_dir_all(&sub).unwrap();
    let out = env
        .atom_command(&["import", "--from", "entire", "--json"])
        .current_dir(&sub)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["imported"], 2, "{report}");
    let all = env.records();
    let s = by_source(
        &all,
        "entire",
        "sessions",
        &format!("{EARLY}/2025-11-30-0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"),
    );
    assert_eq!(
        s["summary"],
        "Write a README [2J using [REDACTED:github-token]"
    );
    assert_eq!(s["agent"], "evil-0-pwned-agent");
    assert_eq!(
        s["metadata"]["redacted"],
        json!([
            {"field": "summary", "kind": "github-token"},
            {"field": "metadata.prompts[0]", "kind": "github-token"}
        ])
    );
    let everything = env.git(&["log", "-p", "--all"]);
    assert!(
        !everything.contains(&token),
        "the token never reaches the trail"
    );
}

#[test]
fn entire_malformed_checkpoints_write_nothing() {
    let env = TestEnv::init();
    let project = Project::new(&env);
    project.commit("README.md", "x\n", "Readme");
    let branch = "refs/heads/entire/checkpoints/v1";
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("metadata.json", b"{not json".to_vec(), "metadata.json is not JSON"),
        (
            "metadata.json",
            vec![b' '; (1 << 20) + 1],
            "metadata.json is 1048577 bytes",
        ),
        (
            "metadata.json",
            br#"{"checkpoint_id": "ffffffffffff", "sessions": []}"#.to_vec(),
            "metadata.json: checkpoint_id is \"ffffffffffff\", but the directory is checkpoint 5e6f7a8b9c0d",
        ),
        (
            "0/metadata.json",
            br#"{"session_id": "s", "created_at": "yesterday"}"#.to_vec(),
            "0/metadata.json: created_at",
        ),
    ];
    for (i, (file, bytes, message)) in cases.iter().enumerate() {
        let layout = v1_layout(&env, &format!("bad-{i}"), &[EARLY]);
        std::fs::write(layout.join("5e/6f7a8b9c0d").join(file), bytes).unwrap();
        project.checkpoint_commit(&layout, EARLY, None, branch);
        let out = env.atom_err(&["import", "--from", "entire", project.path()], 2);
        let expected = format!("error: entire checkpoint {EARLY}: {message}");
        assert!(out.stderr.starts_with(&expected), "{expected}\n{out}");
        assert!(out.stderr.contains("nothing was imported"), "{out}");
        assert!(
            out.stderr
                .contains("hint: that checkpoint is not as Entire writes it"),
            "{out}"
        );
        assert_eq!(env.tip(), None, "nothing was written");
    }

    let plain = env.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let out = env.atom_err(&["import", "--from", "entire", plain.to_str().unwrap()], 2);
    assert!(out.stderr.contains("is not a git repository"), "{out}");
    let out = env.atom_err(&["import", "--from", "entire", "/nonexistent/repo"], 2);
    assert!(out.stderr.contains("is not a directory"), "{out}");
}
