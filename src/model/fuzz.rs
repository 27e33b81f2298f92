//! Property tests at fuzzing depth for the record parser and validator: any
//! bytes, and valid records with random damage, go through parsing,
//! validation, digest and canonical form without a panic, and whatever
//! validates round-trips exactly.
//!
//! The case counts are modest so `cargo test` stays quick; a longer
//! campaign: `PROPTEST_CASES=100000 cargo test --lib fuzz_`.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::Atom;

fn valid_record() -> Value {
    let mut r = json!({
        "atom_id": "ATOM-CFG-20241127-003",
        "type": "CFG",
        "operation": "modify_file",
        "agent": "qwen",
        "timestamp": "2024-11-27T10:23:45Z",
        "previous_atom": "ATOM-RESEARCH-20241127-002",
        "previous_digest": format!("sha256:{}", "a".repeat(64)),
        "influenced_by": ["ATOM-RESEARCH-20241127-002"],
        "project": "bazza-dx",
        "summary": "raise vm.max_map_count",
        "metadata": {"path": "gaming.env", "context_sync_id": 42},
        "token_cost": 1200,
        "attachments": [{"name": "gaming.env", "sha256": "b".repeat(64), "size": 123}],
        "digest": ""
    });
    let atom: Atom = serde_json::from_value(r.clone()).expect("the seed record parses");
    r["digest"] = json!(atom.compute_digest());
    r
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        "ATOM-[A-Z]{1,4}-2024112[0-9]-[0-9]{1,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 16] = [
    "atom_id",
    "type",
    "operation",
    "agent",
    "timestamp",
    "previous_atom",
    "previous_digest",
    "merged",
    "influenced_by",
    "project",
    "summary",
    "metadata",
    "token_cost",
    "attachments",
    "digest",
    "extra",
];

/// One change to a record: set a field to any value, or remove it.
fn damage() -> impl Strategy<Value = (usize, Option<Value>)> {
    (0..FIELDS.len(), prop::option::weighted(0.85, any_json()))
}

/// Parse, validate, digest, canonicalise: never a panic; what validates
/// round-trips through its canonical bytes.
fn check(bytes: &[u8]) {
    let Ok(atom) = serde_json::from_slice::<Atom>(bytes) else {
        return;
    };
    let valid = atom.validate();
    let digest = atom.compute_digest();
    let canonical = atom.canonical_bytes();
    if valid.is_ok() {
        assert_eq!(digest, atom.digest);
        let again: Atom = serde_json::from_slice(&canonical).expect("canonical bytes parse");
        assert_eq!(again, atom);
        assert_eq!(again.canonical_bytes(), canonical);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fuzz_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn fuzz_damaged_records(changes in prop::collection::vec(damage(), 1..4)) {
        let mut record = valid_record();
        for (field, value) in changes {
            let obj = record.as_object_mut().unwrap();
            match value {
                Some(v) => { obj.insert(FIELDS[field].to_owned(), v); }
                None => { obj.remove(FIELDS[field]); }
            }
        }
        check(&serde_json::to_vec(&record).unwrap());
    }

    #[test]
    fn fuzz_truncated_and_flipped(cut in 0usize..700, flip in 0usize..700, byte in any::<u8>()) {
        let mut bytes = serde_json::to_vec(&valid_record()).unwrap();
        if flip < bytes.len() {
            bytes[flip] = byte;
        }
        bytes.truncate(cut.min(bytes.len()));
        check(&bytes);
    }
}

#[test]
fn the_seed_record_is_valid() {
    let bytes = serde_json::to_vec(&valid_record()).unwrap();
    let atom: Atom = serde_json::from_slice(&bytes).unwrap();
    atom.validate().expect("valid");
}
