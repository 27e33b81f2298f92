//! Canonical JSON (RFC 8785, JCS) and the record digest.
//!
//! This is the only code that hashes records: the `digest` field of an atom is
//! `sha256:` + hex SHA-256 of the JCS form of the record *without* its `digest`
//! field. `atom.json` in each commit holds the JCS form of the whole record, so
//! the stored bytes are the same whatever produced them.
//!
//! RFC 8785 writes every number as the IEEE 754 double it denotes, so a
//! number is only accepted when that double holds it exactly: an integer
//! within ±(2^53 - 1) in any notation, a fraction whose canonical form has the
//! same decimal value as the text given ([`check_numbers`]). What `record`
//! and `import` accept, `verify` then accepts, and an export imports again.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The largest integer canonical JSON (RFC 8785, which writes numbers as
/// IEEE 754 doubles) carries exactly: 2^53 - 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A number canonical JSON cannot hold as written, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {number} {reason}; store it as a string")]
pub struct BadNumber {
    /// Where the number is: `metadata.n`, `metadata.list[2]`.
    pub path: String,
    /// The number as given.
    pub number: String,
    /// Why it cannot be kept.
    pub reason: String,
}

impl BadNumber {
    /// An integer (in any notation) beyond ±[`MAX_SAFE_INTEGER`].
    pub fn too_large(path: &str, number: &str) -> Self {
        BadNumber {
            path: path.to_owned(),
            number: number.to_owned(),
            reason: format!(
                "is beyond ±{MAX_SAFE_INTEGER}, which canonical JSON (IEEE doubles) cannot hold exactly"
            ),
        }
    }
}

/// Whether canonical JSON holds the double `f` as the same number when it is
/// read back: finite and within ±[`MAX_SAFE_INTEGER`] (every double beyond
/// is an integer that reads back as a different one, or in another notation).
pub fn number_fits(f: f64) -> bool {
    f.is_finite() && f.abs() <= MAX_SAFE_INTEGER as f64
}

/// Check every number of the JSON text `json` (already parsed successfully)
/// against what canonical JSON would write for it: it must fit
/// ([`number_fits`]), and a number with a fraction or an exponent must keep
/// its decimal value (`0.1` is fine, `1.00000000000000001` would become `1`
/// and `1e-400` would become `0`). `root` names the text's place in paths
/// (`metadata`, or `""` for a whole record). The first offender is returned.
pub fn check_numbers(json: &str, root: &str) -> Result<(), BadNumber> {
    let mut scan = Scan {
        text: json,
        at: 0,
        path: root.to_owned(),
    };
    scan.value()
}

/// A walk over JSON text that is known to be valid; on anything unexpected
/// it stops quietly (the parser already said what is wrong).
struct Scan<'a> {
    text: &'a str,
    at: usize,
    path: String,
}

impl Scan<'_> {
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
        bytes.get(self.at).copied()
    }

    fn value(&mut self) -> Result<(), BadNumber> {
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    let Some(key) = self.string() else {
                        return Ok(());
                    };
                    if self.peek() != Some(b':') {
                        return Ok(());
                    }
                    self.at += 1;
                    let len = self.path.len();
                    if !self.path.is_empty() {
                        self.path.push('.');
                    }
                    self.path.push_str(&key);
                    self.value()?;
                    self.path.truncate(len);
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Ok(()),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(());
                }
                for i in 0.. {
                    let len = self.path.len();
                    self.path.push_str(&format!("[{i}]"));
                    self.value()?;
                    self.path.truncate(len);
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Ok(()),
                    }
                }
                Ok(())
            }
            Some(b'"') => {
                self.string();
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                let bytes = self.text.as_bytes();
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = bytes.get(self.at)
                {
                    self.at += 1;
                }
                check_number(&self.path, &self.text[start..self.at])
            }
            Some(_) => {
                // true, false, null
                let bytes = self.text.as_bytes();
                while bytes.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
                    self.at += 1;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The string at the cursor, unescaped; the cursor moves past it.
    fn string(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut i = start + 1;
        loop {
            match bytes.get(i)? {
                b'"' => break,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        self.at = i + 1;
        let raw = &self.text[start..self.at];
        Some(serde_json::from_str(raw).unwrap_or_else(|_| raw.to_owned()))
    }
}

fn check_number(path: &str, number: &str) -> Result<(), BadNumber> {
    let Ok(f) = serde_json::from_str::<f64>(number) else {
        return Ok(());
    };
    if !number_fits(f) {
        return Err(BadNumber::too_large(path, number));
    }
    if !number.contains(['.', 'e', 'E']) {
        return Ok(());
    }
    let written = String::from_utf8(to_canonical_vec(&f).expect("a finite double serializes"))
        .expect("canonical JSON is UTF-8");
    if decimal(number) != decimal(&written) {
        return Err(BadNumber {
            path: path.to_owned(),
            number: number.to_owned(),
            reason: format!(
                "is not exactly an IEEE double: canonical JSON would store it as {written}"
            ),
        });
    }
    Ok(())
}

/// The exact value of a JSON number as (negative, significant digits without
/// leading or trailing zeros, power of ten of the last digit); zero is
/// `(false, "", 0)` whatever its sign or spelling.
fn decimal(number: &str) -> (bool, String, i64) {
    let (negative, rest) = match number.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, number),
    };
    let (mantissa, exp) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e),
        None => (rest, "0"),
    };
    let exp: i64 = exp.parse().unwrap_or(if exp.starts_with('-') {
        i64::MIN / 2
    } else {
        i64::MAX / 2
    });
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let significant = digits.trim_end_matches('0');
    let exp = exp
        .saturating_sub(frac.len() as i64)
        .saturating_add((digits.len() - significant.len()) as i64);
    let significant = significant.trim_start_matches('0');
    if significant.is_empty() {
        return (false, String::new(), 0);
    }
    (negative, significant.to_owned(), exp)
}

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
    fn numbers_canonical_json_cannot_hold_are_named_with_their_path() {
        for ok in [
            r#"{"a": 1, "b": -0.0, "c": 0.1, "d": 1.5e-7, "e": 9007199254740991, "f": [1e2, 2.50]}"#,
            r#"{"n": -9007199254740991, "m": 5e-324, "s": "1e400", "x": 0.30000000000000004}"#,
            r#"[{"k": 1.0E+3}, 12345.678]"#,
        ] {
            assert_eq!(check_numbers(ok, "metadata"), Ok(()), "{ok}");
        }
        for (bad, path) in [
            (r#"{"n": 1e16}"#, "metadata.n"),
            (
                r#"{"a": {"b\"c": [0, 18446744073709551616]}}"#,
                "metadata.a.b\"c[1]",
            ),
            (r#"{"n": 1e23}"#, "metadata.n"),
            (r#"{"n": -9007199254740992}"#, "metadata.n"),
            (r#"{"n": 9007199254740991.5}"#, "metadata.n"),
            (r#"{"n": 1.00000000000000001}"#, "metadata.n"),
            (r#"{"n": 1e-400}"#, "metadata.n"),
            (
                r#"{"n": 0.1000000000000000055511151231257827}"#,
                "metadata.n",
            ),
        ] {
            let err = check_numbers(bad, "metadata").unwrap_err();
            assert_eq!(err.path, path, "{bad}");
        }
        let err = check_numbers(r#"{"token_cost": 1e16}"#, "").unwrap_err();
        assert_eq!(err.path, "token_cost");
        assert_eq!(err.number, "1e16");
    }

    #[test]
    fn digest_shape() {
        assert!(is_digest(&digest_of(&json!({})).unwrap()));
        assert!(!is_digest("sha256:ABC"));
        assert!(!is_digest("md5:00"));
    }
}
