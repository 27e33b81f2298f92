//! Property tests at fuzzing depth for the import reader: files made of
//! valid lines, damaged lines, seed rows and garbage go through a real
//! store. Whatever happens, nothing panics, a refused file changes nothing,
//! and an accepted one leaves a trail that verifies.
//!
//! A longer campaign: `PROPTEST_CASES=5000 cargo test --lib fuzz_import`.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::store::HEADS_PREFIX;
use crate::verify::VerifyScope;
use crate::Trail;

/// One line of an import file.
fn line() -> impl Strategy<Value = String> {
    let text = "\\PC{0,16}";
    prop_oneof![
        // A minimal valid line.
        ("[A-Z]{1,6}", "[a-z][a-z_]{0,10}", text)
            .prop_map(|(t, o, s)| json!({"type": t, "operation": o, "summary": s}).to_string()),
        // A line with fields that may or may not check out.
        (
            prop::option::of("ATOM-[A-Z]{1,4}-2024112[0-9]-0[0-9]{2}"),
            prop::option::of("2024-11-2[0-9]T1[0-9]:00:00Z"),
            prop::option::of("sha256:[0-9a-f]{64}"),
            prop::option::of(prop::collection::vec("ATOM-TASK-20241127-00[1-3]", 0..2)),
            prop::option::of(any::<u32>()),
        )
            .prop_map(|(id, ts, digest, inf, tokens)| {
                let mut v = json!({"type": "TASK", "operation": "plan"});
                if let Some(id) = id {
                    v["atom_id"] = json!(id);
                }
                if let Some(ts) = ts {
                    v["timestamp"] = json!(ts);
                }
                if let Some(d) = digest {
                    v["digest"] = json!(d);
                }
                if let Some(i) = inf {
                    v["influenced_by"] = json!(i);
                }
                if let Some(t) = tokens {
                    v["token_cost"] = json!(t);
                }
                v.to_string()
            }),
        // A seed `atom_trail` row, its signature right or wrong.
        (any::<bool>(), text).prop_map(|(right, note)| {
            let id = "ATOM-CFG-20241127-001";
            let meta = json!({"note": note}).to_string();
            let sig = if right {
                format!(
                    "sha256:{}",
                    crate::canonical::sha256_hex(format!("{id}{meta}").as_bytes())
                )
            } else {
                format!("sha256:{}", "0".repeat(64))
            };
            json!({"atom_id": id, "operation": "save", "agent": "kenl", "timestamp":
                "2024-11-27 10:00:00", "signature": sig, "previous_atom": Value::Null,
                "metadata": meta})
            .to_string()
        }),
        // Garbage.
        "\\PC{0,40}",
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fuzz_import_files(lines in prop::collection::vec(line(), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("store");
        Trail::init(&home, None).unwrap();
        let trail = Trail::open(&home).unwrap();
        let tip = || trail.git().ref_target(&format!("{HEADS_PREFIX}main")).unwrap();
        let before = tip();
        let file = lines.join("\n");
        match trail.import(&mut file.as_bytes(), &mut |_| {}) {
            Err(_) => prop_assert_eq!(tip(), before, "a refused import moved the trail"),
            Ok(report) => {
                let report_json = serde_json::to_string(&report).unwrap();
                let trail = Trail::open(&home).unwrap();
                let verified = trail.verify(VerifyScope::Current).unwrap();
                prop_assert!(verified.ok, "{:?} after {}", verified.failures, report_json);
            }
        }
    }
}
