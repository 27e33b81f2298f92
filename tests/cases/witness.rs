//! Devices witness each other's transparency logs (SPEC §10): push and pull
//! exchange logs and cosignatures; a log that contradicts the checkpoint a
//! device saw (rewound, rewritten, or forked for another device) refuses the
//! pull, naming the origin and both sizes.

use std::path::PathBuf;

use crate::common::TestEnv;

/// A (two atoms, pushed) and B (a clone whose key A trusts and publishes).
fn two_devices() -> (TestEnv, TestEnv, PathBuf) {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    a.record(&["TASK", "one"]);
    a.record(&["TASK", "two"]);
    a.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    a.atom_ok(&["push"]);
    let b = TestEnv::new();
    let cloned = b.atom_json(&["clone", remote.to_str().unwrap()]);
    let a_origin = a.atom_json(&["checkpoint"])["origin"].clone();
    assert_eq!(
        cloned["pull"]["witness"]["cosigned"][0][0], a_origin,
        "the clone witnessed A's log: {cloned:#}"
    );
    assert_eq!(cloned["pull"]["witness"]["cosigned"][0][1], 2);
    let b_key = std::fs::read_to_string(b.store().join("keys/atom_ed25519.pub")).unwrap();
    let b_key: Vec<&str> = b_key.split_whitespace().take(2).collect();
    a.atom_ok(&["signers", "add", "bob", &b_key.join(" ")]);
    a.atom_ok(&["push"]);
    (a, b, remote)
}

#[test]
fn devices_cosign_each_other_and_proofs_carry_the_cosignatures() {
    let (a, b, _remote) = two_devices();
    b.record(&["TASK", "three"]);
    b.atom_ok(&["push"]);
    let pulled = a.atom_json(&["pull"]);
    let b_origin = b.atom_json(&["checkpoint"])["origin"].clone();
    assert_eq!(pulled["witness"]["collected"][0][0], b_origin, "{pulled:#}");
    assert_eq!(pulled["witness"]["collected"][0][1], 2);
    assert_eq!(pulled["witness"]["cosigned"][0][0], b_origin);

    let cp = a.atom_json(&["checkpoint"]);
    assert_eq!(cp["cosignatures"][0]["witness"], b_origin, "{cp:#}");
    assert_eq!(cp["cosignatures"][0]["size"], 2);

    // A proof of A's first atom is against the checkpoint B cosigned, and
    // carries B's cosignature line; it checks with A's verifier key alone.
    let first = a.log_ids(&[]).last().unwrap().clone();
    let proof = a.atom_ok(&["prove", &first]);
    let b_name = b_origin.as_str().unwrap();
    assert!(
        proof
            .lines()
            .any(|l| l.starts_with(&format!("— {b_name} "))),
        "{proof}"
    );
    let vkey = a.atom_ok(&["checkpoint", "--verifier-key"]);
    let file = a.write_file("first.tlog-proof", proof.as_bytes());
    let checked = a.atom_json(&[
        "prove",
        "--check",
        file.to_str().unwrap(),
        "--key",
        vkey.trim(),
    ]);
    assert_eq!(checked["size"], 2);
    assert_eq!(checked["cosigners"][0], b_origin);
    a.atom_ok(&["verify", "--all"]);
    b.atom_ok(&["verify", "--all"]);
}

#[test]
fn a_log_rewound_on_the_remote_refuses_the_pull() {
    let (a, b, remote) = two_devices();
    let a_origin = a.atom_json(&["checkpoint"])["origin"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = a_origin.strip_prefix("atom/").unwrap().to_owned();
    let log_ref = format!("refs/atom/logs/{id}");
    let git = |args: &[&str]| a.attacker_git(&remote, args, b"");
    // Back to the log of one atom: what B saw (2 leaves) is not in it.
    let older = git(&["rev-parse", &format!("{log_ref}~1")]);
    git(&["update-ref", &log_ref, &older]);
    let before = b.git(&["for-each-ref"]);
    let out = b.atom_err(&["pull"], 1);
    assert!(out.stderr.contains(&a_origin), "{out}");
    assert!(
        out.stderr.contains("2 leaves"),
        "names the size it saw: {out}"
    );
    assert_eq!(b.git(&["for-each-ref"]), before, "nothing changed");
}

#[test]
fn a_forked_log_shown_to_another_device_refuses_the_pull() {
    let (a, b, remote) = two_devices();
    // A copy of A's store (same key), taken now, at 2 leaves.
    let fork = TestEnv::new();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(a.store())
        .arg(fork.store())
        .status()
        .unwrap();
    assert!(status.success());
    // A goes on: B sees A's log at 3 leaves.
    a.record(&["TASK", "three"]);
    a.atom_ok(&["push"]);
    let pulled = b.atom_json(&["pull"]);
    assert_eq!(pulled["witness"]["cosigned"][0][1], 3, "{pulled:#}");

    // The copy appends other atoms: another history of the same log (same
    // key, same origin), put on the remote over A's with plain git.
    fork.record(&["TASK", "other"]);
    fork.record(&["TASK", "history"]);
    let a_origin = a.atom_json(&["checkpoint"])["origin"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = a_origin.strip_prefix("atom/").unwrap();
    let out = fork
        .command("git")
        .arg("--git-dir")
        .arg(fork.git_dir())
        .args(["push", "-q", "-f"])
        .arg(&remote)
        .arg(format!("refs/atom/log:refs/atom/logs/{id}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let before = b.git(&["for-each-ref"]);
    let out = b.atom_err(&["pull"], 1);
    assert!(out.stderr.contains(&a_origin), "{out}");
    assert!(out.stderr.contains("3 leaves"), "{out}");
    assert!(out.stderr.contains("rewritten"), "{out}");
    assert_eq!(b.git(&["for-each-ref"]), before, "nothing changed");
    // A's own push of its log is refused: never forced.
    a.record(&["TASK", "four"]);
    let pushed = a.atom(&["push"]);
    assert_eq!(pushed.code, 1, "{pushed}");
    assert!(
        pushed.stderr.contains(&format!("refs/atom/logs/{id}")),
        "{pushed}"
    );
}

/// Regression (found by the three-device scenarios): a device that pushes
/// to two remotes leaves the one it pushed to less recently with an older
/// checkpoint of its log. A device that witnessed the newer one must take
/// the older one as the prefix it is, not refuse the pull as a rewrite, and
/// keep its newer cosignature.
#[test]
fn a_remote_that_lags_shows_an_older_log_and_the_pull_goes_through() {
    let (a, b, _remote) = two_devices();
    let lagging = a.bare_remote("lagging.git");
    b.atom_ok(&["remote", "add", "lagging", lagging.to_str().unwrap()]);
    b.record(&["TASK", "three"]);
    b.atom_ok(&["push", "lagging"]);
    b.record(&["TASK", "four"]);
    b.atom_ok(&["push"]);
    let b_origin = b.atom_json(&["checkpoint"])["origin"].clone();
    let pulled = a.atom_json(&["pull"]);
    assert_eq!(pulled["witness"]["cosigned"][0][0], b_origin, "{pulled:#}");
    let newest = pulled["witness"]["cosigned"][0][1].as_u64().unwrap();

    a.atom_ok(&["remote", "add", "lagging", lagging.to_str().unwrap()]);
    let pulled = a.atom_json(&["pull", "lagging"]);
    assert!(
        pulled["witness"]["cosigned"].as_array().unwrap().is_empty(),
        "an older checkpoint is not cosigned again: {pulled:#}"
    );
    // What A witnessed of B's log is still the newest checkpoint.
    let again = a.atom_json(&["pull"]);
    assert!(
        again["witness"]["cosigned"].as_array().unwrap().is_empty(),
        "{again:#}"
    );
    b.record(&["TASK", "five"]);
    b.atom_ok(&["push"]);
    let later = a.atom_json(&["pull"]);
    assert_eq!(later["witness"]["cosigned"][0][0], b_origin, "{later:#}");
    assert!(later["witness"]["cosigned"][0][1].as_u64().unwrap() > newest);
    a.atom_ok(&["verify", "--all"]);

    // Going back on the remote that showed the newer commit is a rewind.
    let id = b_origin.as_str().unwrap().strip_prefix("atom/").unwrap();
    let log_ref = format!("refs/atom/logs/{id}");
    let git = |args: &[&str]| a.attacker_git(&lagging, args, b"");
    let older = git(&["rev-parse", &format!("{log_ref}~1")]);
    git(&["update-ref", &log_ref, &older]);
    let out = a.atom_err(&["pull", "lagging"], 1);
    assert!(out.stderr.contains("it was rewritten"), "{out}");
}
