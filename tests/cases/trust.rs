//! Trust (SPEC §6): `keys/allowed_signers` means what it means to git. For
//! each variant of the file, `atom verify` and `git verify-commit` (through
//! ssh-keygen) must give the same verdict on the same atom; and a retired
//! key keeps the atoms it signed before its retirement valid.

use crate::cases::verify::verify;
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
        in_tz(
            "local valid-before, UTC zone",
            "UTC",
            format!("me valid-before=\"20240601120000\" {key}\n"),
            true,
        ),
        in_tz(
            "local valid-before, UTC+5:30",
            "Asia/Kolkata",
            format!("me valid-before=\"20240601120000\" {key}\n"),
            false,
        ),
        in_tz(
            "local valid-before after 17:30, UTC+5:30",
            "Asia/Kolkata",
            format!("me valid-before=\"202406011730\" {key}\n"),
            true,
        ),
        in_tz(
            "Z valid-before, UTC+5:30",
            "Asia/Kolkata",
            format!("me valid-before=\"20240601120000Z\" {key}\n"),
            true,
        ),
        // ssh-keygen reads local times with mktime and tm_isdst = 0 (standard
        // time): in summer, git's verify-time lands an hour late against a Z time.
        in_tz(
            "Z valid-before in summer time",
            "Europe/Berlin",
            format!("me valid-before=\"20240601123000Z\" {key}\n"),
            false,
        ),
        in_tz(
            "Z valid-before an hour on, summer time",
            "Europe/Berlin",
            format!("me valid-before=\"20240601130000Z\" {key}\n"),
            true,
        ),
        in_tz(
            "local valid-before in summer time",
            "Europe/Berlin",
            format!("me valid-before=\"20240601140000\" {key}\n"),
            true,
        ),
        in_tz(
            "local valid-before a second early, summer time",
            "Europe/Berlin",
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
