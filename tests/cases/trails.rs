//! Trails (SPEC §2, §5): fork, switch, trails, rollback that loses nothing,
//! and the trusted signers.

use std::collections::HashSet;
use std::process::Stdio;

use serde_json::Value;

use crate::cases::verify::{record_n, verify};
use crate::common::TestEnv;

fn trails(env: &TestEnv) -> Value {
    env.atom_json(&["trails"])
}

fn trail<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["trails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no trail {name}: {list:#}"))
}

fn log_ids(env: &TestEnv, args: &[&str]) -> Vec<String> {
    env.log_ids(args)
}

#[test]
fn fork_switch_and_list_trails() {
    let env = TestEnv::init();
    let list = trails(&env);
    assert_eq!(list["current"], "main");
    assert_eq!(trail(&list, "main")["atoms"], 0);
    env.atom_err(&["fork", "exp"], 1);

    let atoms = record_n(&env, 3);
    let fork = env.atom_json(&["fork", "exp", "--from", &atoms[1].0]);
    assert_eq!(fork["from"], atoms[1].0.as_str());
    assert_eq!(fork["commit"], atoms[1].1.as_str());
    assert_eq!(fork["switched"], false);
    assert_eq!(env.git(&["rev-parse", "refs/heads/exp"]).trim(), atoms[1].1);

    env.atom_ok(&["switch", "exp"]);
    assert_eq!(env.git(&["symbolic-ref", "HEAD"]).trim(), "refs/heads/exp");
    let on_exp = env.record(&["TASK", "try_it"]);
    let list = trails(&env);
    assert_eq!(list["current"], "exp");
    let exp = trail(&list, "exp");
    assert_eq!(exp["current"], true);
    assert_eq!(exp["atoms"], 3);
    assert_eq!(exp["head"], on_exp["record"]["atom_id"]);
    assert_eq!(trail(&list, "main")["atoms"], 3);
    assert_eq!(trail(&list, "main")["current"], false);
    // The new atom follows the fork point, and main did not move.
    assert_eq!(on_exp["record"]["previous_atom"], atoms[1].0.as_str());
    assert_eq!(env.tip().unwrap(), atoms[2].1);

    let human = env.atom_ok(&["trails"]);
    let marked: Vec<&str> = human.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 1, "{human}");
    assert!(
        marked[0].contains("exp") && marked[0].contains("3 atoms"),
        "{human}"
    );

    // --switch, and the errors.
    env.atom_ok(&["fork", "third", "--switch"]);
    assert_eq!(trails(&env)["current"], "third");
    env.atom_err(&["fork", "exp"], 1);
    env.atom_err(&["fork", "bad name"], 2);
    env.atom_err(&["fork", "a/b"], 2);
    env.atom_err(&["switch", "nope"], 1);
    env.atom_err(&["fork", "x", "--from", "ATOM-CFG-20000101-001"], 1);
    env.atom_ok(&["switch", "main"]);

    let (code, report, human) = verify(&env, &["--all"]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(report["atoms"], 4);
    assert_eq!(human.stdout, "✓ 4 atoms verified, chain intact\n");
    env.cross_check();
}

#[test]
fn rollback_archives_records_and_restores() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 5);
    let old_tip = atoms[4].1.clone();

    // Off a terminal it does not ask and does not refuse: it loses nothing.
    let report = env.atom_json(&["rollback", &atoms[1].0]);
    let discarded: Vec<&str> = atoms[2..].iter().rev().map(|(id, _)| id.as_str()).collect();
    assert_eq!(report["discarded"], serde_json::json!(discarded));
    let archive_ref = format!("refs/atom/archive/main/{}", &old_tip[..12]);
    assert_eq!(report["archive_ref"], archive_ref.as_str());
    assert_eq!(env.git(&["rev-parse", &archive_ref]).trim(), old_tip);

    // The ROLLBACK atom is the new tip, on top of the target, and says what it discarded.
    let rollback = &report["rollback"]["record"];
    assert_eq!(rollback["type"], "ROLLBACK");
    assert_eq!(rollback["operation"], "rollback");
    assert_eq!(rollback["previous_atom"], atoms[1].0.as_str());
    assert_eq!(
        rollback["metadata"]["discarded"],
        serde_json::json!(discarded)
    );
    assert_eq!(rollback["metadata"]["archive_ref"], archive_ref.as_str());
    assert_eq!(rollback["metadata"]["archived_tip"], old_tip.as_str());
    assert_eq!(report["rollback"]["signature"]["status"], "good");
    let ids = log_ids(&env, &[]);
    assert_eq!(
        ids,
        [
            rollback["atom_id"].as_str().unwrap(),
            &atoms[1].0,
            &atoms[0].0
        ]
    );

    // Nothing is lost: every atom is still reachable, and the store verifies.
    let all: HashSet<String> = env
        .git(&["rev-list", "--all"])
        .lines()
        .map(str::to_owned)
        .collect();
    for (_, c) in &atoms {
        assert!(all.contains(c), "{c} became unreachable");
    }
    let (code, _, human) = verify(&env, &[]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(human.stdout, "✓ 3 atoms verified, chain intact\n");
    let (code, report, _) = verify(&env, &["--all"]);
    assert_eq!(code, 0);
    assert_eq!(report["atoms"], 6);
    env.cross_check();

    // The printed restore command works.
    env.atom_ok(&["switch", "main"]);
    let out = env.atom(&["rollback", &atoms[0].0, "--yes"]);
    assert_eq!(out.code, 0, "{out}");
    let restore = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("to restore them: "))
        .unwrap_or_else(|| panic!("no restore hint:\n{out}"));
    let args: Vec<&str> = restore.split_whitespace().skip(1).collect();
    assert_eq!(args[..3], ["fork", "restored", "--from"]);
    env.atom_ok(&args);
    let restored_tip = env.git(&["rev-parse", "refs/heads/restored"]);
    let restored_tip = restored_tip.trim();
    assert_eq!(
        env.git(&[
            "rev-parse",
            &format!("refs/atom/archive/main/{}", &restored_tip[..12])
        ])
        .trim(),
        restored_tip
    );
    let restored = log_ids(&env, &["restored"]);
    assert_eq!(restored[1..], [atoms[1].0.clone(), atoms[0].0.clone()]);

    // Refused: an atom that is not on the current trail, the tip itself, garbage.
    let on_fork = {
        env.atom_ok(&["switch", "restored"]);
        let v = env.record(&["TASK", "elsewhere"]);
        env.atom_ok(&["switch", "main"]);
        v["record"]["atom_id"].as_str().unwrap().to_owned()
    };
    let tip_before = env.tip();
    env.atom_err(&["rollback", &on_fork, "--yes"], 2);
    let main_tip_id = log_ids(&env, &["-n", "1"])[0].clone();
    env.atom_err(&["rollback", &main_tip_id, "--yes"], 2);
    env.atom_err(&["rollback", "ATOM-CFG-20000101-001", "--yes"], 1);
    assert_eq!(env.tip(), tip_before);
}

/// SPEC §5: rollback never asks for confirmation, on a terminal either (it
/// loses nothing); `--yes` is still accepted.
#[test]
fn rollback_never_asks_on_a_terminal() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 3);
    let atom = env!("CARGO_BIN_EXE_atom");
    // `script` gives the command a terminal; its stdin (here empty) is what
    // a prompt would read.
    let out = env
        .command("timeout")
        .args(["20", "script", "-qec"])
        .arg(format!("{atom} rollback {}", atoms[0].0))
        .arg("/dev/null")
        .output()
        .expect("run script");
    let out = crate::common::Output::from(out);
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stdout.contains("[y/N]"), "{out}");
    assert!(out.stdout.contains("rolled back trail main"), "{out}");
    assert_eq!(
        log_ids(&env, &[]).len(),
        2,
        "the target and the ROLLBACK atom"
    );
    // --yes, kept for old scripts, changes nothing.
    env.atom_ok(&["rollback", &atoms[0].0, "--yes"]);
    assert_eq!(log_ids(&env, &[])[1], atoms[0].0);
}

#[test]
fn rollback_racing_with_record_loses_nothing() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 3);
    let mut writers = Vec::new();
    for w in 0..3 {
        let mut cmd = env.atom_command(&["--json", "record", "TASK", "race"]);
        cmd.arg("--summary")
            .arg(format!("writer {w}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        writers.push(cmd.spawn().expect("start atom record"));
    }
    let rollback = env.atom(&["--json", "rollback", &atoms[0].0, "--yes"]);
    let mut recorded = Vec::new();
    for w in writers {
        let out = w.wait_with_output().expect("wait for atom record");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        recorded.push(v["commit"].as_str().unwrap().to_owned());
    }
    // Either the rollback ran (exit 0) or a writer moved the trail under it (exit 1).
    assert!(rollback.code == 0 || rollback.code == 1, "{rollback}");
    let all: HashSet<String> = env
        .git(&["rev-list", "--all"])
        .lines()
        .map(str::to_owned)
        .collect();
    for c in recorded.iter().chain(atoms.iter().map(|(_, c)| c)) {
        assert!(
            all.contains(c),
            "acknowledged atom {c} was lost:\n{rollback}"
        );
    }
    let (code, report, human) = verify(&env, &["--all"]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(
        report["warnings"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
}

#[test]
fn signers_add_list_remove() {
    let env = TestEnv::init();
    let list = env.atom_json(&["signers", "list"]);
    let signers = list["signers"].as_array().unwrap();
    assert_eq!(signers.len(), 1);
    assert_eq!(signers[0]["own"], true);
    let own_name = signers[0]["name"].as_str().unwrap().to_owned();

    let key = env.path().join("alice");
    let out = env
        .command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let pub_path = format!("{}.pub", key.display());
    let line = std::fs::read_to_string(&pub_path).unwrap();

    let added = env.atom_json(&["signers", "add", "alice@example.org", line.trim()]);
    assert_eq!(added["added"], true);
    assert!(added["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    // The same key again, by path: already trusted.
    let again = env.atom_json(&["signers", "add", "alice2", &pub_path]);
    assert_eq!(again["added"], false);
    assert_eq!(again["name"], "alice@example.org");

    let file = std::fs::read_to_string(env.store().join("keys/allowed_signers")).unwrap();
    let blob = line.split_whitespace().nth(1).unwrap();
    assert!(
        file.contains(&format!(
            "alice@example.org namespaces=\"git\" ssh-ed25519 {blob}"
        )),
        "{file}"
    );
    let human = env.atom_ok(&["signers", "list"]);
    assert!(
        human.contains("alice@example.org") && human.contains("this store's key"),
        "{human}"
    );

    env.atom_err(&["signers", "add", "bob", "ssh-ed25519 AAAAnot-a-key"], 2);
    env.atom_err(&["signers", "add", "bob", "/nonexistent.pub"], 2);
    env.atom_err(&["signers", "add", "bob", &key.display().to_string()], 2);
    env.atom_err(&["signers", "add", "two words", line.trim()], 2);
    env.atom_err(&["signers", "remove", "nobody"], 1);
    env.atom_err(&["signers", "remove", &own_name], 2);

    let removed = env.atom_json(&["signers", "remove", "alice@example.org"]);
    assert_eq!(removed["removed"].as_array().unwrap().len(), 1);
    let list = env.atom_json(&["signers", "list"]);
    assert_eq!(list["signers"].as_array().unwrap().len(), 1);
    // Still a file git accepts: the store's atoms verify with stock git.
    record_n(&env, 1);
    env.cross_check();
}

#[test]
fn trails_delete_archives_the_tip_and_refuses_the_current_trail() {
    let env = TestEnv::init();
    record_n(&env, 2);
    env.atom_ok(&["fork", "exp", "--switch"]);
    let on_exp = env.record(&["TASK", "try_it"]);
    let exp_tip = on_exp["commit"].as_str().unwrap().to_owned();
    let exp_id = on_exp["record"]["atom_id"].as_str().unwrap().to_owned();

    // Not the current trail; not a trail that is not there; not a bad name.
    let out = env.atom_err(&["trails", "delete", "exp"], 1);
    assert!(out.stderr.contains("current trail"), "{out}");
    env.atom_ok(&["switch", "main"]);
    env.atom_err(&["trails", "delete", "nope"], 1);
    env.atom_err(&["trails", "delete", "a/b"], 2);
    env.atom_err(&["trails", "delete", "main"], 1);

    let before = env.object_counts();
    let report = env.atom_json(&["trails", "delete", "exp"]);
    let archive_ref = format!("refs/atom/archive/exp/{}", &exp_tip[..12]);
    assert_eq!(report["name"], "exp");
    assert_eq!(report["head"], exp_id.as_str());
    assert_eq!(report["commit"], exp_tip.as_str());
    assert_eq!(report["archive_ref"], archive_ref.as_str());
    assert_eq!(env.git(&["rev-parse", &archive_ref]).trim(), exp_tip);
    assert!(env
        .git_output(&["rev-parse", "--verify", "-q", "refs/heads/exp"])
        .stdout
        .is_empty());
    assert_eq!(env.object_counts(), before, "no atom written");
    let list = trails(&env);
    assert_eq!(list["trails"].as_array().unwrap().len(), 1, "{list:#}");
    // Nothing is lost: the store verifies (the transparency log included),
    // and the atom is still found.
    let (code, report, human) = verify(&env, &["--all"]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(report["atoms"], 3);
    env.atom_ok(&["show", &exp_id]);

    // The printed restore command brings it back.
    env.atom_ok(&["fork", "exp2", "--switch"]);
    env.record(&["TASK", "more"]);
    env.atom_ok(&["switch", "main"]);
    let out = env.atom(&["trail", "delete", "exp2"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("deleted trail exp2"), "{out}");
    let restore = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("to restore it: "))
        .unwrap_or_else(|| panic!("no restore hint:\n{out}"));
    let args: Vec<&str> = restore.split_whitespace().skip(1).collect();
    env.atom_ok(&args);
    assert_eq!(log_ids(&env, &["exp2"]).len(), 3);
    env.cross_check();
}

#[test]
fn trails_rename_moves_the_ref_and_head() {
    let env = TestEnv::init();
    // The current trail before its first atom is only HEAD's name.
    let renamed = env.atom_json(&["trails", "rename", "main", "work"]);
    assert_eq!(renamed["current"], true);
    assert_eq!(renamed["commit"], Value::Null);
    assert_eq!(env.git(&["symbolic-ref", "HEAD"]).trim(), "refs/heads/work");
    let atoms = record_n(&env, 2);
    assert_eq!(
        env.git(&["rev-parse", "refs/heads/work"]).trim(),
        atoms[1].1
    );

    env.atom_ok(&["fork", "side", "--from", &atoms[0].0]);
    // The current trail: the ref moves and HEAD follows.
    let out = env.atom_ok(&["trail", "rename", "work", "primary"]);
    assert_eq!(out, "renamed trail work to primary (current)\n");
    assert_eq!(
        env.git(&["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/primary"
    );
    assert_eq!(
        env.git(&["rev-parse", "refs/heads/primary"]).trim(),
        atoms[1].1
    );
    assert!(env
        .git_output(&["rev-parse", "--verify", "-q", "refs/heads/work"])
        .stdout
        .is_empty());
    let next = env.record(&["TASK", "next"]);
    assert_eq!(next["record"]["previous_atom"], atoms[1].0.as_str());
    // Another trail: HEAD stays.
    let report = env.atom_json(&["trails", "rename", "side", "side-2"]);
    assert_eq!(report["current"], false);
    assert_eq!(report["commit"], atoms[0].1.as_str());
    assert_eq!(
        env.git(&["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/primary"
    );
    let list = trails(&env);
    let names: Vec<&str> = list["trails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["primary", "side-2"]);
    assert_eq!(list["current"], "primary");
    assert_eq!(log_ids(&env, &["side-2"]), [atoms[0].0.clone()]);

    // Refused: a taken name, a missing trail, names fork would refuse.
    env.atom_err(&["trails", "rename", "side-2", "primary"], 1);
    env.atom_err(&["trails", "rename", "nope", "other"], 1);
    env.atom_err(&["trails", "rename", "side-2", "bad name"], 2);
    env.atom_err(&["trails", "rename", "side-2", "x.lock"], 2);
    assert_eq!(
        env.git(&["rev-parse", "refs/heads/side-2"]).trim(),
        atoms[0].1
    );

    // The list stays the default, and `list` says it too.
    assert_eq!(env.atom_ok(&["trails"]), env.atom_ok(&["trails", "list"]));
    let (code, _, human) = verify(&env, &["--all"]);
    assert_eq!(code, 0, "{human}");
    env.cross_check();
}
