//! `atom verify` on a history with a merge: two devices' trails joined by a
//! MERGE atom through push and pull, then tampered with on both sides of the
//! merge. The whole report is pinned, reason by reason and in order (newest
//! first), so that any change in how verification walks a merged history
//! shows up here.

use serde_json::{json, Value};

use crate::cases::verify::{message_of, record_of, verify};
use crate::common::TestEnv;

/// Run git on `env`'s store as an attacker would.
fn git_in(env: &TestEnv, args: &[&str], input: &[u8]) -> String {
    env.attacker_git(&env.git_dir(), args, input)
}

/// An unsigned commit of `tree` with `parents` (first parent first),
/// claiming the author, committer and dates of the commit `like`.
fn commit(env: &TestEnv, tree: &str, parents: &[&str], message: &str, like: &str) -> String {
    let mut args = vec!["commit-tree", tree];
    for p in parents {
        args.extend(["-p", p]);
    }
    args.extend(["-F", "-"]);
    env.attacker_git_as(
        &env.git_dir(),
        &args,
        message.as_bytes(),
        &env.people_of(like),
    )
}

/// Re-create `c` on `parents`, keeping its tree, message, people and dates.
fn recommit(env: &TestEnv, c: &str, parents: &[&str]) -> String {
    let tree = env.git(&["rev-parse", &format!("{c}^{{tree}}")]);
    commit(env, tree.trim(), parents, &message_of(env, c), c)
}

/// (atom id, commit) of `atom --json record ARGS`.
fn record(env: &TestEnv, args: &[&str]) -> (String, String) {
    let v = env.record(args);
    (
        v["record"]["atom_id"].as_str().unwrap().to_owned(),
        v["commit"].as_str().unwrap().to_owned(),
    )
}

fn failure(id: &str, commit: &str, reasons: &[String]) -> Value {
    json!({"atom_id": id, "commit": commit, "reasons": reasons})
}

#[test]
fn a_tampered_merge_history_reports_every_atom_in_order() {
    let day = "2024-11-27T";
    let a = TestEnv::init().with_env("ATOM_AGENT", "alice");
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    record(
        &a,
        &["RESEARCH", "research", "--at", &format!("{day}10:00:00Z")],
    );
    let r2 = record(
        &a,
        &[
            "DECISION",
            "save_decision",
            "--at",
            &format!("{day}10:01:00Z"),
        ],
    );
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);

    // B clones and appends two atoms; A appends two of its own, the first
    // with the same type and number as B's first (the same id).
    let b = TestEnv::new().with_env("ATOM_AGENT", "bob");
    b.atom_ok(&["clone", remote_s]);
    let b1 = record(
        &b,
        &["TASK", "run_tests", "--at", &format!("{day}11:00:00Z")],
    );
    let b2 = record(
        &b,
        &[
            "NOTE",
            "note",
            "--set",
            "path=gaming.env",
            "--at",
            &format!("{day}11:01:00Z"),
        ],
    );
    b.atom_ok(&["push"]);
    let a1 = record(
        &a,
        &["TASK", "run_tests", "--at", &format!("{day}11:30:00Z")],
    );
    let a2 = record(
        &a,
        &["CFG", "modify_file", "--at", &format!("{day}11:31:00Z")],
    );
    assert_eq!(a1.0, b1.0, "both devices mint the same first id");
    assert_ne!(a2.0, b2.0);

    // A trusts B's key and pulls: a MERGE atom joins A's tip and B's tip.
    let b_key = b.store().join("keys/atom_ed25519.pub");
    a.atom_ok(&["signers", "add", "bob", b_key.to_str().unwrap()]);
    let pulled = a.atom_json(&["pull"]);
    assert_eq!(pulled["trails"][0]["action"], "merged", "{pulled:#}");
    let merge = a.atom_json(&["show", "main"]);
    let m = (
        merge["record"]["atom_id"].as_str().unwrap().to_owned(),
        merge["commit"].as_str().unwrap().to_owned(),
    );
    let x = record(&a, &["NOTE", "note", "--summary", "after the merge"]);
    let (code, report, human) = verify(&a, &["--all"]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(report["atoms"], 8);
    // The shared id is on two sides of the merge: a warning for each.
    assert_eq!(
        report["warnings"].as_array().unwrap().len(),
        2,
        "{report:#}"
    );

    // The attacker swaps B's two atoms, with B's note's metadata edited, and
    // re-commits what follows (the merge and A's last atom) without a key.
    let mut edited = record_of(&a, &b2.1);
    edited["metadata"]["path"] = Value::from("innocent.env");
    let text = a.python_canonical(&[&edited])[0].text.clone();
    let recomputed = a.python_canonical(&[&{
        let mut r = edited.clone();
        r.as_object_mut().unwrap().remove("digest");
        r
    }])[0]
        .digest
        .clone();
    let blob = git_in(&a, &["hash-object", "-w", "--stdin"], text.as_bytes());
    let tree = git_in(
        &a,
        &["mktree"],
        format!("100644 blob {blob}\tatom.json\n").as_bytes(),
    );
    let b2f = commit(&a, &tree, &[&r2.1], &message_of(&a, &b2.1), &b2.1);
    let b1f = recommit(&a, &b1.1, &[&b2f]);
    let mf = recommit(&a, &m.1, &[&a2.1, &b1f]);
    let xf = recommit(&a, &x.1, &[&mf]);
    a.git(&["update-ref", "refs/heads/main", &xf]);

    let unsigned = "the commit is not signed".to_owned();
    let digest = record_of(&a, &b2.1)["digest"].as_str().unwrap().to_owned();
    let expected_failures = json!([
        failure(&x.0, &xf, std::slice::from_ref(&unsigned)),
        failure(
            &m.0,
            &mf,
            &[
                unsigned.clone(),
                format!(
                    "merged lists [{}] but the extra parents hold [{}]",
                    b2.0, b1.0
                ),
            ]
        ),
        failure(
            &b1.0,
            &b1f,
            &[
                unsigned.clone(),
                format!(
                    "previous_atom is {} but its parent commit holds {}",
                    r2.0, b2.0
                ),
                format!(
                    "its number is not above that of {}, an earlier atom of the same day on its first-parent chain",
                    b2.0
                ),
            ]
        ),
        failure(
            &b2.0,
            &b2f,
            &[
                format!(
                    "digest does not match the record: atom.json says {digest}, its content hashes to {recomputed}"
                ),
                unsigned.clone(),
                format!(
                    "previous_atom is {} but its parent commit holds {}",
                    b1.0, r2.0
                ),
            ]
        ),
    ]);
    // A's atom with the shared id is still sound: only it draws the warning.
    let expected_warnings = json!([failure(
        &a1.0,
        &a1.1,
        &[format!(
            "its id also names commit {b1f} (two devices' trails merged)"
        )]
    )]);

    for args in [&[][..], &["--all"][..], &["main"][..]] {
        let (code, report, human) = verify(&a, args);
        assert_eq!(code, 1, "{human}");
        assert_eq!(report["atoms"], 8, "{args:?}");
        assert_eq!(report["failures"], expected_failures, "{args:?}:\n{human}");
        assert_eq!(report["warnings"], expected_warnings, "{args:?}:\n{human}");
        assert!(human
            .stdout
            .ends_with("✗ 4 of 8 atoms failed verification\n"));
    }
}
