//! `atom status` and `atom doctor` (SPEC §5): where things stand offline,
//! and each problem with the command that fixes it.

use crate::cases::verify::record_n;
use crate::common::TestEnv;

#[test]
fn status_names_store_trail_head_and_remote_ahead_from_the_last_push() {
    let env = TestEnv::init();
    let empty = env.atom_json(&["status"]);
    assert_eq!(empty["trail"], "main");
    assert_eq!(empty["head"], serde_json::Value::Null);
    assert_eq!(empty["atoms"], 0);
    assert_eq!(empty["remotes"], serde_json::json!([]));
    assert_eq!(empty["mirror"]["configured"], false);
    assert!(env.atom_ok(&["status"]).contains("none yet"));

    let atoms = record_n(&env, 2);
    let remote = env.bare_remote("origin");
    env.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let status = env.atom_json(&["status"]);
    assert_eq!(status["head"]["atom_id"], atoms[1].0.as_str());
    assert_eq!(status["head"]["commit"], atoms[1].1.as_str());
    assert_eq!(status["atoms"], 2);
    assert_eq!(status["remotes"][0]["name"], "origin");
    assert_eq!(
        status["remotes"][0]["ahead"],
        serde_json::Value::Null,
        "never met"
    );
    assert_eq!(status["checkpoint"], 2);

    env.atom_ok(&["push"]);
    let status = env.atom_json(&["status"]);
    assert_eq!(status["remotes"][0]["ahead"], 0, "{status:#}");
    assert_eq!(status["remotes"][0]["behind"], 0);
    record_n(&env, 1);
    let status = env.atom_json(&["status"]);
    assert_eq!(status["remotes"][0]["ahead"], 1, "{status:#}");
    assert!(env.atom_ok(&["status"]).contains("1 ahead"));

    // Another trail, selected: its own head and its own remote state.
    env.atom_ok(&["fork", "exp", "--from", &atoms[0].0]);
    let exp = env.atom_json(&["status", "--trail", "exp"]);
    assert_eq!(exp["trail"], "exp");
    assert_eq!(exp["current"], "main");
    assert_eq!(exp["head"]["atom_id"], atoms[0].0.as_str());
    assert_eq!(exp["remotes"][0]["ahead"], serde_json::Value::Null);
}

#[test]
fn status_sees_hooks_of_the_repository_it_runs_in() {
    let env = TestEnv::init();
    let repo = env.path().join("project");
    std::fs::create_dir(&repo).unwrap();
    let out = env
        .command("git")
        .args(["init", "-q"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(out.status.success());
    let run = |args: &[&str]| {
        let out = env.atom_command(args).current_dir(&repo).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        run(&["--json", "status"])["hooks"]["installed"],
        serde_json::json!([])
    );
    run(&["--json", "hooks", "install"]);
    let hooks = &run(&["--json", "status"])["hooks"];
    assert_eq!(
        hooks["installed"],
        serde_json::json!(["post-commit", "post-merge", "post-rewrite", "pre-push"])
    );
    assert_eq!(hooks["this_store"], true);

    // Coding agents' hooks show up too, with where they are installed.
    let none = &run(&["--json", "status"])["agents"];
    assert!(
        !none["installed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["scope"] == "project"),
        "{none}"
    );
    run(&["--json", "agents", "install", "claude-code"]);
    let agents = &run(&["--json", "status"])["agents"];
    let project: Vec<&serde_json::Value> = agents["installed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] == "project")
        .collect();
    assert_eq!(project.len(), 1, "{agents}");
    assert_eq!(project[0]["agent"], "claude-code");
    assert_eq!(project[0]["state"], "installed");
    assert_eq!(agents["spooled"], 0);
}

#[test]
fn doctor_passes_a_sound_store_and_names_the_fix_of_each_problem() {
    let env = TestEnv::init();
    record_n(&env, 3);
    let report = env.atom_json(&["doctor"]);
    assert_eq!(report["ok"], true, "{report:#}");
    let checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for c in ["git", "log", "index", "signing key"] {
        assert!(checks.contains(&c), "{checks:?}");
    }
    // A remote never pushed to is a warning, not a failure.
    let remote = env.bare_remote("origin");
    env.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let report = env.atom_json(&["doctor"]);
    assert_eq!(report["ok"], true);
    let origin = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "remote origin")
        .unwrap();
    assert_eq!(origin["status"], "warning");
    assert_eq!(origin["fix"], "atom push origin");

    // The signing key is gone: a problem, exit 1, with its fix.
    std::fs::remove_file(env.store().join("keys/atom_ed25519")).unwrap();
    let out = env.atom(&["doctor"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("problem signing key"), "{out}");
    assert!(out.stdout.contains("fix: atom init --key"), "{out}");
    assert!(
        out.stderr.starts_with("error: doctor found 1 problem"),
        "{out}"
    );
}
