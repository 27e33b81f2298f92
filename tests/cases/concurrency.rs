//! Several writers at once (SPEC §1, §3): ids are allocated and the trail's
//! ref is moved under one store-wide lock, so concurrent `atom record`s never
//! overwrite each other and never mint the same id.

use std::collections::BTreeSet;

use crate::common::{assert_linear_chain, TestEnv};

const WRITERS: usize = 4;
const ATOMS_PER_WRITER: usize = 25;

#[test]
fn concurrent_writers_get_distinct_gapless_ids_on_one_chain() {
    let env = TestEnv::init();
    let printed: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let env = &env;
                s.spawn(move || {
                    (0..ATOMS_PER_WRITER)
                        .map(|i| {
                            let agent = format!("writer-{w}");
                            let summary = format!("writer {w} atom {i}");
                            let out = env.atom(&[
                                "record",
                                "TASK",
                                "write",
                                "--agent",
                                &agent,
                                "--summary",
                                &summary,
                                "--at",
                                "2024-11-27T12:00:00Z",
                            ]);
                            assert_eq!(out.code, 0, "writer {w}, atom {i}:\n{out}");
                            out.stdout.trim().to_owned()
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });

    let total = WRITERS * ATOMS_PER_WRITER;
    let expected: Vec<String> = (1..=total)
        .rev()
        .map(|n| format!("ATOM-TASK-20241127-{n:03}"))
        .collect();

    // Every id printed once, and together exactly 001..100.
    let printed_set: BTreeSet<&String> = printed.iter().flatten().collect();
    assert_eq!(printed_set.len(), total, "an id was printed twice");
    assert_eq!(printed_set, expected.iter().collect::<BTreeSet<_>>());

    // The trail holds all of them, newest first, as one linear chain.
    let log = env.cross_check();
    let ids: Vec<&str> = log
        .iter()
        .map(|a| a["record"]["atom_id"].as_str().expect("atom_id"))
        .collect();
    assert_eq!(ids, expected);
    assert_linear_chain(&log);
    let parents = env.git(&["rev-list", "--parents", "main"]);
    assert!(
        parents.lines().all(|l| l.split(' ').count() <= 2),
        "a commit has several parents"
    );

    // Each writer's atoms appear in the order it recorded them, under the ids it printed.
    for (w, printed_by_w) in printed.iter().enumerate() {
        let agent = format!("writer-{w}");
        let mine: Vec<(&str, &str)> = log
            .iter()
            .rev()
            .map(|a| &a["record"])
            .filter(|r| r["agent"] == agent.as_str())
            .map(|r| {
                (
                    r["atom_id"].as_str().unwrap(),
                    r["summary"].as_str().unwrap(),
                )
            })
            .collect();
        let summaries: Vec<String> = (0..ATOMS_PER_WRITER)
            .map(|i| format!("writer {w} atom {i}"))
            .collect();
        let want: Vec<(&str, &str)> = printed_by_w
            .iter()
            .map(String::as_str)
            .zip(summaries.iter().map(String::as_str))
            .collect();
        assert_eq!(mine, want, "writer {w}");
    }
}

/// Eight writers (different agents) while HEAD flips between two trails and
/// readers run `log` and `query` the whole time: every printed id is on one
/// of the trails exactly once, ids never repeat in the store, both trails
/// verify, and no reader or writer ever sees "database is locked".
#[test]
fn eight_writers_two_trails_and_readers() {
    const WRITERS: usize = 8;
    const EACH: usize = 8;
    let env = TestEnv::init();
    env.record(&["TASK", "start"]);
    env.atom_ok(&["fork", "side"]);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (printed, reader_runs) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let env = &env;
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let agent = format!("agent-{w}");
                            let out = env.atom(&[
                                "record",
                                "TASK",
                                "write",
                                "--agent",
                                &agent,
                                "--summary",
                                &format!("{w}.{i}"),
                            ]);
                            assert_eq!(out.code, 0, "writer {w}:\n{out}");
                            out.stdout.trim().to_owned()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let switcher = {
            let (env, done) = (&env, &done);
            s.spawn(move || {
                let mut n = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let to = if n % 2 == 0 { "side" } else { "main" };
                    let out = env.atom(&["switch", to]);
                    assert_eq!(out.code, 0, "switch:\n{out}");
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_millis(15));
                }
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (env, done) = (&env, &done);
                s.spawn(move || {
                    let mut runs = 0;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let out = if r == 0 {
                            env.atom(&["log", "--all", "-n", "5"])
                        } else {
                            env.atom(&["query", "SELECT count(*) FROM atoms"])
                        };
                        assert_eq!(out.code, 0, "reader {r}:\n{out}");
                        assert!(!out.stderr.contains("locked"), "{out}");
                        runs += 1;
                    }
                    runs
                })
            })
            .collect();
        let printed: Vec<String> = writers
            .into_iter()
            .flat_map(|h| h.join().expect("writer"))
            .collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        switcher.join().expect("switcher");
        let runs: usize = readers.into_iter().map(|h| h.join().expect("reader")).sum();
        (printed, runs)
    });
    assert!(reader_runs > 0);

    let mut on_trails: Vec<String> = Vec::new();
    for trail in ["main", "side"] {
        let log = env.atom_json(&["log", trail]);
        on_trails.extend(
            log.as_array()
                .unwrap()
                .iter()
                .map(|a| a["record"]["atom_id"].as_str().unwrap().to_owned())
                .filter(|id| !id.ends_with("-001")),
        );
        let v = env.atom(&["verify", trail]);
        assert_eq!(v.code, 0, "{trail}:\n{v}");
    }
    let printed_set: BTreeSet<&String> = printed.iter().collect();
    assert_eq!(printed_set.len(), WRITERS * EACH, "an id was printed twice");
    on_trails.sort();
    let mut want: Vec<String> = printed.clone();
    want.sort();
    assert_eq!(on_trails, want, "the trails hold exactly the printed ids");
    env.cross_check();
}

/// Rollbacks while four agents record: each one is planned again and
/// retried when the trail moved, as long as its target is still on the
/// trail; none is refused, nothing is lost (the discarded atoms are
/// archived, and verify, the log included, passes).
#[test]
fn rollbacks_under_load_retry_and_all_succeed() {
    let env = TestEnv::init();
    let target = env.record(&["TASK", "base"])["record"]["atom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..4 {
            let (env, stop) = (&env, &stop);
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 40 {
                    let out = env.atom(&["record", "TASK", "write", "--agent", &format!("w{w}")]);
                    assert_eq!(out.code, 0, "{out}");
                    i += 1;
                }
            });
        }
        for r in 0..8 {
            std::thread::sleep(std::time::Duration::from_millis(30));
            let out = env.atom(&["rollback", &target, "--yes"]);
            // Nothing to roll back is the only acceptable refusal.
            assert!(
                out.code == 0 || out.stderr.contains("nothing to roll back"),
                "rollback {r}:\n{out}"
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    env.atom_ok(&["verify", "--all"]);
}
