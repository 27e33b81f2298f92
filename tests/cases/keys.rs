//! ECDSA and RSA signing keys (SPEC §3, §6, §10): `atom init --key` and
//! `atom clone --key` take the key types git signs commits with; the atoms
//! they sign pass `git verify-commit` and `atom verify`, tampering is
//! caught, stores with different key types trust each other, and the
//! transparency log of such a store is signed by its Ed25519 log key.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use crate::cases::verify::verify;
use crate::common::{Output, TestEnv};

/// The key types of this module: `ssh-keygen -t TYPE -b BITS`, and the
/// word `git verify-commit` uses for them.
const KEYS: [(&str, &str, &str); 4] = [
    ("ecdsa", "256", "ECDSA"),
    ("ecdsa", "384", "ECDSA"),
    ("ecdsa", "521", "ECDSA"),
    ("rsa", "3072", "RSA"),
];

/// A new unencrypted key made by ssh-keygen, in the test's directory.
fn keygen(env: &TestEnv, kind: &str, bits: &str, comment: &str) -> PathBuf {
    let path = env.path().join(format!("id_{kind}{bits}"));
    let out: Output = env
        .command("ssh-keygen")
        .args(["-q", "-t", kind, "-b", bits, "-N", "", "-C", comment, "-f"])
        .arg(&path)
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "{out}");
    path
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The decoded SSHSIG blob in the `gpgsig` header of `commit`.
fn signature_blob(env: &TestEnv, commit: &str) -> Vec<u8> {
    let raw = env.git(&["cat-file", "commit", commit]);
    let armored: String = raw
        .lines()
        .skip_while(|l| !l.starts_with("gpgsig "))
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim_start_matches("gpgsig ").trim())
        .filter(|l| !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(armored)
        .expect("the signature is base64")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `atom prove` of the oldest atom, checked offline with the verifier key.
fn prove_first(env: &TestEnv) -> Value {
    let first = env.log_ids(&[]).last().unwrap().clone();
    let proof = env.atom_ok(&["prove", &first]);
    let vkey = env.atom_ok(&["checkpoint", "--verifier-key"]);
    let file = env.write_file("first.tlog-proof", proof.as_bytes());
    env.atom_json(&["prove", "--check", path_str(&file), "--key", vkey.trim()])
}

#[test]
fn ecdsa_and_rsa_keys_sign_atoms_that_git_verifies() {
    for (kind, bits, word) in KEYS {
        let env = TestEnv::new();
        let key = keygen(&env, kind, bits, "alice");
        let init = env.atom_json(&["init", "--key", path_str(&key)]);
        assert_eq!(init["name"], "alice", "{init:#}");
        // The transparency log is Ed25519: a log key beside the commit key,
        // trusted for checkpoints only.
        assert_eq!(init["log_key"]["name"], "alice-log", "{init:#}");
        let allowed = std::fs::read_to_string(env.store().join("keys/allowed_signers")).unwrap();
        assert!(
            allowed.contains("alice-log namespaces=\"atom-checkpoint\" ssh-ed25519 "),
            "{allowed}"
        );
        let signers = env.atom_json(&["signers", "list"]);
        let own: Vec<(&str, bool)> = signers["signers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["name"].as_str().unwrap(), s["own"].as_bool().unwrap()))
            .collect();
        assert_eq!(own, [("alice", true), ("alice-log", true)], "{signers:#}");

        let mut commits = Vec::new();
        for i in 0..3 {
            let view = env.record(&["TASK", "run_tests", "--summary", &format!("step {i}")]);
            assert_eq!(view["signature"]["status"], "good", "{view:#}");
            assert_eq!(view["signature"]["signer"], "alice", "{view:#}");
            commits.push(view["commit"].as_str().unwrap().to_owned());
        }
        for c in &commits {
            let git = env.git_verify_commit(c);
            assert_eq!(git.code, 0, "{kind}{bits}: {git}");
            assert!(
                git.stderr
                    .contains(&format!("Good \"git\" signature for alice with {word} key")),
                "{git}"
            );
            let blob = signature_blob(&env, c);
            if kind == "rsa" {
                assert!(contains(&blob, b"rsa-sha2-512"), "as ssh-keygen signs");
            } else {
                assert!(contains(&blob, format!("nistp{bits}").as_bytes()));
            }
        }
        let (code, report, human) = verify(&env, &["--all"]);
        assert_eq!(code, 0, "{kind}{bits}: {human}");
        assert_eq!(report["ok"], true);

        // The log: checkpoints signed by the log key, proofs check offline.
        let checkpoint = env.atom_json(&["checkpoint"]);
        assert_eq!(checkpoint["size"], 3, "{checkpoint:#}");
        let checked = prove_first(&env);
        assert_eq!(checked["size"], 3, "{checked:#}");
        env.cross_check();
    }
}

#[test]
fn a_tampered_atom_signed_with_ecdsa_is_caught() {
    let env = TestEnv::new();
    let key = keygen(&env, "ecdsa", "256", "alice");
    env.atom_ok(&["init", "--key", path_str(&key)]);
    env.record(&["TASK", "plan", "--summary", "first"]);
    let tip = env.record(&["TASK", "run_tests", "--summary", "second"]);
    let id = tip["record"]["atom_id"].as_str().unwrap();
    let commit = tip["commit"].as_str().unwrap();
    // The same commit, signature kept, one word of the message changed.
    let raw = env.git(&["cat-file", "commit", commit]);
    let forged = raw.replacen("run_tests: second", "run_tests: secund", 1);
    assert_ne!(forged, raw);
    let sha = env.attacker_git(
        &env.git_dir(),
        &["hash-object", "-t", "commit", "-w", "--stdin"],
        forged.as_bytes(),
    );
    env.git(&["update-ref", "refs/heads/main", &sha]);
    assert_ne!(env.git_verify_commit(&sha).code, 0, "git refuses it too");
    let (code, report, human) = verify(&env, &[]);
    assert_eq!(code, 1, "{human}");
    let failure = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["atom_id"] == id)
        .unwrap_or_else(|| panic!("{id} not reported: {report:#}"));
    assert!(
        failure["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("signature does not match")),
        "{failure:#}"
    );
}

#[test]
fn ecdsa_rsa_and_ed25519_stores_trust_and_witness_each_other() {
    // A signs with ECDSA and pushes; B (Ed25519, made by atom) clones it.
    let a = TestEnv::new();
    let a_key = keygen(&a, "ecdsa", "384", "alice");
    a.atom_ok(&["init", "--key", path_str(&a_key)]);
    a.record(&["TASK", "one"]);
    a.record(&["TASK", "two"]);
    let remote = a.bare_remote("shared.git");
    a.atom_ok(&["remote", "add", "origin", path_str(&remote)]);
    a.atom_ok(&["push"]);

    let b = TestEnv::new();
    let cloned = b.atom_json(&["clone", path_str(&remote), "--name", "bob"]);
    assert_eq!(cloned["pull"]["verified"], 2, "{cloned:#}");
    let trusted: Vec<&str> = cloned["trusted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(trusted, ["alice", "alice-log"], "{cloned:#}");
    // B checked A's checkpoint with A's log key, and cosigned it.
    let a_origin = a.atom_json(&["checkpoint"])["origin"].clone();
    assert_eq!(cloned["pull"]["witness"]["cosigned"][0][0], a_origin);
    assert_eq!(cloned["pull"]["witness"]["cosigned"][0][1], 2);
    b.atom_ok(&["verify", "--all"]);

    // C clones with its own RSA key.
    let c = TestEnv::new();
    let c_key = keygen(&c, "rsa", "3072", "carol");
    let cloned = c.atom_json(&["clone", path_str(&remote), "--key", path_str(&c_key)]);
    assert_eq!(cloned["pull"]["verified"], 2, "{cloned:#}");
    assert_eq!(
        cloned["pull"]["witness"]["cosigned"][0][0], a_origin,
        "{cloned:#}"
    );

    // A trusts B's Ed25519 key and C's RSA key, and publishes them.
    let b_pub = std::fs::read_to_string(b.store().join("keys/atom_ed25519.pub")).unwrap();
    a.atom_ok(&["signers", "add", "bob", b_pub.trim()]);
    let c_pub = format!("{}.pub", c_key.display());
    let added = a.atom_json(&["signers", "add", "carol", &c_pub]);
    assert_eq!(added["added"], true, "{added:#}");
    a.atom_ok(&["push"]);

    // B records and pushes; C trusts B, pulls, records and pushes.
    b.record(&["TASK", "three"]);
    b.atom_ok(&["push"]);
    c.atom_ok(&["signers", "add", "bob", b_pub.trim()]);
    c.atom_ok(&["pull"]);
    c.record(&["TASK", "four"]);
    c.atom_ok(&["push"]);

    // A pulls both atoms: each verified against A's allowed signers; B's
    // cosignature of A's log collected.
    let pulled = a.atom_json(&["pull"]);
    let b_origin = b.atom_json(&["checkpoint"])["origin"].clone();
    assert!(
        pulled["witness"]["collected"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c[0] == b_origin),
        "{pulled:#}"
    );
    let (code, _, human) = verify(&a, &["--all"]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(a.log_ids(&[]).len(), 4);
    for (rev, who, word) in [("main~1", "bob", "ED25519"), ("main", "carol", "RSA")] {
        let tip = a.git(&["rev-parse", rev]);
        let git = a.git_verify_commit(tip.trim());
        assert_eq!(git.code, 0, "{git}");
        assert!(
            git.stderr
                .contains(&format!("signature for {who} with {word} key")),
            "{git}"
        );
    }
    // B trusts C and pulls C's atom.
    b.atom_ok(&["signers", "add", "carol", &c_pub]);
    b.atom_ok(&["pull"]);
    let (code, _, human) = verify(&b, &["--all"]);
    assert_eq!(code, 0, "{human}");
}
