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

/// Checks with independent C2SP implementations only: Cloudflare's ports of
/// Go's `note` (`signed_note`) and `tlog` (`tlog_tiles`), and the proof's
/// text format read here from the spec (c2sp.org/tlog-proof), so that these
/// tests fail when what `atom` prints is not what the specs say.
mod independent {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use signed_note::{Note, StandardVerifier, Verifier as _, VerifierList};
    use tlog_tiles::{Checkpoint, Hash, HashReader};

    /// A signed checkpoint: the note verifies with `vkey`, and its text is a
    /// checkpoint of the key's name.
    pub fn checkpoint(note: &str, vkey: &str) -> Result<Checkpoint, String> {
        let verifier = StandardVerifier::new(vkey).map_err(|e| format!("verifier key: {e}"))?;
        let name = verifier.name().to_owned();
        let note = Note::from_bytes(note.as_bytes()).map_err(|e| format!("note: {e}"))?;
        let (verified, _) = note
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .map_err(|e| format!("signature: {e}"))?;
        if verified.len() != 1 {
            return Err(format!("{} signatures verified", verified.len()));
        }
        let checkpoint =
            Checkpoint::from_bytes(note.text()).map_err(|e| format!("checkpoint: {e}"))?;
        if checkpoint.origin() != name {
            return Err(format!("origin {} is not the key's", checkpoint.origin()));
        }
        Ok(checkpoint)
    }

    /// A c2sp.org/tlog-proof@v1, as its spec reads.
    pub struct Proof {
        pub extra: Vec<u8>,
        pub index: u64,
        pub path: Vec<Hash>,
        pub checkpoint: String,
    }

    pub fn parse_proof(text: &str) -> Result<Proof, String> {
        let (head, checkpoint) = text.split_once("\n\n").ok_or("no blank line")?;
        let mut lines = head.split('\n');
        if lines.next() != Some("c2sp.org/tlog-proof@v1") {
            return Err("header".into());
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or("no extra line")?;
        let extra = BASE64.decode(extra).map_err(|e| format!("extra: {e}"))?;
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && (*n == "0" || !n.starts_with('0')))
            .and_then(|n| n.parse().ok())
            .ok_or("no index line")?;
        let path = lines
            .map(|l| Hash::parse_hash(l).map_err(|e| format!("path hash {l:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Proof {
            extra,
            index,
            path,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Check a proof: its checkpoint is signed by `vkey`, and its path leads
    /// from the leaf hash of its `extra` to the checkpoint's root.
    pub fn check_proof(text: &str, vkey: &str) -> Result<Proof, String> {
        let proof = parse_proof(text)?;
        let cp = checkpoint(&proof.checkpoint, vkey)?;
        tlog_tiles::check_record(
            &proof.path,
            cp.size(),
            *cp.hash(),
            proof.index,
            tlog_tiles::record_hash(&proof.extra),
        )
        .map_err(|e| format!("inclusion: {e}"))?;
        Ok(proof)
    }

    /// The stored hashes of a log, computed by `tlog_tiles` from leaf data.
    #[derive(Default)]
    pub struct Tree {
        pub size: u64,
        hashes: Vec<Hash>,
    }

    impl HashReader for Tree {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::tlog::Error> {
            Ok(indexes.iter().map(|&i| self.hashes[i as usize]).collect())
        }
    }

    impl Tree {
        pub fn push(&mut self, data: &[u8]) {
            let new = tlog_tiles::stored_hashes(self.size, data, self).unwrap();
            self.hashes.extend(new);
            self.size += 1;
        }
    }
}

/// Every leaf of the store's log, oldest first, from its commits in git.
fn all_leaves(env: &TestEnv) -> Vec<String> {
    let chain = env.git(&["rev-list", "--reverse", "refs/atom/log"]);
    chain
        .lines()
        .flat_map(|c| {
            env.git(&["show", &format!("{c}:leaves")])
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn checkpoints_and_proofs_from_the_binary_check_with_independent_c2sp_code() {
    let env = TestEnv::init();
    let first = record_id(&env, &["RESEARCH", "research", "--summary", "one"]);
    record_id(&env, &["CFG", "modify_file"]);
    record_id(&env, &["NOTE", "note"]);
    let old_note = env.atom_ok(&["checkpoint"]);
    let old_file = env.write_file("old.note", old_note.as_bytes());
    // An import of 300: one log commit, and a tree of nine levels.
    let lines: String = (0..300)
        .map(|i| {
            format!(
                "{{\"type\":\"TASK\",\"operation\":\"op{i}\",\"agent\":\"bot\",\"timestamp\":\"2024-11-27T1{}:{:02}:{:02}Z\"}}\n",
                i / 3600,
                i / 60 % 60,
                i % 60
            )
        })
        .collect();
    let file = env.write_file("in.jsonl", lines.as_bytes());
    env.atom_ok(&["import", file.to_str().unwrap()]);
    record_id(&env, &["TASK", "after"]);
    let last = record_id(&env, &["DECISION", "save_decision"]);
    let note = env.atom_ok(&["checkpoint"]);
    let new_file = env.write_file("new.note", note.as_bytes());
    let vkey = env
        .atom_ok(&["checkpoint", "--verifier-key"])
        .trim()
        .to_owned();

    // The checkpoints are signed notes the key verifies, of the sizes and
    // with the roots RFC 6962 gives the leaves in git.
    let leaves = all_leaves(&env);
    assert_eq!(leaves.len(), 305);
    let mut tree = independent::Tree::default();
    for leaf in &leaves {
        tree.push(leaf.as_bytes());
    }
    let cp = independent::checkpoint(&note, &vkey).unwrap();
    assert_eq!(cp.size(), 305);
    assert_eq!(cp.hash().0, tlog_tiles::tree_hash(305, &tree).unwrap().0);
    let old = independent::checkpoint(&old_note, &vkey).unwrap();
    assert_eq!(old.size(), 3);
    assert_eq!(old.hash().0, tlog_tiles::tree_hash(3, &tree).unwrap().0);
    assert_eq!(old.origin(), cp.origin());
    // The note of another store's key does not verify with this key.
    let other = TestEnv::init();
    other.record(&["TASK", "x"]);
    let other_key = other.atom_ok(&["checkpoint", "--verifier-key"]);
    assert!(independent::checkpoint(&note, other_key.trim()).is_err());

    // Proofs of the first, a middle and the last atom.
    let middle = env.atom_json(&["log", "--type", "TASK", "--grep", "op150"])[0]["record"]
        ["atom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut first_proof = String::new();
    for (id, index) in [(&first, 0u64), (&middle, 153), (&last, 304)] {
        let text = env.atom_ok(&["prove", id]);
        let proof = independent::check_proof(&text, &vkey)
            .unwrap_or_else(|e| panic!("the proof of {id} does not check: {e}\n{text}"));
        assert_eq!(proof.index, index, "{id}");
        assert_eq!(proof.checkpoint, note, "{id}");
        // `extra` is the leaf data, `<commit> <digest>` of the atom.
        let shown = env.atom_json(&["show", id]);
        let want = format!(
            "{} {}",
            shown["commit"].as_str().unwrap(),
            shown["record"]["digest"].as_str().unwrap()
        );
        assert_eq!(String::from_utf8(proof.extra).unwrap(), want, "{id}");
        assert_eq!(leaves[index as usize], want);
        // The path is the one tlog_tiles makes from the same leaves.
        let theirs = tlog_tiles::prove_record(305, index, &tree).unwrap();
        assert_eq!(proof.path, theirs, "{id}");
        if index == 0 {
            first_proof = text;
        }
    }
    assert_eq!(
        independent::parse_proof(&first_proof).unwrap().path.len(),
        9
    );

    // Any one byte edited: the independent check fails.
    let bytes = first_proof.as_bytes();
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x20] {
            let mut edited = bytes.to_vec();
            edited[at] ^= flip;
            let Ok(edited) = String::from_utf8(edited) else {
                continue;
            };
            assert!(
                independent::check_proof(&edited, &vkey).is_err(),
                "byte {at} ^ {flip:#x} still checks:\n{edited}"
            );
        }
    }

    // The consistency path between the two saved checkpoints.
    let path = env.atom_ok(&[
        "prove",
        "--consistency",
        old_file.to_str().unwrap(),
        new_file.to_str().unwrap(),
    ]);
    let parse = |text: &str| -> Vec<tlog_tiles::Hash> {
        text.lines()
            .map(|l| tlog_tiles::Hash::parse_hash(l).unwrap())
            .collect()
    };
    let consistency = parse(&path);
    assert_eq!(
        consistency,
        tlog_tiles::prove_tree(305, 3, &tree).unwrap(),
        "{path}"
    );
    tlog_tiles::check_tree(&consistency, 305, *cp.hash(), 3, *old.hash()).unwrap();
    // Edited by one byte, it fails.
    for at in (0..path.len()).filter(|&i| path.as_bytes()[i] != b'\n') {
        let mut edited = path.as_bytes().to_vec();
        edited[at] ^= 0x01;
        let edited = String::from_utf8(edited).unwrap();
        let hashes: Result<Vec<_>, _> = edited.lines().map(tlog_tiles::Hash::parse_hash).collect();
        if let Ok(hashes) = hashes {
            assert!(
                tlog_tiles::check_tree(&hashes, 305, *cp.hash(), 3, *old.hash()).is_err(),
                "byte {at} edited still checks"
            );
        }
    }
}
