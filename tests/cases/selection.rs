//! `--store DIR` / `ATOM_HOME` select the store, `--trail NAME` /
//! `ATOM_TRAIL` the trail a command acts on, without switching (SPEC §2, §5).

use crate::cases::verify::record_n;
use crate::common::TestEnv;

/// `atom --json ARGS...` with `ATOM_TRAIL` set to `trail`.
fn with_atom_trail(env: &TestEnv, trail: &str, args: &[&str]) -> serde_json::Value {
    let out = env
        .atom_command(&[&["--json"], args].concat())
        .env("ATOM_TRAIL", trail)
        .output()
        .unwrap();
    assert!(out.status.success(), "atom {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn current(env: &TestEnv) -> String {
    env.atom_json(&["trails"])["current"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn trail_flag_records_and_reads_another_trail_without_switching() {
    let env = TestEnv::init();
    let main = record_n(&env, 2);
    env.atom_ok(&["fork", "exp"]);
    let on_exp = env.record(&["TASK", "plan", "--trail", "exp", "--summary", "on exp"]);
    let id = on_exp["record"]["atom_id"].as_str().unwrap();
    assert_eq!(on_exp["record"]["previous_atom"], main[1].0.as_str());
    assert_eq!(current(&env), "main", "HEAD did not move");
    assert_eq!(
        env.log_ids(&[]),
        vec![main[1].0.clone(), main[0].0.clone()],
        "main is untouched"
    );
    assert_eq!(env.log_ids(&["--trail", "exp", "-n", "1"]), vec![id]);
    // The flag may come before the command, and the environment does the same.
    let before = env.atom_json(&["--trail", "exp", "log", "-n", "1"]);
    assert_eq!(before[0]["record"]["atom_id"], id);
    let latest = with_atom_trail(&env, "exp", &["log", "-n", "1"]);
    assert_eq!(latest[0]["record"]["atom_id"], id);
    let second = with_atom_trail(&env, "exp", &["record", "TASK", "plan"]);
    assert_eq!(second["record"]["previous_atom"], id);
    assert_eq!(current(&env), "main");
    // verify and export act on the selected trail too.
    let verified = env.atom_json(&["verify", "--trail", "exp"]);
    assert_eq!(verified["atoms"], 4, "{verified:#}");
    let export = env.atom_ok(&["export", "--trail", "exp"]);
    assert_eq!(export.lines().count(), 4);
    // An empty ATOM_TRAIL is no selection.
    let latest = with_atom_trail(&env, "", &["log", "-n", "1"]);
    assert_eq!(latest[0]["record"]["atom_id"], main[1].0.as_str());
}

#[test]
fn trail_flag_rollback_acts_on_that_trail() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 1);
    env.atom_ok(&["fork", "exp"]);
    let extra = env.record(&["TASK", "plan", "--trail", "exp"]);
    env.atom_ok(&["rollback", "--trail", "exp", &atoms[0].0]);
    let ids = env.log_ids(&["--trail", "exp"]);
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(!ids.contains(&extra["record"]["atom_id"].as_str().unwrap().to_owned()));
    assert_eq!(env.log_ids(&[]), vec![atoms[0].0.clone()], "main untouched");
}

#[test]
fn trail_flag_naming_no_trail_is_refused() {
    let env = TestEnv::init();
    record_n(&env, 1);
    let out = env.atom_err(&["record", "TASK", "plan", "--trail", "nope"], 1);
    assert!(out.stderr.contains("no trail named nope"), "{out}");
    assert!(out.stderr.contains("atom fork nope"), "{out}");
    env.atom_err(&["log", "--trail", "bad..name"], 2);
    assert_eq!(env.log_ids(&[]).len(), 1, "nothing was recorded");
}

#[test]
fn trail_flag_with_a_directory_points_at_store_flag() {
    let env = TestEnv::init();
    let store = env.store();
    let store = store.to_str().unwrap();
    let out = env.atom_err(&["--trail", store, "log"], 2);
    assert!(out.stderr.contains("--store"), "{out}");
    // A store directory given without a slash is refused too.
    let out = env.atom_err(&["--trail", "store", "log"], 2);
    assert!(out.stderr.contains("--store store"), "{out}");
}

#[test]
fn hooks_see_atom_trail() {
    let env = TestEnv::init();
    record_n(&env, 1);
    env.atom_ok(&["fork", "exp"]);
    let repo = env.path().join("project");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        let out = env
            .command("git")
            .current_dir(&repo)
            .env("ATOM_TRAIL", "exp")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&["config", "user.name", "dev"]);
    git(&["config", "user.email", "dev@example.com"]);
    env.atom_command(&["hooks", "install", "--repo", repo.to_str().unwrap()])
        .status()
        .unwrap();
    std::fs::write(repo.join("a.txt"), "a").unwrap();
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "add a"]);
    let exp = env.atom_json(&["log", "--trail", "exp", "-n", "1"]);
    assert_eq!(exp[0]["record"]["type"], "COMMIT", "{exp:#}");
    assert_eq!(
        env.atom_json(&["log", "--type", "commit"]),
        serde_json::json!([])
    );
}
