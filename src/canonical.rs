//! Canonical JSON (RFC 8785, JCS) and the record digest.
//!
//! This is the only code that hashes records: the `digest` field of an atom is
//! `sha256:` + hex SHA-256 of the JCS form of the record *without* its `digest`
//! field. `atom.json` in each commit holds the JCS form of the whole record, so
//! the stored bytes are the same whatever produced them.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The prefix of every digest string.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Serialize any value as RFC 8785 canonical JSON.
pub fn to_canonical_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_jcs::to_vec(value)
}

/// The `sha256:<hex>` digest of a record given as a JSON object; a top-level
/// `digest` key, if present, is left out of the hash.
pub fn digest_of(record: &Value) -> Result<String, serde_json::Error> {
    let bytes = match record {
        Value::Object(map) if map.contains_key("digest") => {
            let mut without = map.clone();
            without.remove("digest");
            to_canonical_vec(&without)?
        }
        other => to_canonical_vec(other)?,
    };
    Ok(format!("{DIGEST_PREFIX}{}", hex(&Sha256::digest(&bytes))))
}

/// SHA-256 of raw bytes as lowercase hex (used for attachments).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Whether `s` has the shape of a digest: `sha256:` and 64 lowercase hex digits.
pub fn is_digest(s: &str) -> bool {
    s.strip_prefix(DIGEST_PREFIX)
        .is_some_and(|h| h.len() == 64 && is_lower_hex(h))
}

/// Whether `s` is non-empty lowercase hexadecimal.
pub fn is_lower_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let v = json!({"b": 1, "a": [true, null, "x"], "c": {"z": 1.5, "y": "é"}});
        let s = String::from_utf8(to_canonical_vec(&v).unwrap()).unwrap();
        assert_eq!(s, r#"{"a":[true,null,"x"],"b":1,"c":{"y":"é","z":1.5}}"#);
    }

    #[test]
    fn digest_ignores_digest_field() {
        let a = json!({"x": 1});
        let b = json!({"x": 1, "digest": "sha256:whatever"});
        assert_eq!(digest_of(&a).unwrap(), digest_of(&b).unwrap());
        // sha256 of `{"x":1}`, computed with coreutils: printf '{"x":1}' | sha256sum
        assert_eq!(
            digest_of(&a).unwrap(),
            "sha256:5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22"
        );
    }

    #[test]
    fn digest_shape() {
        assert!(is_digest(&digest_of(&json!({})).unwrap()));
        assert!(!is_digest("sha256:ABC"));
        assert!(!is_digest("md5:00"));
    }
}
