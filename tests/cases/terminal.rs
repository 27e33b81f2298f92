//! Terminal safety (SPEC §8): human output never passes control characters
//! or invisible format characters from stored data to the terminal, `--json`
//! keeps them exactly, and a command printed for pasting is quoted so that a
//! shell runs nothing hidden in a name.

use serde_json::json;

use crate::common::{Output, TestEnv};

/// Sets the terminal's title (OSC 0), then clears the screen.
const TITLE: &str = "\x1b]0;pwned\x07";
const CLEAR: &str = "\x1b[2J";
/// RIGHT-TO-LEFT OVERRIDE: shows `right` as `thgir`.
const RLO: &str = "\u{202e}";

/// What a terminal acts on or does not show: controls (but the newlines
/// that end lines), bidi controls, zero-width and other format characters.
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'
        )
}

/// Run `atom ARGS` and require that nothing it printed is hidden.
fn human(env: &TestEnv, args: &[&str]) -> Output {
    let out = env.atom(args);
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if let Some(c) = text.chars().find(|c| hidden(*c)) {
            panic!(
                "atom {args:?} printed {c:?} raw on {stream}:\n{}",
                text.escape_debug()
            );
        }
    }
    out
}

#[test]
fn stored_text_reaches_the_terminal_escaped_and_json_exactly() {
    let env = TestEnv::init();
    // What `record` itself accepts: bidi overrides in one-line fields, a tab
    // in the summary, anything in metadata strings and keys.
    let summary = format!("left{RLO}right\tTab");
    let meta = json!({
        "title": TITLE,
        "clear": CLEAR,
        "rlo": RLO,
        "nl": "one\ntwo",
        "c1": "\u{9b}2J",
        "\x1b[2Jkey": 1,
    });
    let first = env.record(&[
        "RESEARCH",
        "look",
        "--at",
        "2024-11-27T10:00:00Z",
        "--summary",
        &summary,
        "--agent",
        &format!("mal{RLO}lory"),
        "--project",
        &format!("proj{RLO}x"),
        "--meta",
        &meta.to_string(),
    ]);
    assert_eq!(first["record"]["metadata"], meta);

    // What only plain git can write into the store: controls in the summary
    // and the agent, a newline in a one-line field, names of trails and of a
    // signer.
    let tip = env.tip().unwrap();
    let hostile_summary = format!("{TITLE}{CLEAR}line\nbreak");
    let hostile_agent = "\x1b[31mred";
    let mut record = json!({
        "atom_id": "ATOM-TASK-20241127-002",
        "type": "TASK",
        "operation": "op",
        "agent": hostile_agent,
        "timestamp": "2024-11-27T11:00:00Z",
        "previous_atom": first["record"]["atom_id"],
        "previous_digest": first["record"]["digest"],
        "influenced_by": [],
        "project": null,
        "summary": hostile_summary,
        "metadata": {"k": TITLE},
        "token_cost": null,
        "attachments": [],
    });
    let canonical = env.python_canonical(&[&record]).remove(0);
    record["digest"] = canonical.digest.into();
    let text = env.python_canonical(&[&record]).remove(0).text;
    let git = |args: &[&str], input: &[u8]| env.attacker_git(&env.git_dir(), args, input);
    let blob = git(&["hash-object", "-w", "--stdin"], text.as_bytes());
    let tree = git(
        &["mktree"],
        format!("100644 blob {blob}\tatom.json\n").as_bytes(),
    );
    let commit = git(&["commit-tree", &tree, "-p", &tip, "-m", "TASK: op"], b"");
    git(&["update-ref", "refs/heads/main", &commit, &tip], b"");
    let evil_trail = format!("evil{RLO}txt");
    git(
        &["update-ref", &format!("refs/heads/{evil_trail}"), &commit],
        b"",
    );
    git(&["update-ref", "refs/heads/c1\u{9b}2J", &commit], b"");
    let other = TestEnv::init();
    let other_key = std::fs::read_to_string(other.store().join("keys/atom_ed25519.pub")).unwrap();
    let other_key = other_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let signers = env.store().join("keys/allowed_signers");
    let mut list = std::fs::read_to_string(&signers).unwrap();
    list.push_str(&format!("{TITLE}{RLO} namespaces=\"git\" {other_key}\n"));
    std::fs::write(&signers, list).unwrap();

    // An atom built on the hostile one, for trace.
    let third = env.record(&[
        "DECISION",
        "decide",
        "--at",
        "2024-11-27T12:00:00Z",
        "--influenced-by",
        "ATOM-TASK-20241127-002",
    ]);
    let third_id = third["record"]["atom_id"].as_str().unwrap();

    let escaped_title = r"\x1b]0;pwned\x07";
    let log = human(&env, &["log"]).stdout;
    assert!(
        log.contains(&format!(r"{escaped_title}\x1b[2Jline\nbreak")),
        "{log}"
    );
    assert!(log.contains(r"\x1b[31mred"), "{log}");
    assert!(log.contains(r"left\u{202e}right\tTab"), "{log}");
    assert_eq!(log.lines().count(), 3, "one line per atom:\n{log}");
    human(&env, &["log", "--graph", "--all"]);
    let show = human(&env, &["show", "ATOM-TASK-20241127-002"]).stdout;
    assert!(show.contains(r"\x1b[2Jline\nbreak"), "{show}");
    let show = human(&env, &["show", "ATOM-RESEARCH-20241127-001"]).stdout;
    for escaped in [
        r"mal\u{202e}lory",
        r"proj\u{202e}x",
        r#""\u{202e}""#,
        r"\u{9b}2J",
    ] {
        assert!(show.contains(escaped), "{escaped}: {show}");
    }
    for args in [
        &["trace", third_id][..],
        &["trace", "ATOM-TASK-20241127-002", "--down"],
        &["trace", third_id, "--format", "mermaid"],
        &["trace", third_id, "--format", "dot"],
    ] {
        let out = human(&env, args).stdout;
        assert!(out.contains(r"\x1b[31mred"), "{args:?}: {out}");
    }
    let trails = human(&env, &["trails"]).stdout;
    assert!(trails.contains(r"evil\u{202e}txt"), "{trails}");
    assert!(trails.contains(r"c1\u{9b}2J"), "{trails}");
    let query = human(
        &env,
        &[
            "query",
            "SELECT atom_id, agent, summary, project, metadata FROM atoms",
        ],
    )
    .stdout;
    assert!(query.contains(escaped_title), "{query}");
    let stats = human(&env, &["stats", "--by", "agent"]).stdout;
    assert!(stats.contains(r"mal\u{202e}lory"), "{stats}");
    assert!(stats.contains(r"\x1b[31mred"), "{stats}");
    human(&env, &["stats", "--by", "project"]);
    human(&env, &["search", "pwned"]);
    let signers_list = human(&env, &["signers", "list"]).stdout;
    assert!(
        signers_list.contains(&format!(r"{escaped_title}\u{{202e}}")),
        "{signers_list}"
    );
    let verify = human(&env, &["verify", "--all"]);
    assert_eq!(verify.code, 1, "the hand-made atom is unsigned: {verify}");
    human(&env, &["show", "no-such\x1b[2J-trail"]);

    // --json keeps every value exactly.
    let shown = env.atom_json(&["show", "ATOM-TASK-20241127-002"]);
    assert_eq!(shown["record"]["summary"], hostile_summary.as_str());
    assert_eq!(shown["record"]["agent"], hostile_agent);
    let shown = env.atom_json(&["show", "ATOM-RESEARCH-20241127-001"]);
    assert_eq!(shown["record"]["metadata"], meta);
    assert_eq!(shown["record"]["summary"], summary.as_str());
    let trails = env.atom_json(&["trails"]);
    let names: Vec<&str> = trails["trails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&evil_trail.as_str()), "{trails:#}");
    let stats = env.atom_json(&["stats", "--by", "agent"]);
    assert!(
        stats
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == hostile_agent),
        "{stats:#}"
    );
    let listed = env.atom_json(&["signers", "list"]);
    assert!(
        listed["signers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == format!("{TITLE}{RLO}")),
        "{listed:#}"
    );
}

#[test]
fn a_hinted_command_with_a_hostile_signer_name_runs_nothing() {
    // B's key is named a shell injection.
    let hostile = "o'k;touch${IFS}PWNED;$(touch${IFS}PWNED2)`touch${IFS}PWNED3`";
    let b = TestEnv::new();
    b.atom_ok(&["init", "--name", hostile]);
    let remote = b.bare_remote("shared.git");
    b.record(&["TASK", "from-b"]);
    b.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    b.atom_ok(&["push"]);
    let b_name = std::fs::read_to_string(b.store().join("keys/allowed_signers")).unwrap();
    let b_name = b_name.split_whitespace().next().unwrap().to_owned();
    assert!(b_name.starts_with(hostile), "{b_name}");

    let a = TestEnv::init();
    a.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let out = a.atom_err(&["pull"], 1);
    let hint = out.stderr.lines().nth(1).unwrap();
    let command = hint
        .split_once("run: atom ")
        .and_then(|(_, rest)| rest.split_once(" then pull again"))
        .unwrap_or_else(|| panic!("no command in the hint:\n{out}"))
        .0;

    // The shell sees exactly the four words, and runs nothing.
    let dir = a.path().join("sh");
    std::fs::create_dir(&dir).unwrap();
    let printed: Output = a
        .command("sh")
        .arg("-c")
        .arg(format!("printf '%s\\n' {command}"))
        .current_dir(&dir)
        .output()
        .unwrap()
        .into();
    assert_eq!(printed.code, 0, "{printed}");
    let words: Vec<&str> = printed.stdout.lines().collect();
    let b_key = std::fs::read_to_string(b.store().join("keys/atom_ed25519.pub")).unwrap();
    let b_key = b_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        words,
        ["signers", "add", b_name.as_str(), b_key.as_str()],
        "{hint}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "the hinted command ran something"
    );

    // Pasted as printed, it trusts B's key.
    a.atom_ok(&words);
    a.atom_ok(&["pull"]);
    a.atom_ok(&["verify"]);
}
