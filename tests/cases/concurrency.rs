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
