//! The store (SPEC §1-3, §5): `init`, `record`, `log` and `show`, checked
//! against stock git, ssh-keygen and an independent canonical JSON.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::{assert_linear_chain, Output, TestEnv};

/// The fields of SPEC §1 every non-MERGE record carries, sorted.
const RECORD_FIELDS: [&str; 14] = [
    "agent",
    "atom_id",
    "attachments",
    "digest",
    "influenced_by",
    "metadata",
    "operation",
    "previous_atom",
    "previous_digest",
    "project",
    "summary",
    "timestamp",
    "token_cost",
    "type",
];

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn id_of(view: &Value) -> String {
    view["record"]["atom_id"]
        .as_str()
        .expect("atom_id is a string")
        .to_owned()
}

fn commit_of(view: &Value) -> String {
    view["commit"]
        .as_str()
        .expect("commit is a string")
        .to_owned()
}

/// The fingerprint (`SHA256:...`) that `ssh-keygen -lf` prints for a key file.
fn ssh_fingerprint(env: &TestEnv, key: &Path) -> String {
    let out: Output = env
        .command("ssh-keygen")
        .arg("-lf")
        .arg(key)
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "ssh-keygen -lf failed:\n{out}");
    out.stdout
        .split_whitespace()
        .nth(1)
        .expect("ssh-keygen -lf prints bits, fingerprint, comment")
        .to_owned()
}

/// The base64 part of a public key line (`ssh-ed25519 AAAA... comment`).
fn key_blob(public_line: &str) -> String {
    let mut parts = public_line.split_whitespace();
    assert_eq!(parts.next(), Some("ssh-ed25519"), "{public_line:?}");
    parts.next().expect("key data").to_owned()
}

/// `atom show --json REV`: the `{commit, record, signature}` object that
/// `record` and `log` print, and apart the ids of the atoms built on it
/// (the links' other keys checked against the record and dropped).
fn show(env: &TestEnv, rev: &str) -> (Value, Vec<String>) {
    let mut shown = env.atom_json(&["show", rev]);
    let links = shown.as_object_mut().expect("show --json prints an object");
    // No id of these stores is shared: `built_on` is `influenced_by`.
    let built_on = links.remove("built_on").expect("show lists built_on");
    assert_eq!(built_on, links["record"]["influenced_by"]);
    assert_eq!(links.remove("ambiguous"), Some(json!([])));
    let influenced = links
        .remove("influenced")
        .expect("show lists the atoms that built on this one");
    let influenced = influenced
        .as_array()
        .expect("influenced is an array")
        .iter()
        .map(|id| id.as_str().expect("an atom id").to_owned())
        .collect();
    (shown, influenced)
}

fn ssh_keygen(env: &TestEnv, path: &Path, passphrase: &str) {
    let out: Output = env
        .command("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-C",
            "me@example.org",
            "-N",
            passphrase,
            "-f",
        ])
        .arg(path)
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "ssh-keygen failed:\n{out}");
}

#[test]
fn init_creates_a_bare_trail_and_a_trusted_key() {
    let env = TestEnv::new();
    let report = env.atom_json(&["init"]);
    let key = env.store().join("keys/atom_ed25519");
    assert_eq!(report["created"], true);
    assert_eq!(report["home"].as_str(), Some(path_str(&env.store())));
    assert_eq!(report["signing_key"].as_str(), Some(path_str(&key)));

    assert_eq!(
        env.git(&["rev-parse", "--is-bare-repository"]).trim(),
        "true"
    );
    assert_eq!(env.git(&["symbolic-ref", "HEAD"]).trim(), "refs/heads/main");
    assert_eq!(env.tip(), None, "init records no atom");

    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "the private key must be readable by its owner only"
    );
    let public = std::fs::read_to_string(env.store().join("keys/atom_ed25519.pub")).unwrap();
    let blob = key_blob(&public);
    // Unencrypted OpenSSH format: ssh-keygen derives the same public key without a passphrase.
    let derived: Output = env
        .command("ssh-keygen")
        .args(["-y", "-P", "", "-f"])
        .arg(&key)
        .output()
        .unwrap()
        .into();
    assert_eq!(
        derived.code, 0,
        "ssh-keygen cannot read the key:\n{derived}"
    );
    assert_eq!(key_blob(&derived.stdout), blob);
    assert_eq!(
        report["fingerprint"].as_str(),
        Some(ssh_fingerprint(&env, &key).as_str())
    );

    let allowed = std::fs::read_to_string(env.store().join("keys/allowed_signers")).unwrap();
    let line = allowed
        .lines()
        .find(|l| l.contains(&blob))
        .unwrap_or_else(|| panic!("the store's key is not trusted:\n{allowed}"));
    assert!(line.contains(r#"namespaces="git""#), "{line}");

    // Idempotent: same key, nothing added.
    let key_bytes = std::fs::read(&key).unwrap();
    let again = env.atom_json(&["init"]);
    assert_eq!(again["created"], false);
    assert_eq!(again["fingerprint"], report["fingerprint"]);
    assert_eq!(std::fs::read(&key).unwrap(), key_bytes);
    assert_eq!(
        std::fs::read_to_string(env.store().join("keys/allowed_signers")).unwrap(),
        allowed
    );
    assert_eq!(env.tip(), None);

    // The human output says where the store is.
    let human = env.atom_ok(&["init"]);
    assert!(human.contains(path_str(&env.store())), "{human}");
    assert!(
        human.contains(report["fingerprint"].as_str().unwrap()),
        "{human}"
    );
}

#[test]
fn record_and_show_round_trip_every_field() {
    let env = TestEnv::init();
    let first = env.record(&[
        "RESEARCH",
        "research",
        "--agent",
        "perplexity",
        "--at",
        "2024-11-27T10:00:00Z",
    ]);
    let first_id = id_of(&first);
    let metadata = json!({
        "title": "Use tmpfs",
        "path": "gaming.env",
        "context_sync_id": 42,
        "tags": ["perf", "ci"],
        "ok": true,
        "none": null,
        "nested": {"é": "ünï ✓", "deep": [{"n": -7}]},
        // RFC 8785 orders keys by UTF-16 code units: U+1F600 before U+E000.
        "\u{e000}": "private use",
        "\u{1f600}": "astral",
        "ctl": "tab\t nl\n nul\u{0} del\u{7f} quote\" backslash\\"
    });
    let view = env.record(&[
        "DECISION",
        "save_decision",
        "--agent",
        "qwen",
        "--summary",
        "Use tmpfs for builds",
        "--meta",
        &metadata.to_string(),
        "--influenced-by",
        &first_id,
        "--project",
        "bazza-dx",
        "--tokens",
        "1200",
        "--at",
        "2024-11-27T10:23:45Z",
    ]);
    let id = "ATOM-DECISION-20241127-002";
    let commit = commit_of(&view);
    let record = &view["record"];

    // The record, as SPEC §1 fixes it.
    let mut fields: Vec<&str> = record
        .as_object()
        .expect("record is an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields, RECORD_FIELDS,
        "merged only on MERGE atoms, nothing else"
    );
    assert_eq!(record["atom_id"], id);
    assert_eq!(record["type"], "DECISION");
    assert_eq!(record["operation"], "save_decision");
    assert_eq!(record["agent"], "qwen");
    assert_eq!(record["timestamp"], "2024-11-27T10:23:45Z");
    assert_eq!(record["previous_atom"].as_str(), Some(first_id.as_str()));
    assert_eq!(record["previous_digest"], first["record"]["digest"]);
    assert_eq!(record["influenced_by"], json!([first_id]));
    assert_eq!(record["project"], "bazza-dx");
    assert_eq!(record["summary"], "Use tmpfs for builds");
    assert_eq!(record["metadata"], metadata);
    assert_eq!(record["token_cost"], 1200);
    assert_eq!(record["attachments"], json!([]));

    // Unset fields of the first atom are null, "", [] or {}.
    let r1 = &first["record"];
    assert_eq!(r1["previous_atom"], Value::Null);
    assert_eq!(r1["previous_digest"], Value::Null);
    assert_eq!(r1["project"], Value::Null);
    assert_eq!(r1["token_cost"], Value::Null);
    assert_eq!(r1["summary"], "");
    assert_eq!(r1["metadata"], json!({}));
    assert_eq!(r1["influenced_by"], json!([]));
    assert_eq!(r1["attachments"], json!([]));

    // Digest and atom.json, computed independently.
    let canonical = env.python_canonical(&[r1, record]);
    assert_eq!(r1["digest"].as_str(), Some(canonical[0].digest.as_str()));
    assert_eq!(
        record["digest"].as_str(),
        Some(canonical[1].digest.as_str())
    );
    let blob = env.cat_blobs(&[format!("{commit}:atom.json")]).remove(0);
    assert_eq!(String::from_utf8(blob).unwrap(), canonical[1].text);

    // show, by id and by full commit, gives back what record printed.
    assert_eq!(show(&env, id).0, view);
    assert_eq!(show(&env, &commit).0, view);
    // Links both ways: the first atom lists the one that built on it.
    assert_eq!(show(&env, id).1, Vec::<String>::new());
    let (shown_first, used_by) = show(&env, &first_id);
    assert_eq!(shown_first, first);
    assert_eq!(used_by, [id]);

    // One atom = one commit (SPEC §3).
    assert_eq!(env.git(&["ls-tree", "--name-only", &commit]), "atom.json\n");
    assert_eq!(
        env.git(&["rev-list", "--parents", "-n", "1", &commit])
            .trim(),
        format!("{commit} {}", commit_of(&first))
    );
    assert_eq!(
        env.git(&["log", "-1", "--format=%s", &commit]).trim(),
        format!("{id} save_decision: Use tmpfs for builds")
    );
    let digest = record["digest"].as_str().unwrap();
    assert_eq!(
        env.git(&["log", "-1", "--format=%(trailers:only,unfold)", &commit]),
        format!(
            "Atom-Id: {id}\nAtom-Type: DECISION\nAgent: qwen\nInfluenced-By: {first_id}\nDigest: {digest}\n\n"
        )
    );
    for (key, value) in [
        ("Atom-Id", id),
        ("Atom-Type", "DECISION"),
        ("Agent", "qwen"),
        ("Influenced-By", first_id.as_str()),
        ("Digest", digest),
    ] {
        let format = format!("--format=%(trailers:key={key},valueonly)");
        assert_eq!(
            env.git(&["log", "-1", &format, &commit]).trim(),
            value,
            "trailer {key}"
        );
    }
    // Stock `%(trailers:key=Atom-Id)` works on the whole trail.
    assert_eq!(
        env.git(&["log", "--format=%(trailers:key=Atom-Id)"]),
        format!("Atom-Id: {id}\n\nAtom-Id: {first_id}\n\n")
    );
    // Author is the agent, committer the local identity (none configured
    // here), both dated at the timestamp.
    assert_eq!(
        env.git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>|%at|%ct", &commit])
            .trim(),
        "qwen <qwen@agents.atom>|atom <atom@localhost>|1732703025|1732703025"
    );

    // Signed so that stock git accepts it, and atom says so.
    let verified = env.git_verify_commit(&commit);
    assert_eq!(verified.code, 0, "git verify-commit failed:\n{verified}");
    assert!(
        verified.stderr.contains("Good \"git\" signature"),
        "{verified}"
    );
    let allowed = std::fs::read_to_string(env.store().join("keys/allowed_signers")).unwrap();
    let principal = allowed.split_whitespace().next().unwrap();
    assert_eq!(
        view["signature"],
        json!({"status": "good", "signer": principal})
    );

    // Human output of show carries the essentials.
    let human = env.atom_ok(&["show", id]);
    for needle in [
        id,
        commit.as_str(),
        "save_decision",
        "bazza-dx",
        digest,
        "gaming.env",
    ] {
        assert!(human.contains(needle), "show lacks {needle:?}:\n{human}");
    }
    let sig_line = human
        .lines()
        .find(|l| l.starts_with("signature"))
        .unwrap_or_else(|| panic!("no signature line:\n{human}"));
    assert!(sig_line.contains("good"), "{sig_line}");
    let human_first = env.atom_ok(&["show", &first_id]);
    assert!(
        human_first.contains(id),
        "show does not list the atom built on it:\n{human_first}"
    );

    assert_linear_chain(&env.cross_check());
}

#[test]
fn ids_count_per_utc_day_across_types() {
    let env = TestEnv::init();
    let id = |args: &[&str]| -> String {
        let mut full = vec!["record"];
        full.extend_from_slice(args);
        env.atom_ok(&full).trim().to_owned()
    };
    assert_eq!(
        id(&["TASK", "plan", "--at", "2024-11-27T09:00:00Z"]),
        "ATOM-TASK-20241127-001"
    );
    assert_eq!(
        id(&["RESEARCH", "research", "--at", "2024-11-27T09:30:00Z"]),
        "ATOM-RESEARCH-20241127-002"
    );
    assert_eq!(
        id(&["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"]),
        "ATOM-CFG-20241127-003"
    );
    // Another day starts again at 001...
    assert_eq!(
        id(&["TASK", "plan", "--at", "2024-11-28T00:00:00Z"]),
        "ATOM-TASK-20241128-001"
    );
    // ...and each day keeps its own counter.
    assert_eq!(
        id(&["DEPLOY", "deploy", "--at", "2024-11-27T23:59:59Z"]),
        "ATOM-DEPLOY-20241127-004"
    );
    // The date is the UTC date, whatever offset --at has.
    assert_eq!(
        id(&["CFG", "modify_file", "--at", "2024-11-27T01:00:00+02:00"]),
        "ATOM-CFG-20241126-001"
    );
    assert_eq!(
        id(&["CFG", "modify_file", "--at", "2024-11-27T23:30:00-01:00"]),
        "ATOM-CFG-20241128-002"
    );
    let shown = show(&env, "ATOM-CFG-20241126-001").0;
    assert_eq!(shown["record"]["timestamp"], "2024-11-26T23:00:00Z");
    let shown = show(&env, "ATOM-CFG-20241128-002").0;
    assert_eq!(shown["record"]["timestamp"], "2024-11-28T00:30:00Z");
    assert_linear_chain(&env.cross_check());
}

#[test]
fn attachments_are_stored_in_the_commit_tree() {
    let env = TestEnv::init();
    let files: [(&str, &[u8]); 3] = [
        ("work/gaming.env", b"GPU=on\nFPS=144\n"),
        ("other/notes.txt", "ünïcode notes\n".as_bytes()),
        ("empty.bin", b""),
    ];
    let paths: Vec<_> = files
        .iter()
        .map(|(name, bytes)| env.write_file(name, bytes))
        .collect();
    let mut args = vec!["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"];
    for p in &paths {
        args.extend(["--attach", path_str(p)]);
    }
    let view = env.record(&args);
    let commit = commit_of(&view);

    let mut listed = view["record"]["attachments"]
        .as_array()
        .expect("attachments is an array")
        .clone();
    listed.sort_by_key(|a| a["name"].as_str().unwrap_or_default().to_owned());
    let mut expected: Vec<Value> = files
        .iter()
        .map(|(name, bytes)| {
            json!({
                "name": Path::new(name).file_name().unwrap().to_str().unwrap(),
                "sha256": env.sha256_hex(bytes),
                "size": bytes.len(),
            })
        })
        .collect();
    expected.sort_by_key(|a| a["name"].as_str().unwrap_or_default().to_owned());
    assert_eq!(listed, expected);

    let tree = env.git(&["ls-tree", "-r", &commit]);
    let mut entries: Vec<(String, String)> = tree
        .lines()
        .map(|l| {
            let (meta, path) = l.split_once('\t').expect("ls-tree line");
            let oid = meta.split(' ').nth(2).expect("oid").to_owned();
            assert!(meta.starts_with("100644 blob "), "{l}");
            (path.to_owned(), oid)
        })
        .collect();
    entries.sort();
    let names: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "atom.json",
            "attachments/empty.bin",
            "attachments/gaming.env",
            "attachments/notes.txt"
        ]
    );
    for ((name, bytes), path) in files.iter().zip(&paths) {
        let file = Path::new(name).file_name().unwrap().to_str().unwrap();
        let oid = env.git(&["hash-object", path_str(path)]);
        let stored = &entries
            .iter()
            .find(|(p, _)| p == &format!("attachments/{file}"))
            .expect("attachment in tree")
            .1;
        assert_eq!(stored, oid.trim(), "{file}");
        let content = env
            .cat_blobs(&[format!("{commit}:attachments/{file}")])
            .remove(0);
        assert_eq!(&content[..], *bytes, "{file}");
    }

    // Refused before anything is written.
    let tip = env.tip();
    let objects = env.object_counts();
    let missing = env.path().join("nope.txt");
    let out = env.atom_err(
        &[
            "record",
            "CFG",
            "modify_file",
            "--attach",
            path_str(&missing),
        ],
        2,
    );
    assert!(out.stderr.contains("nope.txt"), "{out}");
    let out = env.atom_err(
        &[
            "record",
            "CFG",
            "modify_file",
            "--attach",
            path_str(env.path()),
        ],
        2,
    );
    assert!(
        out.stderr.contains("--attach") || out.stderr.contains("attach"),
        "{out}"
    );
    assert_eq!(env.tip(), tip);
    assert_eq!(env.object_counts(), objects);
    // Two files with one name cannot both be attachments/<name>.
    let twin = env.write_file("twin/gaming.env", b"other\n");
    let out = env.atom_err(
        &[
            "record",
            "CFG",
            "modify_file",
            "--attach",
            path_str(&paths[0]),
            "--attach",
            path_str(&twin),
        ],
        2,
    );
    assert!(out.stderr.contains("gaming.env"), "{out}");
    assert_eq!(env.tip(), tip);

    env.cross_check();
}

#[test]
fn attachment_names_git_treats_specially_keep_fsck_clean() {
    let hostile = b"[submodule \"x\"]\n\tpath = x\n\turl = --upload-pack=touch-me\n";
    for (name, bytes) in [
        ("git~1", &b"x\n"[..]),
        (".git.", &b"x\n"[..]),
        (".GIT ", &b"x\n"[..]),
        (".gitmodules", &hostile[..]),
    ] {
        let env = TestEnv::init();
        env.record(&["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"]);
        let tip = env.tip();
        let file = env.write_file(&format!("dir/{name}"), bytes);
        let out = env.atom(&["record", "CFG", "modify_file", "--attach", path_str(&file)]);
        assert_eq!(out.code, 2, "attaching {name:?}:\n{out}");
        assert!(out.stderr.contains("attachments"), "{name:?}: {out}");
        assert_eq!(env.tip(), tip, "{name:?}");
        env.cross_check();
    }
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let env = TestEnv::init();
    env.record(&["TASK", "plan", "--at", "2024-11-27T09:00:00Z"]);
    let tip = env.tip();
    let objects = env.object_counts();
    let missing = env.path().join("missing.json");
    let cases: &[(&[&str], &str)] = &[
        (&["task", "plan"], "type"),
        (&["TASK", "Bad-Op"], "operation"),
        (&["TASK", "plan", "--meta", "{not json"], "metadata"),
        (&["TASK", "plan", "--meta", "[1, 2]"], "metadata"),
        (&["TASK", "plan", "--meta", "\"text\""], "metadata"),
        (&["TASK", "plan", "--tokens", "-5"], "--tokens"),
        (&["TASK", "plan", "--tokens", "abc"], "--tokens"),
        (&["TASK", "plan", "--tokens", "1.5"], "--tokens"),
        (
            &["TASK", "plan", "--influenced-by", "not-an-id"],
            "--influenced-by",
        ),
        (&["TASK", "plan", "--at", "last tuesday"], "--at"),
        (&["TASK", "plan", "--at", "2024-11-27T10:00:00.5Z"], "--at"),
        (&["TASK", "plan", "--summary", "two\nlines"], "summary"),
        (&["TASK", "plan", "--project", "two\nlines"], "project"),
        (
            &["TASK", "plan", "--agent", "Eve <eve@example.org>"],
            "agent",
        ),
        (
            &["TASK", "plan", "--meta-file", path_str(&missing)],
            "--meta-file",
        ),
        (&["TASK", "plan", "--set", "novalue"], "--set"),
        (&["TASK", "plan", "--set", "=value"], "--set"),
    ];
    for (args, field) in cases {
        let mut full = vec!["record"];
        full.extend_from_slice(args);
        let out = env.atom_err(&full, 2);
        let error = out.stderr.lines().next().unwrap_or_default();
        assert!(
            error.contains(field),
            "{args:?}: error line does not name {field}:\n{out}"
        );
        assert_eq!(env.tip(), tip, "{args:?} moved the trail");
        assert_eq!(env.object_counts(), objects, "{args:?} wrote objects");
    }
    // No id was used up by the refused inputs.
    let view = env.record(&["TASK", "plan", "--at", "2024-11-27T09:05:00Z"]);
    assert_eq!(id_of(&view), "ATOM-TASK-20241127-002");
    env.cross_check();
}

#[test]
fn metadata_from_stdin_file_and_set() {
    let env = TestEnv::init();
    let out = env.atom_stdin(
        &[
            "--json",
            "record",
            "CFG",
            "modify_file",
            "--meta-file",
            "-",
            "--set",
            "owner=ops",
            "--set",
            "path=override.env",
            "--set",
            "expr=a=b",
            "--set",
            "empty=",
            "--at",
            "2024-11-27T10:00:00Z",
        ],
        br#"{"path": "gaming.env", "n": 42, "nested": {"a": [1, true, null]}}"#,
    );
    assert_eq!(out.code, 0, "{out}");
    let view: Value = serde_json::from_str(&out.stdout).expect("record --json");
    let expected = json!({
        "path": "override.env",
        "n": 42,
        "nested": {"a": [1, true, null]},
        "owner": "ops",
        "expr": "a=b",
        "empty": ""
    });
    assert_eq!(view["record"]["metadata"], expected);
    let shown = show(&env, &id_of(&view)).0;
    assert_eq!(shown["record"]["metadata"], expected);

    let file = env.write_file(
        "meta.json",
        br#"{"paths": ["a.env", "b.env"], "k": {"x": "y"}}"#,
    );
    let view = env.record(&[
        "CFG",
        "modify_file",
        "--meta-file",
        path_str(&file),
        "--at",
        "2024-11-27T10:00:01Z",
    ]);
    assert_eq!(
        view["record"]["metadata"],
        json!({"paths": ["a.env", "b.env"], "k": {"x": "y"}})
    );
    let view = env.record(&[
        "CFG",
        "modify_file",
        "--meta",
        r#"{"n": 1, "keep": true}"#,
        "--set",
        "n=one",
        "--at",
        "2024-11-27T10:00:02Z",
    ]);
    assert_eq!(
        view["record"]["metadata"],
        json!({"n": "one", "keep": true})
    );
    env.cross_check();
}

#[test]
fn log_is_newest_first_and_show_finds_atoms() {
    let env = TestEnv::init();
    let views: Vec<Value> = (0..3)
        .map(|i| {
            env.record(&[
                "TASK",
                "step",
                "--summary",
                &format!("step {i}"),
                "--at",
                &format!("2024-11-27T10:00:0{i}Z"),
            ])
        })
        .collect();
    let ids: Vec<String> = views.iter().map(id_of).collect();
    let commits: Vec<String> = views.iter().map(commit_of).collect();

    let human = env.atom_ok(&["log"]);
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 3, "{human}");
    for (i, line) in lines.iter().enumerate() {
        let n = 2 - i;
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words[0], ids[n], "{human}");
        assert_eq!(words[1], &commits[n][..7], "{human}");
        assert!(line.ends_with(&format!("step: step {n}")), "{line}");
    }
    let two = env.atom_ok(&["log", "-n", "2"]);
    let firsts: Vec<&str> = two.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(firsts, [ids[2].as_str(), ids[1].as_str()]);

    let log = env.atom_json(&["log"]);
    let log = log.as_array().expect("log --json is an array");
    assert_eq!(log.len(), 3);
    for (entry, view) in log.iter().zip(views.iter().rev()) {
        let mut keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["commit", "record", "signature"]);
        assert_eq!(entry, view);
    }
    // Global flags go before or after the subcommand.
    assert_eq!(env.atom_json(&["log", "-n", "2"]), json!(log[..2]));
    let after: Value = serde_json::from_str(&env.atom_ok(&["log", "-n", "2", "--json"])).unwrap();
    assert_eq!(after, json!(log[..2]));
    // REV: an atom id, a trail name.
    let from_middle = env.atom_json(&["log", &ids[1]]);
    assert_eq!(from_middle, json!(log[1..]));
    assert_eq!(env.atom_json(&["log", "main"]), json!(log));

    // show by a 7-character commit prefix, a full sha, an atom id.
    assert_eq!(show(&env, &commits[1][..7]).0, views[1]);
    assert_eq!(show(&env, &commits[1]).0, views[1]);
    assert_eq!(show(&env, &ids[0]).0, views[0]);

    assert_linear_chain(&env.cross_check());
}

#[test]
fn log_on_an_empty_trail_prints_nothing() {
    let env = TestEnv::init();
    let out = env.atom(&["log"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "");
    assert_eq!(env.atom_json(&["log"]), json!([]));
}

#[test]
fn show_of_an_unknown_atom_is_a_problem() {
    let env = TestEnv::init();
    env.record(&["TASK", "plan", "--at", "2024-11-27T10:00:00Z"]);
    let out = env.atom_err(&["show", "ATOM-TASK-20991231-001"], 1);
    assert!(out.stderr.contains("ATOM-TASK-20991231-001"), "{out}");
    assert_eq!(out.stdout, "");
    let out = env.atom_err(&["show", "deadbeef"], 1);
    assert!(out.stderr.contains("deadbeef"), "{out}");
    env.atom_err(&["log", "ATOM-TASK-20991231-001"], 1);
}

#[test]
fn commands_without_a_store_say_how_to_make_one() {
    let env = TestEnv::new();
    for args in [
        &["log"][..],
        &["show", "ATOM-TASK-20241127-001"],
        &["record", "TASK", "plan"],
        &["--json", "log"],
    ] {
        let out = env.atom_err(args, 2);
        assert!(out.stderr.contains("atom init"), "{args:?}:\n{out}");
        assert_eq!(out.stdout, "");
    }
    assert!(!env.store().exists(), "only init creates a store");
}

#[test]
fn store_flag_selects_another_store() {
    let env = TestEnv::init();
    let other = env.path().join("other");
    let other = path_str(&other);
    let report = env.atom_json(&["--store", other, "init"]);
    assert_eq!(report["home"].as_str(), Some(other));
    let view = env.record(&[
        "TASK",
        "plan",
        "--store",
        other,
        "--at",
        "2024-11-27T10:00:00Z",
    ]);
    assert_eq!(
        env.atom_json(&["log"]),
        json!([]),
        "ATOM_HOME's store is untouched"
    );
    assert_eq!(env.atom_json(&["log", "--store", other]), json!([view]));
    assert_eq!(env.tip(), None);
}

#[test]
fn agent_defaults_to_atom_agent() {
    let env = TestEnv::init().with_env("ATOM_AGENT", "claude-code");
    let view = env.record(&["TASK", "plan", "--at", "2024-11-27T10:00:00Z"]);
    assert_eq!(view["record"]["agent"], "claude-code");
    let author = env.git(&["log", "-1", "--format=%an <%ae>"]);
    assert_eq!(author.trim(), "claude-code <claude-code@agents.atom>");
    let view = env.record(&[
        "TASK",
        "plan",
        "--agent",
        "qwen",
        "--at",
        "2024-11-27T10:00:01Z",
    ]);
    assert_eq!(
        view["record"]["agent"], "qwen",
        "--agent wins over ATOM_AGENT"
    );
}

#[test]
fn log_into_a_closed_pipe_exits_quietly() {
    let env = TestEnv::init();
    let pad = format!("pad={}", "x".repeat(3000));
    for i in 0..50 {
        let at = format!("2024-11-27T10:{:02}:{:02}Z", i / 60, i % 60);
        env.atom_ok(&["record", "TASK", "step", "-q", "--set", &pad, "--at", &at]);
    }
    let full = env.atom_ok(&["--json", "log"]);
    assert!(
        full.len() > 128 * 1024,
        "the output must not fit in a pipe buffer for this test to mean anything"
    );

    // `atom log --json | head -1`: the reader leaves after one line, while
    // atom still has most of its output to write.
    let mut child = env
        .atom_command(&["--json", "log"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run atom");
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("read one line");
    assert_eq!(line, "[\n");
    drop(reader);
    let out: Output = child.wait_with_output().expect("wait for atom").into();
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stderr, "", "a closed pipe is not an error");

    // The reader is gone before atom writes anything at all.
    let mut child = env
        .atom_command(&["log"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run atom");
    drop(child.stdout.take());
    let out: Output = child.wait_with_output().expect("wait for atom").into();
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stderr, "");
}

#[test]
fn a_users_own_key_signs_the_trail() {
    let env = TestEnv::new();
    let key = env.path().join("mykey");
    ssh_keygen(&env, &key, "");
    let report = env.atom_json(&["init", "--key", path_str(&key)]);
    assert_eq!(report["signing_key"].as_str(), Some(path_str(&key)));
    assert_eq!(
        report["fingerprint"].as_str(),
        Some(ssh_fingerprint(&env, &key).as_str())
    );
    assert!(
        !env.store().join("keys/atom_ed25519").exists(),
        "no key is made when one is given"
    );
    let public = std::fs::read_to_string(env.path().join("mykey.pub")).unwrap();
    let allowed = std::fs::read_to_string(env.store().join("keys/allowed_signers")).unwrap();
    assert!(allowed.contains(&key_blob(&public)), "{allowed}");

    let view = env.record(&["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"]);
    assert_eq!(view["signature"]["status"], "good");
    let verified = env.git_verify_commit(&commit_of(&view));
    assert_eq!(verified.code, 0, "{verified}");
    assert!(
        verified
            .stderr
            .contains(report["fingerprint"].as_str().unwrap()),
        "signed by another key:\n{verified}"
    );
    env.cross_check();
}

#[test]
fn an_encrypted_key_is_refused() {
    let env = TestEnv::new();
    let key = env.path().join("locked");
    ssh_keygen(&env, &key, "secret");
    let out = env.atom_err(&["init", "--key", path_str(&key)], 2);
    assert!(
        out.stderr.lines().next().unwrap().contains("encrypted"),
        "{out}"
    );
}

/// Every file and directory under `dir`, relative, sorted.
fn tree_of(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if path.is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Regression: a failed `init --key` (a DSA key, an encrypted key, a
/// missing file) left a half-made store on which every command failed. The
/// key is checked before anything is made: exit 2, nothing created.
#[test]
fn a_failed_init_leaves_nothing_behind() {
    let env = TestEnv::new();
    let dsa = env.path().join("dsa");
    let out: Output = env
        .command("ssh-keygen")
        .args(["-q", "-t", "dsa", "-N", "", "-f"])
        .arg(&dsa)
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "{out}");
    let locked = env.path().join("locked");
    ssh_keygen(&env, &locked, "secret");
    let missing = env.path().join("no-such-key");
    for (key, says) in [
        (&dsa, "ssh-dss"),
        (&locked, "encrypted"),
        (&missing, "cannot read"),
    ] {
        let out = env.atom_err(&["init", "--key", path_str(key)], 2);
        assert!(out.stderr.to_lowercase().contains(says), "{out}");
        assert!(
            !env.store().exists(),
            "{key:?} left {:?}",
            tree_of(&env.store())
        );
    }
    // In a directory that was there: what was there stays, nothing is added.
    std::fs::create_dir(env.store()).unwrap();
    std::fs::write(env.store().join("notes.txt"), "mine").unwrap();
    env.atom_err(&["init", "--key", path_str(&dsa)], 2);
    assert_eq!(tree_of(&env.store()), ["notes.txt"]);

    // A failure after the store was begun removes what this init made, and
    // only that: here keys/allowed_signers cannot be written.
    std::fs::create_dir_all(env.store().join("keys/allowed_signers")).unwrap();
    let before = tree_of(&env.store());
    let out = env.atom(&["init"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(tree_of(&env.store()), before, "{out}");

    // Then a plain init works, and a bad key on an existing store changes nothing.
    std::fs::remove_dir(env.store().join("keys/allowed_signers")).unwrap();
    env.atom_ok(&["init"]);
    let config = std::fs::read(env.git_dir().join("config")).unwrap();
    env.atom_err(&["init", "--key", path_str(&dsa)], 2);
    assert_eq!(std::fs::read(env.git_dir().join("config")).unwrap(), config);
    let view = env.record(&["CFG", "modify_file"]);
    assert_eq!(view["signature"]["status"], "good");
}

/// Regression: a token count beyond 2^53 was accepted, stored as a rounded
/// double in atom.json, and made every later command on the trail fail.
#[test]
fn token_counts_beyond_2_pow_53_are_refused() {
    let env = TestEnv::init();
    env.record(&["TASK", "plan", "--at", "2024-11-27T10:00:00Z"]);
    let tip = env.tip();
    let objects = env.object_counts();
    for tokens in ["18446744073709551615", "9007199254740992"] {
        let out = env.atom_err(&["record", "TASK", "plan", "--tokens", tokens], 2);
        assert!(
            out.stderr.lines().next().unwrap().contains("token"),
            "{out}"
        );
        assert_eq!(env.tip(), tip);
        assert_eq!(env.object_counts(), objects);
    }
    // The largest integer canonical JSON holds exactly is kept as is.
    let view = env.record(&[
        "TASK",
        "plan",
        "--tokens",
        "9007199254740991",
        "--at",
        "2024-11-27T10:00:01Z",
    ]);
    let shown = show(&env, &commit_of(&view)).0;
    assert_eq!(
        shown["record"]["token_cost"],
        json!(9_007_199_254_740_991u64)
    );
    assert_eq!(shown, view);
    env.record(&["TASK", "plan", "--at", "2024-11-27T10:00:02Z"]);
    assert_linear_chain(&env.cross_check());
}

/// Regression: metadata integers beyond 2^53 were silently rounded in
/// atom.json (record printed 9007199254740993, show 9007199254740992).
#[test]
fn metadata_integers_beyond_2_pow_53_are_refused() {
    let env = TestEnv::init();
    for meta in [
        r#"{"n": 9007199254740993}"#,
        r#"{"n": -9007199254740992}"#,
        r#"{"deep": {"list": [1, 18446744073709551615]}}"#,
    ] {
        let out = env.atom_err(&["record", "TASK", "plan", "--meta", meta], 2);
        assert!(
            out.stderr.lines().next().unwrap().contains("metadata"),
            "{meta}:\n{out}"
        );
        assert_eq!(env.tip(), None, "{meta}");
    }
    let edge = json!({"max": 9_007_199_254_740_991i64, "min": -9_007_199_254_740_991i64});
    let view = env.record(&[
        "TASK",
        "plan",
        "--meta",
        &edge.to_string(),
        "--at",
        "2024-11-27T10:00:00Z",
    ]);
    let shown = show(&env, &commit_of(&view)).0;
    assert_eq!(shown["record"]["metadata"], edge);
    assert_eq!(shown, view);
    env.cross_check();
}

/// Strings that exercise JSON escaping and RFC 8785 key order: control
/// characters, quotes, non-ASCII, astral characters against U+E000.
fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,10}",
        "[\\x00-\\x7f]{0,10}",
        prop::sample::select(vec![
            "\u{e000}",
            "\u{1f600}",
            "\"\\/",
            "\u{2028}\u{7f}",
            "é",
            ""
        ])
        .prop_map(str::to_owned),
    ]
}

/// JSON without floats: integers canonical JSON holds exactly (|n| < 2^53).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(Value::from),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
        json_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(json_string(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(json_string(), json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

#[test]
fn metadata_survives_record_and_show() {
    let env = TestEnv::init();
    let config = ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(metadata in json_object())| {
        let view = env.record(&[
            "CFG",
            "modify_file",
            "--meta",
            &metadata.to_string(),
            "--at",
            "2024-11-27T10:00:00Z",
        ]);
        prop_assert_eq!(&view["record"]["metadata"], &metadata);
        let shown = show(&env, &commit_of(&view)).0;
        prop_assert_eq!(&shown["record"]["metadata"], &metadata);
        prop_assert_eq!(&shown, &view);
    });
    // Every digest and atom.json checked against Python's canonical JSON.
    assert_linear_chain(&env.cross_check());
}

#[test]
fn completions_load_in_bash_and_know_the_commands() {
    let env = TestEnv::new();
    let script = env.atom_ok(&["completions", "bash"]);
    let path = env.write_file("atom.bash", script.as_bytes());
    let out = env
        .command("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p atom && COMP_WORDS=(atom pu); COMP_CWORD=1; _atom atom pu atom; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("-F _atom atom"), "{stdout}");
    let mut words: Vec<&str> = stdout.lines().last().unwrap().split_whitespace().collect();
    words.sort_unstable();
    assert_eq!(words, ["pull", "push"], "{stdout}");
    env.atom_err(&["completions", "nosh"], 2);
}
