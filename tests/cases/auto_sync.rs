//! Sync that runs by itself (`atom sync auto`): a real background worker
//! pushing to a real bare repository (and a local D1), its failures and
//! retries seen through `atom status`, and a worker killed with SIGKILL
//! whose job the next atom command finishes. Waits poll real state with a
//! generous deadline; nothing asserts on durations.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cases::mirror::{configure, D1Worker, TOKEN};
use crate::common::TestEnv;

/// Poll `check` until it holds; panic with `what` after a minute.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The commit `refs/heads/main` of the bare repository `remote` names.
fn remote_tip(env: &TestEnv, remote: &Path) -> Option<String> {
    let out = env
        .command("git")
        .arg("--git-dir")
        .arg(remote)
        .args(["rev-parse", "--verify", "-q", "refs/heads/main"])
        .output()
        .expect("run git");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn sync_status(env: &TestEnv) -> Value {
    env.atom_json(&["status"])["sync"].clone()
}

/// A store with remote `origin` at a new bare repository, auto sync on
/// with no debounce.
fn auto_git_store() -> (TestEnv, std::path::PathBuf) {
    let env = TestEnv::init();
    let remote = env.bare_remote("shared.git");
    env.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let set = env.atom_json(&["sync", "auto", "git", "--debounce", "0"]);
    assert_eq!(set["auto"], "git");
    assert_eq!(set["remote"], "origin");
    assert_eq!(set["debounce_seconds"], 0);
    // Turning it on ran a first round (nothing to send yet): let it end.
    wait_for("the first round", || {
        let s = sync_status(&env);
        s["last_success"].is_string() && s["running"] == false
    });
    (env, remote)
}

/// Stop a worker that may still run (a test leaves none behind).
fn stop_workers(env: &TestEnv) {
    env.atom_ok(&["sync", "auto", "off"]);
    wait_for("the worker to stop", || {
        !sync_status(env)["running"].as_bool().unwrap()
    });
}

#[test]
fn appends_reach_the_remote_by_themselves() {
    let (env, remote) = auto_git_store();
    let first = env.record(&["TASK", "plan"]);
    let second = env.record(&["TASK", "build"]);
    let tip = second["commit"].as_str().unwrap().to_owned();
    // The push moves the remote first, then the tip this store knows it
    // has: wait for both.
    wait_for("the remote to have both atoms", || {
        remote_tip(&env, &remote).as_deref() == Some(tip.as_str())
            && sync_status(&env)["pending"]["git"] == 0
    });
    let sync = sync_status(&env);
    assert_eq!(sync["auto"], "git");
    assert_eq!(sync["pending"]["git"], 0, "{sync:#}");
    assert!(sync["last_success"].is_string(), "{sync:#}");
    assert!(sync["last_error"].is_null(), "{sync:#}");
    // What the remote holds is what was recorded, signed and whole.
    let ids = env
        .command("git")
        .arg("--git-dir")
        .arg(&remote)
        .args([
            "log",
            "--format=%(trailers:key=Atom-Id,valueonly)",
            "refs/heads/main",
        ])
        .output()
        .unwrap();
    let ids = String::from_utf8_lossy(&ids.stdout).to_string();
    assert!(
        ids.contains(first["record"]["atom_id"].as_str().unwrap()),
        "{ids}"
    );
    let human = env.atom_ok(&["status"]);
    assert!(
        human.contains("sync        auto git to origin, 0 pending (git)"),
        "{human}"
    );
    stop_workers(&env);

    // Off: appends stay here.
    env.record(&["TASK", "local"]);
    assert_eq!(remote_tip(&env, &remote).as_deref(), Some(tip.as_str()));
    assert_eq!(sync_status(&env)["auto"], "off");
    env.atom_err(&["sync"], 2);
}

#[test]
fn bad_settings_are_refused() {
    let env = TestEnv::init();
    let out = env.atom_err(&["sync", "auto", "git"], 2);
    assert!(out.stderr.contains("no remote named \"origin\""), "{out}");
    env.atom_err(&["sync", "auto", "d1"], 2);
    env.atom_err(&["sync", "auto", "sometimes"], 2);
    let remote = env.bare_remote("r.git");
    env.atom_ok(&["remote", "add", "backup", remote.to_str().unwrap()]);
    env.atom_err(
        &[
            "sync",
            "auto",
            "git",
            "--remote",
            "backup",
            "--debounce",
            "99999",
        ],
        2,
    );
    // Nothing was stored by the refusals.
    assert_eq!(env.atom_json(&["sync", "auto"])["auto"], "off");
    let set = env.atom_json(&[
        "sync",
        "auto",
        "git",
        "--remote",
        "backup",
        "--debounce",
        "7",
    ]);
    assert_eq!(set["remote"], "backup");
    assert_eq!(env.atom_json(&["sync", "auto"])["debounce_seconds"], 7);
    env.atom_ok(&["sync", "auto", "off"]);
}

#[test]
fn an_unreachable_remote_is_reported_and_retried() {
    let (env, remote) = auto_git_store();
    let good = remote.to_str().unwrap().to_owned();
    let bad = env.path().join("nowhere.git");
    env.git(&["config", "remote.origin.url", bad.to_str().unwrap()]);
    let recorded = env.record(&["TASK", "offline"]);
    wait_for("the failure to show in status", || {
        sync_status(&env)["last_error"].is_string()
    });
    let sync = sync_status(&env);
    assert!(
        sync["last_error"].as_str().unwrap().contains("nowhere.git"),
        "{sync:#}"
    );
    assert_eq!(sync["pending"]["git"], 1, "{sync:#}");
    assert!(sync["failures"].as_u64().unwrap() >= 1, "{sync:#}");
    assert!(sync["next_retry"].is_string(), "{sync:#}");
    let human = env.atom_ok(&["status"]);
    assert!(
        human.contains("1 pending (git)") && human.contains("last error"),
        "{human}"
    );
    assert!(human.contains("next retry"), "{human}");
    let doctor = env.atom(&["doctor"]);
    assert!(
        doctor.stdout.contains("sync: automatic sync failed"),
        "{doctor}"
    );
    // A foreground round says what is wrong, exit 1.
    let out = env.atom_err(&["sync"], 1);
    assert!(out.stderr.contains("nowhere.git"), "{out}");

    // The remote is back: a later round (the worker's retry) delivers.
    env.git(&["config", "remote.origin.url", &good]);
    let tip = recorded["commit"].as_str().unwrap().to_owned();
    wait_for("the retry to reach the remote", || {
        remote_tip(&env, &remote).as_deref() == Some(tip.as_str())
    });
    wait_for("status to show the success", || {
        let s = sync_status(&env);
        s["last_error"].is_null() && s["pending"]["git"] == 0
    });
    assert_eq!(sync_status(&env)["failures"], 0);
    stop_workers(&env);
}

/// The pids of the live workers of the store (from /proc).
fn workers(env: &TestEnv) -> Vec<String> {
    let needle = format!("{}\0-q\0sync\0--background", env.store().display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            pids.push(name);
        }
    }
    pids
}

/// The pid the worker wrote into its lock file.
fn worker_pid(env: &TestEnv) -> String {
    std::fs::read_to_string(env.store().join("sync/worker.lock"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn record_never_waits_and_a_killed_worker_is_finished_later() {
    let env = TestEnv::init();
    let remote = env.bare_remote("shared.git");
    env.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    // A long debounce keeps the worker waiting, holding its lock.
    env.atom_ok(&["sync", "auto", "git", "--debounce", "3600"]);
    env.record(&["TASK", "one"]);
    wait_for("a worker to run", || sync_status(&env)["running"] == true);
    let pid = worker_pid(&env);
    // record returns while the worker holds its lock, and starts no other.
    let second = env.record(&["TASK", "two"]);
    let sync = sync_status(&env);
    assert_eq!(sync["running"], true, "{sync:#}");
    assert_eq!(sync["pending"]["git"], 2, "{sync:#}");
    assert_eq!(workers(&env), vec![pid.clone()]);
    assert_eq!(worker_pid(&env), pid, "a second worker started");
    assert_eq!(remote_tip(&env, &remote), None);
    // Four appends at once start no second worker either.
    let children: Vec<_> = (0..4)
        .map(|i| {
            env.atom_command(&["record", "TASK", &format!("burst_{i}")])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(workers(&env), vec![pid.clone()]);

    // SIGKILL: the lock goes with the process, the mark stays. (No atom
    // command runs until it is gone: each would start a worker again.)
    env.git(&["config", "atom.sync.debounce", "0"]);
    let killed = env.command("kill").args(["-9", &pid]).status().unwrap();
    assert!(killed.success());
    let stat = format!("/proc/{pid}/stat");
    wait_for("the worker to die", || {
        std::fs::read_to_string(&stat)
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    });
    // As if it died in the middle of a round: its claimed mark is left.
    std::fs::rename(
        env.store().join("sync/pending"),
        env.store().join("sync/syncing"),
    )
    .unwrap();
    assert_eq!(remote_tip(&env, &remote), None);

    // Any atom command (here `log`) starts a worker that finishes the job.
    env.atom_ok(&["log", "-n", "1"]);
    let tip = env.tip().unwrap();
    assert_ne!(tip, second["commit"].as_str().unwrap());
    wait_for("the next worker to push", || {
        remote_tip(&env, &remote).as_deref() == Some(tip.as_str())
    });
    wait_for("the round to be marked done", || {
        !env.store().join("sync/syncing").exists()
    });
    assert_eq!(sync_status(&env)["pending"]["git"], 0);
    stop_workers(&env);
}

#[test]
fn a_lost_mark_is_recomputed_from_refs_by_status() {
    let (env, remote) = auto_git_store();
    stop_workers(&env);
    let recorded = env.record(&["TASK", "while_off"]);
    // Turned on again with nothing marked (as after a crash lost the
    // mark): status counts the atom from refs and schedules a round.
    for mark in ["pending", "syncing"] {
        let _ = std::fs::remove_file(env.store().join("sync").join(mark));
    }
    env.git(&["config", "atom.sync.auto", "git"]);
    assert_eq!(sync_status(&env)["pending"]["git"], 1);
    let tip = recorded["commit"].as_str().unwrap().to_owned();
    wait_for("the scheduled round to push", || {
        remote_tip(&env, &remote).as_deref() == Some(tip.as_str())
    });
    stop_workers(&env);
}

#[test]
fn appends_reach_the_d1_mirror_by_themselves() {
    let d1 = D1Worker::start();
    let env = TestEnv::init();
    configure(&env, &d1);
    env.atom_ok(&["sync", "auto", "d1", "--debounce", "0"]);
    // Recorded without the token: the worker cannot reach D1, says so, and
    // leaves the job to a process that has the token.
    env.record(&["TASK", "one"]);
    wait_for("the missing token to be reported", || {
        let s = sync_status(&env);
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("CLOUDFLARE_API_TOKEN is not set"))
            && s["running"] == false
    });
    assert_eq!(sync_status(&env)["pending"]["d1"], 1);

    let env = env.with_env("CLOUDFLARE_API_TOKEN", TOKEN);
    env.atom_ok(&["sync"]);
    assert_eq!(d1.count("atoms"), 1);
    env.record(&["TASK", "two"]);
    wait_for("D1 to hold both atoms", || d1.count("atoms") == 2);
    wait_for("status to show nothing pending", || {
        let s = sync_status(&env);
        s["pending"]["d1"] == 0 && s["last_error"].is_null()
    });
    assert!(sync_status(&env)["pending"].get("git").is_none());
    stop_workers(&env);
}
