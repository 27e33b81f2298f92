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

/// An SSHSIG blob taken apart: the fields before the signature, and the
/// signature's algorithm name and data.
struct SshSigBlob {
    /// "SSHSIG", the version, the key and the namespace.
    head: Vec<u8>,
    reserved: Vec<u8>,
    hash: Vec<u8>,
    algorithm: Vec<u8>,
    data: Vec<u8>,
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
    out.extend_from_slice(s);
}

fn take_string<'a>(b: &mut &'a [u8]) -> &'a [u8] {
    let n = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
    let (s, rest) = b[4..].split_at(n);
    *b = rest;
    s
}

impl SshSigBlob {
    fn parse(armored: &str) -> Self {
        let body: String = armored
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let blob = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let mut rest = &blob[10..]; // "SSHSIG" and the version
        take_string(&mut rest); // key
        take_string(&mut rest); // namespace
        let head = blob[..blob.len() - rest.len()].to_vec();
        let reserved = take_string(&mut rest).to_vec();
        let hash = take_string(&mut rest).to_vec();
        let mut sig = take_string(&mut rest);
        assert!(rest.is_empty());
        SshSigBlob {
            head,
            reserved,
            hash,
            algorithm: take_string(&mut sig).to_vec(),
            data: take_string(&mut sig).to_vec(),
        }
    }

    fn armor(&self) -> String {
        let mut sig = Vec::new();
        put_string(&mut sig, &self.algorithm);
        put_string(&mut sig, &self.data);
        let mut blob = self.head.clone();
        put_string(&mut blob, &self.reserved);
        put_string(&mut blob, &self.hash);
        put_string(&mut blob, &sig);
        let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
        let mut out = String::from("-----BEGIN SSH SIGNATURE-----\n");
        for chunk in b64.as_bytes().chunks(70) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str("-----END SSH SIGNATURE-----\n");
        out
    }
}

/// `ssh-keygen -Y sign -n git` of `payload` with `key`.
fn ssh_keygen_sign(env: &TestEnv, key: &Path, payload: &[u8]) -> String {
    let file = env.write_file("payload", payload);
    let out: Output = env
        .command("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "git", "-f"])
        .arg(key)
        .arg(&file)
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "{out}");
    let sig = std::fs::read_to_string(env.path().join("payload.sig")).unwrap();
    std::fs::remove_file(env.path().join("payload.sig")).unwrap();
    sig
}

/// `ssh-keygen -Y verify`'s verdict on `armored` over `payload` by the
/// principal `me` of `allowed`.
fn ssh_keygen_accepts(env: &TestEnv, allowed: &Path, armored: &str, payload: &[u8]) -> bool {
    let sig = env.write_file("check.sig", armored.as_bytes());
    let mut child = env
        .command("ssh-keygen")
        .args(["-Y", "verify", "-n", "git", "-I", "me", "-f"])
        .arg(allowed)
        .arg("-s")
        .arg(&sig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ssh-keygen");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), payload).unwrap();
    child.wait_with_output().unwrap().status.success()
}

/// atom's verdict (the one `atom verify`, pull and the index use).
fn atom_accepts(armored: &str, payload: &[u8]) -> bool {
    matches!(
        atom::signing::verify_signature(armored.as_bytes(), payload),
        atom::signing::SignatureValidity::Valid(_)
    )
}

#[test]
fn signatures_are_judged_as_ssh_keygen_judges_them() {
    let env = TestEnv::new();
    let payload = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmessage\n";
    for (kind, bits, _) in KEYS {
        let key = keygen(&env, kind, bits, "me");
        let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
        let allowed = env.write_file("allowed", format!("me {public}").as_bytes());
        let mut cases: Vec<(String, String, Vec<u8>)> = Vec::new();
        // ECDSA nonces are random in ssh-keygen: several signatures cover
        // both halves of `s` (OpenSSL accepts a high `s`, so must atom).
        let rounds = if kind == "ecdsa" { 12 } else { 2 };
        for i in 0..rounds {
            let sig = ssh_keygen_sign(&env, &key, payload);
            cases.push((format!("ssh-keygen's #{i}"), sig.clone(), payload.to_vec()));
            cases.push((format!("#{i} on another payload"), sig, b"other".to_vec()));
        }
        let signer = atom::signing::SshSigner::load(&key).unwrap();
        let own = atom::signing::Signer::sign(&signer, payload).unwrap();
        cases.push(("atom's".into(), own.clone(), payload.to_vec()));
        let parts = SshSigBlob::parse(&own);
        let variant = |what: &str, f: &dyn Fn(&mut SshSigBlob)| {
            let mut p = SshSigBlob::parse(&own);
            f(&mut p);
            (what.to_owned(), p.armor(), payload.to_vec())
        };
        cases.push(variant("data with a byte more", &|p| p.data.push(0)));
        cases.push(variant("a reserved field filled in", &|p| {
            p.reserved = b"x".to_vec()
        }));
        cases.push(variant("hash sha256 claimed", &|p| {
            p.hash = b"sha256".to_vec()
        }));
        cases.push(variant("data with a byte less", &|p| {
            p.data.pop();
        }));
        if kind == "ecdsa" {
            cases.push(variant("r with a redundant leading zero", &|p| {
                let mut rest = &p.data[..];
                let r = take_string(&mut rest).to_vec();
                let s = take_string(&mut rest).to_vec();
                let mut padded = vec![0];
                padded.extend_from_slice(&r);
                p.data.clear();
                put_string(&mut p.data, &padded);
                put_string(&mut p.data, &s);
            }));
        }
        if kind == "rsa" {
            assert_eq!(parts.algorithm, b"rsa-sha2-512");
            cases.push(variant("labelled ssh-rsa (SHA-1)", &|p| {
                p.algorithm = b"ssh-rsa".to_vec()
            }));
            cases.push(variant("labelled rsa-sha2-256", &|p| {
                p.algorithm = b"rsa-sha2-256".to_vec()
            }));
            cases.push(variant("a leading zero byte more", &|p| {
                p.data.insert(0, 0)
            }));
            // One signature in 256 starts with a zero byte; without it,
            // OpenSSH pads it back to the modulus' length.
            let (short, signed) = (0u32..)
                .map(|n| {
                    let signed = format!("payload {n}").into_bytes();
                    (
                        atom::signing::Signer::sign(&signer, &signed).unwrap(),
                        signed,
                    )
                })
                .find(|(sig, _)| SshSigBlob::parse(sig).data[0] == 0)
                .unwrap();
            let mut p = SshSigBlob::parse(&short);
            p.data.remove(0);
            cases.push((
                "a byte shorter (its leading zero)".into(),
                p.armor(),
                signed,
            ));
        }
        for (what, armored, signed) in cases {
            let keygen = ssh_keygen_accepts(&env, &allowed, &armored, &signed);
            assert_eq!(
                atom_accepts(&armored, &signed),
                keygen,
                "{kind}{bits}, {what}: ssh-keygen says {keygen}"
            );
            if what.starts_with("ssh-keygen's") || what == "atom's" {
                assert!(keygen, "{kind}{bits}, {what}");
            }
        }
    }
}

/// A commit whose ECDSA signature spells `r` with a redundant leading zero:
/// git (OpenSSH) reads the same number and says Good, and so does atom's
/// signature check; `atom verify` still fails it as not the form atom writes.
#[test]
fn a_re_encoded_ecdsa_signature_is_good_but_not_canonical() {
    let env = TestEnv::new();
    let key = keygen(&env, "ecdsa", "256", "alice");
    env.atom_ok(&["init", "--key", path_str(&key)]);
    let view = env.record(&["TASK", "plan", "--summary", "one"]);
    let id = view["record"]["atom_id"].as_str().unwrap();
    let commit = view["commit"].as_str().unwrap();
    let raw = env.git(&["cat-file", "commit", commit]);
    let (header, message) = raw.split_once("\n\n").unwrap();
    let mut lines = header.lines();
    let mut kept: Vec<&str> = Vec::new();
    let mut armored = String::new();
    while let Some(l) = lines.next() {
        if let Some(first) = l.strip_prefix("gpgsig ") {
            armored.push_str(first);
            armored.push('\n');
            for c in lines.by_ref() {
                armored.push_str(c.strip_prefix(' ').unwrap());
                armored.push('\n');
            }
            break;
        }
        kept.push(l);
    }
    let mut p = SshSigBlob::parse(&armored);
    let mut rest = &p.data[..];
    let r = take_string(&mut rest).to_vec();
    let s = take_string(&mut rest).to_vec();
    let mut padded = vec![0];
    padded.extend_from_slice(&r);
    p.data.clear();
    put_string(&mut p.data, &padded);
    put_string(&mut p.data, &s);
    let resigned = p.armor();
    let continued = resigned.trim_end().replace('\n', "\n ");
    let forged = format!("{}\ngpgsig {continued}\n\n{message}", kept.join("\n"));
    let sha = env.attacker_git(
        &env.git_dir(),
        &["hash-object", "-t", "commit", "-w", "--stdin"],
        forged.as_bytes(),
    );
    assert_ne!(sha, commit);
    env.git(&["update-ref", "refs/heads/main", &sha]);
    let git = env.git_verify_commit(&sha);
    assert_eq!(git.code, 0, "git accepts it: {git}");

    let shown = env.atom_json(&["show", &sha]);
    assert_eq!(shown["signature"]["status"], "good", "{shown:#}");
    let (code, report, human) = verify(&env, &[]);
    assert_eq!(code, 1, "{human}");
    let reasons: Vec<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["atom_id"] == id)
        .flat_map(|f| f["reasons"].as_array().unwrap())
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("canonical form")),
        "{reasons:?}"
    );
    assert!(
        !reasons
            .iter()
            .any(|r| r.contains("signature does not match")),
        "{reasons:?}"
    );
}

/// The log key of an RSA store gone: recording says which key and how to
/// make it, doctor names it, and `init --key` again makes a new one that
/// signs on under the log's origin.
#[test]
fn a_missing_log_key_is_named_and_init_makes_it_again() {
    let env = TestEnv::new();
    let key = keygen(&env, "rsa", "3072", "alice");
    env.atom_ok(&["init", "--key", path_str(&key)]);
    env.record(&["TASK", "one"]);
    let origin = env.atom_json(&["checkpoint"])["origin"].clone();
    let report = env.atom_json(&["doctor"]);
    let log_check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "log key")
        .unwrap_or_else(|| panic!("{report:#}"))
        .clone();
    assert_eq!(log_check["status"], "ok", "{report:#}");

    for file in ["keys/atom_ed25519", "keys/atom_ed25519.pub"] {
        std::fs::remove_file(env.store().join(file)).unwrap();
    }
    let tip = env.tip();
    let out = env.atom_err(&["record", "TASK", "two"], 1);
    assert!(
        out.stderr.contains("atom_ed25519, which is missing"),
        "{out}"
    );
    assert!(out.stderr.contains("atom init --key"), "{out}");
    assert_eq!(env.tip(), tip, "nothing recorded");
    let out = env.atom(&["doctor"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("problem log key"), "{out}");

    let init = env.atom_json(&["init", "--key", path_str(&key)]);
    assert_eq!(init["log_key"]["name"], "alice-log-2", "{init:#}");
    env.record(&["TASK", "two"]);
    let checkpoint = env.atom_json(&["checkpoint"]);
    assert_eq!(checkpoint["origin"], origin, "the log keeps its name");
    assert_eq!(checkpoint["size"], 2);
    env.atom_ok(&["verify", "--all"]);
    assert_eq!(prove_first(&env)["size"], 2);
}

#[test]
fn signers_add_takes_ecdsa_and_rsa_keys_and_refuses_dsa() {
    let env = TestEnv::init();
    for (kind, bits, name) in [("ecdsa", "521", "erin"), ("rsa", "3072", "rita")] {
        let key = keygen(&env, kind, bits, name);
        let added = env.atom_json(&["signers", "add", name, &format!("{}.pub", key.display())]);
        assert_eq!(added["added"], true, "{added:#}");
        assert_eq!(added["own"], false, "{added:#}");
    }
    let dsa = keygen(&env, "dsa", "1024", "dave");
    let before = std::fs::read(env.store().join("keys/allowed_signers")).unwrap();
    let out = env.atom_err(
        &["signers", "add", "dave", &format!("{}.pub", dsa.display())],
        2,
    );
    assert!(
        out.stderr.contains("ssh-dss keys are not supported"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(env.store().join("keys/allowed_signers")).unwrap(),
        before
    );
}
