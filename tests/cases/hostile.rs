//! Hostile input (SPEC §5, §8): every case gets exit 2 (or 1 for a remote
//! that does not check out), one `error:` line, and nothing written; secrets
//! never appear in what atom prints or stores.

use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use crate::common::TestEnv;

/// Run `atom ARGS` (raw bytes allowed), require `code`, an `error:` first
/// line, and an unchanged store.
fn refused(env: &TestEnv, args: &[&[u8]], code: i32) -> String {
    let before = (env.object_counts(), env.tip());
    let out = env
        .atom_command(&[])
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .output()
        .expect("run atom");
    let out = crate::common::Output::from(out);
    assert_eq!(out.code, code, "{:?}:\n{out}", printable(args));
    assert!(
        out.stderr.starts_with("error: "),
        "{:?}: no error line:\n{out}",
        printable(args)
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert_eq!(
        (env.object_counts(), env.tip()),
        before,
        "{:?} wrote something",
        printable(args)
    );
    out.stderr
}

fn printable(args: &[&[u8]]) -> Vec<String> {
    args.iter()
        .map(|a| {
            let s = String::from_utf8_lossy(a);
            if s.len() > 60 {
                format!("{}... ({} bytes)", &s[..40], s.len())
            } else {
                s.into_owned()
            }
        })
        .collect()
}

fn path_bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

#[test]
fn oversized_nested_and_malformed_input_is_refused() {
    let env = TestEnv::init();
    env.record(&["TASK", "first"]);

    // 20 MiB of metadata: over the documented 8 MiB limit.
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(20 << 20));
    let big_file = env.write_file("big.json", big.as_bytes());
    let err = refused(
        &env,
        &[
            b"record",
            b"TASK",
            b"big",
            b"--meta-file",
            &path_bytes(&big_file),
        ],
        2,
    );
    assert!(err.contains("MiB"), "the error names the limit: {err}");

    // Nesting far past the 64 levels allowed, in a file and on stdin.
    let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let deep_file = env.write_file("deep.json", deep.as_bytes());
    refused(
        &env,
        &[
            b"record",
            b"TASK",
            b"deep",
            b"--meta-file",
            &path_bytes(&deep_file),
        ],
        2,
    );
    let just_over = format!(r#"{{"a":{}1{}}}"#, "[".repeat(70), "]".repeat(70));
    refused(
        &env,
        &[b"record", b"TASK", b"deep", b"--meta", just_over.as_bytes()],
        2,
    );

    // Invalid UTF-8 in arguments and in files; a raw NUL byte in a file.
    refused(
        &env,
        &[b"record", b"TASK", b"op", b"--summary", b"caf\xe9"],
        2,
    );
    refused(
        &env,
        &[b"record", b"TASK", b"op", b"--agent", b"\xff\xfe"],
        2,
    );
    refused(&env, &[b"log", b"--grep", b"\xc3\x28"], 2);
    let latin1 = env.write_file("latin1.json", b"{\"k\": \"caf\xe9\"}");
    refused(
        &env,
        &[
            b"record",
            b"TASK",
            b"op",
            b"--meta-file",
            &path_bytes(&latin1),
        ],
        2,
    );
    let nul = env.write_file("nul.json", b"{\"k\": \"a\x00b\"}");
    refused(
        &env,
        &[b"record", b"TASK", b"op", b"--meta-file", &path_bytes(&nul)],
        2,
    );

    // Names git cannot take as refs, ids that are not ids.
    for name in [
        "a..b",
        "x.lock",
        "../up",
        "-dash",
        "with space",
        "a/b",
        "@{u}",
        "",
    ] {
        refused(&env, &[b"fork", name.as_bytes()], 2);
        refused(&env, &[b"switch", name.as_bytes()], 2);
    }
    refused(
        &env,
        &[
            b"record",
            b"TASK",
            b"op",
            b"--influenced-by",
            b"ATOM-X-2024-1",
        ],
        2,
    );
    refused(&env, &[b"record", b"../../etc", b"op"], 2);

    // Attachment names come from the file name only: a path never reaches
    // the tree, and names git treats specially are refused.
    let evil = env.write_file("dir/.git", b"x");
    refused(
        &env,
        &[b"record", b"TASK", b"op", b"--attach", &path_bytes(&evil)],
        2,
    );
    let nested = env.write_file("a/b/notes.txt", b"hello");
    let traversal = env.path().join("a/b/../b/notes.txt");
    let view = env.record(&["TASK", "attach", "--attach", traversal.to_str().unwrap()]);
    assert_eq!(view["record"]["attachments"][0]["name"], "notes.txt");
    assert!(nested.exists());
    let tree = env.git(&["ls-tree", "-r", "--name-only", "main"]);
    assert_eq!(tree, "atom.json\nattachments/notes.txt\n");

    // A JSON NUL escape is data, kept exactly.
    let v = env.record(&["TASK", "nul", "--meta", r#"{"k":"a\u0000b"}"#]);
    assert_eq!(v["record"]["metadata"]["k"], "a\u{0}b");
    env.cross_check();
}

#[test]
fn sql_cannot_write_or_attach_through_query() {
    let env = TestEnv::init();
    env.record(&["TASK", "first"]);
    let outside = env.path().join("outside.db");
    for sql in [
        "DELETE FROM atoms".to_owned(),
        "UPDATE atoms SET summary = 'x'".to_owned(),
        "DROP TABLE atoms".to_owned(),
        format!("ATTACH DATABASE '{}' AS x", outside.display()),
        "SELECT 1; DELETE FROM atoms".to_owned(),
        "PRAGMA writable_schema = 1".to_owned(),
        "WITH x AS (SELECT 1) DELETE FROM atoms".to_owned(),
        "SELECT load_extension('/tmp/evil')".to_owned(),
    ] {
        let out = env.atom(&["query", &sql]);
        assert_ne!(out.code, 0, "{sql}: {out}");
        assert!(out.stderr.starts_with("error: "), "{sql}: {out}");
    }
    assert!(!outside.exists(), "ATTACH created a file");
    assert_eq!(env.atom_json(&["log"]).as_array().unwrap().len(), 1);
}

#[test]
fn a_malicious_remote_gets_nothing_in() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let git = |args: &[&str]| a.attacker_git(&remote, args, b"");
    a.record(&["TASK", "one"]);
    let notes = a.write_file("notes.txt", b"hi");
    a.record(&["TASK", "two", "--attach", notes.to_str().unwrap()]);
    a.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    a.atom_ok(&["push"]);
    let tip = git(&["rev-parse", "refs/heads/main"]);

    // Refs outside refs/heads and refs/atom are never fetched.
    let junk = git(&["commit-tree", &format!("{tip}^{{tree}}"), "-m", "junk"]);
    for r in ["refs/tags/evil", "refs/notes/evil", "refs/remotes/x/main"] {
        git(&["update-ref", r, &junk]);
    }
    a.atom_ok(&["pull"]);
    let local = a.git(&["for-each-ref", "--format=%(refname)"]);
    assert!(
        !local.contains("evil") && !local.contains("refs/remotes"),
        "{local}"
    );
    assert_ne!(
        a.git_output(&["cat-file", "-e", &junk]).code,
        0,
        "an object only junk refs reach came in"
    );

    // The tip again, but its attachment is now a symlink, and the commit is
    // signed by the trusted key itself: the tree check refuses it.
    let record = git(&["rev-parse", &format!("{tip}:atom.json")]);
    let link = a.attacker_git(&remote, &["hash-object", "-w", "--stdin"], b"/etc/passwd");
    let att = a.attacker_git(
        &remote,
        &["mktree"],
        format!("120000 blob {link}\tnotes.txt\n").as_bytes(),
    );
    let tree = a.attacker_git(
        &remote,
        &["mktree"],
        format!("100644 blob {record}\tatom.json\n040000 tree {att}\tattachments\n").as_bytes(),
    );
    let message = git(&["log", "-1", "--format=%B", &tip]);
    let parent = git(&["rev-parse", &format!("{tip}^")]);
    let signing_key = format!(
        "user.signingkey={}",
        a.store().join("keys/atom_ed25519").display()
    );
    let evil = a.attacker_git(
        &remote,
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &signing_key,
            "commit-tree",
            "-S",
            &tree,
            "-p",
            &parent,
            "-F",
            "-",
        ],
        message.as_bytes(),
    );
    git(&["update-ref", "refs/heads/main", &evil, &tip]);
    let before = a.git(&["for-each-ref"]);
    let out = a.atom_err(&["pull"], 1);
    assert!(out.stderr.contains(&evil[..12]), "{out}");
    assert!(
        out.stderr.contains("120000"),
        "names the symlink's mode: {out}"
    );
    assert_eq!(a.git(&["for-each-ref"]), before);
    a.atom_ok(&["verify"]);
}

#[test]
fn secrets_never_appear_in_output_or_the_store() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    let key_path = env.store().join("keys/atom_ed25519");
    let private = std::fs::read_to_string(&key_path).unwrap();
    let secret_lines: Vec<&str> = private
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .collect();
    assert!(!secret_lines.is_empty());

    // Handing atom the private key where a public one belongs.
    let mut printed = String::new();
    for args in [
        vec!["signers", "add", "me", key_path.to_str().unwrap()],
        vec!["signers", "add", "me", &private],
        vec![
            "record",
            "TASK",
            "x",
            "--meta-file",
            key_path.to_str().unwrap(),
        ],
    ] {
        let out = env.atom(&args);
        assert_eq!(out.code, 2, "{args:?}: {out}");
        printed.push_str(&out.stdout);
        printed.push_str(&out.stderr);
    }
    for line in &secret_lines {
        assert!(
            !printed.contains(line),
            "a line of the private key was printed:\n{printed}"
        );
    }

    // Nothing but keys/ holds it: not the trail, not the index.
    let mut stack = vec![env.store()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path == env.store().join("keys") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                for line in &secret_lines {
                    assert!(
                        !text.contains(line),
                        "{} holds the private key",
                        path.display()
                    );
                }
            }
        }
    }
}

/// `atom import FILE` of `lines`: the output, with the store required
/// unchanged when the import fails.
fn import(env: &TestEnv, name: &str, lines: &[String]) -> crate::common::Output {
    let before = (env.object_counts(), env.tip());
    let file = env.write_file(name, (lines.join("\n") + "\n").as_bytes());
    let out = env.atom(&["import", file.to_str().unwrap()]);
    if out.code != 0 {
        assert_eq!((env.object_counts(), env.tip()), before, "{out}");
    }
    out
}

#[test]
fn sequence_numbers_stop_at_a_maximum_and_never_wrap() {
    let env = TestEnv::init();
    env.record(&["TASK", "first", "--at", "2024-11-27T09:00:00Z"]);
    let line = |id: &str, ts: &str| {
        format!(r#"{{"atom_id":"{id}","operation":"imported","timestamp":"{ts}"}}"#)
    };
    let plain = r#"{"type":"TASK","operation":"fine","timestamp":"2024-11-27T09:30:00Z"}"#;

    // u32::MAX used to wrap the day's counter; any number above the maximum
    // is refused with its line number, and nothing of the batch is written.
    for id in [
        "ATOM-TASK-20241127-4294967295",
        "ATOM-TASK-20241127-1000000000",
        "ATOM-TASK-20241127-99999999999999999999",
    ] {
        let out = import(
            &env,
            "big.jsonl",
            &[plain.to_owned(), line(id, "2024-11-27T10:00:00Z")],
        );
        assert_eq!(out.code, 2, "{out}");
        assert!(out.stderr.starts_with("error: line 2: "), "{out}");
        assert!(out.stderr.contains("999999999"), "names the maximum: {out}");
    }
    // Absurd dates: before 2000, or days ahead of the clock.
    let ahead = chrono::Utc::now() + chrono::TimeDelta::days(3);
    let ahead_ts = ahead.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let ahead_id = format!("ATOM-TASK-{}-001", ahead.format("%Y%m%d"));
    for (id, ts) in [
        ("ATOM-TASK-19991231-001", "1999-12-31T10:00:00Z"),
        (ahead_id.as_str(), ahead_ts.as_str()),
    ] {
        let out = import(&env, "date.jsonl", &[line(id, ts)]);
        assert_eq!(out.code, 2, "{out}");
        assert!(out.stderr.starts_with("error: line 1: "), "{out}");
    }
    for at in ["1999-12-31T23:59:59Z", &ahead_ts] {
        refused(
            &env,
            &[b"record", b"TASK", b"op", b"--at", at.as_bytes()],
            2,
        );
    }

    // The day still counts on.
    let v = env.record(&["TASK", "after", "--at", "2024-11-27T11:00:00Z"]);
    assert_eq!(v["record"]["atom_id"], "ATOM-TASK-20241127-002");

    // An atom at the maximum is valid; after it that day is full: a clear
    // error, never a wrapped or repeated id. Other days go on.
    let out = import(
        &env,
        "max.jsonl",
        &[line("ATOM-TASK-20241127-999999999", "2024-11-27T12:00:00Z")],
    );
    assert_eq!(out.code, 0, "{out}");
    let before = (env.object_counts(), env.tip());
    let out = env.atom_err(
        &["record", "TASK", "next", "--at", "2024-11-27T13:00:00Z"],
        1,
    );
    assert!(
        out.stderr.contains("no atom id is left for 2024-11-27"),
        "{out}"
    );
    assert_eq!((env.object_counts(), env.tip()), before);
    let out = import(
        &env,
        "full.jsonl",
        &[r#"{"type":"TASK","operation":"x","timestamp":"2024-11-27T14:00:00Z"}"#.to_owned()],
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("line 1: no atom id is left"), "{out}");
    let v = env.record(&["TASK", "next", "--at", "2024-11-28T00:00:00Z"]);
    assert_eq!(v["record"]["atom_id"], "ATOM-TASK-20241128-001");
    env.atom_ok(&["verify"]);
    env.cross_check();
}

#[test]
fn a_remote_atom_numbered_beyond_the_maximum_is_not_pulled() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    a.record(&["TASK", "one", "--at", "2024-11-27T09:00:00Z"]);
    a.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    a.atom_ok(&["push"]);
    let git = |args: &[&str], input: &[u8]| a.attacker_git(&remote, args, input);
    let tip = git(&["rev-parse", "refs/heads/main"], b"");
    let record = git(&["show", &format!("{tip}:atom.json")], b"");
    let mut next: serde_json::Value = serde_json::from_str(&record).unwrap();
    next["previous_atom"] = next["atom_id"].clone();
    next["previous_digest"] = next["digest"].clone();
    next["atom_id"] = "ATOM-TASK-20241127-4294967295".into();
    let blob = git(
        &["hash-object", "-w", "--stdin"],
        next.to_string().as_bytes(),
    );
    let tree = git(
        &["mktree"],
        format!("100644 blob {blob}\tatom.json\n").as_bytes(),
    );
    let commit = git(
        &["commit-tree", &tree, "-p", &tip, "-m", "TASK: wrapped"],
        b"",
    );
    git(&["update-ref", "refs/heads/main", &commit, &tip], b"");

    let before = a.git(&["for-each-ref"]);
    let out = a.atom_err(&["pull"], 1);
    assert!(out.stderr.contains("999999999"), "{out}");
    assert_eq!(a.git(&["for-each-ref"]), before);
    let v = a.record(&["TASK", "two", "--at", "2024-11-27T10:00:00Z"]);
    assert_eq!(v["record"]["atom_id"], "ATOM-TASK-20241127-002");
}

#[test]
fn numbers_canonical_json_cannot_hold_are_refused_everywhere() {
    let env = TestEnv::init();
    for n in [
        "1e16",
        "18446744073709551616",
        "1e23",
        "-9007199254740992",
        "9007199254740993",
        "1.00000000000000001",
        "1e-400",
    ] {
        let meta = format!(r#"{{"ok": 1, "n": {n}}}"#);
        let err = refused(
            &env,
            &[b"record", b"TASK", b"op", b"--meta", meta.as_bytes()],
            2,
        );
        assert!(err.contains("metadata.n: "), "{n}: {err}");
        let nested = format!(r#"{{"a": {{"b": [0, {n}]}}}}"#);
        let file = env.write_file("meta.json", nested.as_bytes());
        let err = refused(
            &env,
            &[
                b"record",
                b"TASK",
                b"op",
                b"--meta-file",
                file.to_str().unwrap().as_bytes(),
            ],
            2,
        );
        assert!(err.contains("metadata.a.b[1]: "), "{n}: {err}");
        let line = format!(r#"{{"type":"TASK","operation":"op","metadata":{meta}}}"#);
        let out = import(&env, "n.jsonl", &[line]);
        assert_eq!(out.code, 2, "{n}: {out}");
        assert!(
            out.stderr.starts_with("error: line 1: metadata.n: "),
            "{n}: {out}"
        );
        let line = format!(r#"{{"type":"TASK","operation":"op","token_cost":{n}}}"#);
        assert_eq!(import(&env, "t.jsonl", &[line]).code, 2, "{n}");
        // --set stores text: kept exactly, as a string.
        let v = env.record(&["TASK", "op", "--set", &format!("n={n}")]);
        assert_eq!(v["record"]["metadata"]["n"], *n);
    }

    // What is accepted verifies, and its export imports into a fresh store
    // byte for byte.
    env.record(&[
        "TASK",
        "numbers",
        "--meta",
        r#"{"max": 9007199254740991, "min": -9007199254740991, "f": 0.1, "e": 1.5e-7,
            "z": -0.0, "big": 1e15, "tiny": 5e-324, "l": [1.0, 2.5e2, 0.30000000000000004]}"#,
    ]);
    env.atom_ok(&["verify"]);
    let export = env.atom_ok(&["export"]);
    let fresh = TestEnv::init();
    let file = fresh.write_file("export.jsonl", export.as_bytes());
    fresh.atom_ok(&["import", file.to_str().unwrap()]);
    fresh.atom_ok(&["verify"]);
    assert_eq!(fresh.atom_ok(&["export"]), export);
}

/// A ref that points at something other than a history of atoms (here a
/// blob, written with plain file access, as a remote or a careless script
/// could) must not stop the store: it is left out of the index with a note,
/// and every command on the real trails keeps working.
#[test]
fn a_ref_to_a_blob_does_not_brick_the_store() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    let blob = env.git(&["hash-object", "-w", "--stdin"]);
    let blob = blob.trim();
    std::fs::write(env.git_dir().join("refs/heads/evil"), format!("{blob}\n")).unwrap();
    let log = env.atom(&["log"]);
    assert_eq!(log.code, 0, "{log}");
    assert!(log.stdout.contains("one"), "{log}");
    assert!(
        log.stderr
            .contains("refs/heads/evil is left out of the index"),
        "{log}"
    );
    env.record(&["TASK", "two"]);
    assert_eq!(env.atom(&["trails"]).code, 0);
    assert_eq!(env.atom(&["reindex"]).code, 0);
    let check = env.atom(&["reindex", "--check"]);
    assert_eq!(check.code, 0, "{check}");
    std::fs::remove_file(env.git_dir().join("refs/heads/evil")).unwrap();
    let log = env.atom(&["log"]);
    assert_eq!(log.code, 0, "{log}");
    assert!(!log.stderr.contains("left out"), "{log}");
    env.cross_check();
}
