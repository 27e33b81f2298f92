//! The transparency log (SPEC §10): every accepted atom a leaf, a signed
//! C2SP checkpoint after each append, proofs a third party checks offline,
//! and every rewind or rewrite that plain git can do caught by `verify`.

use serde_json::Value;

use crate::common::TestEnv;

fn record_id(env: &TestEnv, args: &[&str]) -> String {
    env.record(args)["record"]["atom_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn checkpoint(env: &TestEnv) -> Value {
    env.atom_json(&["checkpoint"])
}

#[test]
fn every_append_is_a_leaf_with_a_signed_checkpoint_and_a_proof() {
    let env = TestEnv::init();
    let out = env.atom_err(&["checkpoint"], 1);
    assert!(out.stderr.contains("empty"), "{out}");

    let first = record_id(&env, &["RESEARCH", "research", "--summary", "one"]);
    record_id(&env, &["CFG", "modify_file"]);
    let cp = checkpoint(&env);
    assert_eq!(cp["size"], 2, "{cp:#}");
    let origin = cp["origin"].as_str().unwrap().to_owned();
    assert!(origin.starts_with("atom/"), "{origin}");
    let note = env.atom_ok(&["checkpoint"]);
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[0], origin);
    assert_eq!(lines[1], "2");
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with(&format!("— {origin} ")), "{note}");

    // The log is a chain of commits under refs/atom/log, one per append.
    let count = env.git(&["rev-list", "--count", "refs/atom/log"]);
    assert_eq!(count.trim(), "2");
    let leaves = env.git(&["show", "refs/atom/log:leaves"]);
    let tip = env.git(&["rev-parse", "refs/heads/main"]);
    let digest = env.atom_json(&["show", "main"])["record"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(leaves.trim(), format!("{} {digest}", tip.trim()));

    // An import of three atoms is one more append: one log commit, 5 leaves.
    let lines: String = (0..3)
        .map(|i| format!("{{\"type\":\"TASK\",\"operation\":\"op{i}\",\"agent\":\"bot\",\"timestamp\":\"2024-11-27T10:0{i}:00Z\"}}\n"))
        .collect();
    let file = env.write_file("in.jsonl", lines.as_bytes());
    env.atom_ok(&["import", file.to_str().unwrap()]);
    assert_eq!(checkpoint(&env)["size"], 5);
    assert_eq!(
        env.git(&["rev-list", "--count", "refs/atom/log"]).trim(),
        "3"
    );

    // A proof of the first atom checks out with the verifier key, and not
    // with another key or when altered.
    let vkey = env
        .atom_ok(&["checkpoint", "--verifier-key"])
        .trim()
        .to_owned();
    assert!(vkey.starts_with(&format!("{origin}+")), "{vkey}");
    let proof = env.atom_ok(&["prove", &first]);
    assert!(
        proof.starts_with("c2sp.org/tlog-proof@v1\nextra "),
        "{proof}"
    );
    assert!(proof.contains("\nindex 0\n"), "{proof}");
    let file = env.write_file("first.tlog-proof", proof.as_bytes());
    let checked = env.atom_json(&["prove", "--check", file.to_str().unwrap(), "--key", &vkey]);
    assert_eq!(checked["index"], 0);
    assert_eq!(checked["size"], 5);
    let other = TestEnv::init();
    other.record(&["TASK", "x"]);
    let other_key = other
        .atom_ok(&["checkpoint", "--verifier-key"])
        .trim()
        .to_owned();
    let out = env.atom_err(
        &[
            "prove",
            "--check",
            file.to_str().unwrap(),
            "--key",
            &other_key,
        ],
        1,
    );
    assert!(out.stderr.contains("does not check out"), "{out}");
    // Another leaf's data in `extra`: the path no longer leads to the root.
    let mut lines: Vec<String> = proof.lines().map(str::to_owned).collect();
    let other_leaf = env.git(&["show", "refs/atom/log~1:leaves"]);
    let other_leaf = other_leaf.lines().next().unwrap();
    use base64::Engine as _;
    lines[1] = format!(
        "extra {}",
        base64::engine::general_purpose::STANDARD.encode(other_leaf)
    );
    let bad = env.write_file(
        "bad.tlog-proof",
        format!("{}\n", lines.join("\n")).as_bytes(),
    );
    let out = env.atom_err(
        &["prove", "--check", bad.to_str().unwrap(), "--key", &vkey],
        1,
    );
    assert!(out.stderr.contains("inclusion path"), "{out}");
    env.atom_ok(&["verify", "--all"]);
}

#[test]
fn a_rewind_with_plain_git_fails_verify_and_never_reissues_ids() {
    let env = TestEnv::init();
    record_id(&env, &["TASK", "one"]);
    let two = record_id(&env, &["TASK", "two"]);
    let three = record_id(&env, &["TASK", "three"]);
    env.atom_ok(&["verify", "--all"]);

    env.git(&["update-ref", "refs/heads/main", "main~2"]);
    let out = env.atom_err(&["verify", "--all"], 1);
    assert!(out.stdout.contains(&two), "{out}");
    assert!(out.stdout.contains(&three), "{out}");
    assert!(
        out.stdout.contains("no trail or archive reaches it"),
        "{out}"
    );

    // The next record takes a number above the dropped ones.
    let four = record_id(&env, &["TASK", "four"]);
    let seq = |id: &str| id.rsplit('-').next().unwrap().parse::<u32>().unwrap();
    assert!(seq(&four) > seq(&three), "{four} after {three}");
}

#[test]
fn deleting_an_archive_after_a_rollback_fails_verify() {
    let env = TestEnv::init();
    let one = record_id(&env, &["TASK", "one"]);
    let two = record_id(&env, &["TASK", "two"]);
    env.atom_ok(&["rollback", &one, "--yes"]);
    env.atom_ok(&["verify", "--all"]);
    for r in env
        .git(&["for-each-ref", "--format=%(refname)", "refs/atom/archive/"])
        .lines()
    {
        env.git(&["update-ref", "-d", r]);
    }
    env.git(&["gc", "--prune=now", "-q"]);
    let out = env.atom_err(&["verify"], 1);
    assert!(out.stdout.contains("log: "), "{out}");
    assert!(
        out.stdout.contains("an atom whose commit is gone") || out.stdout.contains(&two),
        "{out}"
    );
}

#[test]
fn a_log_rewound_or_rewritten_by_hand_is_caught() {
    let env = TestEnv::init();
    for op in ["one", "two", "three"] {
        env.record(&["TASK", op]);
    }
    env.atom_ok(&["verify", "--all"]);
    // Both the trail and the log rewound by two appends, consistently.
    env.git(&["update-ref", "refs/heads/main", "main~2"]);
    env.git(&["update-ref", "refs/atom/log", "refs/atom/log~2"]);
    let out = env.atom_err(&["verify", "--all"], 1);
    assert!(
        out.stdout.contains("rewound") || out.stdout.contains("rewritten"),
        "{out}"
    );

    // A log commit whose checkpoint does not match its leaves.
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    env.record(&["TASK", "two"]);
    let tip = env.git(&["rev-parse", "refs/atom/log"]).trim().to_owned();
    let parent = env.git(&["rev-parse", "refs/atom/log~1"]).trim().to_owned();
    let checkpoint = env.git(&["show", "refs/atom/log:checkpoint"]);
    let leaves = env.git(&["show", "refs/atom/log~1:leaves"]);
    let git = |args: &[&str], input: &[u8]| env.attacker_git(&env.git_dir(), args, input);
    let cp_blob = git(&["hash-object", "-w", "--stdin"], checkpoint.as_bytes());
    let leaves_blob = git(&["hash-object", "-w", "--stdin"], leaves.as_bytes());
    let tree = git(
        &["mktree"],
        format!("100644 blob {cp_blob}\tcheckpoint\n100644 blob {leaves_blob}\tleaves\n")
            .as_bytes(),
    );
    let forged = git(&["commit-tree", &tree, "-p", &parent, "-m", "x"], b"");
    git(&["update-ref", "refs/atom/log", &forged, &tip], b"");
    let out = env.atom_err(&["verify", "--all"], 1);
    assert!(out.stdout.contains("log"), "{out}");
}

#[test]
fn atoms_pushed_in_with_plain_git_are_logged_by_the_next_append() {
    let a = TestEnv::init();
    a.record(&["TASK", "one"]);
    let b = TestEnv::init();
    b.record(&["TASK", "other"]);
    let b_key = std::fs::read_to_string(b.store().join("keys/atom_ed25519.pub")).unwrap();
    let b_key: Vec<&str> = b_key.split_whitespace().take(2).collect();
    a.atom_ok(&["signers", "add", "bob", &b_key.join(" ")]);
    // b's atom arrives in a's store by plain git, on a trail of its own.
    let out = b
        .command("git")
        .arg("--git-dir")
        .arg(b.git_dir())
        .args(["push", "-q"])
        .arg(a.git_dir())
        .arg("refs/heads/main:refs/heads/from-b")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report = a.atom_json(&["verify", "--all"]);
    assert_eq!(report["log"]["unlogged"], 1, "{report:#}");
    a.record(&["TASK", "two"]);
    assert_eq!(checkpoint(&a)["size"], 3);
    let report = a.atom_json(&["verify", "--all"]);
    assert_eq!(report["log"]["unlogged"], 0, "{report:#}");
}

#[test]
fn the_log_survives_a_reindex_and_consistency_paths_check() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    let old = env.write_file("old.note", env.atom_ok(&["checkpoint"]).as_bytes());
    for op in ["two", "three", "four", "five"] {
        env.record(&["TASK", op]);
    }
    let before = checkpoint(&env);
    env.atom_ok(&["reindex"]);
    assert_eq!(checkpoint(&env)["root"], before["root"]);
    let new = env.write_file("new.note", env.atom_ok(&["checkpoint"]).as_bytes());
    let path = env.atom_ok(&[
        "prove",
        "--consistency",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(path.lines().count(), 3, "{path}");
    env.atom_ok(&["verify", "--all"]);
}

#[test]
fn a_log_ref_pointed_at_a_blob_is_reported_then_put_back_by_the_next_append() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    env.record(&["TASK", "two"]);
    let good = env.git(&["rev-parse", "refs/atom/log"]).trim().to_owned();
    let blob = env.attacker_git(&env.git_dir(), &["hash-object", "-w", "--stdin"], b"junk");
    std::fs::write(env.git_dir().join("refs/atom/log"), format!("{blob}\n")).unwrap();
    let out = env.atom(&["verify"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("log: "), "{out}");
    env.record(&["TASK", "three"]);
    let parent = env.git(&["rev-parse", "refs/atom/log~1"]).trim().to_owned();
    assert_eq!(
        parent, good,
        "the chain continues from the last good log commit"
    );
    assert_eq!(checkpoint(&env)["size"], 3);
    env.atom_ok(&["verify", "--all"]);
    let fsck = env.git_output(&["fsck", "--strict", "--no-dangling"]);
    assert_eq!(fsck.code, 0, "{fsck}");
}
