//! The chain of custody of published keys (SPEC §6): `refs/atom/signers`
//! commits count only when signed by a key of the list before them. Plain
//! git plays the attacker who can write to the remote but holds no trusted
//! key.

use std::path::Path;

use crate::common::TestEnv;

/// A key list commit on `repo`: `lines` as `allowed_signers`, parent
/// `parent`, signed with the private key `key` when given.
fn key_list_commit(
    env: &TestEnv,
    repo: &Path,
    lines: &str,
    parent: Option<&str>,
    key: Option<&Path>,
) -> String {
    let git = |args: &[&str], input: &[u8]| env.attacker_git(repo, args, input);
    let blob = git(&["hash-object", "-w", "--stdin"], lines.as_bytes());
    let tree = git(
        &["mktree"],
        format!("100644 blob {blob}\tallowed_signers\n").as_bytes(),
    );
    let mut args: Vec<String> = vec!["-c".into(), "gpg.format=ssh".into()];
    if let Some(k) = key {
        args.push("-c".into());
        args.push(format!("user.signingkey={}", k.display()));
    }
    args.extend(["commit-tree".into(), tree]);
    if let Some(p) = parent {
        args.extend(["-p".into(), p.to_owned()]);
    }
    if key.is_some() {
        args.push("-S".into());
    }
    args.extend(["-m".into(), "atom signers: keys\n".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git(&args, b"")
}

fn public_line(env: &TestEnv, name: &str) -> String {
    let key = std::fs::read_to_string(env.store().join("keys/atom_ed25519.pub")).unwrap();
    let mut parts = key.split_whitespace();
    format!(
        "{name} namespaces=\"git\" {} {}\n",
        parts.next().unwrap(),
        parts.next().unwrap()
    )
}

fn remote_ref(env: &TestEnv, repo: &Path, name: &str) -> String {
    env.attacker_git(repo, &["rev-parse", name], b"")
}

/// Someone who can write to the remote adds their key with an unsigned (or
/// self-signed) key list commit and pushes atoms signed by it: a fresh
/// clone trusts only the list in custody and refuses those atoms; the
/// owner's next push reports the commits and replaces them.
#[test]
fn keys_added_to_the_published_list_without_a_trusted_signature_are_not_trusted() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    a.record(&["TASK", "one"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);
    let published = remote_ref(&a, &remote, "refs/atom/signers");

    // Mallory: a store of her own, its atom pushed with plain git, and her
    // key appended to the published list by an unsigned commit.
    let m = TestEnv::new();
    m.atom_ok(&["clone", remote_s]);
    m.record(&["TASK", "forged"]);
    let out = m
        .command("git")
        .arg("--git-dir")
        .arg(m.git_dir())
        .args(["push", "-q", remote_s, "refs/heads/main:refs/heads/main"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let a_lines = a.git(&["show", &format!("{published}:allowed_signers")]);
    let evil_lines = format!("{a_lines}\n{}", public_line(&m, "mallory"));
    let unsigned = key_list_commit(&a, &remote, &evil_lines, Some(&published), None);
    a.attacker_git(
        &remote,
        &["update-ref", "refs/atom/signers", &unsigned],
        b"",
    );

    // A fresh clone trusts A's key only, so it refuses mallory's atom and
    // leaves nothing behind.
    let c = TestEnv::new();
    let out = c.atom_err(&["clone", remote_s], 1);
    assert!(out.stderr.contains("TASK"), "names the atom:\n{out}");
    assert!(!c.store().join("trail.git").exists(), "{out}");

    // The same with mallory's key list signed by mallory's own key.
    let self_signed = key_list_commit(
        &a,
        &remote,
        &evil_lines,
        Some(&published),
        Some(&m.store().join("keys/atom_ed25519")),
    );
    a.attacker_git(
        &remote,
        &["update-ref", "refs/atom/signers", &self_signed],
        b"",
    );
    let out = c.atom_err(&["clone", remote_s], 1);
    assert!(out.stderr.contains("TASK"), "{out}");

    // A's pull names the problem and offers only keys in custody for trust.
    a.git(&["update-ref", "refs/heads/keep", "refs/heads/main"]);
    let out = a.atom(&["pull"]);
    assert_eq!(out.code, 1, "mallory's atom is refused:\n{out}");
    assert!(!out.stderr.contains("mallory"), "{out}");

    // A's push reports the commit out of custody and puts its own list back.
    let pushed = a.atom_json(&["push", "origin", "keep"]);
    assert_eq!(pushed["signers_action"], "replaced", "{pushed:#}");
    let problem = pushed["signers_problem"].as_str().unwrap();
    assert!(problem.contains(&self_signed[..12]), "{problem}");
    assert!(problem.contains("not in custody"), "{problem}");
    assert_eq!(remote_ref(&a, &remote, "refs/atom/signers"), published);
}

/// A store whose key the published list does not trust cannot extend it:
/// its push leaves the list alone and says whom to ask.
#[test]
fn a_push_from_an_unlisted_key_leaves_the_list_and_says_so() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    a.record(&["TASK", "one"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);
    let published = remote_ref(&a, &remote, "refs/atom/signers");

    let b = TestEnv::new();
    b.atom_ok(&["clone", remote_s]);
    let out = b.atom(&["push"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("do not list this store's key"), "{out}");
    assert!(out.stderr.contains("atom signers add"), "{out}");
    assert_eq!(remote_ref(&a, &remote, "refs/atom/signers"), published);

    // Once A trusts B and publishes it, B may publish too.
    let b_key = std::fs::read_to_string(b.store().join("keys/atom_ed25519.pub")).unwrap();
    let b_key: Vec<&str> = b_key.split_whitespace().take(2).collect();
    a.atom_ok(&["signers", "add", "bob", &b_key.join(" ")]);
    let pushed = a.atom_json(&["push"]);
    assert_eq!(pushed["signers_action"], "updated", "{pushed:#}");
    assert_eq!(pushed["keys"], 2);
    let pushed = b.atom_json(&["push"]);
    assert_ne!(pushed["signers_action"], "not listed", "{pushed:#}");

    // A removes B: A's next push drops B's key from the list, and says so;
    // a fresh clone no longer trusts it.
    b.record(&["TASK", "by_bob"]);
    b.atom_ok(&["push"]);
    a.atom_ok(&["pull"]);
    a.atom_ok(&["signers", "remove", "bob", "--force"]);
    let pushed = a.atom_json(&["push"]);
    assert_eq!(pushed["signers_action"], "updated", "{pushed:#}");
    assert_eq!(
        pushed["keys_dropped"].as_array().unwrap().len(),
        1,
        "{pushed:#}"
    );
    let c = TestEnv::new();
    let out = c.atom_err(&["clone", remote_s], 1);
    assert!(out.stderr.contains("TASK"), "{out}");
}

/// A remote whose key list was replaced by a new chain (a fresh root that
/// lists the attacker's key) is seen as rewritten by a store that checked
/// it before; the owner's push restores it.
#[test]
fn a_rewritten_key_list_is_reported_and_restored() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    a.record(&["TASK", "one"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);
    let published = remote_ref(&a, &remote, "refs/atom/signers");

    let m = TestEnv::init();
    let root = key_list_commit(
        &a,
        &remote,
        &public_line(&m, "mallory"),
        None,
        Some(&m.store().join("keys/atom_ed25519")),
    );
    a.attacker_git(&remote, &["update-ref", "refs/atom/signers", &root], b"");

    let pulled = a.atom_json(&["pull"]);
    let problem = pulled["signers_problem"].as_str().unwrap();
    assert!(problem.contains("rewritten"), "{pulled:#}");
    assert_eq!(pulled["untrusted_keys"].as_array().unwrap().len(), 0);

    let pushed = a.atom_json(&["push"]);
    assert_eq!(pushed["signers_action"], "replaced", "{pushed:#}");
    assert!(pushed["signers_problem"]
        .as_str()
        .unwrap()
        .contains("rewritten"));
    assert_eq!(remote_ref(&a, &remote, "refs/atom/signers"), published);

    // Deleting the list is restored the same way.
    a.attacker_git(&remote, &["update-ref", "-d", "refs/atom/signers"], b"");
    let pushed = a.atom_json(&["push"]);
    assert_eq!(pushed["signers_action"], "replaced", "{pushed:#}");
    assert_eq!(remote_ref(&a, &remote, "refs/atom/signers"), published);
}
