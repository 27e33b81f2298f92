//! `atom verify` against real tampering, done with plain git as an attacker
//! would: edited records, recomputed digests left unsigned or signed with an
//! untrusted key, dropped and reordered atoms, swapped `atom.json`, edited
//! trailers. Each must be caught, naming the right atom, with exit 1.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Output, TestEnv};

/// Run git on the store as an attacker would (see [`TestEnv::attacker_git`]).
fn git_in(env: &TestEnv, args: &[&str], input: &[u8]) -> String {
    env.attacker_git(&env.git_dir(), args, input)
}

/// The raw commit message (everything after the header's blank line).
pub fn message_of(env: &TestEnv, commit: &str) -> String {
    let raw = env.git(&["cat-file", "commit", commit]);
    raw.split_once("\n\n")
        .map(|(_, m)| m.to_owned())
        .expect("a commit has a message")
}

/// The record in a commit's `atom.json`.
pub fn record_of(env: &TestEnv, commit: &str) -> Value {
    let text = env.git(&["cat-file", "blob", &format!("{commit}:atom.json")]);
    serde_json::from_str(&text).expect("atom.json is JSON")
}

/// A tree holding only `atom.json` with `bytes`.
fn tree_with_record(env: &TestEnv, bytes: &[u8]) -> String {
    let blob = git_in(env, &["hash-object", "-w", "--stdin"], bytes);
    git_in(
        env,
        &["mktree"],
        format!("100644 blob {blob}\tatom.json\n").as_bytes(),
    )
}

/// `git commit-tree`, optionally signed with an SSH key as `git commit -S` would.
pub fn commit_tree(
    env: &TestEnv,
    tree: &str,
    parent: Option<&str>,
    message: &str,
    key: Option<&Path>,
) -> String {
    commit_tree_like(env, tree, parent, message, key, None)
}

/// [`commit_tree`] claiming the author, committer and dates of the commit
/// `like` (else mallory, now): what a careful forger does.
pub fn commit_tree_like(
    env: &TestEnv,
    tree: &str,
    parent: Option<&str>,
    message: &str,
    key: Option<&Path>,
    like: Option<&str>,
) -> String {
    let key_config;
    let mut args: Vec<&str> = Vec::new();
    if let Some(key) = key {
        key_config = format!("user.signingkey={}", key.display());
        args.extend(["-c", "gpg.format=ssh", "-c", &key_config]);
    }
    args.extend(["commit-tree", tree]);
    if let Some(p) = parent {
        args.extend(["-p", p]);
    }
    if key.is_some() {
        args.push("-S");
    }
    args.extend(["-F", "-"]);
    let people = like.map(|c| env.people_of(c)).unwrap_or_default();
    env.attacker_git_as(&env.git_dir(), &args, message.as_bytes(), &people)
}

/// Re-create `commits` (oldest first) on top of `parent`, keeping each tree
/// and message; returns the new tip. What an attacker does to the
/// descendants of an atom they changed.
fn replay(env: &TestEnv, mut parent: String, commits: &[&str]) -> String {
    for c in commits {
        let tree = env.git(&["rev-parse", &format!("{c}^{{tree}}")]);
        parent = commit_tree(env, tree.trim(), Some(&parent), &message_of(env, c), None);
    }
    parent
}

fn set_main(env: &TestEnv, new: &str) {
    env.git(&["update-ref", "refs/heads/main", new]);
}

/// Record `n` atoms; returns (atom id, commit), oldest first.
pub fn record_n(env: &TestEnv, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let v = env.record(&[
                "CFG",
                "modify_file",
                "--agent",
                "qwen",
                "--summary",
                &format!("step {i}"),
                "--set",
                "path=gaming.env",
            ]);
            (
                v["record"]["atom_id"].as_str().unwrap().to_owned(),
                v["commit"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `atom --json verify ARGS`: exit code, the parsed report, and the human output.
pub fn verify(env: &TestEnv, args: &[&str]) -> (i32, Value, Output) {
    let mut json_args = vec!["--json", "verify"];
    json_args.extend_from_slice(args);
    let out = env.atom(&json_args);
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed invalid JSON ({e}):\n{out}"));
    let mut human_args = vec!["verify"];
    human_args.extend_from_slice(args);
    let human = env.atom(&human_args);
    assert_eq!(
        human.code, out.code,
        "human and JSON verify disagree:\n{human}"
    );
    (out.code, report, human)
}

/// The reasons the report gives for `atom_id`, or a panic naming what it has.
fn reasons_for(report: &Value, atom_id: &str) -> Vec<String> {
    let failures = report["failures"].as_array().expect("failures array");
    let f = failures
        .iter()
        .find(|f| f["atom_id"] == atom_id)
        .unwrap_or_else(|| panic!("{atom_id} is not reported as failing:\n{report:#}"));
    f["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

/// The ids of the failing atoms of a `verify --json` report.
pub(crate) fn failing_ids(report: &Value) -> Vec<String> {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["atom_id"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Assert exit 1, that `atom_id` fails with a reason containing `needle`
/// (JSON and human output), and that the error lines are there.
fn assert_caught(env: &TestEnv, atom_id: &str, needle: &str) -> Value {
    let (code, report, human) = verify(env, &[]);
    assert_eq!(code, 1, "tampering went unnoticed:\n{human}");
    assert_eq!(report["ok"], false);
    let reasons = reasons_for(&report, atom_id);
    assert!(
        reasons.iter().any(|r| r.contains(needle)),
        "{atom_id}: no reason mentions {needle:?}: {reasons:?}"
    );
    assert!(
        human.stdout.contains(&format!("✗ {atom_id} (")),
        "human output does not name {atom_id}:\n{human}"
    );
    assert!(human.stdout.contains(needle), "{human}");
    assert!(
        human.stdout.contains("failed verification"),
        "no summary line:\n{human}"
    );
    assert!(
        human.stderr.starts_with("error: verification failed"),
        "{human}"
    );
    assert!(human.stderr.contains("\nhint: "), "{human}");
    report
}

fn ssh_keygen(env: &TestEnv, name: &str) -> PathBuf {
    let path = env.path().join(name);
    let out: Output = env
        .command("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "mallory@example.org",
            "-f",
        ])
        .arg(&path)
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "ssh-keygen failed:\n{out}");
    path
}

/// The tip's record with `summary` changed and everything recomputed that an
/// attacker can recompute: digest, canonical form, commit message.
fn forge_tip(env: &TestEnv, atoms: &[(String, String)]) -> Forged {
    let (id, commit) = atoms.last().unwrap();
    let mut record = record_of(env, commit);
    record["summary"] = Value::from("nothing to see here");
    let digest = env.python_canonical(&[&record])[0].digest.clone();
    record["digest"] = Value::from(digest.clone());
    let text = env.python_canonical(&[&record])[0].text.clone();
    let tree = tree_with_record(env, text.as_bytes());
    let message = message_of(env, commit)
        .replacen(": step 3", ": nothing to see here", 1)
        .replace(record_of(env, commit)["digest"].as_str().unwrap(), &digest);
    Forged {
        id: id.clone(),
        tree,
        message,
        parent: atoms[atoms.len() - 2].1.clone(),
        like: commit.clone(),
    }
}

/// A forged replacement for the tip atom, not yet committed.
struct Forged {
    id: String,
    tree: String,
    message: String,
    parent: String,
    /// The commit it replaces, whose people and dates it claims.
    like: String,
}

#[test]
fn clean_trail_verifies() {
    let env = TestEnv::init();
    let (code, report, human) = verify(&env, &[]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(report["atoms"], 0);
    record_n(&env, 5);
    let (code, report, human) = verify(&env, &[]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["atoms"], 5);
    assert_eq!(report["failures"].as_array().unwrap().len(), 0);
    assert_eq!(human.stdout, "✓ 5 atoms verified, chain intact\n");
    assert_eq!(human.stderr, "");
}

#[test]
fn attachments_verify_and_a_changed_attachment_is_caught() {
    let env = TestEnv::init();
    let file = env.write_file("gaming.env", b"FPS=144\n");
    let v = env.record(&["CFG", "modify_file", "--attach", file.to_str().unwrap()]);
    let id = v["record"]["atom_id"].as_str().unwrap().to_owned();
    let commit = v["commit"].as_str().unwrap().to_owned();
    let (code, _, human) = verify(&env, &[]);
    assert_eq!(code, 0, "{human}");

    // Same atom.json, other attachment content.
    let record_blob = env.git(&["rev-parse", &format!("{commit}:atom.json")]);
    let evil = git_in(&env, &["hash-object", "-w", "--stdin"], b"FPS=1\n");
    let att = git_in(
        &env,
        &["mktree"],
        format!("100644 blob {evil}\tgaming.env\n").as_bytes(),
    );
    let tree = git_in(
        &env,
        &["mktree"],
        format!(
            "100644 blob {}\tatom.json\n040000 tree {att}\tattachments\n",
            record_blob.trim()
        )
        .as_bytes(),
    );
    let forged = commit_tree(&env, &tree, None, &message_of(&env, &commit), None);
    set_main(&env, &forged);
    assert_caught(&env, &id, "attachment gaming.env does not match");
}

#[test]
fn edited_metadata_keeping_the_digest_is_caught() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 4);
    let (id2, c2) = &atoms[1];
    let mut record = record_of(&env, c2);
    record["metadata"]["path"] = Value::from("innocent.env");
    let text = env.python_canonical(&[&record])[0].text.clone();
    let tree = tree_with_record(&env, text.as_bytes());
    let forged = commit_tree(&env, &tree, Some(&atoms[0].1), &message_of(&env, c2), None);
    let tip = replay(&env, forged, &[&atoms[2].1, &atoms[3].1]);
    set_main(&env, &tip);

    let report = assert_caught(&env, id2, "digest does not match");
    // The descendants had to be re-committed, and the attacker cannot sign them.
    for (id, _) in &atoms[2..] {
        assert!(reasons_for(&report, id)
            .iter()
            .any(|r| r.contains("not signed")));
    }
    assert!(!failing_ids(&report).contains(&atoms[0].0), "{report:#}");
    assert_eq!(report["atoms"], 4);
}

#[test]
fn recomputed_digest_left_unsigned_is_caught() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 4);
    let Forged {
        id,
        tree,
        message,
        parent,
        like,
    } = forge_tip(&env, &atoms);
    let forged = commit_tree_like(&env, &tree, Some(&parent), &message, None, Some(&like));
    set_main(&env, &forged);
    let report = assert_caught(&env, &id, "not signed");
    // Everything else about the forgery is consistent: only the signature gives it away.
    assert_eq!(reasons_for(&report, &id), ["the commit is not signed"]);
    assert_eq!(failing_ids(&report), std::slice::from_ref(&id));
    assert_signature_shown(&env, &id, "none");
}

/// `atom show` prints the signature status in the words of `--json`'s
/// `signature.status` (README: good, untrusted, bad, none).
fn assert_signature_shown(env: &TestEnv, id: &str, status: &str) {
    assert_eq!(env.atom_json(&["show", id])["signature"]["status"], status);
    let human = env.atom_ok(&["show", id]);
    let line = human
        .lines()
        .find(|l| l.starts_with("signature "))
        .unwrap_or_else(|| panic!("no signature line:\n{human}"));
    assert_eq!(line.split_whitespace().nth(1), Some(status), "{human}");
    // `atom log` marks an atom whose signature is not good, and only that.
    let log = env.atom_ok(&["log", "--all"]);
    for l in log.lines() {
        let marked = l.contains("[signature: ");
        if l.starts_with(id) {
            assert!(
                l.contains(&format!("[signature: {status}]")) || status == "good",
                "{log}"
            );
            assert_eq!(marked, status != "good", "{log}");
        }
    }
    assert!(
        log.lines().any(|l| !l.contains("[signature: ")),
        "good atoms are not marked: {log}"
    );
}

#[test]
fn forgery_signed_with_an_untrusted_key_is_caught_until_the_key_is_trusted() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 4);
    let key = ssh_keygen(&env, "mallory");
    let Forged {
        id,
        tree,
        message,
        parent,
        like,
    } = forge_tip(&env, &atoms);
    let forged = commit_tree_like(
        &env,
        &tree,
        Some(&parent),
        &message,
        Some(&key),
        Some(&like),
    );
    set_main(&env, &forged);
    let report = assert_caught(&env, &id, "a key not in keys/allowed_signers");
    assert_eq!(failing_ids(&report), std::slice::from_ref(&id));
    assert_signature_shown(&env, &id, "untrusted");
    assert_signature_shown(&env, &atoms[0].0, "good");

    // Trusting the key (what `atom signers add` is for) makes the forged
    // atom itself verify; the transparency log still names the atom it
    // replaced, which no trail reaches any more.
    let pub_path = format!("{}.pub", key.display());
    env.atom_ok(&["signers", "add", "mallory@example.org", &pub_path]);
    let (code, report, human) = verify(&env, &[]);
    assert_eq!(code, 1, "{human}");
    assert!(failing_ids(&report).is_empty(), "{report:#}");
    let problems = report["log"]["problems"].to_string();
    assert!(
        problems.contains(&id) && problems.contains("no trail or archive reaches it"),
        "{problems}"
    );
    env.atom_ok(&["signers", "remove", "mallory@example.org"]);
    assert_caught(&env, &id, "a key not in keys/allowed_signers");
}

#[test]
fn dropped_atom_is_caught() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 4);
    // Drop atom 2: re-parent atom 3 onto atom 1.
    let tip = replay(&env, atoms[0].1.clone(), &[&atoms[2].1, &atoms[3].1]);
    set_main(&env, &tip);
    let report = assert_caught(&env, &atoms[2].0, "previous_atom");
    assert!(reasons_for(&report, &atoms[2].0)
        .iter()
        .any(|r| r.contains(&format!("parent commit holds {}", atoms[0].0))));
    assert_eq!(report["atoms"], 3);
    assert!(!failing_ids(&report).contains(&atoms[0].0));
}

#[test]
fn reordered_atoms_are_caught() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 4);
    // Swap atoms 2 and 3: 1 -> 3 -> 2 -> 4.
    let tip = replay(
        &env,
        atoms[0].1.clone(),
        &[&atoms[2].1, &atoms[1].1, &atoms[3].1],
    );
    set_main(&env, &tip);
    let report = assert_caught(&env, &atoms[2].0, "previous_atom");
    let second = reasons_for(&report, &atoms[1].0);
    assert!(
        second.iter().any(|r| r.contains("previous_atom")),
        "{second:?}"
    );
    assert!(
        second.iter().any(|r| r.contains("number is not above")),
        "the id order is not checked: {second:?}"
    );
}

#[test]
fn swapped_atom_json_is_caught() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 4);
    let (c2, c3) = (&atoms[1].1, &atoms[2].1);
    let json2 = env.git(&["cat-file", "blob", &format!("{c2}:atom.json")]);
    let json3 = env.git(&["cat-file", "blob", &format!("{c3}:atom.json")]);
    let t2 = tree_with_record(&env, json3.as_bytes());
    let t3 = tree_with_record(&env, json2.as_bytes());
    let n2 = commit_tree(&env, &t2, Some(&atoms[0].1), &message_of(&env, c2), None);
    let n3 = commit_tree(&env, &t3, Some(&n2), &message_of(&env, c3), None);
    let tip = replay(&env, n3, &[&atoms[3].1]);
    set_main(&env, &tip);
    // The second commit now claims to be atom 3, and the third atom 2.
    let report = assert_caught(&env, &atoms[2].0, "does not agree with atom.json");
    assert!(reasons_for(&report, &atoms[1].0)
        .iter()
        .any(|r| r.contains("does not agree with atom.json")));
}

#[test]
fn changed_trailer_is_caught() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 3);
    let (id, c) = atoms.last().unwrap();
    let message = message_of(&env, c).replace("Agent: qwen", "Agent: claude-code");
    assert_ne!(message, message_of(&env, c));
    let tree = env.git(&["rev-parse", &format!("{c}^{{tree}}")]);
    let forged = commit_tree(&env, tree.trim(), Some(&atoms[1].1), &message, None);
    set_main(&env, &forged);
    assert_caught(&env, id, "trailers do not agree");
}

#[test]
fn every_failing_atom_is_reported_across_trails_with_all() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 3);
    env.atom_ok(&["fork", "side"]);
    // Tamper with the tip of main only; `side` still points at the original.
    let tree = env.git(&["rev-parse", &format!("{}^{{tree}}", atoms[2].1)]);
    let forged = commit_tree(&env, tree.trim(), Some(&atoms[1].1), "forged\n", None);
    set_main(&env, &forged);
    let (code, report, _) = verify(&env, &["side"]);
    assert_eq!(code, 0, "{report:#}");
    let (code, report, _) = verify(&env, &["--all"]);
    assert_eq!(code, 1);
    assert_eq!(report["atoms"], 4);
    assert_eq!(
        report["failures"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let reasons = reasons_for(&report, &atoms[2].0);
    assert!(
        reasons.iter().any(|r| r.contains("first line")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not signed")),
        "{reasons:?}"
    );
    // The untouched original shares its id with the forgery: a warning, not a failure.
    assert_eq!(
        report["warnings"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
}
