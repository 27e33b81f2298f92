//! The command line as people who know git and jj expect it (issue 20): ids
//! in any case, "did you mean" for a mistyped TYPE, `atom cat`, trail
//! housekeeping, an `init` that leaves nothing half made.

use crate::common::TestEnv;

fn id_of(v: &serde_json::Value) -> String {
    v["record"]["atom_id"].as_str().expect("atom_id").to_owned()
}

#[test]
fn ids_are_accepted_in_any_case_everywhere() {
    let env = TestEnv::init();
    let first = id_of(&env.record(&["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"]));
    let second = id_of(&env.record(&["TASK", "plan", "--at", "2024-11-27T11:00:00Z"]));
    assert_eq!(first, "ATOM-CFG-20241127-001");
    let lower = first.to_lowercase();
    let mixed = "Atom-Cfg-20241127-001";

    for rev in [lower.as_str(), mixed] {
        assert_eq!(id_of(&env.atom_json(&["show", rev])), first, "show {rev}");
        assert_eq!(env.log_ids(&[rev]), [first.as_str()], "log {rev}");
    }
    assert_eq!(env.atom_json(&["trace", &lower])["root"], first.as_str());
    assert_eq!(env.atom_ok(&["export", &lower]).lines().count(), 1);
    assert_eq!(env.atom(&["verify", &lower]).code, 0);
    assert_eq!(env.atom(&["prove", &lower]).code, 0);
    let linked = env.record(&["TASK", "plan", "--influenced-by", &lower]);
    assert_eq!(
        linked["record"]["influenced_by"],
        serde_json::json!([first.as_str()])
    );
    env.atom_ok(&["fork", "from-lower", "--from", &second.to_lowercase()]);
    assert_eq!(
        env.log_ids(&["from-lower"]),
        [second.clone(), first.clone()]
    );
    let rolled = env.atom_json(&["rollback", &lower]);
    assert_eq!(
        rolled["rollback"]["record"]["previous_atom"],
        first.as_str()
    );
}

#[test]
fn a_mistyped_type_gets_a_did_you_mean() {
    let env = TestEnv::init();
    let cfg = id_of(&env.record(&["CFG", "modify_file", "--at", "2024-11-27T10:00:00Z"]));
    assert_eq!(cfg, "ATOM-CFG-20241127-001");
    for wrong in [
        "ATOM-CONFIG-20241127-001",
        "atom-task-20241127-001",
        "ATOM-CFGG-20241127-001",
    ] {
        let out = env.atom_err(&["show", wrong], 1);
        assert!(out.stderr.contains("not found"), "{out}");
        assert!(
            out.stderr.contains(&format!("hint: did you mean {cfg}?")),
            "{wrong}: {out}"
        );
        let out = env.atom_err(&["log", wrong], 1);
        assert!(out.stderr.contains("did you mean"), "{out}");
    }
    // Another number: nothing to suggest but the way to look.
    let out = env.atom_err(&["show", "ATOM-CONFIG-20241127-002"], 1);
    assert!(!out.stderr.contains("did you mean"), "{out}");
    assert!(out.stderr.contains("atom log --all"), "{out}");
    // A link to a mistyped id says what it meant too (and records nothing).
    let out = env.atom_err(
        &[
            "record",
            "TASK",
            "x",
            "--influenced-by",
            "ATOM-CONFIG-20241127-001",
        ],
        2,
    );
    assert!(
        out.stderr.contains(&format!("did you mean {cfg}?")),
        "{out}"
    );
    assert_eq!(env.log_ids(&[]).len(), 1);
}
