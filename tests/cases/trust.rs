//! Trust (SPEC §6): `keys/allowed_signers` means what it means to git. For
//! each variant of the file, `atom verify` and `git verify-commit` (through
//! ssh-keygen) must give the same verdict on the same atom; and a retired
//! key keeps the atoms it signed before its retirement valid.

use crate::cases::verify::{failing_ids, verify};
use crate::common::{Output, TestEnv};

/// When the table's atom was recorded: 2024-06-01 12:00:00 UTC.
const AT: &str = "2024-06-01T12:00:00Z";

/// The store's own public key, `ssh-ed25519 AAAA...` without its comment.
fn own_key(env: &TestEnv) -> String {
    let line = std::fs::read_to_string(env.store().join("keys/atom_ed25519.pub")).unwrap();
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn record_at(env: &TestEnv, at: &str, summary: &str) -> (String, String) {
    let v = env.record(&["TASK", "run_tests", "--summary", summary, "--at", at]);
    (
        v["record"]["atom_id"].as_str().unwrap().to_owned(),
        v["commit"].as_str().unwrap().to_owned(),
    )
}

/// `atom verify` and `git verify-commit <sha>` with `tz` as the local time
/// zone (the machine's when `None`).
fn verdicts(env: &TestEnv, sha: &str, tz: Option<&str>) -> (Output, Output) {
    let mut atom = env.atom_command(&["verify"]);
    let allowed = format!(
        "gpg.ssh.allowedSignersFile={}",
        env.store().join("keys/allowed_signers").display()
    );
    let mut git = env.command("git");
    git.arg("--git-dir")
        .arg(env.git_dir())
        .args(["-c", &allowed, "verify-commit", sha]);
    if let Some(tz) = tz {
        atom.env("TZ", tz);
        git.env("TZ", tz);
    }
    (
        atom.output().expect("run atom").into(),
        git.output().expect("run git").into(),
    )
}

struct Row {
    what: &'static str,
    file: String,
    tz: Option<&'static str>,
    good: bool,
}

#[test]
fn atom_verify_and_git_verify_commit_agree_on_every_allowed_signers_variant() {
    let env = TestEnv::init();
    let (_, sha) = record_at(&env, AT, "the table's atom");
    let key = own_key(&env);
    let row = |what, file: String, good| Row {
        what,
        file,
        tz: None,
        good,
    };
    let in_tz = |what, tz, file: String, good| Row {
        what,
        file,
        tz: Some(tz),
        good,
    };
    let rows = vec![
        row("plain line", format!("me {key}\n"), true),
        row(
            "namespaces=git",
            format!("me namespaces=\"git\" {key}\n"),
            true,
        ),
        row(
            "valid-before in the past",
            format!("me valid-before=\"20240101Z\" {key}\n"),
            false,
        ),
        row(
            "valid-before in the future",
            format!("me valid-before=\"20300101Z\" {key}\n"),
            true,
        ),
        row(
            "valid-before = the atom's time (inclusive)",
            format!("me valid-before=\"20240601120000Z\" {key}\n"),
            true,
        ),
        row(
            "valid-before one second before",
            format!("me valid-before=\"20240601115959Z\" {key}\n"),
            false,
        ),
        row(
            "valid-before, lowercase utc suffix",
            format!("me valid-before=\"20240602utc\" {key}\n"),
            true,
        ),
        row(
            "valid-after in the future",
            format!("me valid-after=\"20300101Z\" {key}\n"),
            false,
        ),
        row(
            "valid-after in the past",
            format!("me valid-after=\"20240101Z\" {key}\n"),
            true,
        ),
        row(
            "valid-after and valid-before around it",
            format!("me valid-after=\"20240101Z\",valid-before=\"20250101Z\" {key}\n"),
            true,
        ),
        row(
            "valid-before before valid-after: line refused",
            format!("me valid-after=\"20250101Z\",valid-before=\"20240101Z\" {key}\n"),
            false,
        ),
        row(
            "namespaces=file",
            format!("me namespaces=\"file\" {key}\n"),
            false,
        ),
        row(
            "namespaces=gi*",
            format!("me namespaces=\"gi*\" {key}\n"),
            true,
        ),
        row(
            "namespaces=file,git",
            format!("me namespaces=\"file,git\" {key}\n"),
            true,
        ),
        row(
            "NAMESPACES=git, option names in capitals",
            format!("me NAMESPACES=\"git\" {key}\n"),
            true,
        ),
        row(
            "namespaces empty",
            format!("me namespaces=\"\" {key}\n"),
            false,
        ),
        row(
            "namespaces=*,!git",
            format!("me namespaces=\"*,!git\" {key}\n"),
            false,
        ),
        row(
            "cert-authority",
            format!("me cert-authority {key}\n"),
            false,
        ),
        row(
            "cert-authority with namespaces",
            format!("me cert-authority,namespaces=\"git\" {key}\n"),
            false,
        ),
        row(
            "two lines, one expired, one valid",
            format!("me valid-before=\"20240101Z\" {key}\nme valid-after=\"20240101Z\" {key}\n"),
            true,
        ),
        row(
            "two principals, expired then valid",
            format!("old valid-before=\"20240101Z\" {key}\nnew {key}\n"),
            true,
        ),
        row(
            "two principals, first for another namespace",
            format!("alice namespaces=\"file\" {key}\nbob {key}\n"),
            false,
        ),
        row(
            "same principal, first for another namespace",
            format!("me namespaces=\"file\" {key}\nme {key}\n"),
            true,
        ),
        row("unknown option", format!("me foo=\"bar\" {key}\n"), false),
        row(
            "unknown option, then a plain line",
            format!("me foo=\"bar\" {key}\nme {key}\n"),
            true,
        ),
        row(
            "unquoted option value",
            format!("me namespaces=git {key}\n"),
            false,
        ),
        row(
            "unparsable time",
            format!("me valid-before=\"tomorrow\" {key}\n"),
            false,
        ),
        row("a comment line", format!("# me {key}\n"), false),
        row(
            "a comment, then the key",
            format!("# the store's key:\nme {key}\n"),
            true,
        ),
        row("principal list", format!("alice,bob {key}\n"), true),
        row("principal wildcard", format!("* {key}\n"), true),
        row(
            "principal list starting with a comma",
            format!(",me {key}\n"),
            false,
        ),
        row("negated principal only", format!("!x {key}\n"), false),
        row("quoted principal", format!("\"me myself\" {key}\n"), true),
        row("empty file", String::new(), false),
        // A time without Z is local time; git passes the commit's time as local time.
        // (POSIX TZ rules, so no time zone database is needed.)
        in_tz(
            "local valid-before, UTC zone",
            "UTC",
            format!("me valid-before=\"20240601120000\" {key}\n"),
            true,
        ),
        in_tz(
            "local valid-before, UTC+5:30",
            "IST-5:30",
            format!("me valid-before=\"20240601120000\" {key}\n"),
            false,
        ),
        in_tz(
            "local valid-before after 17:30, UTC+5:30",
            "IST-5:30",
            format!("me valid-before=\"202406011730\" {key}\n"),
            true,
        ),
        in_tz(
            "Z valid-before, UTC+5:30",
            "IST-5:30",
            format!("me valid-before=\"20240601120000Z\" {key}\n"),
            true,
        ),
        // ssh-keygen reads local times with mktime and tm_isdst = 0 (standard
        // time): in summer, git's verify-time lands an hour late against a Z time.
        in_tz(
            "Z valid-before in summer time",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            format!("me valid-before=\"20240601123000Z\" {key}\n"),
            false,
        ),
        in_tz(
            "Z valid-before an hour on, summer time",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            format!("me valid-before=\"20240601130000Z\" {key}\n"),
            true,
        ),
        in_tz(
            "local valid-before in summer time",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            format!("me valid-before=\"20240601140000\" {key}\n"),
            true,
        ),
        in_tz(
            "local valid-before a second early, summer time",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            format!("me valid-before=\"20240601135959\" {key}\n"),
            false,
        ),
    ];

    let path = env.store().join("keys/allowed_signers");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut table = String::new();
    let mut wrong = Vec::new();
    for r in &rows {
        std::fs::write(&path, &r.file).unwrap();
        let (atom, git) = verdicts(&env, &sha, r.tz);
        assert!(
            matches!(atom.code, 0 | 1) && matches!(git.code, 0 | 1),
            "{}: unexpected exit codes\natom: {atom}\ngit: {git}",
            r.what
        );
        let line = format!(
            "{:<50} atom {}  git {}  expected {}\n",
            r.what,
            atom.code,
            git.code,
            if r.good { 0 } else { 1 }
        );
        table.push_str(&line);
        if atom.code != git.code || (atom.code == 0) != r.good {
            wrong.push(format!("{line}atom: {atom}\ngit: {git}\n"));
        }
    }
    println!("{table}");
    assert!(wrong.is_empty(), "verdicts differ:\n{}", wrong.join("\n"));
    std::fs::write(&path, original).unwrap();
    env.atom_ok(&["verify"]);
}

#[test]
fn verify_says_why_a_listed_key_is_not_trusted() {
    let env = TestEnv::init();
    let (id, _) = record_at(&env, AT, "one");
    let key = own_key(&env);
    let path = env.store().join("keys/allowed_signers");
    for (file, reason) in [
        (
            format!("me valid-before=\"20240101Z\" {key}\n"),
            "valid-before=\"20240101Z\", earlier than the commit",
        ),
        (
            format!("me namespaces=\"file\" {key}\n"),
            "namespaces=\"file\", which excludes \"git\"",
        ),
        (
            format!("me cert-authority {key}\n"),
            "only as a cert-authority",
        ),
        (format!("# me {key}\n"), "a key not in keys/allowed_signers"),
    ] {
        std::fs::write(&path, file).unwrap();
        let (code, report, human) = verify(&env, &[]);
        assert_eq!(code, 1, "{human}");
        let reasons = report["failures"][0]["reasons"].to_string();
        assert_eq!(report["failures"][0]["atom_id"], id.as_str(), "{report:#}");
        assert!(
            reasons.contains(&reason.replace('"', "\\\"")),
            "{reason}\n{report:#}"
        );
    }
}

/// The ids of the atoms `atom --json verify ARGS` reports as failing.
fn failing(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let (_, report, _) = verify(env, args);
    failing_ids(&report)
}

fn own_name(env: &TestEnv) -> String {
    let list = env.atom_json(&["signers", "list"]);
    list["signers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["own"] == true)
        .expect("the store's own key is listed")["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A new ed25519 key pair `name`, `name.pub` in the test directory.
fn new_key(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let path = env.path().join(name);
    let out: Output = env
        .command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{out}");
    path
}

#[test]
fn a_retired_key_keeps_the_atoms_it_signed_before_valid() {
    let env = TestEnv::init();
    let me = own_name(&env);
    let (t1, t1_sha) = record_at(&env, "2024-01-01T00:00:00Z", "before");

    // The store's own key: refused without --force, as remove is.
    let out = env.atom_err(
        &["signers", "retire", &me, "--at", "2024-06-01T00:00:00Z"],
        2,
    );
    assert!(out.stderr.contains("own signing key"), "{out}");
    let retired = env.atom_json(&[
        "signers",
        "retire",
        &me,
        "--at",
        // The date grammar of the command line: midnight UTC.
        "2024-06-01",
        "--force",
    ]);
    let line = &retired["retired"][0];
    assert_eq!(line["valid_before"], "20240601000000Z", "{retired:#}");
    assert_eq!(line["changed"], true);
    assert_eq!(line["namespaces"], "git");

    let (t3, t3_sha) = record_at(&env, "2024-12-01T00:00:00Z", "after");
    assert_eq!(failing(&env, &[]), std::slice::from_ref(&t3));
    let (_, report, human) = verify(&env, &[]);
    assert!(human.stdout.contains("a retired key"), "{human}");
    assert_eq!(report["failures"][0]["atom_id"], t3.as_str());
    assert_eq!(env.git_verify_commit(&t1_sha).code, 0);
    assert_eq!(env.git_verify_commit(&t3_sha).code, 1);

    let list = env.atom_ok(&["signers", "list"]);
    assert!(list.contains("valid-before=20240601000000Z"), "{list}");
    let file = std::fs::read_to_string(env.store().join("keys/allowed_signers")).unwrap();
    assert!(
        file.contains(&format!(
            "{me} namespaces=\"git\",valid-before=\"20240601000000Z\" {}",
            own_key(&env)
        )),
        "{file}"
    );

    // A later retirement never extends trust; an earlier one moves it back.
    let later = env.atom_json(&[
        "signers",
        "retire",
        &me,
        "--at",
        "2025-01-01T00:00:00Z",
        "--force",
    ]);
    assert_eq!(later["retired"][0]["changed"], false);
    assert_eq!(later["retired"][0]["valid_before"], "20240601000000Z");
    env.atom_json(&[
        "signers",
        "retire",
        &me,
        "--at",
        "2023-12-31T23:59:59Z",
        "--force",
    ]);
    let mut both = failing(&env, &[]);
    both.sort();
    let mut want = vec![t1, t3];
    want.sort();
    assert_eq!(both, want);
    assert_eq!(env.git_verify_commit(&t1_sha).code, 1);

    env.atom_err(&["signers", "retire", "nobody"], 1);
    env.atom_err(&["signers", "retire", &me, "--at", "yesterday"], 2);
}

#[test]
fn rotating_keys_retire_the_old_one_and_a_clone_keeps_the_retirement() {
    let a = TestEnv::init();
    let old_name = own_name(&a);
    let (_, old_sha) = record_at(&a, "2024-01-01T00:00:00Z", "signed by the old key");
    let new = new_key(&a, "newkey");
    a.atom_ok(&["init", "--key", new.to_str().unwrap()]);
    let new_name = own_name(&a);
    assert_ne!(
        new_name, old_name,
        "names are unique: the new key gets another"
    );
    let retired = a.atom_json(&[
        "signers",
        "retire",
        &old_name,
        "--at",
        "2024-06-01T00:00:00Z",
    ]);
    assert_eq!(retired["retired"][0]["own"], false);
    let (_, new_sha) = record_at(&a, "2024-12-01T00:00:00Z", "signed by the new key");
    a.atom_ok(&["verify"]);
    assert_eq!(a.git_verify_commit(&old_sha).code, 0);
    assert_eq!(a.git_verify_commit(&new_sha).code, 0);

    // The old key signing now (git commit-tree -S dates the commit now) is refused.
    let tree = a.git(&["rev-parse", &format!("{new_sha}^{{tree}}")]);
    let message = crate::cases::verify::message_of(&a, &new_sha);
    let forged = crate::cases::verify::commit_tree(
        &a,
        tree.trim(),
        Some(&new_sha),
        &message,
        Some(&a.store().join("keys/atom_ed25519")),
    );
    assert_eq!(a.git_verify_commit(&forged).code, 1);

    // A clone trusts the published lines as they are: the old key stays retired.
    let remote = a.bare_remote("shared.git");
    a.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    a.atom_ok(&["push"]);
    let b = TestEnv::new();
    b.atom_ok(&["clone", remote.to_str().unwrap()]);
    let list = b.atom_json(&["signers", "list"]);
    let signers = list["signers"].as_array().unwrap();
    let names: Vec<&str> = signers
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{list:#}");
    let old_fpr = a.atom_json(&["signers", "list"])["signers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == old_name.as_str())
        .unwrap()["fingerprint"]
        .clone();
    let old_in_b = signers
        .iter()
        .find(|s| s["fingerprint"] == old_fpr)
        .unwrap();
    assert_eq!(old_in_b["valid_before"], "20240601000000Z", "{list:#}");
    b.atom_ok(&["verify"]);
}

#[test]
fn signer_names_are_unique() {
    let env = TestEnv::init();
    let alice = new_key(&env, "alice");
    let other = new_key(&env, "other");
    let pub_of = |k: &std::path::Path| format!("{}.pub", k.display());
    env.atom_ok(&["signers", "add", "alice", &pub_of(&alice)]);
    let out = env.atom_err(&["signers", "add", "alice", &pub_of(&other)], 2);
    assert!(out.stderr.contains("the name alice is taken"), "{out}");
    assert!(out.stderr.contains("alice-2"), "{out}");
    // The same key again is not an error: it is trusted already.
    let again = env.atom_json(&["signers", "add", "alice", &pub_of(&alice)]);
    assert_eq!(again["added"], false);
    // Names are literal: no allowed_signers patterns.
    for bad in ["a,b", "al*", "a?", "!x"] {
        env.atom_err(&["signers", "add", bad, &pub_of(&other)], 2);
    }
    env.atom_ok(&["signers", "add", "alice-2", &pub_of(&other)]);
    let list = env.atom_json(&["signers", "list"]);
    assert_eq!(list["signers"].as_array().unwrap().len(), 3, "{list:#}");
}
