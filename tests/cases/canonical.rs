//! Canonical commits: an atom commit must be byte for byte the commit atom
//! writes for its record. Plain git plays the attacker: a signed tip's
//! armor given `\r`s or re-wrapped (a new commit id for the same signed
//! content, no key needed), and, with the store's own key, commits whose
//! signature is good but whose dates, people, headers, message or tree are
//! not what atom writes. `atom verify` fails each, naming the atom and what
//! differs; `atom pull` refuses them before any ref moves. What atom itself
//! writes (attachments, rollbacks, imports, merges) verifies.

use std::process::Stdio;

use crate::cases::verify::{record_n, verify};
use crate::common::{Output, TestEnv};

/// Write `bytes` as a commit object with plain git (no checks), returning its id.
fn write_commit(env: &TestEnv, repo: &std::path::Path, bytes: &[u8]) -> String {
    env.attacker_git(
        repo,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            "--literally",
            "--stdin",
        ],
        bytes,
    )
}

fn cat_commit(env: &TestEnv, repo: &std::path::Path, commit: &str) -> String {
    env.attacker_git(repo, &["cat-file", "commit", commit], b"") + "\n"
}

/// `commit` with `\r` before the newline of every line of its signature
/// armor: the same signed content under a new commit id.
fn crlf_armor(raw: &str) -> String {
    let (header, message) = raw.split_once("\n\n").expect("a commit has a message");
    let mut in_sig = false;
    let lines: Vec<String> = header
        .lines()
        .map(|l| {
            in_sig = l.starts_with("gpgsig ") || (in_sig && l.starts_with(' '));
            if in_sig {
                format!("{l}\r")
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!("{}\n\n{message}", lines.join("\n"))
}

/// `commit` without its signature header: the bytes the signature signs.
fn payload_of(raw: &str) -> String {
    let (header, message) = raw.split_once("\n\n").expect("a commit has a message");
    let mut in_sig = false;
    let kept: Vec<&str> = header
        .lines()
        .filter(|l| {
            in_sig = l.starts_with("gpgsig ") || (in_sig && l.starts_with(' '));
            !in_sig
        })
        .collect();
    format!("{}\n\n{message}", kept.join("\n"))
}

/// Sign `payload` with the store's own key as `git commit -S` does
/// (`ssh-keygen -Y sign -n git`), add the `gpgsig` header, and write the
/// commit; returns its id. The signature is good: only the form is off.
fn sign_with_store_key(env: &TestEnv, payload: &str) -> String {
    let file = env.write_file("payload", payload.as_bytes());
    let _ = std::fs::remove_file(env.path().join("payload.sig"));
    let key = env.store().join("keys/atom_ed25519");
    let out: Output = env
        .command("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "git", "-f"])
        .arg(&key)
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "ssh-keygen -Y sign failed:\n{out}");
    let sig = std::fs::read_to_string(env.path().join("payload.sig")).unwrap();
    let (header, message) = payload.split_once("\n\n").unwrap();
    let commit = format!(
        "{header}\ngpgsig {}\n\n{message}",
        sig.trim_end().replace('\n', "\n ")
    );
    write_commit(env, &env.git_dir(), commit.as_bytes())
}

/// Point `main` at `commit`; assert `git verify-commit` gives `git_good`
/// and `atom verify` fails `atom_id` (and only it) with a reason containing
/// `needle`, in JSON and in human output.
fn assert_not_canonical(env: &TestEnv, commit: &str, atom_id: &str, needle: &str, git_good: bool) {
    env.git(&["update-ref", "refs/heads/main", commit]);
    let git = env.git_verify_commit(commit);
    assert_eq!(
        git.code == 0,
        git_good,
        "git verify-commit {commit}:\n{git}"
    );
    let (code, report, human) = verify(env, &[]);
    assert_eq!(code, 1, "{needle:?} went unnoticed:\n{human}");
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    assert_eq!(failures[0]["atom_id"], atom_id, "{report:#}");
    assert_eq!(failures[0]["commit"], commit, "{report:#}");
    let reasons: Vec<&str> = failures[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains(needle)),
        "no reason mentions {needle:?}: {reasons:?}"
    );
    assert!(human.stdout.contains(&format!("✗ {atom_id} (")), "{human}");
    assert!(human.stdout.contains(needle), "{human}");
}

#[test]
fn crlf_in_the_armor_of_a_signed_tip_is_caught() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 3);
    let (id, tip) = atoms.last().unwrap();
    let raw = cat_commit(&env, &env.git_dir(), tip);
    let malleated = write_commit(&env, &env.git_dir(), crlf_armor(&raw).as_bytes());
    assert_ne!(&malleated, tip);
    assert_not_canonical(
        &env,
        &malleated,
        id,
        "commit is not in atom's canonical form: gpgsig armor differs",
        false,
    );

    // The armor wrapped at 64 columns instead of 70: git accepts the
    // signature, atom does not accept the second commit id.
    let (header, message) = raw.split_once("\n\n").unwrap();
    let (before, sig) = header.split_once("gpgsig ").unwrap();
    let body: String = sig
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let wrapped: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let rewrapped = format!(
        "{before}gpgsig -----BEGIN SSH SIGNATURE-----\n {}\n -----END SSH SIGNATURE-----\n\n{message}",
        wrapped.join("\n ")
    );
    let rewrapped = write_commit(&env, &env.git_dir(), rewrapped.as_bytes());
    assert_ne!(&rewrapped, tip);
    assert_not_canonical(&env, &rewrapped, id, "gpgsig armor differs", true);

    // The original is untouched and still verifies.
    env.git(&["update-ref", "refs/heads/main", tip]);
    let (code, _, human) = verify(&env, &[]);
    assert_eq!(code, 0, "{human}");
}

#[test]
fn a_malleated_tip_on_a_remote_is_refused_by_pull() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    a.record(&["TASK", "one"]);
    let tip = a.record(&["TASK", "two"]);
    let (id, tip) = (
        tip["record"]["atom_id"].as_str().unwrap().to_owned(),
        tip["commit"].as_str().unwrap().to_owned(),
    );
    a.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    a.atom_ok(&["push"]);

    let raw = cat_commit(&a, &remote, &tip);
    let malleated = write_commit(&a, &remote, crlf_armor(&raw).as_bytes());
    a.attacker_git(
        &remote,
        &["update-ref", "refs/heads/main", &malleated, &tip],
        b"",
    );

    let refs = || a.git(&["for-each-ref", "--format=%(objectname) %(refname)"]);
    let before = refs();
    let out = a.atom_err(&["pull"], 1);
    assert!(out.stderr.contains(&id), "names the atom:\n{out}");
    assert!(out.stderr.contains(&malleated[..12]), "{out}");
    assert!(out.stderr.contains("gpgsig armor differs"), "{out}");
    assert_eq!(refs(), before, "a refused pull moved a ref");
    a.atom_ok(&["verify", "--all"]);
}

#[test]
fn a_date_other_than_the_timestamp_is_caught_though_well_signed() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 2);
    let (id, tip) = atoms.last().unwrap();
    let key = env.store().join("keys/atom_ed25519");
    let key_config = format!("user.signingkey={}", key.display());
    let tree = env.git(&["rev-parse", &format!("{tip}^{{tree}}")]);
    let message = crate::cases::verify::message_of(&env, tip);
    let seconds: i64 = env
        .git(&["log", "-1", "--format=%at", tip])
        .trim()
        .parse()
        .unwrap();

    // The same atom re-signed by the store's own key (as `git commit -S`
    // would), with the author date one hour later, then the same instant
    // in another time zone.
    for (date, needle) in [
        (
            format!("{} +0000", seconds + 3600),
            format!(
                "its author date \"{} +0000\" is not the record's timestamp",
                seconds + 3600
            ),
        ),
        (
            format!("{seconds} +0200"),
            format!("its author date \"{seconds} +0200\" is not the record's timestamp"),
        ),
    ] {
        let mut people = env.people_of(tip);
        for (k, v) in people.iter_mut() {
            if k == "GIT_AUTHOR_DATE" {
                *v = date.clone();
            }
        }
        let forged = env.attacker_git_as(
            &env.git_dir(),
            &[
                "-c",
                "gpg.format=ssh",
                "-c",
                &key_config,
                "commit-tree",
                tree.trim(),
                "-p",
                &atoms[0].1,
                "-S",
                "-F",
                "-",
            ],
            message.as_bytes(),
            &people,
        );
        assert_not_canonical(&env, &forged, id, &needle, true);
    }
}

#[test]
fn re_encodings_signed_with_the_stores_own_key_are_caught() {
    let env = TestEnv::init();
    let file = env.write_file("gaming.env", b"FPS=144\n");
    let v = env.record(&[
        "CFG",
        "modify_file",
        "--agent",
        "qwen",
        "--attach",
        file.to_str().unwrap(),
    ]);
    let id = v["record"]["atom_id"].as_str().unwrap().to_owned();
    let tip = v["commit"].as_str().unwrap().to_owned();
    let raw = cat_commit(&env, &env.git_dir(), &tip);
    let payload = payload_of(&raw);

    // Re-signing the untouched payload gives the very same commit: the
    // store's key signs deterministically, and atom's form is git's.
    assert_eq!(sign_with_store_key(&env, &payload), tip);

    let (header, message) = payload.split_once("\n\n").unwrap();
    let line = |name: &str| {
        header
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_owned()
    };
    let (author, committer) = (line("author"), line("committer"));

    // An extra header.
    let encoding = format!("{header}\nencoding UTF-8\n\n{message}");
    let forged = sign_with_store_key(&env, &encoding);
    assert_not_canonical(&env, &forged, &id, "an extra `encoding` header", true);

    // Author and committer swapped: git's and gix's readers refuse such a
    // commit, so verify stops at it, naming it.
    let swapped = payload.replacen(
        &format!("{author}\n{committer}\n"),
        &format!("{committer}\n{author}\n"),
        1,
    );
    assert_ne!(swapped, payload);
    let forged = sign_with_store_key(&env, &swapped);
    env.git(&["update-ref", "refs/heads/main", &forged]);
    let out = env.atom(&["verify"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains(&forged), "{out}");

    // Another author than the record's agent.
    let other = payload.replacen(
        "author qwen <qwen@agents.atom>",
        "author qwen <qwen@example.org>",
        1,
    );
    assert_ne!(other, payload);
    let forged = sign_with_store_key(&env, &other);
    assert_not_canonical(&env, &forged, &id, "not the agent the record names", true);

    // Trailing whitespace after the message.
    let forged = sign_with_store_key(&env, &format!("{payload}\n"));
    assert_not_canonical(&env, &forged, &id, "its message", true);

    // An extra file in the tree.
    let tree = env.git(&["rev-parse", &format!("{tip}^{{tree}}")]);
    let entries = env.git(&["cat-file", "-p", tree.trim()]);
    let extra = env.attacker_git(&env.git_dir(), &["hash-object", "-w", "--stdin"], b"x\n");
    let bigger = env.attacker_git(
        &env.git_dir(),
        &["mktree"],
        format!("{entries}100644 blob {extra}\textra.txt\n").as_bytes(),
    );
    let forged = sign_with_store_key(&env, &payload.replacen(tree.trim(), &bigger, 1));
    assert_not_canonical(
        &env,
        &forged,
        &id,
        "unexpected extra.txt in the commit's tree",
        true,
    );

    // The same tree entries in another order.
    let mut reversed = Vec::new();
    for entry in entries.lines().rev() {
        let (meta, name) = entry.split_once('\t').unwrap();
        let mut parts = meta.split(' ');
        let mode = parts.next().unwrap().trim_start_matches('0');
        let oid = parts.nth(1).unwrap();
        reversed.extend_from_slice(format!("{mode} {name}\0").as_bytes());
        reversed.extend(
            (0..oid.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&oid[i..i + 2], 16).unwrap()),
        );
    }
    let odd_tree = env.attacker_git(
        &env.git_dir(),
        &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
        &reversed,
    );
    assert_ne!(odd_tree, tree.trim());
    let forged = sign_with_store_key(&env, &payload.replacen(tree.trim(), &odd_tree, 1));
    assert_not_canonical(
        &env,
        &forged,
        &id,
        "its tree is not encoded as atom encodes it",
        true,
    );
}

#[test]
fn what_atom_writes_is_canonical_merges_rollbacks_and_imports_included() {
    let a = TestEnv::init().with_env("ATOM_AGENT", "Claude Code");
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    let file = a.write_file("gaming.env", b"FPS=144\n");
    a.record(&["CFG", "modify_file", "--attach", file.to_str().unwrap()]);
    a.record(&["TASK", "plan", "--at", "2024-06-01T12:00:00+02:00"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);

    let b = TestEnv::new().with_env("ATOM_AGENT", "bob");
    b.atom_ok(&["clone", remote_s]);
    b.record(&["TASK", "from_b"]);
    b.atom_ok(&["push"]);

    let keep = a.record(&["TASK", "keep"]);
    a.record(&["TASK", "undone"]);
    a.atom_ok(&[
        "rollback",
        keep["record"]["atom_id"].as_str().unwrap(),
        "--yes",
    ]);
    let import = a.write_file(
        "in.jsonl",
        b"{\"type\":\"NOTE\",\"operation\":\"note\",\"summary\":\"imported\"}\n",
    );
    a.atom_ok(&["import", import.to_str().unwrap()]);
    let b_key = b.store().join("keys/atom_ed25519.pub");
    a.atom_ok(&["signers", "add", "bob", b_key.to_str().unwrap()]);
    let pulled = a.atom_json(&["pull"]);
    assert_eq!(pulled["trails"][0]["action"], "merged", "{pulled:#}");

    let (code, report, human) = verify(&a, &["--all"]);
    assert_eq!(code, 0, "{human}");
    assert!(report["atoms"].as_u64().unwrap() >= 7, "{report:#}");
    let commits = a.git(&["rev-list", "--all"]);
    for c in commits.lines() {
        if a.git(&["ls-tree", "--name-only", c]).contains("atom.json") {
            let out = a.git_verify_commit(c);
            assert_eq!(out.code, 0, "git verify-commit {c}:\n{out}");
        }
    }
}
