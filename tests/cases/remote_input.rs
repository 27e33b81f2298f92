//! A remote is untrusted input (SPEC §6): refs that are not commits, names
//! a local trail cannot have, unrelated histories and oversized files are
//! refused before any local ref changes, naming them. Plain git plays the
//! remote.

use std::path::Path;

use crate::common::TestEnv;

/// A store with one pushed atom, and its remote.
fn pushed() -> (TestEnv, std::path::PathBuf) {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    a.record(&["TASK", "one"]);
    a.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    a.atom_ok(&["push"]);
    (a, remote)
}

fn local_refs(env: &TestEnv) -> String {
    env.git(&["for-each-ref", "--format=%(objectname) %(refname)"])
}

fn on_remote(env: &TestEnv, remote: &Path, args: &[&str]) -> String {
    env.attacker_git(remote, args, b"")
}

/// Write a loose ref file by hand, as git itself refuses to point a branch
/// at anything but a commit.
fn write_ref(remote: &Path, name: &str, target: &str) {
    let path = remote.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("{target}\n")).unwrap();
}

#[test]
fn remote_refs_that_are_not_commits_or_have_bad_names_are_refused_before_anything_changes() {
    let (a, remote) = pushed();
    let tip = on_remote(&a, &remote, &["rev-parse", "refs/heads/main"]);
    let blob = a.attacker_git(&remote, &["hash-object", "-w", "--stdin"], b"not an atom");
    let tree = on_remote(&a, &remote, &["rev-parse", &format!("{tip}^{{tree}}")]);
    // A legitimate new trail beside the bad refs must not be created either.
    on_remote(&a, &remote, &["update-ref", "refs/heads/fresh", &tip]);

    let cases: Vec<(String, String, &str)> = vec![
        ("refs/heads/x".into(), blob.clone(), "blob"),
        ("refs/heads/t".into(), tree.clone(), "tree"),
        ("refs/heads/-rf".into(), tip.clone(), "-rf"),
        ("refs/heads/HEAD".into(), tip.clone(), "HEAD"),
        ("refs/heads/exp/sub".into(), tip.clone(), "exp/sub"),
        (
            "refs/heads/\u{202e}evil".into(),
            tip.clone(),
            "\\u{202e}evil",
        ),
        ("refs/atom/archive/main".into(), tip.clone(), "archive/main"),
    ];
    for (name, target, shown) in &cases {
        write_ref(&remote, name, target);
        let before = local_refs(&a);
        let out = a.atom_err(&["pull"], 1);
        assert!(out.stderr.starts_with("error: "), "{out}");
        assert!(out.stderr.contains(shown), "{name}: names it:\n{out}");
        assert!(!out.stderr.contains('\u{202e}'), "escaped:\n{out}");
        assert_eq!(local_refs(&a), before, "{name}: something changed");
        std::fs::remove_file(remote.join(name)).unwrap();
    }
    // A single good trail can still be pulled by name while junk is there.
    write_ref(&remote, "refs/heads/x", &blob);
    a.atom_ok(&["pull", "origin", "fresh"]);
    assert!(local_refs(&a).contains("refs/heads/fresh"));

    // The local half: every command still works.
    for args in [
        &["log"][..],
        &["trails"],
        &["verify"],
        &["record", "TASK", "two"],
    ] {
        a.atom_ok(args);
    }
}

#[test]
fn a_published_key_list_that_is_a_blob_blocks_neither_pull_nor_push() {
    let (a, remote) = pushed();
    let blob = a.attacker_git(&remote, &["hash-object", "-w", "--stdin"], b"junk");
    write_ref(&remote, "refs/atom/signers", &blob);
    let pulled = a.atom_json(&["pull"]);
    assert!(pulled["signers_problem"].as_str().is_some(), "{pulled:#}");
    a.record(&["TASK", "two"]);
    let pushed = a.atom_json(&["push"]);
    assert_eq!(pushed["signers_action"], "replaced", "{pushed:#}");
    let kind = on_remote(&a, &remote, &["cat-file", "-t", "refs/atom/signers"]);
    assert_eq!(kind, "commit");
}

#[test]
fn an_unrelated_history_under_a_known_trail_name_needs_allow_unrelated() {
    let (a, remote) = pushed();
    // Another store's trail, also called main, pushed over with plain git.
    let b = TestEnv::init();
    b.record(&["TASK", "elsewhere"]);
    let a_key = std::fs::read_to_string(a.store().join("keys/atom_ed25519.pub")).unwrap();
    let _ = a_key;
    let b_key = std::fs::read_to_string(b.store().join("keys/atom_ed25519.pub")).unwrap();
    let b_key: Vec<&str> = b_key.split_whitespace().take(2).collect();
    a.atom_ok(&["signers", "add", "other", &b_key.join(" ")]);
    let out = b
        .command("git")
        .arg("--git-dir")
        .arg(b.git_dir())
        .args(["push", "-q", "-f"])
        .arg(&remote)
        .arg("refs/heads/main:refs/heads/main")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let before = local_refs(&a);
    let out = a.atom_err(&["pull"], 1);
    assert!(out.stderr.contains("no history"), "{out}");
    assert!(out.stderr.contains("--allow-unrelated"), "{out}");
    assert_eq!(local_refs(&a), before);

    let pulled = a.atom_json(&["pull", "--allow-unrelated"]);
    assert_eq!(pulled["trails"][0]["action"], "merged", "{pulled:#}");
    a.atom_ok(&["verify"]);
}

#[test]
fn an_oversized_file_from_a_remote_is_refused_unread() {
    let (a, remote) = pushed();
    // The tip again with a 100 MiB attachment, signed by the trusted key:
    // only the size is wrong.
    let tip = on_remote(&a, &remote, &["rev-parse", "refs/heads/main"]);
    let big = a.path().join("big.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(100 << 20).unwrap();
    let blob = on_remote(&a, &remote, &["hash-object", "-w", big.to_str().unwrap()]);
    let record = on_remote(&a, &remote, &["rev-parse", &format!("{tip}:atom.json")]);
    let att = a.attacker_git(
        &remote,
        &["mktree"],
        format!("100644 blob {blob}\tbig.bin\n").as_bytes(),
    );
    let tree = a.attacker_git(
        &remote,
        &["mktree"],
        format!("100644 blob {record}\tatom.json\n040000 tree {att}\tattachments\n").as_bytes(),
    );
    let signing_key = format!(
        "user.signingkey={}",
        a.store().join("keys/atom_ed25519").display()
    );
    let message = on_remote(&a, &remote, &["log", "-1", "--format=%B", &tip]);
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
            "-F",
            "-",
        ],
        message.as_bytes(),
    );
    on_remote(&a, &remote, &["update-ref", "refs/heads/big", &evil]);
    let before = local_refs(&a);
    let out = a.atom_err(&["pull"], 1);
    assert!(out.stderr.contains("more than the 64 MiB"), "{out}");
    assert_eq!(local_refs(&a), before);

    // The same commit in the store itself (written with plain git): verify
    // refuses it without reading the file, so its memory stays far below
    // the file's size (peak RSS of the process, measured by the kernel).
    a.git(&["update-ref", "refs/heads/big", &evil]);
    let script = format!(
        "import resource, subprocess, sys\n\
         r = subprocess.run([{bin:?}, 'verify', 'big'], capture_output=True)\n\
         print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n",
        bin = env!("CARGO_BIN_EXE_atom")
    );
    let out = a.command("python3").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let code: i32 = parts.next().unwrap().parse().unwrap();
    let max_kib: u64 = parts.next().unwrap().parse().unwrap();
    assert_eq!(code, 1, "{text}");
    assert!(max_kib < 80 * 1024, "verify peaked at {max_kib} KiB");
}
