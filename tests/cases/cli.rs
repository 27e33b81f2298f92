//! The command line as people who know git and jj expect it (issue 20): ids
//! in any case, "did you mean" for a mistyped TYPE, `atom cat`, trail
//! housekeeping, an `init` that leaves nothing half made.

use crate::common::TestEnv;

fn id_of(v: &serde_json::Value) -> String {
    v["record"]["atom_id"].as_str().expect("atom_id").to_owned()
}

#[test]
fn ids_are_accepted_in_any_case_everywhere() {
    let env = TestEnv::init();
    let first = id_of(&env.record(&["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"]));
    let second = id_of(&env.record(&["TASK", "plan", "--at", "2024-11-27T11:00:00Z"]));
    assert_eq!(first, "ATOM-CFG-20241127-001");
    let lower = first.to_lowercase();
    let mixed = "Atom-Cfg-20241127-001";

    for rev in [lower.as_str(), mixed] {
        assert_eq!(id_of(&env.atom_json(&["show", rev])), first, "show {rev}");
        assert_eq!(env.log_ids(&[rev]), [first.as_str()], "log {rev}");
    }
    assert_eq!(env.atom_json(&["trace", &lower])["root"], first.as_str());
    assert_eq!(env.atom_ok(&["export", &lower]).lines().count(), 1);
    assert_eq!(env.atom(&["verify", &lower]).code, 0);
    assert_eq!(env.atom(&["prove", &lower]).code, 0);
    let linked = env.record(&["TASK", "plan", "--influenced-by", &lower]);
    assert_eq!(
        linked["record"]["influenced_by"],
        serde_json::json!([first.as_str()])
    );
    env.atom_ok(&["fork", "from-lower", "--from", &second.to_lowercase()]);
    assert_eq!(
        env.log_ids(&["from-lower"]),
        [second.clone(), first.clone()]
    );
    let rolled = env.atom_json(&["rollback", &lower]);
    assert_eq!(
        rolled["rollback"]["record"]["previous_atom"],
        first.as_str()
    );
}

#[test]
fn a_mistyped_type_gets_a_did_you_mean() {
    let env = TestEnv::init();
    let cfg = id_of(&env.record(&["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"]));
    assert_eq!(cfg, "ATOM-CFG-20241127-001");
    for wrong in [
        "ATOM-CONFIG-20241127-001",
        "atom-task-20241127-001",
        "ATOM-CFGG-20241127-001",
    ] {
        let out = env.atom_err(&["show", wrong], 1);
        assert!(out.stderr.contains("not found"), "{out}");
        assert!(
            out.stderr.contains(&format!("hint: did you mean {cfg}?")),
            "{wrong}: {out}"
        );
        let out = env.atom_err(&["log", wrong], 1);
        assert!(out.stderr.contains("did you mean"), "{out}");
    }
    // Another number: nothing to suggest but the way to look.
    let out = env.atom_err(&["show", "ATOM-CONFIG-20241127-002"], 1);
    assert!(!out.stderr.contains("did you mean"), "{out}");
    assert!(out.stderr.contains("atom log --all"), "{out}");
    // A link to a mistyped id says what it meant too (and records nothing).
    let out = env.atom_err(
        &[
            "record",
            "TASK",
            "x",
            "--influenced-by",
            "ATOM-CONFIG-20241127-001",
        ],
        2,
    );
    assert!(
        out.stderr.contains(&format!("did you mean {cfg}?")),
        "{out}"
    );
    assert_eq!(env.log_ids(&[]).len(), 1);
}

/// `atom cat ARGS` with stdout captured as bytes: (exit code, stdout, stderr).
fn cat_raw(env: &TestEnv, args: &[&str]) -> (i32, Vec<u8>, String) {
    let mut full = vec!["cat"];
    full.extend_from_slice(args);
    let out = env.atom_command(&full).output().expect("run atom cat");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cat_writes_an_attachment_byte_for_byte() {
    let env = TestEnv::init();
    let binary: Vec<u8> = (0..=255u8)
        .cycle()
        .take(70_000)
        .chain([0xff, 0xfe, 0])
        .collect();
    let bin = env.write_file("in/blob.bin", &binary);
    let text = env.write_file("in/notes.txt", b"line one\nline two\n");
    let one = env.record(&["CFG", "x", "--attach", bin.to_str().unwrap()]);
    let one_commit = one["commit"].as_str().unwrap().to_owned();
    let one = id_of(&one);
    let two = id_of(&env.record(&[
        "CFG",
        "y",
        "--attach",
        bin.to_str().unwrap(),
        "--attach",
        text.to_str().unwrap(),
    ]));
    let none = id_of(&env.record(&["CFG", "z"]));

    // The only attachment needs no name; ids in any case, a trail, a sha.
    for rev in [one.as_str(), &one.to_lowercase()] {
        let (code, bytes, stderr) = cat_raw(&env, &[rev]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{rev}");
        assert!(bytes == binary, "{rev}: the bytes differ");
    }
    assert_eq!(cat_raw(&env, &[&one, "blob.bin"]).1, binary);
    assert_eq!(
        cat_raw(&env, &[&two, "notes.txt"]).1,
        b"line one\nline two\n"
    );
    assert_eq!(
        cat_raw(&env, &[&one_commit[..10]]).1,
        binary,
        "a sha prefix"
    );

    // Several: name one; the hint lists them.
    let out = env.atom_err(&["cat", &two], 2);
    assert!(out.stderr.contains("has 2 attachments"), "{out}");
    assert!(out.stderr.contains("blob.bin, notes.txt"), "{out}");
    let out = env.atom_err(&["cat", &two, "other.txt"], 1);
    assert!(out.stderr.contains("blob.bin, notes.txt"), "{out}");
    assert!(out.stdout.is_empty());
    let out = env.atom_err(&["cat", &none], 1);
    assert!(out.stderr.contains("has no attachments"), "{out}");
    env.atom_err(&["cat", "ATOM-CFG-20000101-001"], 1);
    // --json has no meaning for bytes.
    let out = env.atom_err(&["--json", "cat", &one], 2);
    assert!(out.stderr.contains("atom --json show"), "{out}");
}

#[test]
fn cat_into_a_closed_pipe_exits_quietly() {
    let env = TestEnv::init();
    let big = env.write_file("big.bin", &vec![b'x'; 4 << 20]);
    let id = id_of(&env.record(&["CFG", "x", "--attach", big.to_str().unwrap()]));
    let mut child = env
        .atom_command(&["cat", &id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run atom cat");
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// On a terminal (SPEC §8) text is shown with what a terminal acts on made
/// visible, and binary is refused; redirected, the bytes are exact.
#[test]
fn cat_on_a_terminal_escapes_text_and_refuses_binary() {
    let env = TestEnv::init();
    let hostile = env.write_file("t/title.txt", b"safe line\n\x1b]0;pwned\x07 and \x1b[2J\n");
    let binary = env.write_file("t/raw.bin", &[0xff, 0xfe, 0x1b, b'[', b'2', b'J']);
    let text_id = id_of(&env.record(&["CFG", "x", "--attach", hostile.to_str().unwrap()]));
    let bin_id = id_of(&env.record(&["CFG", "y", "--attach", binary.to_str().unwrap()]));
    let on_terminal = |id: &str| {
        let out = env
            .command("timeout")
            .args(["20", "script", "-qec"])
            .arg(format!(
                "{} cat {id}; echo rc=$?",
                env!("CARGO_BIN_EXE_atom")
            ))
            .arg("/dev/null")
            .output()
            .expect("run script");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal(&text_id);
    assert!(
        !shown.contains('\x1b') && !shown.contains('\x07'),
        "{shown:?}"
    );
    assert!(shown.contains(r"\x1b]0;pwned\x07 and \x1b[2J"), "{shown:?}");
    assert!(
        shown.contains("safe line") && shown.contains("rc=0"),
        "{shown:?}"
    );
    let refused = on_terminal(&bin_id);
    assert!(!refused.contains('\x1b'), "{refused:?}");
    assert!(
        refused.contains("is binary") && refused.contains("rc=2"),
        "{refused:?}"
    );
    // Redirected: exact.
    assert_eq!(
        cat_raw(&env, &[&text_id]).1,
        b"safe line\n\x1b]0;pwned\x07 and \x1b[2J\n"
    );
}

/// An attachment swapped with plain git (the record kept) is refused, not
/// printed: what cat writes is what was recorded.
#[test]
fn cat_refuses_an_attachment_changed_outside_atom() {
    let env = TestEnv::init();
    let file = env.write_file("notes.txt", b"the real notes\n");
    let v = env.record(&["CFG", "x", "--attach", file.to_str().unwrap()]);
    let id = id_of(&v);
    let commit = v["commit"].as_str().unwrap();
    let git = |args: &[&str], input: &[u8]| env.attacker_git(&env.git_dir(), args, input);
    let record = git(&["rev-parse", &format!("{commit}:atom.json")], b"");
    let evil = git(&["hash-object", "-w", "--stdin"], b"forged notes\n");
    let dir = git(
        &["mktree"],
        format!("100644 blob {evil}\tnotes.txt\n").as_bytes(),
    );
    let tree = git(
        &["mktree"],
        format!("100644 blob {record}\tatom.json\n040000 tree {dir}\tattachments\n").as_bytes(),
    );
    let message = env.git(&["log", "-1", "--format=%B", commit]);
    let forged = git(&["commit-tree", &tree, "-F", "-"], message.as_bytes());
    env.git(&["update-ref", "refs/heads/main", &forged]);
    let out = env.atom_err(&["cat", &id], 1);
    assert!(
        out.stderr
            .contains("does not match the sha256 its record lists"),
        "{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
    assert_eq!(cat_raw(&env, &[&commit[..12]]).1, b"the real notes\n");
}

/// `atom log` on a terminal goes through `$ATOM_PAGER` (git's way), not
/// with `--no-pager`, a dumb terminal or when redirected.
#[test]
fn log_pages_on_a_terminal_only() {
    let env = TestEnv::init();
    id_of(&env.record(&["CFG", "x", "--summary", "one"]));
    let on_terminal = |term: &str, flags: &str| {
        let out = env
            .command("timeout")
            .args(["20", "script", "-qec"])
            .arg(format!(
                "NO_COLOR=1 TERM={term} ATOM_PAGER='sed s/^/PAGED:/' {} log {flags}; echo rc=$?",
                env!("CARGO_BIN_EXE_atom")
            ))
            .arg("/dev/null")
            .output()
            .expect("run script");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let paged = on_terminal("xterm", "");
    assert!(
        paged.contains("PAGED:ATOM-CFG-") && paged.contains("rc=0"),
        "{paged:?}"
    );
    let direct = on_terminal("xterm", "--no-pager");
    assert!(
        !direct.contains("PAGED:") && direct.contains("ATOM-CFG-"),
        "{direct:?}"
    );
    let dumb = on_terminal("dumb", "");
    assert!(
        !dumb.contains("PAGED:") && dumb.contains("ATOM-CFG-"),
        "{dumb:?}"
    );
    let redirected = env
        .atom_command(&["log"])
        .env("TERM", "xterm")
        .env("ATOM_PAGER", "sed s/^/PAGED:/")
        .output()
        .unwrap();
    let redirected = String::from_utf8_lossy(&redirected.stdout);
    assert!(
        !redirected.contains("PAGED:") && redirected.contains("ATOM-CFG-"),
        "{redirected}"
    );
}

/// The commands `atom --help` lists.
fn listed_commands(env: &TestEnv) -> Vec<String> {
    let help = env.atom_ok(&["--help"]);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_has_examples_in_help_and_a_section_in_the_man_page() {
    let env = TestEnv::new();
    let commands = listed_commands(&env);
    assert!(commands.len() > 25, "{commands:?}");
    let man = env.atom_ok(&["man"]);
    assert!(man.starts_with(".TH ATOM 1"), "{man}");
    for c in &commands {
        let help = env.atom_ok(&[c, "--help"]);
        let examples = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("atom {c} --help has no examples:\n{help}"));
        for line in examples.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.contains("atom ") && line.contains(c.as_str()),
                "{c}: {line}"
            );
        }
        assert!(
            man.contains(&format!(".SS \"atom {c}")),
            "no section for {c} in the man page"
        );
    }
    // No line of the page starts a roff request by accident.
    for line in man.lines() {
        if let Some(rest) = line.strip_prefix('.') {
            let request = rest.split_whitespace().next().unwrap_or("");
            assert!(
                ["TH", "SH", "SS", "TP", "PP", "nf", "fi", "B"].contains(&request),
                "unexpected roff request: {line}"
            );
        }
    }
}
