//! Capture from coding agents (SPEC §11): `atom agents install` against real
//! settings files that already hold other hooks, and the agents' documented
//! example payloads (`tests/fixtures/agents/`) fed through `atom hook AGENT
//! EVENT`, drained into atoms of a real store.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{Output, TestEnv};

fn fixture(agent: &str, name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(agent)
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).expect("read a fixture");
    serde_json::from_str(&text).expect("fixtures are JSON")
}

/// A project directory (a git work tree) inside the test directory.
fn project(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.path().join(name);
    std::fs::create_dir_all(dir.join(".git")).expect("create a project");
    dir
}

/// Run `atom ARGS` in `dir`.
fn atom_in(env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
    Output::from(
        env.atom_command(args)
            .current_dir(dir)
            .output()
            .expect("run atom"),
    )
}

/// Feed `payload` to `atom hook AGENT EVENT` with the project's directory
/// (and `transcript`) in place of the documented placeholders.
fn hook(
    env: &TestEnv,
    agent: &str,
    event: &str,
    mut payload: Value,
    cwd: &Path,
    transcript: Option<&Path>,
) -> Output {
    let o = payload.as_object_mut().expect("an object");
    if o.contains_key("cwd") {
        o.insert("cwd".into(), json!(cwd));
    }
    if o.contains_key("workspace_roots") {
        o.insert("workspace_roots".into(), json!([cwd]));
    }
    if let Some(t) = transcript {
        o.insert("transcript_path".into(), json!(t));
    }
    let out = env.atom_stdin(
        &["hook", agent, event],
        serde_json::to_string(&payload).unwrap().as_bytes(),
    );
    assert_eq!(out.code, 0, "a hook always exits 0:\n{out}");
    assert!(out.stderr.is_empty(), "the hook warned:\n{out}");
    out
}

fn drain(env: &TestEnv) -> Value {
    env.atom_json(&["agents", "drain"])
}

/// Every atom of the store, oldest first.
fn atoms(env: &TestEnv) -> Vec<Value> {
    let mut all: Vec<Value> = env.atom_json(&["log", "--all"]).as_array().unwrap().clone();
    all.reverse();
    all.into_iter().map(|v| v["record"].clone()).collect()
}

fn of_type<'a>(atoms: &'a [Value], t: &str) -> Vec<&'a Value> {
    atoms.iter().filter(|a| a["type"] == t).collect()
}

const OTHER_SETTINGS: &str = "{\n    \"permissions\": { \"allow\": [\"Bash(npm test)\"] },\n    \"hooks\": {\n        \"PostToolUse\": [\n            { \"matcher\": \"Write|Edit\", \"hooks\": [ { \"type\": \"command\", \"command\": \"npx prettier --write\" } ] }\n        ],\n        \"Notification\": [ { \"hooks\": [ { \"type\": \"command\", \"command\": \"notify-send done\" } ] } ]\n    }\n}\n";

#[test]
fn install_merges_into_settings_with_other_hooks_and_uninstall_restores_the_bytes() {
    let env = TestEnv::init();
    let proj = project(&env, "proj");
    let settings = proj.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, OTHER_SETTINGS).unwrap();

    let out = atom_in(&env, &proj, &["agents", "install", "claude-code"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("hooks installed"), "{out}");
    let installed = std::fs::read(&settings).unwrap();
    let v: Value = serde_json::from_slice(&installed).unwrap();
    assert_eq!(v["permissions"]["allow"][0], "Bash(npm test)");
    assert_eq!(
        v["hooks"]["Notification"][0]["hooks"][0]["command"],
        "notify-send done"
    );
    let post = v["hooks"]["PostToolUse"].as_array().unwrap();
    assert_eq!(
        post.len(),
        2,
        "the user's hook stays, atom's is added: {post:?}"
    );
    assert_eq!(post[0]["hooks"][0]["command"], "npx prettier --write");
    assert_eq!(post[1]["matcher"], "*");
    for event in [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ] {
        let list = v["hooks"][event]
            .as_array()
            .unwrap_or_else(|| panic!("{event} missing"));
        let cmd = list.last().unwrap()["hooks"][0]["command"]
            .as_str()
            .unwrap();
        assert!(cmd.ends_with(&format!("hook claude-code {event}")), "{cmd}");
        assert_eq!(list.last().unwrap()["hooks"][0]["type"], "command");
    }

    // Idempotent: a second install writes nothing.
    let again = atom_in(&env, &proj, &["agents", "install", "claude-code"]);
    assert!(again.stdout.contains("already installed"), "{again}");
    assert_eq!(std::fs::read(&settings).unwrap(), installed);

    let list = atom_in(&env, &proj, &["--json", "agents", "list"]);
    let list: Value = serde_json::from_str(&list.stdout).unwrap();
    let row = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == "claude-code" && r["scope"] == "project")
        .unwrap()
        .clone();
    assert_eq!(row["state"], "installed");

    let out = atom_in(&env, &proj, &["agents", "uninstall", "claude-code"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        OTHER_SETTINGS,
        "uninstall gives back the file byte for byte"
    );
}

#[test]
fn install_into_no_file_and_uninstall_leaves_nothing_and_an_edited_file_keeps_the_edit() {
    let env = TestEnv::init();
    let proj = project(&env, "proj");
    let out = atom_in(
        &env,
        &proj,
        &["agents", "install", "codex", "gemini", "cursor"],
    );
    assert_eq!(out.code, 0, "{out}");
    let codex: Value =
        serde_json::from_slice(&std::fs::read(proj.join(".codex/hooks.json")).unwrap()).unwrap();
    assert!(codex["hooks"]["PostToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .ends_with("hook codex PostToolUse"));
    let gemini: Value =
        serde_json::from_slice(&std::fs::read(proj.join(".gemini/settings.json")).unwrap())
            .unwrap();
    assert_eq!(gemini["hooks"]["AfterTool"][0]["hooks"][0]["name"], "atom");
    let cursor: Value =
        serde_json::from_slice(&std::fs::read(proj.join(".cursor/hooks.json")).unwrap()).unwrap();
    assert_eq!(cursor["version"], 1);
    assert!(cursor["hooks"]["afterFileEdit"][0]["command"]
        .as_str()
        .unwrap()
        .ends_with("hook cursor afterFileEdit"));

    // Someone edits the Cursor file after install: uninstall keeps the edit.
    let mut edited = cursor.clone();
    edited["hooks"]["stop"]
        .as_array_mut()
        .unwrap()
        .push(json!({"command": "./audit.sh"}));
    std::fs::write(proj.join(".cursor/hooks.json"), edited.to_string()).unwrap();

    let out = atom_in(
        &env,
        &proj,
        &["agents", "uninstall", "codex", "gemini", "cursor"],
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !proj.join(".codex").exists(),
        "the files and directories install made are gone"
    );
    assert!(!proj.join(".gemini").exists());
    let left: Value =
        serde_json::from_slice(&std::fs::read(proj.join(".cursor/hooks.json")).unwrap()).unwrap();
    assert_eq!(left["hooks"]["stop"], json!([{"command": "./audit.sh"}]));
    assert!(left["hooks"].get("afterFileEdit").is_none(), "{left}");
    assert!(out.stdout.contains("edited since install"), "{out}");
}

#[test]
fn install_refuses_a_settings_file_that_is_not_json_and_changes_nothing() {
    let env = TestEnv::init();
    let proj = project(&env, "proj");
    let settings = proj.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "{ \"hooks\": [ oops").unwrap();
    let out = atom_in(&env, &proj, &["agents", "install", "claude-code"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.starts_with("error: "), "{out}");
    assert!(out.stderr.contains("hint: "), "{out}");
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "{ \"hooks\": [ oops"
    );
    let out = atom_in(&env, &proj, &["agents", "install", "vim"]);
    assert_eq!(out.code, 2, "{out}");
}

/// A whole Claude Code session from the documented payloads.
#[test]
fn claude_code_session_becomes_linked_atoms_with_the_transcripts_token_usage() {
    let env = TestEnv::init();
    let proj = project(&env, "shop");
    let transcript = env.path().join("transcript.jsonl");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/agents/claude-code/transcript.jsonl"),
        &transcript,
    )
    .unwrap();
    let t = Some(transcript.as_path());
    let start = hook(
        &env,
        "claude-code",
        "SessionStart",
        fixture("claude-code", "SessionStart"),
        &proj,
        t,
    );
    assert!(
        start.stdout.is_empty(),
        "nothing recorded yet, nothing to hand over: {start}"
    );
    for (event, name) in [
        ("UserPromptSubmit", "UserPromptSubmit"),
        ("PreToolUse", "PreToolUse"),
        ("PostToolUse", "PostToolUse"),
        ("PostToolUse", "PostToolUse-Edit"),
        ("PostToolUse", "PostToolUse-Bash"),
        ("PostToolUse", "PostToolUse-Task"),
        ("Stop", "Stop"),
        ("SessionEnd", "SessionEnd"),
    ] {
        hook(
            &env,
            "claude-code",
            event,
            fixture("claude-code", name),
            &proj,
            t,
        );
    }
    let report = drain(&env);
    assert_eq!(report["rejected"], 0, "{report}");
    let all = atoms(&env);
    let types: Vec<&str> = all.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["SESSION", "PROMPT", "EDIT", "EDIT", "SHELL", "TASK", "SESSION", "SESSION"],
        "one atom per event, in order (PreToolUse makes none)"
    );
    let session = &all[0];
    assert_eq!(session["operation"], "start");
    assert_eq!(session["agent"], "claude-code");
    assert_eq!(session["project"], "shop");
    assert_eq!(session["metadata"]["session_id"], "abc123");
    let prompt = &all[1];
    assert_eq!(
        prompt["metadata"]["prompt"],
        "Write a function to calculate the factorial of a number"
    );
    assert_eq!(prompt["influenced_by"], json!([session["atom_id"]]));
    for tool in &all[2..6] {
        assert_eq!(tool["influenced_by"], json!([prompt["atom_id"]]), "{tool}");
    }
    let write = &all[2];
    assert_eq!(write["operation"], "write_file");
    assert_eq!(write["metadata"]["path"], "/path/to/file.txt");
    assert_eq!(write["metadata"]["files"][0]["added"], 1);
    let edit = &all[3];
    assert_eq!(
        edit["metadata"]["files"],
        json!([{"path": "/path/to/src/lib.rs", "added": 3, "removed": 1}])
    );
    let found = env.log_ids(&["--all", "--path", "/path/to/src/lib.rs"]);
    assert_eq!(
        found,
        [edit["atom_id"].as_str().unwrap()],
        "edited paths are indexed"
    );
    let shell = &all[4];
    assert_eq!(shell["metadata"]["command"], "npm test");
    assert_eq!(shell["metadata"]["exit_code"], 0);
    assert!(
        shell["metadata"]["duration_ms"].is_u64(),
        "PreToolUse to PostToolUse: {shell}"
    );
    assert!(shell["metadata"]["output"]
        .as_str()
        .unwrap()
        .contains("12 passed"));
    let task = &all[5];
    assert_eq!(
        task["agent"], "claude-code/Explore",
        "a subagent's task is its own agent's"
    );
    // Usage from the transcript: a message repeated over two lines counts once.
    let turn = &all[6];
    assert_eq!(turn["operation"], "turn_end");
    assert_eq!(turn["token_cost"], 1200 + 300 + 150 + 40 + 10);
    assert_eq!(turn["metadata"]["model"], "claude-sonnet-4-6");
    assert_eq!(turn["metadata"]["usage"]["cache_read_input_tokens"], 19500);
    let end = &all[7];
    assert_eq!(end["operation"], "end");
    assert_eq!(end["token_cost"], 0, "the turn counted them already");
    assert_eq!(end["metadata"]["session_usage"]["output_tokens"], 160);
    let stats = env.atom_json(&["stats", "--by", "agent"]);
    let row = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "claude-code")
        .unwrap()
        .clone();
    assert_eq!(row["token_cost"], 1700);
    env.atom_ok(&["verify"]);
    assert!(
        std::fs::read_dir(env.store().join("agents/spool"))
            .unwrap()
            .next()
            .is_none(),
        "the spool is empty after the drain"
    );
}

#[test]
fn session_start_hands_the_agent_what_others_did_since_its_last_session() {
    let env = TestEnv::init();
    let proj = project(&env, "shop");
    let decision = env.record(&[
        "DECISION",
        "decide",
        "--agent",
        "alice",
        "--project",
        "shop",
        "--summary",
        "prices in cents",
    ]);
    let start = || fixture("claude-code", "SessionStart");
    hook(&env, "claude-code", "SessionStart", start(), &proj, None);
    drain(&env);
    let codex = env.record(&[
        "CFG",
        "modify_file",
        "--agent",
        "codex",
        "--project",
        "shop",
        "--summary",
        "raise the cache size",
    ]);
    env.record(&[
        "CFG",
        "modify_file",
        "--agent",
        "codex",
        "--project",
        "elsewhere",
        "--summary",
        "not here",
    ]);

    let out = hook(&env, "claude-code", "SessionStart", start(), &proj, None);
    let v: Value =
        serde_json::from_str(out.stdout.trim()).expect("the hook prints one JSON object");
    assert_eq!(v["hookSpecificOutput"]["hookEventName"], "SessionStart");
    let text = v["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    let codex_id = codex["record"]["atom_id"].as_str().unwrap();
    let decision_id = decision["record"]["atom_id"].as_str().unwrap();
    let since = text.split("since your last session").nth(1).expect(text);
    let since = since.split("\n\n").next().unwrap();
    assert!(since.contains(codex_id), "{text}");
    assert!(text.contains(decision_id), "{text}");
    assert!(!text.contains("not here"), "only this project: {text}");

    env.atom_ok(&["--json", "agents", "drain"]);
    std::process::Command::new("git")
        .args(["--git-dir"])
        .arg(env.git_dir())
        .args(["config", "atom.agents.contextAtoms", "1"])
        .status()
        .unwrap();
    let out = hook(&env, "claude-code", "SessionStart", start(), &proj, None);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let text = v["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    let lines = text.lines().filter(|l| l.starts_with("- ")).count();
    assert!((1..=3).contains(&lines), "one atom per list: {text}");
}

/// Fake secrets, assembled at run time so that the source holds none.
fn fake_secrets() -> (String, String, String) {
    let github = format!("{}_{}", "ghp", "Zq8sK2mN4pR6tV8xB1dF3hJ5lQ7wE9yA2cG4");
    let aws = format!("{}{}", "AKIA", "Q3EGRIYQLKVZ7XNP");
    let anthropic = format!(
        "{}-{}",
        "sk-ant-api03",
        "Hx7Kq2Lm9Np4Rs6Tv8Wx1Yz3Ab5Cd7Ef9Gh2Jk4Lm6Np8Qr0St2Uv4Wx6Yz8AbCdEfGh-IjKlMnOpQA"
    );
    (github, aws, anthropic)
}

#[test]
fn secrets_in_every_event_type_never_reach_the_store() {
    let env = TestEnv::init();
    let proj = project(&env, "shop");
    let (github, aws, anthropic) = fake_secrets();
    let key_file = env.path().join("k");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key_file)
        .status()
        .unwrap()
        .success());
    let private = std::fs::read_to_string(&key_file).unwrap();
    let body = private.lines().nth(1).unwrap().to_owned();
    let secret_text = format!(
        "GITHUB_TOKEN={github}\nAWS_ACCESS_KEY_ID={aws}\nANTHROPIC_API_KEY={anthropic}\n{private}"
    );
    let t = |name: &str| fixture("claude-code", name);
    let mut start = t("SessionStart");
    start["source"] = json!(format!("startup {github}"));
    let mut prompt = t("UserPromptSubmit");
    prompt["prompt"] = json!(format!("deploy with {secret_text}"));
    let mut write = t("PostToolUse");
    write["tool_input"]["file_path"] = json!(proj.join(".env"));
    write["tool_input"]["content"] = json!(secret_text);
    let mut edit = t("PostToolUse-Edit");
    edit["tool_input"]["new_string"] = json!(secret_text);
    edit["tool_response"]["structuredPatch"][0]["lines"] = json!([format!("+{github}")]);
    let mut bash = t("PostToolUse-Bash");
    bash["tool_input"]["command"] = json!(format!(
        "curl -H 'Authorization: Bearer {anthropic}' https://x"
    ));
    bash["tool_response"]["stdout"] = json!(secret_text);
    let mut task = t("PostToolUse-Task");
    task["tool_input"]["description"] = json!(format!("use {aws}"));
    task["tool_input"]["prompt"] = json!(secret_text);
    let mut other = t("PostToolUse");
    other["tool_name"] = json!("WebFetch");
    other["tool_input"] =
        json!({"url": format!("https://api.example.com/?token={github}"), "prompt": secret_text});
    let mut end = t("SessionEnd");
    end["reason"] = json!(format!("exit {aws}"));
    let events = [
        ("SessionStart", start),
        ("UserPromptSubmit", prompt),
        ("PostToolUse", write),
        ("PostToolUse", edit),
        ("PostToolUse", bash),
        ("PostToolUse", task),
        ("PostToolUse", other),
        ("Stop", t("Stop")),
        ("SessionEnd", end),
    ];
    for (event, payload) in events {
        hook(&env, "claude-code", event, payload, &proj, None);
    }
    drain(&env);
    assert_eq!(atoms(&env).len(), 9, "one atom per event");

    // Everything the store holds: every git object, the index, agent state.
    let objects = env
        .command("git")
        .arg("--git-dir")
        .arg(env.git_dir())
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .output()
        .unwrap()
        .stdout;
    let mut haystack = String::from_utf8_lossy(&objects).into_owned();
    haystack.push_str(&env.atom_ok(&["--json", "log", "--all"]));
    for f in walk(&env.store()) {
        if f.starts_with(env.git_dir()) || f.ends_with("atom_ed25519") {
            continue;
        }
        haystack.push_str(&String::from_utf8_lossy(&std::fs::read(&f).unwrap()));
    }
    for secret in [&github, &aws, &anthropic, &body] {
        assert!(!haystack.contains(secret), "{secret} reached the store");
    }
    assert!(haystack.contains("[REDACTED:github-token]"));
    assert!(haystack.contains("[REDACTED:private-key]"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_hook_always_exits_0_and_prints_nothing_on_bad_input() {
    let env = TestEnv::new();
    let payload = serde_json::to_string(&fixture("claude-code", "UserPromptSubmit")).unwrap();
    let out = env.atom_stdin(
        &["hook", "claude-code", "UserPromptSubmit"],
        payload.as_bytes(),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.is_empty());
    assert!(out.stderr.starts_with("warning: atom: "), "no store: {out}");
    env.atom_ok(&["init"]);
    for input in [
        &b"not json"[..],
        b"[1,2]",
        b"{\"prompt\": \"no session\"}",
        b"\xff\xfe",
    ] {
        let out = env.atom_stdin(&["hook", "claude-code", "UserPromptSubmit"], input);
        assert_eq!(out.code, 0, "{out}");
        assert!(out.stdout.is_empty(), "{out}");
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
    }
    // An event atom does not record: spooled, then skipped.
    let out = env.atom_stdin(&["hook", "claude-code", "Notification"], payload.as_bytes());
    assert_eq!(out.code, 0, "{out}");
    drain(&env);
    assert!(atoms(&env).is_empty());
}

#[test]
fn a_spooled_event_waits_for_a_drain_and_is_recorded_once() {
    let env = TestEnv::init();
    // Another drain holds the spool: the hook only spools.
    let mut holder = prompt_spooled_behind_a_held_lock(&env);
    // A hook killed before its rename leaves only a temporary file.
    std::fs::write(env.store().join("agents/spool/.tmp-0-1.json"), "{\"partial").unwrap();
    let list = env.atom_json(&["agents", "list"]);
    assert_eq!(list["spooled"], 1, "{list}");
    let busy = env.atom_json(&["agents", "drain", "--wait-ms", "0"]);
    assert_eq!(busy["left"], 1, "{busy}");
    kill_group(&env, &mut holder);
    let report = drain(&env);
    assert_eq!(report["recorded"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(drain(&env)["recorded"], json!([]), "recorded once");
    assert_eq!(of_type(&atoms(&env), "PROMPT").len(), 1);
}

#[test]
fn codex_gemini_and_cursor_payloads_become_atoms() {
    let env = TestEnv::init();
    let proj = project(&env, "shop");
    let codex_t = env.path().join("rollout.jsonl");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents/codex/transcript.jsonl"),
        &codex_t,
    )
    .unwrap();
    for (event, name) in [
        ("SessionStart", "SessionStart"),
        ("UserPromptSubmit", "UserPromptSubmit"),
        ("PostToolUse", "PostToolUse"),
        ("PostToolUse", "PostToolUse-apply_patch"),
        ("Stop", "Stop"),
    ] {
        hook(
            &env,
            "codex",
            event,
            fixture("codex", name),
            &proj,
            Some(&codex_t),
        );
    }
    for (event, name) in [
        ("SessionStart", "SessionStart"),
        ("BeforeAgent", "BeforeAgent"),
        ("AfterTool", "AfterTool"),
        ("AfterTool", "AfterTool-shell"),
        ("AfterAgent", "AfterAgent"),
        ("SessionEnd", "SessionEnd"),
    ] {
        hook(&env, "gemini", event, fixture("gemini", name), &proj, None);
    }
    for name in [
        "beforeSubmitPrompt",
        "afterFileEdit",
        "afterShellExecution",
        "stop",
    ] {
        let out = hook(&env, "cursor", name, fixture("cursor", name), &proj, None);
        if name == "beforeSubmitPrompt" {
            let reply: Value = serde_json::from_str(out.stdout.trim()).unwrap();
            assert_eq!(reply, json!({"continue": true}), "the prompt goes on");
        } else {
            assert!(out.stdout.is_empty(), "{out}");
        }
    }
    let report = drain(&env);
    assert_eq!(report["rejected"], 0, "{report}");
    let all = atoms(&env);
    let by = |agent: &str| -> Vec<&Value> { all.iter().filter(|a| a["agent"] == agent).collect() };

    let codex = by("codex");
    let types: Vec<&str> = codex.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["SESSION", "PROMPT", "SHELL", "EDIT", "SESSION"]);
    assert_eq!(codex[2]["metadata"]["command"], "cargo test");
    assert_eq!(
        codex[3]["metadata"]["files"],
        json!([{"path": "src/main.rs", "added": 2, "removed": 1}])
    );
    assert_eq!(codex[3]["influenced_by"], json!([codex[1]["atom_id"]]));
    assert_eq!(
        codex[4]["token_cost"],
        2000 + 400,
        "uncached input + output of the running total"
    );

    let gemini = by("gemini");
    let types: Vec<&str> = gemini.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["SESSION", "PROMPT", "EDIT", "SHELL", "SESSION", "SESSION"]
    );
    assert_eq!(gemini[1]["metadata"]["prompt"], "Rename the config loader");
    assert_eq!(gemini[2]["metadata"]["files"][0]["added"], 2);
    assert_eq!(gemini[3]["metadata"]["command"], "npm run build");

    let cursor = by("cursor");
    let types: Vec<&str> = cursor.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["PROMPT", "EDIT", "SHELL", "SESSION"]);
    assert_eq!(
        cursor[1]["metadata"]["files"],
        json!([{"path": "/path/to/project/src/main.ts", "added": 1, "removed": 1}])
    );
    assert_eq!(cursor[2]["metadata"]["duration_ms"], 150);
    assert_eq!(cursor[3]["metadata"]["status"], "completed");
    assert_eq!(cursor[0]["project"], "shop");
}

/// The spool write, seen from outside under `strace -f`: the event's file
/// is fsynced before it is renamed into place, and the directory after, by
/// the drain the hook forks (the hook itself does not wait for the disk).
#[test]
fn a_hook_fsyncs_the_event_before_the_rename_and_the_directory_after() {
    let env = TestEnv::init();
    let proj = project(&env, "shop");
    let mut payload = fixture("claude-code", "UserPromptSubmit");
    payload["cwd"] = json!(proj);
    let log = env.path().join("strace.log");
    let mut child = env
        .command("strace")
        .arg("-f")
        .arg("-o")
        .arg(&log)
        .args([
            "-e",
            "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
        ])
        .arg(env!("CARGO_BIN_EXE_atom"))
        .args(["hook", "claude-code", "UserPromptSubmit"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run strace");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let trace = std::fs::read_to_string(&log).unwrap();
    // `PID syscall(...) = result` lines: split off the pid.
    let (pids, lines): (Vec<&str>, Vec<&str>) = trace
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(pid, rest)| (pid, rest.trim_start()))
        .unzip();
    let find = |pred: &dyn Fn(&str) -> bool| lines.iter().position(|l| pred(l));
    // `fsync(3) = 0`, or `fsync(3 <unfinished ...>` when another process
    // made a call meanwhile.
    let is_fsync = |l: &str, fd: &str| {
        l.strip_prefix("fsync(")
            .and_then(|r| r.strip_prefix(fd))
            .is_some_and(|r| r.starts_with(')') || r.starts_with(" <unfinished"))
    };
    let open = find(&|l| l.starts_with("openat(") && l.contains("/spool/.tmp-"))
        .unwrap_or_else(|| panic!("no spool file opened:\n{trace}"));
    let fd = lines[open].rsplit("= ").next().unwrap().trim().to_owned();
    let synced = (open..lines.len())
        .find(|&i| is_fsync(lines[i], &fd))
        .unwrap_or_else(|| panic!("the spool file is not fsynced:\n{trace}"));
    assert_ne!(
        pids[open], pids[synced],
        "the forked drain fsyncs, not the hook:\n{trace}"
    );
    let renamed = find(&|l| l.starts_with("rename") && l.contains("/spool/.tmp-"))
        .unwrap_or_else(|| panic!("no rename:\n{trace}"));
    assert!(
        open < synced && synced < renamed,
        "fsync before rename:\n{trace}"
    );
    let dir_open = lines
        .iter()
        .enumerate()
        .skip(renamed)
        .find(|(_, l)| l.starts_with("openat(") && l.contains("/spool\""))
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("the directory is not opened after the rename:\n{trace}"));
    let dfd = lines[dir_open]
        .rsplit("= ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        lines[dir_open..].iter().any(|l| is_fsync(l, &dfd)),
        "the directory is fsynced after the rename:\n{trace}"
    );
    drain(&env);
    assert_eq!(of_type(&atoms(&env), "PROMPT").len(), 1);
}

#[test]
fn install_user_writes_the_home_settings_and_list_says_where() {
    let env = TestEnv::init();
    let proj = project(&env, "proj");
    std::fs::create_dir_all(env.home().join(".claude")).unwrap();
    // Without AGENT: the agents whose directory is there.
    let out = atom_in(&env, &proj, &["agents", "install", "--user"]);
    assert_eq!(out.code, 0, "{out}");
    let settings = env.home().join(".claude/settings.json");
    let v: Value = serde_json::from_slice(&std::fs::read(&settings).unwrap()).unwrap();
    assert!(v["hooks"]["Stop"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .ends_with("hook claude-code Stop"));
    assert!(
        !env.home().join(".codex").exists(),
        "only agents that are there"
    );
    let list = atom_in(&env, &proj, &["agents", "list"]);
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("claude-code"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("user") && line.contains(".claude/settings.json"),
        "{list}"
    );
    assert!(!line.contains("project"), "{list}");
    // Nothing to install in a project without agent directories.
    let none = atom_in(&env, &proj, &["agents", "install"]);
    assert_eq!(none.code, 2, "{none}");
    // Another binary path makes the entries outdated.
    let mut stale = v.clone();
    stale["hooks"]["Stop"][0]["hooks"][0]["command"] =
        json!("/old/atom --trail /old/store hook claude-code Stop");
    std::fs::write(&settings, stale.to_string()).unwrap();
    let list = atom_in(&env, &proj, &["--json", "agents", "list"]);
    let list: Value = serde_json::from_str(&list.stdout).unwrap();
    let row = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == "claude-code" && r["scope"] == "user")
        .unwrap()
        .clone();
    assert_eq!(row["state"], "outdated");
    let out = atom_in(&env, &proj, &["agents", "install", "--user", "claude"]);
    assert!(out.stdout.contains("hooks updated"), "{out}");
    assert_eq!(
        serde_json::from_slice::<Value>(&std::fs::read(&settings).unwrap()).unwrap(),
        v
    );
    let out = atom_in(&env, &proj, &["agents", "uninstall", "--user"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !settings.exists(),
        "install made the file; uninstall removes it"
    );
    assert!(
        env.home().join(".claude").is_dir(),
        "the directory was there before"
    );
}

/// Kill the process group `holder` leads (a drain lock holder) and reap it.
fn kill_group(env: &TestEnv, holder: &mut std::process::Child) {
    let group = format!("-{}", holder.id());
    assert!(env
        .command("kill")
        .args(["--", &group])
        .status()
        .unwrap()
        .success());
    holder.wait().unwrap();
}

/// A Claude Code prompt event, spooled by its hook while another process
/// holds the drain lock (so the hook records nothing); returns the holder.
fn prompt_spooled_behind_a_held_lock(env: &TestEnv) -> std::process::Child {
    let proj = project(env, "shop");
    let holder = hold_drain_lock(env);
    hook(
        env,
        "claude-code",
        "UserPromptSubmit",
        fixture("claude-code", "UserPromptSubmit"),
        &proj,
        None,
    );
    holder
}

/// Hold the agent spool's drain lock in another process group, as a
/// running drain would; returns the holder.
fn hold_drain_lock(env: &TestEnv) -> std::process::Child {
    use std::os::unix::process::CommandExt as _;
    std::fs::create_dir_all(env.store().join("agents")).unwrap();
    let lock = env.store().join("agents/drain.lock");
    let holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "60"])
        .process_group(0)
        .spawn()
        .unwrap();
    while env
        .command("flock")
        .arg("-n")
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    holder
}

#[test]
fn a_later_atom_command_records_what_the_spool_still_holds() {
    let env = TestEnv::init();
    let mut holder = prompt_spooled_behind_a_held_lock(&env);
    // The drain that held the lock dies without recording the event.
    kill_group(&env, &mut holder);
    assert_eq!(env.atom_json(&["agents", "list"])["spooled"], 1);
    // Any command that opens the store records what the spool holds
    // before it reads: its answer already shows the event.
    let log = env.atom_json(&["log"]);
    assert_eq!(log[0]["record"]["type"], "PROMPT", "{log}");
    assert_eq!(env.atom_json(&["agents", "list"])["spooled"], 0);
    // The drain removes the file after its atom is recorded.
    assert_eq!(of_type(&atoms(&env), "PROMPT").len(), 1);
}

/// A hook returns before its event is published: the drain it forked does
/// that. When that drain dies first, the event is a temporary file whose
/// writer is gone; the next drain publishes and records it, and deletes a
/// temporary file that holds no whole event.
#[test]
fn an_event_whose_drain_died_before_publishing_it_is_adopted() {
    let env = TestEnv::init();
    let mut holder = prompt_spooled_behind_a_held_lock(&env);
    // Turn the published event back into what a dead drain leaves: its
    // temporary file, named for a writer that has exited.
    let spool = env.store().join("agents/spool");
    let published = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("the hook published its event (the spool was busy)");
    let mut gone = env.command("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let name = published.file_name().unwrap().to_str().unwrap();
    let nanos = name.split('-').next().unwrap();
    let orphan = spool.join(format!(".tmp-{nanos}-{dead:010}.json"));
    std::fs::rename(&published, &orphan).unwrap();
    let torn = spool.join(format!(".tmp-{nanos}1-{dead:010}.json"));
    std::fs::write(&torn, "{\"agent\":\"claude-").unwrap();
    kill_group(&env, &mut holder);
    assert_eq!(env.atom_json(&["agents", "list"])["spooled"], 0);
    // The next command waits for the spool, adopts the orphan, and shows it.
    let log = env.atom_json(&["log"]);
    assert_eq!(log[0]["record"]["type"], "PROMPT", "{log}");
    let left: Vec<_> = std::fs::read_dir(&spool).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(of_type(&atoms(&env), "PROMPT").len(), 1);
}

#[test]
fn agent_events_go_to_the_trail_atom_trail_names() {
    let env = TestEnv::init();
    env.record(&["TASK", "start"]);
    env.atom_ok(&["fork", "experiment"]);
    let proj = project(&env, "shop");
    let mut payload = fixture("claude-code", "UserPromptSubmit");
    payload["cwd"] = json!(proj);
    let out: Output = {
        use std::io::Write as _;
        let mut child = env
            .atom_command(&["hook", "claude-code", "UserPromptSubmit"])
            .env("ATOM_TRAIL", "experiment")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(payload.to_string().as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap().into()
    };
    assert!(out.code == 0 && out.stderr.is_empty(), "{out}");
    drain(&env);
    let on = |trail: &str| -> Vec<String> {
        env.atom_json(&["log", "--trail", trail])
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["record"]["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(on("experiment"), ["PROMPT", "TASK"]);
    assert_eq!(on("main"), ["TASK"], "the current trail is left alone");
}
