//! Revisions (SPEC §5): `@`, `REV~N`, `A..B`, ids in any case, sha
//! prefixes and trail names, one resolver for every command, and a "did
//! you mean" on a miss.

use crate::cases::verify::record_n;
use crate::common::TestEnv;

fn shown(env: &TestEnv, rev: &str) -> String {
    env.atom_json(&["show", rev])["record"]["atom_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn at_and_tilde_walk_first_parents() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 4);
    assert_eq!(shown(&env, "@"), atoms[3].0);
    assert_eq!(shown(&env, "@~"), atoms[2].0);
    assert_eq!(shown(&env, "@~2"), atoms[1].0);
    assert_eq!(shown(&env, "@~1~2"), atoms[0].0);
    assert_eq!(
        shown(&env, &format!("{}~1", atoms[2].0.to_lowercase())),
        atoms[1].0
    );
    assert_eq!(shown(&env, &format!("{}~3", &atoms[3].1[..8])), atoms[0].0);
    assert_eq!(shown(&env, "main~3"), atoms[0].0);
    // Past the first atom: not found (exit 1); a bad suffix: usage (exit 2).
    let out = env.atom_err(&["show", "@~4"], 1);
    assert!(out.stderr.contains("@~4"), "{out}");
    env.atom_err(&["show", "@~x"], 2);
    // Every command takes them: cat, trace, verify, log, fork, rollback.
    assert_eq!(
        env.log_ids(&["@~2"]),
        vec![atoms[1].0.clone(), atoms[0].0.clone()]
    );
    let verified = env.atom_json(&["verify", "@~1"]);
    assert_eq!(verified["atoms"], 3, "{verified:#}");
    env.atom_ok(&["fork", "exp", "--from", "@~3"]);
    assert_eq!(env.log_ids(&["exp"]), vec![atoms[0].0.clone()]);
    env.atom_ok(&["rollback", "@~1"]);
    let after = env.log_ids(&["-n", "2"]);
    assert_eq!(after[1], atoms[2].0, "{after:?}");
}

#[test]
fn at_follows_the_selected_trail() {
    let env = TestEnv::init();
    let out = env.atom_err(&["show", "@"], 1);
    assert!(out.stderr.contains("no atoms yet"), "{out}");
    let atoms = record_n(&env, 2);
    env.atom_ok(&["fork", "exp", "--from", &atoms[0].0]);
    assert_eq!(shown(&env, "@"), atoms[1].0);
    let on_exp = env.atom_json(&["show", "@", "--trail", "exp"]);
    assert_eq!(on_exp["record"]["atom_id"], atoms[0].0.as_str());
}

#[test]
fn ranges_in_log_and_export() {
    let env = TestEnv::init();
    let atoms = record_n(&env, 5);
    let ids = |v: &[usize]| v.iter().map(|&i| atoms[i].0.clone()).collect::<Vec<_>>();
    assert_eq!(env.log_ids(&["@~3..@"]), ids(&[4, 3, 2]));
    assert_eq!(
        env.log_ids(&["@~3.."]),
        ids(&[4, 3, 2]),
        "an empty side is @"
    );
    assert_eq!(
        env.log_ids(&[&format!("{}..@~1", atoms[1].0)]),
        ids(&[3, 2])
    );
    assert_eq!(env.log_ids(&["@..@~2"]), Vec::<String>::new());
    // A fork: what exp has that main does not.
    env.atom_ok(&["fork", "exp", "--from", &atoms[2].0]);
    let extra = env.record(&["TASK", "plan", "--trail", "exp"]);
    let extra = extra["record"]["atom_id"].as_str().unwrap().to_owned();
    assert_eq!(env.log_ids(&["main..exp"]), vec![extra.clone()]);
    // `~N` across the fork point (another segment of the index).
    assert_eq!(shown(&env, "exp~2"), atoms[1].0);
    assert_eq!(shown(&env, "exp~3"), atoms[0].0);
    env.atom_err(&["show", "exp~4"], 1);
    assert_eq!(env.log_ids(&["exp..main"]), ids(&[4, 3]));
    // Filters still apply inside a range.
    assert_eq!(
        env.log_ids(&["main..exp", "--type", "cfg"]),
        Vec::<String>::new()
    );
    // export prints a range oldest first.
    let lines = env.atom_ok(&["export", "@~2..@"]);
    let exported: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["atom_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(exported, ids(&[3, 4]));
    // A range where one atom is meant is refused as usage.
    let out = env.atom_err(&["show", "@~2..@"], 2);
    assert!(out.stderr.contains("range"), "{out}");
    env.atom_err(&["log", "main...exp"], 2);
}

#[test]
fn a_misspelt_trail_gets_did_you_mean() {
    let env = TestEnv::init();
    record_n(&env, 1);
    env.atom_ok(&["fork", "experiment"]);
    let out = env.atom_err(&["log", "experimnet"], 1);
    assert!(
        out.stderr.contains("did you mean trail experiment?"),
        "{out}"
    );
    let out = env.atom_err(&["show", "Experiment~1"], 1);
    assert!(
        out.stderr.contains("did you mean trail experiment?"),
        "{out}"
    );
    let out = env.atom_err(&["show", "zzzz-nothing"], 1);
    assert!(out.stderr.contains("hint: a revision is"), "{out}");
}
