//! Sharing trails (SPEC §5, §6): remote, push, pull, clone through real git
//! transports — a bare repository by path and by `file://`, and
//! `git daemon` on loopback — with trust checked on every pull.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::TestEnv;

fn refs(env: &TestEnv) -> String {
    env.git(&["for-each-ref", "--format=%(objectname) %(refname)"])
}

fn record_id(env: &TestEnv, args: &[&str]) -> String {
    env.record(args)["record"]["atom_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The `atom signers add ...` command a refused pull prints in its hint.
fn hinted_signers_add(out: &crate::common::Output) -> Vec<String> {
    let hint = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("hint: "))
        .unwrap_or_else(|| panic!("no hint:\n{out}"));
    let cmd = hint
        .split("run: ")
        .nth(1)
        .and_then(|c| c.split(" then").next())
        .unwrap_or_else(|| panic!("no command in the hint:\n{out}"))
        .trim();
    let (head, key) = cmd.split_once(" '").expect("a quoted key");
    let mut args: Vec<String> = head.split_whitespace().skip(1).map(str::to_owned).collect();
    args.push(key.trim_end_matches('\'').to_owned());
    assert_eq!(args[..2], ["signers".to_owned(), "add".to_owned()]);
    args
}

fn atom_owned(env: &TestEnv, args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.atom_ok(&args)
}

#[test]
fn two_devices_push_clone_merge_and_fast_forward() {
    let a = TestEnv::init().with_env("ATOM_AGENT", "alice");
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    a.record(&["RESEARCH", "research", "--summary", "survey"]);
    a.record(&["DECISION", "save_decision", "--summary", "pick qwen"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    let pushed = a.atom_json(&["push"]);
    let statuses: Vec<(&str, &str)> = pushed["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert!(statuses.contains(&("refs/heads/main", "new")), "{pushed:#}");
    assert!(
        statuses.contains(&("refs/atom/signers", "new")),
        "{pushed:#}"
    );

    // B clones: it trusts A's published key on first use and has A's atoms.
    let b = TestEnv::new().with_env("ATOM_AGENT", "bob");
    let cloned = b.atom_json(&["clone", remote_s]);
    let a_key = std::fs::read_to_string(a.store().join("keys/atom_ed25519.pub")).unwrap();
    let a_fpr = a.atom_json(&["signers", "list"])["signers"][0]["fingerprint"].clone();
    assert_eq!(cloned["trusted"][0]["fingerprint"], a_fpr, "{cloned:#}");
    assert_eq!(cloned["current"], "main");
    assert_eq!(cloned["pull"]["verified"], 2);
    assert!(
        std::fs::read_to_string(b.store().join("keys/allowed_signers"))
            .unwrap()
            .contains(a_key.split_whitespace().nth(1).unwrap())
    );
    assert_eq!(b.log_ids(&[]), a.log_ids(&[]));
    assert_eq!(
        b.atom_json(&["remote", "list"])["remotes"][0]["name"],
        "origin"
    );
    b.atom_ok(&["verify"]);

    // Both append; B publishes first, so A's push is refused until it pulls.
    let from_b = record_id(&b, &["TASK", "run_tests", "--summary", "on the desktop"]);
    let from_a = record_id(&a, &["TASK", "run_tests", "--summary", "on the laptop"]);
    b.atom_ok(&["push"]);
    let refused = a.atom_err(&["push"], 1);
    assert!(refused.stderr.contains("pull first"), "{refused}");

    // A does not know B's key yet: the pull is refused and changes nothing.
    let before = refs(&a);
    let out = a.atom_err(&["pull"], 1);
    assert!(
        out.stderr.contains(&from_b),
        "the refusal names the atom:\n{out}"
    );
    assert!(out.stderr.contains("not in keys/allowed_signers"), "{out}");
    assert_eq!(refs(&a), before, "a refused pull moved a ref");

    // Trusting the key the hint names lets the pull through: a MERGE atom
    // joins the two tips, local first.
    atom_owned(&a, &hinted_signers_add(&out));
    let pulled = a.atom_json(&["pull"]);
    assert_eq!(pulled["verified"], 1, "{pulled:#}");
    let main = &pulled["trails"][0];
    assert_eq!(main["trail"], "main");
    assert_eq!(main["action"], "merged");
    let merge = a.atom_json(&["show", "main"]);
    assert_eq!(merge["record"]["type"], "MERGE");
    assert_eq!(merge["record"]["operation"], "merge");
    assert_eq!(merge["record"]["atom_id"], main["merge"]);
    assert_eq!(merge["signature"]["status"], "good");
    let merge_commit = merge["commit"].as_str().unwrap();
    let parents = a.git(&["rev-list", "--parents", "-n", "1", merge_commit]);
    let parents: Vec<&str> = parents.split_whitespace().skip(1).collect();
    assert_eq!(parents.len(), 2);
    assert_eq!(
        a.atom_json(&["show", parents[0]])["record"]["summary"],
        "on the laptop"
    );
    assert_eq!(
        a.atom_json(&["show", parents[1]])["record"]["summary"],
        "on the desktop"
    );
    assert_eq!(
        a.atom_json(&["show", parents[0]])["record"]["atom_id"],
        from_a.as_str()
    );
    assert_eq!(merge["record"]["previous_atom"], from_a.as_str());
    assert_eq!(merge["record"]["merged"], serde_json::json!([from_b]));

    // A publishes the merge; B fast-forwards to it.
    a.atom_ok(&["push"]);
    let pulled = b.atom_json(&["pull"]);
    assert_eq!(pulled["trails"][0]["action"], "fast-forward", "{pulled:#}");
    assert_eq!(pulled["trails"][0]["atoms"], 2);
    assert_eq!(a.tip(), b.tip());
    assert_eq!(a.log_ids(&[]), b.log_ids(&[]));

    // Both verify (merges accepted) and stock git agrees.
    for env in [&a, &b] {
        let v = env.atom(&["--json", "verify", "--all"]);
        assert_eq!(v.code, 0, "{v}");
        let report: Value = serde_json::from_str(&v.stdout).unwrap();
        assert_eq!(report["atoms"], 5);
        env.cross_check();
    }

    // Both devices minted the same number the same day: the id is
    // ambiguous now, and a commit prefix still names each atom.
    if from_a == from_b {
        let out = a.atom_err(&["show", &from_a], 1);
        assert!(out.stderr.contains("ambiguous"), "{out}");
        assert!(out.stderr.contains(parents[0]) && out.stderr.contains(parents[1]));
        a.atom_ok(&["show", &parents[1][..10]]);
        let shown = a.atom_json(&["show", &format!("{from_a}@{}", &parents[1][..8])]);
        assert_eq!(shown["record"]["summary"], "on the desktop");
        let mismatch = format!("{from_a}@{}", &merge_commit[..8]);
        a.atom_err(&["show", &mismatch], 1);

        // A link to it is refused until a handle says which atom it means.
        let refused = a.atom_err(&["record", "TASK", "review", "--influenced-by", &from_a], 1);
        for p in &parents {
            assert!(
                refused.stderr.contains(&format!("{from_a}@{}", &p[..12])),
                "{refused}"
            );
        }
        assert!(
            refused.stderr.contains("agent bob") && refused.stderr.contains("agent alice"),
            "{refused}"
        );
        let handle = format!("{from_a}@{}", &parents[1][..8]);
        let linked = a.record(&["TASK", "review", "--influenced-by", &handle]);
        assert_eq!(
            linked["record"]["influenced_by"],
            serde_json::json!([from_a])
        );
        assert_eq!(
            linked["record"]["metadata"]["influenced_by_commits"][&from_a],
            parents[1]
        );
        let by_sha = a.record(&["TASK", "review", "--influenced-by", &parents[0][..10]]);
        assert_eq!(
            by_sha["record"]["metadata"]["influenced_by_commits"][&from_a],
            parents[0]
        );
        let wrong = format!("ATOM-TASK-20200101-001@{}", &parents[0][..10]);
        a.atom_err(&["record", "TASK", "review", "--influenced-by", &wrong], 1);
        a.atom_ok(&["verify", "--all"]);
    }
    assert_eq!(from_a, from_b, "both devices minted the same id");
}

#[test]
fn forged_or_unsigned_atoms_on_the_remote_are_refused() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    a.record(&["TASK", "one"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);
    let b = TestEnv::new();
    b.atom_ok(&["clone", remote_s]);

    // Someone with write access appends a commit with plain git: same tree,
    // no signature.
    let git_remote = |args: &[&str]| a.attacker_git(&remote, args, b"");
    let tip = git_remote(&["rev-parse", "refs/heads/main"]);
    let forged = git_remote(&[
        "commit-tree",
        &format!("{tip}^{{tree}}"),
        "-p",
        &tip,
        "-m",
        "x",
    ]);
    git_remote(&["update-ref", "refs/heads/main", &forged, &tip]);

    let before = refs(&b);
    let out = b.atom_err(&["pull"], 1);
    assert!(
        out.stderr.contains(&forged[..12]),
        "names the commit:\n{out}"
    );
    assert!(out.stderr.contains("not signed"), "{out}");
    assert_eq!(refs(&b), before);
    b.atom_ok(&["verify"]);

    // An atom signed by a key nobody trusts is refused too, naming the key.
    git_remote(&["update-ref", "refs/heads/main", &tip, &forged]);
    let rogue = TestEnv::new();
    rogue.atom_ok(&["clone", remote_s]);
    let rogue_id = record_id(&rogue, &["TASK", "sneaky"]);
    // The rogue store's own push would publish its key; push the trail with
    // plain git instead, as an attacker with write access could.
    let out = rogue
        .command("git")
        .arg("--git-dir")
        .arg(rogue.git_dir())
        .args(["push", "-q", remote_s, "refs/heads/main:refs/heads/main"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = b.atom_err(&["pull"], 1);
    assert!(out.stderr.contains(&rogue_id), "{out}");
    assert!(out.stderr.contains("atom signers add"), "{out}");
    assert_eq!(refs(&b), before);
}

#[test]
fn unreachable_remote_and_bad_names() {
    let a = TestEnv::init();
    a.record(&["TASK", "one"]);
    let before = refs(&a);
    let missing = a.path().join("no-such-remote.git");
    a.atom_ok(&["remote", "add", "gone", missing.to_str().unwrap()]);
    for cmd in [["pull", "gone"], ["push", "gone"]] {
        let out = a.atom_err(&cmd, 1);
        assert!(out.stderr.contains("gone"), "{out}");
    }
    assert_eq!(refs(&a), before);

    a.atom_err(&["pull", "nowhere"], 2);
    a.atom_err(&["remote", "add", "--", "-bad", "x"], 2);
    a.atom_err(&["remote", "add", "a/b", "x"], 2);
    a.atom_err(&["remote", "add", "gone", "elsewhere"], 2);
    a.atom_err(&["push", "gone", "no..trail"], 2);
    let listed = a.atom_json(&["remote", "list"]);
    assert_eq!(listed["remotes"].as_array().unwrap().len(), 1);
    a.atom_ok(&["remote", "remove", "gone"]);
    assert_eq!(
        a.atom_json(&["remote", "list"])["remotes"],
        serde_json::json!([])
    );

    // Cloning from nowhere leaves no half-made store behind.
    let b = TestEnv::new();
    let target = b.path().join("clone");
    b.atom_err(
        &["clone", missing.to_str().unwrap(), target.to_str().unwrap()],
        1,
    );
    assert!(!target.exists(), "a failed clone left {}", target.display());
    // Nor does cloning into a store that exists.
    b.atom_err(&["clone", "x", a.store().to_str().unwrap()], 2);
}

/// `git daemon` serving `base` on a free loopback port, stopped on drop.
pub(crate) struct Daemon {
    child: Child,
    pub(crate) port: u16,
}

impl Daemon {
    pub(crate) fn start(env: &TestEnv, base: &Path) -> Daemon {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // `git daemon` runs `git-daemon` as a child: start that directly, so
        // that stopping it closes the port.
        let exec_path = env.command("git").arg("--exec-path").output().unwrap();
        let exec_path = String::from_utf8(exec_path.stdout).unwrap();
        let child = env
            .command(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, port }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn over_git_daemon_and_file_urls() {
    let a = TestEnv::init();
    let base = a.path().join("served");
    std::fs::create_dir(&base).unwrap();
    a.bare_remote("served/trails.git");
    let daemon = Daemon::start(&a, &base);
    let url = format!("git://127.0.0.1:{}/trails.git", daemon.port);
    a.record(&["TASK", "one"]);
    a.atom_ok(&["fork", "side", "--switch"]);
    a.record(&["TASK", "two"]);
    a.atom_ok(&["remote", "add", "origin", &url]);
    a.atom_ok(&["push"]);

    // Clone over the network, and over file:// (both trails arrive).
    let b = TestEnv::new();
    b.atom_ok(&["clone", &url]);
    let c = TestEnv::new();
    let file_url = format!("file://{}", base.join("trails.git").display());
    c.atom_ok(&["clone", &file_url]);
    for env in [&b, &c] {
        assert_eq!(env.log_ids(&["side"]), a.log_ids(&["side"]));
        assert_eq!(env.log_ids(&["main"]), a.log_ids(&["main"]));
        env.atom_ok(&["verify", "--all"]);
    }

    // An append on B reaches A over the daemon; only `side` is pulled.
    b.atom_ok(&["switch", "side"]);
    b.atom_ok(&["push"]);
    let b_key = b.store().join("keys/atom_ed25519.pub");
    a.atom_ok(&["signers", "add", "bob", b_key.to_str().unwrap()]);
    let added = record_id(&b, &["TASK", "three"]);
    b.atom_ok(&["push", "origin", "side"]);
    let pulled = a.atom_json(&["pull", "origin", "side"]);
    assert_eq!(pulled["trails"].as_array().unwrap().len(), 1, "{pulled:#}");
    assert_eq!(pulled["trails"][0]["action"], "fast-forward");
    assert_eq!(a.log_ids(&["side"])[0], added);
    a.atom_err(&["pull", "origin", "nosuchtrail"], 1);
    a.cross_check();
    drop(daemon);

    // The daemon is gone: a clear error, and nothing changes.
    let before = refs(&a);
    let out = a.atom_err(&["pull"], 1);
    assert!(
        out.stderr.starts_with("error: fetch origin failed"),
        "{out}"
    );
    assert_eq!(refs(&a), before);
}

/// A rollback travels: the device that rolled back pushes over the tip it
/// discarded (with a lease on that tip), and a device whose tip it
/// discarded follows it on pull, keeping its own tip under an archive ref,
/// instead of merging the discarded atoms back.
#[test]
fn a_rollback_is_pushed_and_followed_by_the_other_device() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    let one = record_id(&a, &["TASK", "one"]);
    record_id(&a, &["TASK", "two"]);
    let three = record_id(&a, &["TASK", "three"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);
    let b = TestEnv::new();
    b.atom_ok(&["clone", remote_s]);

    a.atom_ok(&["rollback", &one, "--yes"]);
    let pushed = a.atom_json(&["push"]);
    let main = pushed["refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "refs/heads/main")
        .unwrap()
        .clone();
    assert_eq!(main["status"], "rolled back", "{pushed:#}");
    let a_tip = a.git(&["rev-parse", "main"]);
    assert_eq!(
        a.attacker_git(&remote, &["rev-parse", "refs/heads/main"], b""),
        a_tip.trim()
    );

    let b_before = b.git(&["rev-parse", "main"]);
    let pulled = b.atom_json(&["pull"]);
    let action = pulled["trails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trail"] == "main")
        .unwrap()["action"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(action.starts_with("followed a rollback"), "{pulled:#}");
    assert_eq!(
        b.git(&["rev-parse", "main"]),
        a_tip,
        "B follows A's rollback"
    );
    // Nothing is lost: B's old tip is archived, and the log still reaches it.
    let archives = b.git(&[
        "for-each-ref",
        "--format=%(objectname)",
        "refs/atom/archive/",
    ]);
    assert!(archives.contains(b_before.trim()), "{archives}");
    let ids = b.log_ids(&[]);
    assert!(
        !ids.contains(&three),
        "the discarded atom is off B's trail: {ids:?}"
    );
    b.atom_ok(&["verify", "--all"]);
    a.atom_ok(&["verify", "--all"]);

    // Someone else's tip (not one the rollback discarded) is never pushed over.
    b.record(&["TASK", "after"]);
    b.atom_ok(&["push"]);
    a.atom_ok(&["rollback", &one, "--yes"]);
    let out = a.atom(&["push"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("refs/heads/main"), "{out}");
}

/// A device that rewrites its history and signs it again (same ids, other
/// content, same key) is refused by the other device's pull, naming the
/// id, instead of being merged with duplicate-id warnings.
#[test]
fn re_signed_history_from_the_same_key_is_refused() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    record_id(&a, &["TASK", "one"]);
    let two = record_id(&a, &["TASK", "two"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);
    let b = TestEnv::new();
    b.atom_ok(&["clone", remote_s]);

    // A drops its tip with plain git and mints the same id again, with
    // other content, signed by the same key; then force-pushes with git.
    a.git(&["update-ref", "refs/heads/main", "main~1"]);
    let line =
        format!("{{\"atom_id\":\"{two}\",\"operation\":\"other\",\"summary\":\"rewritten\"}}\n");
    let file = a.write_file("again.jsonl", line.as_bytes());
    // Its log remembers the id: import refuses it...
    let out = a.atom_err(&["import", file.to_str().unwrap()], 2);
    assert!(
        out.stderr.contains("transparency log already holds"),
        "{out}"
    );
    // ...until the log and the index are deleted by hand.
    a.git(&["update-ref", "-d", "refs/atom/log"]);
    std::fs::remove_file(a.store().join("index.sqlite")).unwrap();
    a.atom_ok(&["import", file.to_str().unwrap()]);
    let out = a
        .command("git")
        .arg("--git-dir")
        .arg(a.git_dir())
        .args([
            "push",
            "-q",
            "-f",
            remote_s,
            "refs/heads/main:refs/heads/main",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let before = b.git(&["for-each-ref"]);
    let out = b.atom_err(&["pull"], 1);
    assert!(out.stderr.contains(&two), "{out}");
    assert!(out.stderr.contains("signed again"), "{out}");
    assert_eq!(b.git(&["for-each-ref"]), before);
}

/// `signers list`: `(name, own)` of each trusted key.
fn signer_names(env: &TestEnv) -> Vec<(String, bool)> {
    env.atom_json(&["signers", "list"])["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["own"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn two_machines_with_one_host_name_get_distinct_signer_names() {
    let a = TestEnv::new().with_env("ATOM_HOST", "vm");
    let init = a.atom_json(&["init"]);
    let a_name = init["name"].as_str().unwrap().to_owned();
    assert!(
        a_name.starts_with("vm-") && a_name.len() == "vm-".len() + 6,
        "{a_name}"
    );
    let fpr = init["fingerprint"].as_str().unwrap();
    assert_eq!(&a_name[3..], &fpr["SHA256:".len()..][..6]);
    assert_eq!(signer_names(&a), [(a_name.clone(), true)]);
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    a.record(&["TASK", "run_tests", "--summary", "on vm one"]);
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.atom_ok(&["push"]);

    // B, on a machine of the same host name: asking for A's name is refused
    // with a free one proposed, and nothing is left behind.
    let b = TestEnv::new().with_env("ATOM_HOST", "vm");
    let taken = b.atom_err(&["clone", remote_s, "--name", &a_name], 1);
    assert!(
        taken
            .stderr
            .contains(&format!("the name {a_name} is taken")),
        "{taken}"
    );
    assert!(
        taken.stderr.contains(&format!("--name {a_name}-2")),
        "{taken}"
    );
    assert!(
        !b.store().join("trail.git").exists(),
        "a refused clone left a store"
    );
    b.atom_err(&["clone", remote_s, "--name", "two words"], 2);
    let cloned = b.atom_json(&["clone", remote_s]);
    assert_eq!(cloned["trusted"][0]["name"], a_name.as_str(), "{cloned:#}");
    let b_names = signer_names(&b);
    let b_name = b_names.iter().find(|(_, own)| *own).unwrap().0.clone();
    assert!(b_name.starts_with("vm-") && b_name != a_name, "{b_names:?}");
    b.record(&["TASK", "run_tests", "--summary", "on vm two"]);
    b.atom_ok(&["push"]);

    // B's key is not published until A trusts it (the list in custody is
    // A's): A's pull hint proposes a free name, never A's own, and A's name
    // refuses B's key.
    let out = a.atom_err(&["pull"], 1);
    let mut add = hinted_signers_add(&out);
    assert_ne!(add[2], a_name, "{out}");
    add[2] = b_name.clone();
    let refused = a.atom_err(&["signers", "add", &a_name, &add[3]], 2);
    assert!(refused.stderr.contains(&format!("{a_name}-2")), "{refused}");
    atom_owned(&a, &add);
    a.atom_ok(&["pull"]);
    assert_eq!(
        signer_names(&a),
        [(a_name.clone(), true), (b_name.clone(), false)]
    );
    // Removing B's name removes B's key only.
    a.atom_ok(&["signers", "remove", &b_name]);
    assert_eq!(signer_names(&a), [(a_name, true)]);

    // A key given with --key is named by its comment; --name wins over it.
    let c = TestEnv::new();
    let key = c.path().join("laptop_key");
    let made = c
        .command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice-laptop", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(made.status.success());
    let init = c.atom_json(&["init", "--key", key.to_str().unwrap()]);
    assert_eq!(init["name"], "alice-laptop");
    let d = TestEnv::new();
    let init = d.atom_json(&["init", "--name", "desk"]);
    assert_eq!(init["name"], "desk");
    let bad = TestEnv::new();
    bad.atom_err(&["init", "--name", "#x"], 2);
    assert!(!bad.store().exists(), "a refused init made a store");
}
