//! `atom import --from ...` and `atom export --format ...`: other tools' data
//! in and out.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{by_source, TestEnv};

/// context-sync's own CREATE TABLE statements (see the file's header).
const CONTEXT_SYNC_SCHEMA: &str = include_str!("../fixtures/context_sync_schema.sql");

const P1: &str = "6f1c2a9e-3b7d-4c1e-9a52-0d3e8b7f1a01";
const P2: &str = "a2d4e6f8-1357-4b9d-8c2e-4f6a8b0c2d02";

/// A context-sync database with realistic rows: two projects and rows of
/// each kind, timestamps in Unix milliseconds as the server writes them.
fn context_sync_db(env: &TestEnv) -> PathBuf {
    let path = env.path().join("context-sync").join("data.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(CONTEXT_SYNC_SCHEMA).unwrap();
    db.execute_batch(&format!(
        r#"
        INSERT INTO projects VALUES ('{P1}', 'billing-api', '/home/dev/billing-api', 'hexagonal',
            '["TypeScript","PostgreSQL"]', 1732698000000, 1732784400000, 1);
        INSERT INTO projects VALUES ('{P2}', 'docs-site', '/home/dev/docs-site', NULL, NULL,
            1732698600000, 1732698600000, 0);
        INSERT INTO decisions VALUES ('d-01', '{P1}', 'architecture', 'Use Postgres advisory locks for invoice numbering',
            'Sequences leave gaps on rollback; auditors want gapless numbers', 1732700000123);
        INSERT INTO decisions VALUES ('d-02', '{P2}', 'library', 'Build the docs with mdBook', NULL, 1732701000000);
        INSERT INTO conversations VALUES ('c-01', '{P1}', 'claude', 'assistant',
            'Refactored the invoice service to take the lock first', 1732702000000, '{{"files":2}}');
        INSERT INTO notes VALUES ('n-01', '{P1}', 'Staging database resets every Sunday', '["ops","staging"]', 1732703000000);
        INSERT INTO problems VALUES ('pr-01', '{P1}', 'Flaky webhook test', 'times out on CI', 'investigating', NULL, 1732704000000);
        INSERT INTO goals VALUES ('g-01', '{P1}', 'Ship v2 invoices', '2024-12-15', 'in-progress', 1732705000000);
        INSERT INTO active_work VALUES ('w-01', '{P1}', 'Port the PDF renderer', 'halfway', '["src/pdf.ts"]', 'pdf-port', 1732706000000, 'active');
        INSERT INTO constraints VALUES ('k-01', '{P1}', 'money', 'integers in cents', 'no float rounding', 1732707000000);
        INSERT INTO caveats VALUES ('cv-01', '{P1}', 'Skipped the retry test', 'shortcut', 'high', 'run it', NULL, NULL,
            0, 'add the test', 1, 1732708000000, 0, NULL, NULL);
        "#
    ))
    .unwrap();
    path
}

fn import_context_sync(env: &TestEnv, db: &Path) -> Value {
    env.atom_json(&[
        "import",
        "--from",
        "context-sync",
        db.to_str().unwrap(),
        "--json",
    ])
}

#[test]
fn context_sync_rows_become_linked_atoms_of_fitting_types() {
    let env = TestEnv::init();
    let db = context_sync_db(&env);
    let report = import_context_sync(&env, &db);
    assert_eq!(report["imported"], 11, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    let recs = env.records();
    assert_eq!(recs.len(), 11);
    // Projects first, then the rows by time.
    let types: Vec<&str> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "PROJECT",
            "PROJECT",
            "DECISION",
            "DECISION",
            "CONVERSATION",
            "NOTE",
            "PROBLEM",
            "GOAL",
            "TASK",
            "CONSTRAINT",
            "CAVEAT"
        ]
    );
    let project = by_source(&recs, "context-sync", "projects", P1);
    assert_eq!(project["summary"], "billing-api");
    assert_eq!(project["project"], "billing-api");
    assert_eq!(
        project["metadata"]["tech_stack"],
        serde_json::json!(["TypeScript", "PostgreSQL"])
    );
    assert_eq!(project["timestamp"], "2024-11-27T09:00:00Z");

    let decision = by_source(&recs, "context-sync", "decisions", "d-01");
    assert_eq!(decision["operation"], "save_decision");
    assert_eq!(decision["agent"], "context-sync");
    assert_eq!(
        decision["summary"],
        "Use Postgres advisory locks for invoice numbering"
    );
    assert_eq!(decision["project"], "billing-api");
    assert_eq!(decision["timestamp"], "2024-11-27T09:33:20Z");
    assert_eq!(decision["metadata"]["type"], "architecture");
    assert!(decision["metadata"]["reasoning"]
        .as_str()
        .unwrap()
        .starts_with("Sequences"));
    assert_eq!(
        decision["influenced_by"],
        serde_json::json!([project["atom_id"]])
    );
    let other = by_source(&recs, "context-sync", "decisions", "d-02");
    assert_eq!(other["project"], "docs-site");
    assert_eq!(
        other["influenced_by"],
        serde_json::json!([by_source(&recs, "context-sync", "projects", P2)["atom_id"]])
    );

    let conversation = by_source(&recs, "context-sync", "conversations", "c-01");
    assert_eq!(conversation["agent"], "claude");
    assert_eq!(conversation["metadata"]["role"], "assistant");
    assert_eq!(
        conversation["metadata"]["metadata"],
        serde_json::json!({"files": 2})
    );
    let note = by_source(&recs, "context-sync", "notes", "n-01");
    assert_eq!(
        note["metadata"]["tags"],
        serde_json::json!(["ops", "staging"])
    );
    let constraint = by_source(&recs, "context-sync", "constraints", "k-01");
    assert_eq!(constraint["summary"], "money: integers in cents");

    // `atom log --project` finds them through the index.
    let decisions = env.log_ids(&["--project", "billing-api", "--type", "DECISION"]);
    assert_eq!(decisions, [decision["atom_id"].as_str().unwrap()]);
}

#[test]
fn context_sync_reimport_adds_only_new_rows() {
    let env = TestEnv::init();
    let db = context_sync_db(&env);
    import_context_sync(&env, &db);
    let tip = env.tip();

    let again = env.atom(&["import", "--from", "context-sync", db.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(
        again.stdout,
        "nothing new to import (11 already imported)\n"
    );
    assert_eq!(env.tip(), tip, "a re-import wrote nothing");

    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO decisions VALUES ('d-03', ?1, 'process', 'Review invoices weekly', NULL, 1732790000000)",
        [P1],
    )
    .unwrap();
    drop(conn);
    let report = import_context_sync(&env, &db);
    assert_eq!(report["imported"], 1, "{report}");
    assert_eq!(report["skipped"], 11, "{report}");
    let recs = env.records();
    assert_eq!(recs.len(), 12);
    let new = by_source(&recs, "context-sync", "decisions", "d-03");
    assert_eq!(
        new["influenced_by"],
        serde_json::json!([by_source(&recs, "context-sync", "projects", P1)["atom_id"]]),
        "a new row links to the project atom of the earlier import"
    );
}

#[test]
fn context_sync_default_path_is_its_own() {
    let env = TestEnv::init();
    let db = context_sync_db(&env);
    let env = env.with_env("CONTEXT_SYNC_DB_PATH", db.to_str().unwrap());
    let out = env.atom(&["import", "--from", "context-sync"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.starts_with("imported 11 atoms onto trail main"),
        "{out}"
    );
}

#[test]
fn context_sync_hostile_rows_write_nothing() {
    let env = TestEnv::init();
    let db = context_sync_db(&env);
    let token = format!("{}_{}", "ghp", "aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uVwXyZ");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO notes VALUES ('n-02', ?1, ?2, NULL, 1732709000000)",
        [P1, &format!("deploy token is {token}")],
    )
    .unwrap();
    let out = env.atom_err(
        &["import", "--from", "context-sync", db.to_str().unwrap()],
        2,
    );
    assert!(
        out.stderr
            .starts_with("error: notes n-02: refusing to import a secret"),
        "{out}"
    );
    assert!(
        !out.stderr.contains(&token) && !out.stdout.contains(&token),
        "{out}"
    );
    assert_eq!(env.tip(), None, "nothing was written");

    conn.execute("DELETE FROM notes WHERE id = 'n-02'", [])
        .unwrap();
    conn.execute(
        "INSERT INTO goals VALUES ('g-02', ?1, 'Someday', NULL, 'planned', 'soon')",
        [P1],
    )
    .unwrap();
    let out = env.atom_err(
        &["import", "--from", "context-sync", db.to_str().unwrap()],
        2,
    );
    assert!(
        out.stderr
            .starts_with("error: goals g-02: timestamp must be Unix milliseconds"),
        "{out}"
    );
    assert_eq!(env.tip(), None);

    let not_db = env.write_file("notes.txt", b"not a database at all, just some text\n");
    let out = env.atom_err(
        &["import", "--from", "context-sync", not_db.to_str().unwrap()],
        2,
    );
    assert!(out.stderr.starts_with("error: cannot read "), "{out}");
    let missing = env.atom_err(
        &["import", "--from", "context-sync", "/nonexistent/data.db"],
        2,
    );
    assert!(missing.stderr.contains("is not a file"), "{missing}");
}

/// The Agent Trace v0.1 JSON Schema, verbatim from the spec (see
/// `tests/fixtures/agent_trace_schema.json`: §6.1 of cursor/agent-trace's README).
const AGENT_TRACE_SCHEMA: &str = "tests/fixtures/agent_trace_schema.json";

/// Validate each line of `jsonl` against the Agent Trace schema with Python's
/// `jsonschema` (Draft 2020-12, formats checked); returns the error text.
fn schema_errors(env: &TestEnv, jsonl: &str) -> String {
    let file = env.write_file("traces-to-check.jsonl", jsonl.as_bytes());
    let script = format!(
        "import json, sys, jsonschema\n\
         schema = json.load(open({schema:?}))\n\
         v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)\n\
         for i, line in enumerate(open({file:?}), 1):\n\
         \x20   for e in v.iter_errors(json.loads(line)):\n\
         \x20       print(i, e.message)\n",
        schema = Path::new(env!("CARGO_MANIFEST_DIR")).join(AGENT_TRACE_SCHEMA),
        file = file,
    );
    let out = env
        .command("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn agent_trace_schema_check_can_fail() {
    let env = TestEnv::new();
    let errors = schema_errors(
        &env,
        "{\"version\": \"1\", \"id\": \"x\", \"files\": [{}]}\n",
    );
    assert!(
        errors.contains("'timestamp' is a required property"),
        "{errors}"
    );
    assert!(errors.contains("'path' is a required property"), "{errors}");
}

const TRACE: &str = r#"{"version":"0.1.0","id":"550e8400-e29b-41d4-a716-446655440000","timestamp":"2026-01-23T14:30:00Z","vcs":{"type":"git","revision":"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"},"tool":{"name":"cursor","version":"2.4.0"},"files":[{"path":"src/utils/parser.ts","conversations":[{"url":"https://api.cursor.com/v1/conversations/12345","contributor":{"type":"ai","model_id":"anthropic/claude-opus-4-5-20251101"},"ranges":[{"start_line":42,"end_line":67,"content_hash":"murmur3:9f2e8a1b"}]}]},{"path":"src/utils/helpers.ts","conversations":[{"contributor":{"type":"ai","model_id":"anthropic/claude-opus-4-5-20251101"},"ranges":[{"start_line":10,"end_line":25}]}]}],"metadata":{"confidence":0.95}}"#;

#[test]
fn agent_trace_import_writes_edit_atoms_and_export_round_trips() {
    let env = TestEnv::init();
    let second = TRACE
        .replace(
            "550e8400-e29b-41d4-a716-446655440000",
            "6ba7b810-9dad-41d1-80b4-00c04fd430c8",
        )
        .replace("2026-01-23T14:30:00Z", "2026-01-23T15:00:00.250Z");
    let file = env.write_file(
        ".agent-trace/traces.jsonl",
        format!("{TRACE}\n{second}\n").as_bytes(),
    );
    assert_eq!(schema_errors(&env, &format!("{TRACE}\n{second}\n")), "");
    let report = env.atom_json(&[
        "import",
        "--format",
        "agent-trace",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report["imported"], 2, "{report}");
    let recs = env.records();
    let edit = &recs[0];
    assert_eq!(edit["type"], "EDIT");
    assert_eq!(edit["operation"], "edit_file");
    assert_eq!(edit["agent"], "cursor");
    assert_eq!(edit["timestamp"], "2026-01-23T14:30:00Z");
    assert_eq!(edit["metadata"]["path"], "src/utils/parser.ts");
    assert_eq!(
        edit["metadata"]["model"],
        "anthropic/claude-opus-4-5-20251101"
    );
    assert_eq!(
        edit["metadata"]["files"][0]["ranges"],
        serde_json::json!([{"start_line": 42, "end_line": 67, "content_hash": "murmur3:9f2e8a1b"}])
    );
    // The paths are indexed like any EDIT atom's.
    assert_eq!(env.log_ids(&["--path", "src/utils/helpers.ts"]).len(), 2);

    // Importing the same file again adds nothing.
    let again = env.atom_json(&[
        "import",
        "--format",
        "agent-trace",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (again["imported"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(2))
    );

    // Export gives the records back, plus our id and digest, and they are valid.
    let out = env.atom_ok(&["export", "--format", "agent-trace"]);
    assert_eq!(schema_errors(&env, &out), "");
    let exported: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported.len(), 2);
    for (got, want) in exported.iter().zip([TRACE, second.as_str()]) {
        let mut want: Value = serde_json::from_str(want).unwrap();
        let atom = recs
            .iter()
            .find(|r| r["metadata"]["source"]["id"] == want["id"])
            .unwrap();
        want["metadata"]["dev.atom"] =
            serde_json::json!({"atom_id": atom["atom_id"], "digest": atom["digest"]});
        assert_eq!(got, &want);
    }
}

#[test]
fn agent_trace_export_of_recorded_edits_and_commits_is_valid() {
    let env = TestEnv::init();
    env.record(&[
        "EDIT", "edit_file", "--agent", "claude-code", "--meta",
        r#"{"path":"src/a.rs","files":[{"path":"src/a.rs","added":3,"removed":1,"ranges":[{"start_line":5,"end_line":7}]}],"tool":"Edit","tool_use_id":"toolu_01","model":"claude-sonnet-4-5"}"#,
    ]);
    env.record(&[
        "COMMIT", "commit", "--meta",
        r#"{"repo":"app","branch":"main","commit":"0123456789abcdef0123456789abcdef01234567","files":[{"path":"src/a.rs","change":"M","added":3,"removed":1}]}"#,
    ]);
    env.record(&["NOTE", "save_note", "--summary", "no files here"]);
    let out = env.atom_ok(&["export", "--format", "agent-trace"]);
    assert_eq!(schema_errors(&env, &out), "");
    let traces: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(traces.len(), 2, "{out}");
    let edit = &traces[0]["files"][0]["conversations"][0];
    assert_eq!(
        edit["contributor"],
        serde_json::json!({"type": "ai", "model_id": "claude-sonnet-4-5"})
    );
    assert_eq!(
        edit["ranges"],
        serde_json::json!([{"start_line": 5, "end_line": 7}])
    );
    assert_eq!(traces[0]["tool"]["name"], "claude-code");
    assert_eq!(
        traces[1]["vcs"],
        serde_json::json!({"type": "git", "revision": "0123456789abcdef0123456789abcdef01234567"})
    );
    assert_eq!(
        traces[1]["files"][0]["conversations"][0]["contributor"]["type"],
        "unknown"
    );
    let ids: Vec<&str> = traces
        .iter()
        .map(|t| t["metadata"]["dev.atom"]["atom_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        ids[0].starts_with("ATOM-EDIT-") && ids[1].starts_with("ATOM-COMMIT-"),
        "{ids:?}"
    );
}

#[test]
fn agent_trace_hostile_lines_write_nothing() {
    let env = TestEnv::init();
    let bad_range = TRACE.replace("\"start_line\":42", "\"start_line\":0");
    let file = env.write_file("t.jsonl", format!("{TRACE}\n{bad_range}\n").as_bytes());
    let out = env.atom_err(
        &["import", "--format", "agent-trace", file.to_str().unwrap()],
        2,
    );
    assert!(
        out.stderr.starts_with(
            "error: line 2: files[0].conversations[0].ranges[0].start_line must be an integer >= 1"
        ),
        "{out}"
    );
    assert_eq!(env.tip(), None);
    let no_id = TRACE.replace("550e8400-e29b-41d4-a716-446655440000", "not-a-uuid");
    let file = env.write_file("t2.jsonl", format!("{no_id}\n").as_bytes());
    let out = env.atom_err(
        &["import", "--format", "agent-trace", file.to_str().unwrap()],
        2,
    );
    assert!(
        out.stderr.starts_with("error: line 1: id must be a UUID"),
        "{out}"
    );
    assert_eq!(env.tip(), None);
}
