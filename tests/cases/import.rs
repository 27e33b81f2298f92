//! `atom export` and `atom import`: round trips byte for byte, all or nothing
//! per file, refusal of tampered records, the seed system's `atom_trail`
//! rows, stdin, and a bulk import checked by stock git.

use serde_json::{json, Value};

use crate::common::{assert_linear_chain, TestEnv};

/// A trail with links, a project, tokens, metadata, several types, and a rollback.
fn varied_trail() -> TestEnv {
    let env = TestEnv::init().with_env("ATOM_AGENT", "qwen");
    env.record(&[
        "DECISION",
        "save_decision",
        "--summary",
        "use context-sync",
        "--at",
        "2024-11-27T10:23:45Z",
        "--set",
        "title=ctx",
    ]);
    env.record(&[
        "RESEARCH",
        "research",
        "--agent",
        "perplexity",
        "--at",
        "2024-11-27T10:25:12Z",
        "--meta",
        r#"{"query":"ProtonDB","n":[1,2.5,"ü"]}"#,
        "--influenced-by",
        "ATOM-DECISION-20241127-001",
    ]);
    env.record(&[
        "CFG",
        "modify_file",
        "--project",
        "bazza-dx",
        "--tokens",
        "1200",
        "--at",
        "2024-11-28T08:00:00Z",
        "--set",
        "path=gaming.env",
    ]);
    env.record(&[
        "CFG",
        "modify_file",
        "--summary",
        "undone later",
        "--at",
        "2024-11-28T09:00:00Z",
    ]);
    env.atom_ok(&["rollback", "ATOM-CFG-20241128-001", "--yes"]);
    env
}

/// Files in `objects/pack` (packs, indexes, temporaries).
fn pack_files(env: &TestEnv) -> Vec<String> {
    match std::fs::read_dir(env.git_dir().join("objects/pack")) {
        Ok(dir) => dir
            .map(|e| {
                e.expect("read objects/pack")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `atom verify` must succeed.
fn assert_verifies(env: &TestEnv) {
    let out = env.atom(&["verify"]);
    assert_eq!(out.code, 0, "atom verify failed:\n{out}");
}

#[test]
fn export_then_import_into_a_fresh_store_round_trips_byte_for_byte() {
    let source = varied_trail();
    let exported = source.atom_ok(&["export"]);
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines.len(), 4, "three atoms and the rollback:\n{exported}");
    // Bare records, oldest first, each linked to the line before it.
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(records[0]["atom_id"], "ATOM-DECISION-20241127-001");
    assert_eq!(records[3]["type"], "ROLLBACK");
    assert!(
        records[0].get("commit").is_none(),
        "no wrapper: {}",
        lines[0]
    );
    for pair in records.windows(2) {
        assert_eq!(pair[1]["previous_atom"], pair[0]["atom_id"]);
        assert_eq!(pair[1]["previous_digest"], pair[0]["digest"]);
    }
    // The export is the stored atom.json bytes.
    let log = source.atom_json(&["log"]);
    let tip_blob = source.git(&[
        "cat-file",
        "blob",
        &format!("{}:atom.json", log[0]["commit"].as_str().unwrap()),
    ]);
    assert_eq!(tip_blob, lines[3]);
    // --format jsonl is the default and the same output.
    assert_eq!(source.atom_ok(&["export", "--format", "jsonl"]), exported);

    let target = TestEnv::init();
    let file = target.write_file("trail.jsonl", exported.as_bytes());
    let report = target.atom_json(&["import", file.to_str().unwrap()]);
    assert_eq!(report["imported"], 4);
    assert_eq!(report["last"], records[3]["atom_id"]);
    assert_eq!(
        target.atom_ok(&["export"]),
        exported,
        "a round trip changes nothing"
    );
    let log = target.cross_check();
    assert_linear_chain(&log);
    assert_verifies(&target);
    // The imported objects are one pack, not loose files.
    assert_eq!(
        pack_files(&target)
            .iter()
            .filter(|f| f.ends_with(".pack"))
            .count(),
        1
    );
    let loose = target.git(&["count-objects", "-v"]);
    assert!(
        loose.contains("\ncount: 0\n") || loose.starts_with("count: 0\n"),
        "{loose}"
    );
    // The index knows the imported atoms, their links and paths.
    let shown = target.atom_json(&["show", "ATOM-RESEARCH-20241127-002"]);
    assert_eq!(shown["record"]["agent"], "perplexity");
    let by_path = target.atom_json(&["log", "--path", "gaming.env"]);
    assert_eq!(by_path.as_array().unwrap().len(), 1);
    // A new atom continues the store's counter after the imported ones.
    let next = target.record(&["TASK", "plan", "--at", "2024-11-28T10:00:00Z"]);
    assert_eq!(next["record"]["atom_id"], "ATOM-TASK-20241128-002");
    assert_verifies(&target);
}

#[test]
fn export_of_an_atom_id_stops_at_that_atom() {
    let env = varied_trail();
    let out = env.atom_ok(&["export", "ATOM-RESEARCH-20241127-002"]);
    let ids: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["atom_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        ["ATOM-DECISION-20241127-001", "ATOM-RESEARCH-20241127-002"]
    );
    let empty = TestEnv::init();
    assert_eq!(empty.atom_ok(&["export"]), "");
    empty.atom_err(&["export", "no-such-trail"], 1);
}

fn line(v: Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

#[test]
fn a_bad_third_line_of_five_writes_nothing() {
    let env = TestEnv::init();
    env.record(&["CFG", "modify_file", "--summary", "before"]);
    let tip = env.tip();
    let counts = env.object_counts();
    let packs = pack_files(&env);
    let mut input = String::new();
    for i in 1..=5 {
        let t = if i == 3 { "not a type" } else { "TASK" };
        input.push_str(&line(
            json!({"type": t, "operation": "plan", "summary": format!("step {i}")}),
        ));
    }
    let file = env.write_file("bad.jsonl", input.as_bytes());
    let out = env.atom_err(&["import", file.to_str().unwrap()], 2);
    assert!(out.stderr.starts_with("error: line 3: "), "{out}");
    assert!(out.stderr.contains("type"), "names the field:\n{out}");
    assert_eq!(env.tip(), tip, "the trail did not move");
    assert_eq!(env.object_counts(), counts, "no loose object written");
    assert_eq!(
        pack_files(&env),
        packs,
        "no pack and no temporary left behind"
    );
    assert_eq!(env.atom_json(&["log"]).as_array().unwrap().len(), 1);
    env.cross_check();
    // The same lines without the bad one import, as one batch.
    let good: String = input
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let file = env.write_file("good.jsonl", good.as_bytes());
    assert_eq!(
        env.atom_json(&["import", file.to_str().unwrap()])["imported"],
        4
    );
    let log = env.cross_check();
    assert_eq!(log.len(), 5);
    assert_linear_chain(&log);
}

#[test]
fn tampered_or_misplaced_records_are_refused_with_their_line() {
    let source = varied_trail();
    let exported = source.atom_ok(&["export"]);
    let target = TestEnv::init();

    // An edited summary whose digest was left alone.
    let mut lines: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[1]["summary"] = json!("nothing happened here");
    let text: String = lines.iter().map(|v| line(v.clone())).collect();
    let out = target.atom_err(
        &[
            "import",
            target
                .write_file("t1.jsonl", text.as_bytes())
                .to_str()
                .unwrap(),
        ],
        2,
    );
    assert!(out.stderr.starts_with("error: line 2: digest "), "{out}");

    // A line dropped from the middle: the next one's link no longer fits.
    let text: String = exported
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let out = target.atom_err(
        &[
            "import",
            target
                .write_file("t2.jsonl", text.as_bytes())
                .to_str()
                .unwrap(),
        ],
        2,
    );
    assert!(
        out.stderr.starts_with("error: line 2: previous_atom "),
        "{out}"
    );

    // Ids of one day that do not increase along the trail.
    let text = line(
        json!({"atom_id": "ATOM-TASK-20241127-005", "operation": "plan", "timestamp": "2024-11-27T10:00:00Z"}),
    ) + &line(
        json!({"atom_id": "ATOM-TASK-20241127-004", "operation": "plan", "timestamp": "2024-11-27T11:00:00Z"}),
    );
    let out = target.atom_err(
        &[
            "import",
            target
                .write_file("t3.jsonl", text.as_bytes())
                .to_str()
                .unwrap(),
        ],
        2,
    );
    assert!(
        out.stderr.starts_with("error: line 2: ") && out.stderr.contains("increase"),
        "{out}"
    );

    // Not JSON, an unknown field, a bad id, a timestamp on another day than the id.
    for (bad, needle) in [
        ("{not json", "not a JSON record"),
        (r#"{"type":"CFG","operation":"x","colour":"red"}"#, "colour"),
        (
            r#"{"atom_id":"ATOM-cfg-20241127-001","operation":"x"}"#,
            "atom_id",
        ),
        (
            r#"{"atom_id":"ATOM-CFG-20241127-001","operation":"x","timestamp":"2024-11-28T00:00:00Z"}"#,
            "date",
        ),
        (
            r#"{"type":"MERGE","operation":"merge","merged":["ATOM-CFG-20241127-001"]}"#,
            "MERGE",
        ),
    ] {
        let input = format!(
            "{}\n{bad}\n",
            line(json!({"type": "TASK", "operation": "plan"})).trim()
        );
        let out = target.atom_err(
            &[
                "import",
                target
                    .write_file("t4.jsonl", input.as_bytes())
                    .to_str()
                    .unwrap(),
            ],
            2,
        );
        assert!(
            out.stderr.starts_with("error: line 2: ") && out.stderr.contains(needle),
            "{bad}:\n{out}"
        );
    }
    assert_eq!(
        target.tip(),
        None,
        "nothing of any refused batch was written"
    );
    assert!(pack_files(&target).is_empty(), "{:?}", pack_files(&target));

    // The source's own records are already there: importing them twice is refused.
    let file = source.write_file("again.jsonl", exported.as_bytes());
    let out = source.atom_err(&["import", file.to_str().unwrap()], 2);
    assert!(
        out.stderr.contains("already an atom of this store"),
        "{out}"
    );
}

/// `sha256:` + hex of `atom_id` followed by the metadata text, as the seed signed.
fn seed_signature(env: &TestEnv, atom_id: &str, metadata_text: &str) -> String {
    format!(
        "sha256:{}",
        env.sha256_hex(format!("{atom_id}{metadata_text}").as_bytes())
    )
}

#[test]
fn seed_atom_trail_rows_import_with_their_ids_and_a_checked_signature() {
    let env = TestEnv::init();
    let rows = [
        (
            "ATOM-DECISION-20241127-001",
            "save_decision",
            "claude-code",
            "2024-11-27T10:23:45Z",
            None,
            r#"{"title": "Use context-sync", "context_sync_id": 42}"#,
        ),
        (
            "ATOM-RESEARCH-20241127-002",
            "research",
            "perplexity",
            "2024-11-27 10:25:12",
            Some("ATOM-DECISION-20241127-001"),
            r#"{"query":"ProtonDB Cyberpunk"}"#,
        ),
        (
            "ATOM-CFG-20241127-003",
            "modify_file",
            "qwen",
            "2024-11-27T10:27:33Z",
            Some("ATOM-RESEARCH-20241127-002"),
            r#"{"path":"gaming.env"}"#,
        ),
    ];
    let mut input = String::new();
    for (id, op, agent, ts, prev, meta) in rows {
        input.push_str(&line(json!({
            "atom_id": id, "operation": op, "agent": agent, "timestamp": ts,
            "signature": seed_signature(&env, id, meta), "previous_atom": prev,
            "metadata": meta, "context_sync_ref": 7,
        })));
    }
    // The last row's metadata as an object, as a JSON export of the table may give it.
    let mut last: Value = serde_json::from_str(input.lines().last().unwrap()).unwrap();
    last["metadata"] = serde_json::from_str(rows[2].5).unwrap();
    let mut lines: Vec<String> = input.lines().map(str::to_owned).collect();
    lines[2] = last.to_string();
    let input = lines.join("\n") + "\n";

    let report = env.atom_json(&[
        "import",
        env.write_file("seed.jsonl", input.as_bytes())
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(report["imported"], 3);
    assert_eq!(report["legacy"], 3);
    let log = env.cross_check();
    assert_linear_chain(&log);
    assert_verifies(&env);
    let first = &log[2]["record"];
    assert_eq!(first["atom_id"], "ATOM-DECISION-20241127-001");
    assert_eq!(first["type"], "DECISION");
    assert_eq!(first["agent"], "claude-code");
    assert_eq!(first["metadata"]["title"], "Use context-sync");
    assert_eq!(first["metadata"]["context_sync_ref"], 7);
    assert_eq!(
        first["metadata"]["legacy_signature"],
        json!(seed_signature(&env, rows[0].0, rows[0].5))
    );
    assert_eq!(log[1]["record"]["timestamp"], "2024-11-27T10:25:12Z");
    assert_eq!(
        log[0]["record"]["previous_atom"],
        "ATOM-RESEARCH-20241127-002"
    );

    // A row changed after it was signed is refused, naming its line.
    let other = TestEnv::init();
    let tampered = input.replace("ProtonDB Cyberpunk", "ProtonDB Witcher");
    let out = other.atom_err(
        &[
            "import",
            other
                .write_file("seed.jsonl", tampered.as_bytes())
                .to_str()
                .unwrap(),
        ],
        2,
    );
    assert!(out.stderr.starts_with("error: line 2: signature "), "{out}");
    assert_eq!(other.tip(), None);
}

#[test]
fn import_reads_stdin_and_computes_what_is_missing() {
    let env = TestEnv::init().with_env("ATOM_AGENT", "qwen");
    env.record(&["CFG", "modify_file", "--at", "2024-11-27T09:00:00Z"]);
    let input = [
        line(json!({"type": "TASK", "operation": "plan", "timestamp": "2024-11-27T10:00:00Z"})),
        line(json!({"type": "TASK", "operation": "plan", "timestamp": "2024-11-27T11:00:00Z", "agent": "claude-code", "influenced_by": ["ATOM-TASK-20241127-002"]})),
        "\n".to_owned(),
        line(json!({"atom_id": "ATOM-SAGE-20241127-010", "operation": "advise", "timestamp": "2024-11-27T12:00:00Z"})),
        line(json!({"type": "TASK", "operation": "plan", "timestamp": "2024-11-27T13:00:00Z"})),
    ]
    .concat();
    let out = env.atom_stdin(&["import", "-"], input.as_bytes());
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.starts_with("imported 4 atoms onto trail main"),
        "{out}"
    );
    let log = env.cross_check();
    assert_linear_chain(&log);
    let ids: Vec<&str> = log
        .iter()
        .rev()
        .map(|a| a["record"]["atom_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "ATOM-CFG-20241127-001",
            "ATOM-TASK-20241127-002",
            "ATOM-TASK-20241127-003",
            "ATOM-SAGE-20241127-010",
            "ATOM-TASK-20241127-011"
        ]
    );
    assert_eq!(log[2]["record"]["agent"], "claude-code");
    assert_eq!(log[3]["record"]["agent"], "qwen");
    assert_eq!(
        log[2]["record"]["influenced_by"],
        json!(["ATOM-TASK-20241127-002"])
    );
    let influenced = env.atom_json(&["show", "ATOM-TASK-20241127-002"]);
    assert!(
        influenced.to_string().contains("ATOM-TASK-20241127-003"),
        "the index knows the link: {influenced}"
    );
    assert_verifies(&env);
    // An influence on an atom that is nowhere is refused.
    let bad = line(
        json!({"type": "TASK", "operation": "plan", "influenced_by": ["ATOM-TASK-20200101-001"]}),
    );
    let out = env.atom_stdin(&["import", "-"], bad.as_bytes());
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.starts_with("error: line 1: influenced_by"),
        "{out}"
    );
    let missing = env.atom_err(&["import", "no-such-file.jsonl"], 2);
    assert!(missing.stderr.contains("no-such-file.jsonl"), "{missing}");
}

#[test]
fn two_thousand_imported_atoms_pass_git_fsck_verify_commit_and_atom_verify() {
    let env = TestEnv::init();
    let mut input = String::with_capacity(2000 * 120);
    for i in 0..2000 {
        let day = 1 + i / 500;
        input.push_str(&line(json!({
            "type": if i % 3 == 0 { "CFG" } else { "TASK" },
            "operation": "step",
            "timestamp": format!("2024-12-{day:02}T{:02}:{:02}:00Z", (i % 500) / 60, i % 60),
            "summary": format!("bulk step {i}"),
            "metadata": {"i": i},
        })));
    }
    let report = env.atom_json(&[
        "import",
        env.write_file("bulk.jsonl", input.as_bytes())
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(report["imported"], 2000);
    assert_eq!(report["last"], "ATOM-TASK-20241204-500");
    let log = env.cross_check();
    assert_eq!(log.len(), 2000);
    assert_linear_chain(&log);
    assert_verifies(&env);
    let counted = env.atom_json(&["query", "SELECT count(*) AS n FROM atoms"]);
    assert!(counted.to_string().contains("2000"), "{counted}");
    let exported = env.atom_ok(&["export"]);
    assert_eq!(exported.lines().count(), 2000);
}

/// What import accepts, verify accepts: an explicit id must be above every
/// number of its day earlier on the trail, not only the line before it
/// (found by the import fuzz test: a dated TASK, an undated line, then an
/// explicit id of the first day's number).
#[test]
fn an_explicit_id_below_an_earlier_number_of_its_day_is_refused() {
    let env = TestEnv::init();
    let input = [
        line(json!({"type": "TASK", "operation": "plan", "timestamp": "2024-11-27T10:00:00Z"})),
        line(json!({"type": "TASK", "operation": "plan"})),
        line(json!({"atom_id": "ATOM-CFG-20241127-001", "operation": "plan", "timestamp": "2024-11-27T11:00:00Z"})),
    ]
    .concat();
    let file = env.write_file("order.jsonl", input.as_bytes());
    let out = env.atom_err(&["import", file.to_str().unwrap()], 2);
    assert!(out.stderr.starts_with("error: line 3: "), "{out}");
    assert!(out.stderr.contains("must increase"), "{out}");
    assert_eq!(env.tip(), None, "nothing written");

    // Against the trail as it was before the import, too.
    env.record(&["TASK", "plan", "--at", "2024-11-27T09:00:00Z"]);
    let file = env.write_file(
        "one.jsonl",
        line(json!({"atom_id": "ATOM-CFG-20241127-001", "operation": "plan", "timestamp": "2024-11-27T12:00:00Z"})).as_bytes(),
    );
    let out = env.atom_err(&["import", file.to_str().unwrap()], 2);
    assert!(
        out.stderr.contains("must increase") || out.stderr.contains("already"),
        "{out}"
    );

    // An id above them imports, and the trail verifies.
    let file = env.write_file(
        "ok.jsonl",
        line(json!({"atom_id": "ATOM-CFG-20241127-007", "operation": "plan", "timestamp": "2024-11-27T12:00:00Z"})).as_bytes(),
    );
    env.atom_ok(&["import", file.to_str().unwrap()]);
    env.atom_ok(&["verify"]);
}

#[test]
fn attachments_travel_through_export_and_import_with_a_directory() {
    let source = TestEnv::init();
    let file = source.write_file("gaming.env", b"vm.max_map_count=2147483642\n");
    let file = file.to_str().unwrap();
    source.record(&["RESEARCH", "research", "--at", "2024-11-27T10:00:00Z"]);
    let cfg = source.record(&[
        "CFG",
        "modify_file",
        "--attach",
        file,
        "--at",
        "2024-11-27T11:00:00Z",
    ]);
    let sha = cfg["record"]["attachments"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = source.path().join("files");
    let dir = dir.to_str().unwrap();
    let exported = source.atom_ok(&["export", "--attachments", dir]);
    assert_eq!(
        std::fs::read(source.path().join("files").join(&sha)).unwrap(),
        b"vm.max_map_count=2147483642\n"
    );
    let jsonl = source.write_file("trail.jsonl", exported.as_bytes());
    let jsonl = jsonl.to_str().unwrap();

    let target = TestEnv::init();
    // Without the files: refused, naming the way.
    let out = target.atom_err(&["import", jsonl], 2);
    assert!(out.stderr.contains("--attachments DIR"), "{out}");
    assert_eq!(target.tip(), None);
    // A file that is not what the record lists: refused, nothing written.
    let bad = target.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join(&sha), b"vm.max_map_count=1\n").unwrap();
    let out = target.atom_err(
        &["import", jsonl, "--attachments", bad.to_str().unwrap()],
        2,
    );
    assert!(
        out.stderr.contains("does not hold what the record lists"),
        "{out}"
    );
    assert_eq!(target.tip(), None);
    // With them: the same records, the bytes back, and a round trip.
    target.atom_ok(&["import", jsonl, "--attachments", dir]);
    assert_eq!(target.atom_ok(&["export"]), exported);
    let id = cfg["record"]["atom_id"].as_str().unwrap();
    let out = target.atom_command(&["cat", id]).output().unwrap();
    assert_eq!(out.stdout, b"vm.max_map_count=2147483642\n");
    assert_verifies(&target);
}

#[test]
fn renumber_imports_into_a_store_that_has_atoms_of_those_days() {
    let source = TestEnv::init();
    let first = source.record(&["RESEARCH", "research", "--at", "2024-11-27T10:00:00Z"]);
    let first_id = first["record"]["atom_id"].as_str().unwrap().to_owned();
    source.record(&[
        "DECISION",
        "save_decision",
        "--influenced-by",
        &first_id,
        "--at",
        "2024-11-27T11:00:00Z",
    ]);
    let jsonl = source.write_file("trail.jsonl", source.atom_ok(&["export"]).as_bytes());
    let jsonl = jsonl.to_str().unwrap();

    let target = TestEnv::init();
    let own = target.record(&["TASK", "plan", "--at", "2024-11-27T09:00:00Z"]);
    assert_eq!(own["record"]["atom_id"], "ATOM-TASK-20241127-001");
    let out = target.atom_err(&["import", jsonl], 2);
    assert!(out.stderr.contains("--renumber"), "{out}");
    let report = target.atom_json(&["import", jsonl, "--renumber"]);
    assert_eq!(report["imported"], 2, "{report:#}");
    let log = target.atom_json(&["log", "-n", "2"]);
    let decision = &log[0]["record"];
    let research = &log[1]["record"];
    assert_eq!(research["atom_id"], "ATOM-RESEARCH-20241127-002");
    assert_eq!(decision["atom_id"], "ATOM-DECISION-20241127-003");
    assert_eq!(
        decision["influenced_by"],
        json!(["ATOM-RESEARCH-20241127-002"]),
        "links follow"
    );
    assert_eq!(research["previous_atom"], "ATOM-TASK-20241127-001");
    assert_verifies(&target);
    // A line whose content no longer matches its digest is still refused.
    let tampered = source
        .atom_ok(&["export"])
        .replacen("\"research\"", "\"edited\"", 1);
    let bad = source.write_file("bad.jsonl", tampered.as_bytes());
    let out = target.atom_err(&["import", bad.to_str().unwrap(), "--renumber"], 2);
    assert!(out.stderr.contains("does not match"), "{out}");
}
