//! Durability (SPEC §3), seen from outside: ref locks of other programs
//! are never removed, a lock a killed atom writer left is, and refs packed
//! by `git gc` keep working.

use std::time::Duration;

use crate::common::TestEnv;

#[test]
fn a_ref_lock_held_by_another_program_is_never_removed() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    let tip = env.tip().unwrap();
    let lock = env.git_dir().join("refs/heads/main.lock");
    // What a git command holding the ref, or one that crashed, leaves: old.
    std::fs::write(&lock, format!("{tip}\n")).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let out = env.atom_err(&["record", "TASK", "two"], 1);
    assert!(
        out.stderr
            .lines()
            .next()
            .unwrap()
            .contains(&*lock.to_string_lossy()),
        "the error line names the lock file: {out}"
    );
    assert!(lock.exists(), "the lock was removed");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), format!("{tip}\n"));
    assert_eq!(env.tip().unwrap(), tip, "nothing was recorded");
    assert_eq!(env.log_ids(&[]).len(), 1);

    // Once its owner is done, recording works again.
    std::fs::remove_file(&lock).unwrap();
    env.atom_ok(&["record", "TASK", "two"]);
    env.cross_check();
}

#[test]
fn a_ref_lock_left_by_a_killed_atom_writer_is_cleared() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    let tip = env.tip().unwrap();
    // An atom writer killed between taking the lock and renaming it leaves
    // its lock linked to its own file under atom-locks/.
    let own = env.git_dir().join("atom-locks/refs/heads/main.lock");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::write(&own, format!("{tip}\n")).unwrap();
    let lock = env.git_dir().join("refs/heads/main.lock");
    std::fs::hard_link(&own, &lock).unwrap();

    env.atom_ok(&["record", "TASK", "two"]);
    assert!(!lock.exists() && !own.exists());
    assert_eq!(env.log_ids(&[]).len(), 2);
    env.cross_check();
}

#[test]
fn records_forks_and_rollbacks_work_on_refs_git_gc_packed() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    env.atom_ok(&["fork", "side"]);
    env.record(&["TASK", "two"]);
    env.git(&["gc", "--quiet"]);
    let heads = env.git_dir().join("refs/heads");
    assert!(!heads.join("main").exists(), "git gc left a loose ref");
    let packed = std::fs::read_to_string(env.git_dir().join("packed-refs")).unwrap();
    assert!(packed.contains("refs/heads/main"), "{packed}");

    let tip = env.tip().unwrap();
    env.record(&["TASK", "three"]);
    assert_eq!(env.git(&["rev-parse", "main~1"]).trim(), tip);
    env.atom_ok(&["rollback", &env.log_ids(&[])[1], "--yes"]);
    env.atom_ok(&["switch", "side"]);
    env.record(&["TASK", "on_side"]);
    env.atom_ok(&["switch", "main"]);
    assert_eq!(env.log_ids(&["side"]).len(), 2);
    assert_eq!(env.log_ids(&[]).len(), 3, "one, two and the rollback");
    let out = env.atom(&["verify", "--all"]);
    assert_eq!(out.code, 0, "{out}");
    env.cross_check();
}
