//! Durability (SPEC §3), seen from outside: ref locks of other programs
//! are never removed, a lock a killed atom writer left is, refs packed by
//! `git gc` keep working, and the packs each append writes stay few.

use std::process::Stdio;
use std::time::Duration;

use atom::store::rollup::PACK_LIMIT;

use crate::common::{Output, TestEnv};

/// Packs in the store.
fn packs(env: &TestEnv) -> usize {
    std::fs::read_dir(env.git_dir().join("objects/pack"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".pack"))
            })
            .count()
        })
        .unwrap_or(0)
}

/// The names of the store's `.pack` files.
fn pack_names(env: &TestEnv) -> Vec<String> {
    std::fs::read_dir(env.git_dir().join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pack"))
        .collect()
}

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

#[test]
fn packs_stay_few_over_200_records() {
    let env = TestEnv::init();
    let mut most = 0;
    let mut gc_pack = None;
    for i in 0..200 {
        env.atom_ok(&["record", "TASK", "step", "--summary", &format!("step {i}")]);
        most = most.max(packs(&env));
        if i == 60 {
            // A pack of deltas (and a bitmap) as git writes it: rolled up too.
            env.git(&["gc", "--quiet"]);
            assert_eq!(packs(&env), 1);
            gc_pack = Some(pack_names(&env).remove(0));
        }
    }
    eprintln!(
        "200 records: at most {most} packs, {} at the end",
        packs(&env)
    );
    assert!(most <= PACK_LIMIT, "{most} packs");
    let gc_pack = gc_pack.unwrap();
    assert!(
        !pack_names(&env).contains(&gc_pack),
        "the pack of git gc is still there"
    );
    let stem = gc_pack.trim_end_matches(".pack").to_owned();
    let leftovers: Vec<String> = std::fs::read_dir(env.git_dir().join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&stem) || n.starts_with("tmp_"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let log = env.cross_check();
    assert_eq!(log.len(), 200);
    let tip = env.tip().unwrap();
    let verified = env.git_verify_commit(&tip);
    assert_eq!(verified.code, 0, "{verified}");
    let out = env.atom(&["verify"]);
    assert_eq!(out.code, 0, "{out}");
    let count = env.git(&["count-objects", "-v"]);
    assert!(count.starts_with("count: 0\n"), "loose objects:\n{count}");
}

#[test]
fn readers_in_other_processes_survive_rollups() {
    let env = TestEnv::init();
    env.record(&["TASK", "first"]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let failures = std::sync::Mutex::new(Vec::new());
    let rounds = std::sync::atomic::AtomicUsize::new(0);
    let readers = [
        vec!["git", "log", "--format=%H %s"],
        vec!["git", "rev-list", "--objects", "--all"],
        vec!["atom", "log"],
        vec!["atom", "verify"],
    ];
    std::thread::scope(|s| {
        for reader in &readers {
            let (env, stop, failures, rounds) = (&env, &stop, &failures, &rounds);
            s.spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out: Output = match reader[0] {
                        "git" => env.git_output(&reader[1..]),
                        _ => env.atom(&reader[1..]),
                    };
                    rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if out.code != 0 {
                        failures.lock().unwrap().push(format!("{reader:?}:\n{out}"));
                    }
                }
            });
        }
        // A long-lived reader: one `git cat-file` over the whole run, asked
        // again and again for the first commit, whose pack is rolled up.
        let first = env.tip().unwrap();
        let (env, stop, failures) = (&env, &stop, &failures);
        s.spawn(move || {
            let mut child = env
                .command("git")
                .arg("--git-dir")
                .arg(env.git_dir())
                .args(["cat-file", "--batch-check"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("run git cat-file");
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                use std::io::{BufRead as _, Write as _};
                writeln!(stdin, "{first}").unwrap();
                let mut line = String::new();
                stdout.read_line(&mut line).unwrap();
                if !line.contains(" commit ") {
                    failures.lock().unwrap().push(format!("cat-file: {line}"));
                }
            }
            drop(stdin);
            let _ = child.wait();
        });
        for i in 0..3 * PACK_LIMIT {
            let out = env.atom(&["record", "TASK", "step", "--summary", &format!("{i}")]);
            if out.code != 0 {
                failures.lock().unwrap().push(format!("record {i}:\n{out}"));
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let failures = failures.into_inner().unwrap();
    eprintln!("{} reader runs", rounds.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(packs(&env) <= PACK_LIMIT);
    assert_eq!(env.log_ids(&[]).len(), 3 * PACK_LIMIT + 1);
    env.cross_check();
}
