//! The ATOM record, its id, and validation (SPEC §1).
//!
//! A record is validated field by field so that a bad input is refused with the
//! name of the field at fault. [`Atom`] is exactly the on-disk record: every
//! field is always present (`merged` only on MERGE atoms) and nothing else is.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike as _, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::canonical;

/// Why a record, id or field was refused. Each variant names the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidField {
    /// A field has a value that does not fit its format.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The record field or input that is wrong.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl InvalidField {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        InvalidField::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The name of the field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            InvalidField::Invalid { field, .. } => field,
        }
    }
}

/// The highest per-day sequence number an id may carry. No real day comes
/// near it; a larger number can only come from a broken or hostile source,
/// and would leave no number for the atoms after it.
pub const MAX_SEQ: u32 = 999_999_999;

/// The earliest day an atom may be dated: anything before is a broken clock
/// or hostile input.
pub const EARLIEST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("2000-01-01 is a date"),
};

/// How far ahead of this machine's clock `record --at` and `import` may date
/// an atom (clocks of devices disagree a little; a day is generous).
pub const MAX_CLOCK_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// `ATOM-<TYPE>-<YYYYMMDD>-<NNN>`: unique within a store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AtomId {
    atom_type: String,
    date: NaiveDate,
    seq: u32,
}

impl AtomId {
    /// Build an id; `atom_type` must be a valid TYPE, `date` no earlier than
    /// [`EARLIEST_DAY`] and `seq` from 1 to [`MAX_SEQ`].
    pub fn new(atom_type: &str, date: NaiveDate, seq: u32) -> Result<Self, InvalidField> {
        validate_type(atom_type)?;
        check_day_and_seq(date, seq.into())?;
        Ok(AtomId {
            atom_type: atom_type.to_owned(),
            date,
            seq,
        })
    }

    /// Parse an id as people type it: in any case (`atom-cfg-20241127-003`
    /// is `ATOM-CFG-20241127-003`). Stored ids are parsed strictly, with
    /// [`str::parse`].
    pub fn parse_any_case(s: &str) -> Result<Self, InvalidField> {
        s.to_ascii_uppercase().parse().map_err(|_| {
            s.parse::<AtomId>()
                .expect_err("an id that does not parse upper-cased does not parse as given")
        })
    }

    /// The TYPE part.
    pub fn atom_type(&self) -> &str {
        &self.atom_type
    }

    /// The UTC day the atom was recorded for.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// The store's per-day sequence number.
    pub fn seq(&self) -> u32 {
        self.seq
    }
}

impl fmt::Display for AtomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ATOM-{}-{}-{:03}",
            self.atom_type,
            self.date.format("%Y%m%d"),
            self.seq
        )
    }
}

impl FromStr for AtomId {
    type Err = InvalidField;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            InvalidField::new(
                "atom_id",
                format!("{s:?} is not of the form ATOM-<TYPE>-<YYYYMMDD>-<NNN>"),
            )
        };
        let rest = s.strip_prefix("ATOM-").ok_or_else(bad)?;
        let (rest, seq) = rest.rsplit_once('-').ok_or_else(bad)?;
        let (atom_type, date) = rest.rsplit_once('-').ok_or_else(bad)?;
        validate_type(atom_type).map_err(|_| bad())?;
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let date = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| bad())?;
        if seq.len() < 3 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        // All digits: only a number too large for u64 fails to parse.
        let n: u64 = seq.parse().unwrap_or(u64::MAX);
        check_day_and_seq(date, n)
            .map_err(|e| InvalidField::new("atom_id", format!("{s:?}: {}", reason_of(e))))?;
        let id = AtomId::new(atom_type, date, n as u32).map_err(|_| bad())?;
        // Only the canonical spelling is an id: `-0001` would not round-trip.
        if id.to_string() != s {
            return Err(bad());
        }
        Ok(id)
    }
}

/// The range every id keeps to: a day from [`EARLIEST_DAY`], a sequence
/// number from 1 to [`MAX_SEQ`].
fn check_day_and_seq(date: NaiveDate, seq: u64) -> Result<(), InvalidField> {
    if seq == 0 {
        return Err(InvalidField::new("atom_id", "sequence numbers start at 1"));
    }
    if seq > u64::from(MAX_SEQ) {
        return Err(InvalidField::new(
            "atom_id",
            format!("the sequence number is above {MAX_SEQ}, the most one day holds"),
        ));
    }
    if date < EARLIEST_DAY {
        return Err(InvalidField::new(
            "atom_id",
            format!("{date} is before {EARLIEST_DAY}, the earliest day an atom may have"),
        ));
    }
    Ok(())
}

fn reason_of(e: InvalidField) -> String {
    match e {
        InvalidField::Invalid { reason, .. } => reason,
    }
}

impl Serialize for AtomId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AtomId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A file stored with an atom under `attachments/<name>` in its commit tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// The file name (no directories).
    pub name: String,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// One ATOM record, exactly as stored in `atom.json` (SPEC §1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Atom {
    /// `ATOM-<TYPE>-<YYYYMMDD>-<NNN>`.
    pub atom_id: AtomId,
    /// The TYPE part of the id.
    #[serde(rename = "type")]
    pub atom_type: String,
    /// What was done (`modify_file`, `research`, ...).
    pub operation: String,
    /// Who did it.
    pub agent: String,
    /// RFC 3339 UTC, second precision.
    pub timestamp: String,
    /// The parent atom's id; `None` for the first atom of a trail.
    pub previous_atom: Option<AtomId>,
    /// The parent atom's digest.
    pub previous_digest: Option<String>,
    /// Extra parents' ids (MERGE atoms only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Vec<AtomId>>,
    /// Atoms this one built on.
    pub influenced_by: Vec<AtomId>,
    /// The project it belongs to.
    pub project: Option<String>,
    /// One line for humans.
    pub summary: String,
    /// Free JSON.
    pub metadata: Map<String, Value>,
    /// Tokens spent.
    pub token_cost: Option<u64>,
    /// Files stored with the atom.
    pub attachments: Vec<Attachment>,
    /// `sha256:` digest of the canonical record without this field.
    pub digest: String,
}

impl Atom {
    /// The record as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("an Atom always serializes")
    }

    /// Recompute the digest from the other fields.
    pub fn compute_digest(&self) -> String {
        canonical::digest_of(&self.to_value()).expect("an Atom always serializes")
    }

    /// The canonical JSON bytes stored as `atom.json`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::to_canonical_vec(self).expect("an Atom always serializes")
    }

    /// The timestamp as a date-time (valid records only).
    pub fn time(&self) -> Result<DateTime<Utc>, InvalidField> {
        parse_timestamp(&self.timestamp)
    }

    /// Check every field's format and the agreements between fields (id vs
    /// type and timestamp), and that the digest is the record's. Does not
    /// look at other atoms.
    pub fn validate(&self) -> Result<(), InvalidField> {
        self.validate_fields()?;
        if self.compute_digest() != self.digest {
            return Err(InvalidField::new(
                "digest",
                "does not match the record's content",
            ));
        }
        Ok(())
    }

    /// [`Atom::validate`] without recomputing the digest: for a record whose
    /// digest was just computed from it.
    pub fn validate_fields(&self) -> Result<(), InvalidField> {
        validate_type(&self.atom_type)?;
        if self.atom_id.atom_type() != self.atom_type {
            return Err(InvalidField::new(
                "type",
                format!("{} does not match the id {}", self.atom_type, self.atom_id),
            ));
        }
        validate_operation(&self.operation)?;
        validate_agent(&self.agent)?;
        let time = parse_timestamp(&self.timestamp)?;
        if time.date_naive() != self.atom_id.date() {
            return Err(InvalidField::new(
                "atom_id",
                format!(
                    "the date of {} is not the UTC date of timestamp {}",
                    self.atom_id, self.timestamp
                ),
            ));
        }
        if self.previous_atom.is_some() != self.previous_digest.is_some() {
            return Err(InvalidField::new(
                "previous_digest",
                "previous_atom and previous_digest must both be set or both be null",
            ));
        }
        if let Some(d) = &self.previous_digest {
            validate_digest("previous_digest", d)?;
        }
        match (&self.merged, self.atom_type == "MERGE") {
            (Some(m), true) if !m.is_empty() => {}
            (None, false) => {}
            (_, true) => {
                return Err(InvalidField::new(
                    "merged",
                    "a MERGE atom lists its extra parents in merged",
                ))
            }
            (Some(_), false) => {
                return Err(InvalidField::new("merged", "only MERGE atoms carry merged"))
            }
        }
        if let Some(p) = &self.project {
            validate_line("project", p)?;
            if p.is_empty() {
                return Err(InvalidField::new("project", "empty; leave it null instead"));
            }
        }
        validate_line("summary", &self.summary)?;
        validate_metadata(&self.metadata)?;
        validate_token_cost(self.token_cost)?;
        let mut names = std::collections::BTreeSet::new();
        for a in &self.attachments {
            validate_attachment_name(&a.name)?;
            if !names.insert(a.name.as_str()) {
                return Err(InvalidField::new(
                    "attachments",
                    format!("{:?} appears twice", a.name),
                ));
            }
            if a.sha256.len() != 64 || !canonical::is_lower_hex(&a.sha256) {
                return Err(InvalidField::new(
                    "attachments",
                    format!("{:?} has no valid sha256", a.name),
                ));
            }
        }
        validate_digest("digest", &self.digest)?;
        Ok(())
    }
}

/// The file paths an atom touched, for `atom log --path`: `metadata.path`,
/// `metadata.paths[]`, `metadata.files[].path` (COMMIT atoms) and attachment names.
pub fn paths_of(atom: &Atom) -> Vec<String> {
    let m = &atom.metadata;
    let mut out: Vec<String> = Vec::new();
    if let Some(Value::String(p)) = m.get("path") {
        out.push(p.clone());
    }
    if let Some(Value::Array(ps)) = m.get("paths") {
        out.extend(ps.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(Value::Array(files)) = m.get("files") {
        out.extend(
            files
                .iter()
                .filter_map(|f| f.get("path").and_then(Value::as_str))
                .map(str::to_owned),
        );
    }
    out.extend(atom.attachments.iter().map(|a| a.name.clone()));
    out.sort();
    out.dedup();
    out
}

pub use crate::canonical::MAX_SAFE_INTEGER;
/// How deeply metadata may nest.
pub const MAX_METADATA_DEPTH: usize = 64;

/// Token counts must survive canonical JSON exactly.
pub fn validate_token_cost(tokens: Option<u64>) -> Result<(), InvalidField> {
    match tokens {
        Some(t) if t > MAX_SAFE_INTEGER => Err(InvalidField::new(
            "token_cost",
            format!("{t} is larger than {MAX_SAFE_INTEGER}"),
        )),
        _ => Ok(()),
    }
}

/// Metadata must survive canonical JSON unchanged: numbers within
/// ±(2^53 - 1) in any notation (larger ones would silently become rounded
/// doubles, or read back as other numbers; store them as strings) and at
/// most [`MAX_METADATA_DEPTH`] levels of nesting. Text input is also held to
/// [`canonical::check_numbers`], which sees digits a parsed value has lost.
pub fn validate_metadata(metadata: &Map<String, Value>) -> Result<(), InvalidField> {
    fn walk(v: &Value, depth: usize, path: &mut String) -> Result<(), InvalidField> {
        if depth > MAX_METADATA_DEPTH {
            return Err(InvalidField::new(
                "metadata",
                format!("nested deeper than {MAX_METADATA_DEPTH} levels"),
            ));
        }
        match v {
            Value::Number(n) if n.as_f64().is_none_or(|f| !f.is_finite()) => Err(
                InvalidField::new("metadata", format!("{path}: {n} is not a finite number")),
            ),
            Value::Number(n) if !n.as_f64().is_some_and(canonical::number_fits) => {
                Err(InvalidField::new(
                    "metadata",
                    canonical::BadNumber::too_large(path, &n.to_string()).to_string(),
                ))
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, depth + 1, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    walk(item, depth + 1, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    let mut path = String::from("metadata");
    for (k, v) in metadata {
        path.truncate("metadata".len());
        path.push('.');
        path.push_str(k);
        walk(v, 1, &mut path)?;
    }
    Ok(())
}

/// `[A-Z][A-Z0-9_]{0,31}`.
pub fn validate_type(t: &str) -> Result<(), InvalidField> {
    let ok = (1..=32).contains(&t.len())
        && t.as_bytes()[0].is_ascii_uppercase()
        && t.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InvalidField::new(
            "type",
            format!("{t:?}: use 1-32 of A-Z, 0-9 and _, starting with a letter (e.g. CFG)"),
        ))
    }
}

/// `[a-z][a-z0-9_.-]*` (at most 64 characters).
pub fn validate_operation(op: &str) -> Result<(), InvalidField> {
    let ok = (1..=64).contains(&op.len())
        && op.as_bytes()[0].is_ascii_lowercase()
        && op.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(InvalidField::new(
            "operation",
            format!("{op:?}: use a-z, 0-9, _, . and -, starting with a letter (e.g. modify_file)"),
        ))
    }
}

/// A non-empty single line without `<`, `>` (it becomes a git identity), at most 128 bytes.
pub fn validate_agent(agent: &str) -> Result<(), InvalidField> {
    validate_line("agent", agent)?;
    if agent.trim().is_empty() || agent.trim() != agent {
        return Err(InvalidField::new(
            "agent",
            format!("{agent:?}: must be non-empty, without leading or trailing spaces"),
        ));
    }
    if agent.len() > 128 || agent.contains(['<', '>']) {
        return Err(InvalidField::new(
            "agent",
            format!("{agent:?}: at most 128 bytes, no '<' or '>'"),
        ));
    }
    Ok(())
}

/// One line of text: no control characters (tab allowed), at most 64 KiB.
pub fn validate_line(field: &'static str, s: &str) -> Result<(), InvalidField> {
    if s.len() > 65_536 {
        return Err(InvalidField::new(field, "longer than 64 KiB"));
    }
    if s.chars().any(|c| c.is_control() && c != '\t') {
        return Err(InvalidField::new(
            field,
            "must be one line without control characters",
        ));
    }
    Ok(())
}

/// A plain file name that is safe as a git tree entry.
pub fn validate_attachment_name(name: &str) -> Result<(), InvalidField> {
    let bad = |why: &str| InvalidField::new("attachments", format!("name {name:?}: {why}"));
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("not a file name"));
    }
    if name.contains(['/', '\\', '\0']) || name.chars().any(char::is_control) {
        return Err(bad(
            "must not contain path separators or control characters",
        ));
    }
    if name.len() > 255 {
        return Err(bad("longer than 255 bytes"));
    }
    // What git (fsck, checkout on NTFS/HFS+) treats as special: `.git` in
    // any spelling, its 8.3 short name, `.git*` control files, names that
    // Windows trims, and characters HFS+ ignores.
    let folded = name.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    let hfs_ignorable = |c: char| matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}');
    if folded.starts_with(".git")
        || folded.starts_with("git~")
        || folded.len() != name.len()
        || name.chars().any(hfs_ignorable)
    {
        return Err(bad(
            "git treats this name specially (.git*, git~N, trailing dots or spaces); rename the file",
        ));
    }
    Ok(())
}

fn validate_digest(field: &'static str, d: &str) -> Result<(), InvalidField> {
    if canonical::is_digest(d) {
        Ok(())
    } else {
        Err(InvalidField::new(
            field,
            format!("{d:?} is not sha256: followed by 64 lowercase hex digits"),
        ))
    }
}

/// A time given for a new atom (`record --at`, an imported timestamp): no
/// earlier than [`EARLIEST_DAY`], at most [`MAX_CLOCK_AHEAD`] after `now`.
/// Backdating is fine; what is already stored is not held to the clock.
pub fn validate_new_time(t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), InvalidField> {
    if t.date_naive() < EARLIEST_DAY {
        return Err(InvalidField::new(
            "timestamp",
            format!(
                "{} is before {EARLIEST_DAY}, the earliest day an atom may have",
                format_timestamp(t)
            ),
        ));
    }
    if t > now + MAX_CLOCK_AHEAD {
        return Err(InvalidField::new(
            "timestamp",
            format!(
                "{} is more than a day ahead of this machine's clock ({})",
                format_timestamp(t),
                format_timestamp(now)
            ),
        ));
    }
    Ok(())
}

/// Parse a record timestamp: RFC 3339, UTC (`Z`), whole seconds.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, InvalidField> {
    let t = parse_rfc3339("timestamp", s)?;
    if format_timestamp(t) != s {
        return Err(InvalidField::new(
            "timestamp",
            format!("{s:?} is not in the form 2024-11-27T10:23:45Z (UTC, whole seconds)"),
        ));
    }
    Ok(t)
}

/// Parse any RFC 3339 date-time (any offset) with whole seconds, as given by
/// a user (`--at`), and convert it to UTC.
pub fn parse_rfc3339(field: &'static str, s: &str) -> Result<DateTime<Utc>, InvalidField> {
    let t = DateTime::parse_from_rfc3339(s).map_err(|e| {
        InvalidField::new(
            field,
            format!("{s:?} is not an RFC 3339 date-time like 2024-11-27T10:23:45Z ({e})"),
        )
    })?;
    if t.timestamp_subsec_nanos() != 0 {
        return Err(InvalidField::new(
            field,
            format!("{s:?} has fractions of a second; atoms are timed to the second"),
        ));
    }
    Ok(t.with_timezone(&Utc))
}

/// The forms [`parse_date`] accepts, as an error message names them.
pub const DATE_FORMS: &str = "RFC 3339 (2024-11-27T10:23:45Z), YYYY-MM-DD (00:00:00Z that day), \
     today, yesterday (00:00:00Z), or Nd / Nh (N days / hours ago: 3d, 12h)";

/// Parse a time as every command takes one (`log --since/--until`,
/// `record --at`): RFC 3339 (any offset, whole seconds), `YYYY-MM-DD`
/// meaning 00:00:00Z that day, `today` and `yesterday` (00:00:00Z), or `Nd`
/// / `Nh`, N days or hours before now.
pub fn parse_date(field: &'static str, s: &str) -> Result<DateTime<Utc>, InvalidField> {
    parse_date_at(field, s, Utc::now())
}

/// [`parse_date`] with `now` given (relative forms count back from it,
/// dropping its fractions of a second).
pub fn parse_date_at(
    field: &'static str,
    s: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, InvalidField> {
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let invalid = || InvalidField::new(field, format!("{s:?} is not a time; use {DATE_FORMS}"));
    let now = now
        .with_nanosecond(0)
        .expect("zero nanoseconds is a valid time");
    match s {
        "today" => return Ok(midnight(now.date_naive())),
        "yesterday" => {
            return now
                .date_naive()
                .pred_opt()
                .map(midnight)
                .ok_or_else(invalid)
        }
        _ => {}
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(midnight(d));
    }
    let relative = s
        .strip_suffix('d')
        .map(|n| (n, 86_400))
        .or_else(|| s.strip_suffix('h').map(|n| (n, 3_600)));
    if let Some((n, unit)) = relative {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return n
                .parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .and_then(chrono::TimeDelta::try_seconds)
                .and_then(|d| now.checked_sub_signed(d))
                .ok_or_else(invalid);
        }
    }
    if s.contains('T') || s.contains('t') || s.contains(' ') {
        // Looks like a date-time: say what is wrong with it.
        return parse_rfc3339(field, s).map_err(|e| match e {
            InvalidField::Invalid { reason, .. } => {
                InvalidField::new(field, format!("{reason}; use {DATE_FORMS}"))
            }
        });
    }
    Err(invalid())
}

/// Format a time as a record timestamp.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn id_examples() {
        let id: AtomId = "ATOM-CFG-20241127-003".parse().unwrap();
        assert_eq!(id.atom_type(), "CFG");
        assert_eq!(id.seq(), 3);
        assert_eq!(id.to_string(), "ATOM-CFG-20241127-003");
        let big = AtomId::new("TASK", id.date(), 1000).unwrap();
        assert_eq!(big.to_string(), "ATOM-TASK-20241127-1000");
        assert_eq!("ATOM-A_1-20241127-042".parse::<AtomId>().unwrap().seq(), 42);
        for bad in [
            "ATOM-cfg-20241127-003",
            "ATOM-CFG-20241327-003",
            "ATOM-CFG-20241127-03",
            "ATOM-CFG-20241127-0003",
            "ATOM-CFG-20241127-000",
            "ATOM--20241127-003",
            "CFG-20241127-003",
            "ATOM-CFG-2024112-003",
            "ATOM-CFG-20241127-00a",
        ] {
            assert!(bad.parse::<AtomId>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn metadata_numbers_must_survive_canonical_json() {
        let ok: Map<String, Value> =
            serde_json::from_str(r#"{"a": 9007199254740991, "b": -9007199254740991, "c": 1.5}"#)
                .unwrap();
        assert!(validate_metadata(&ok).is_ok());
        for bad in [
            r#"{"a": 9007199254740992}"#,
            r#"{"a": {"b": [18446744073709551615]}}"#,
            r#"{"a": -9007199254740992}"#,
        ] {
            let m: Map<String, Value> = serde_json::from_str(bad).unwrap();
            assert_eq!(
                validate_metadata(&m).unwrap_err().field(),
                "metadata",
                "{bad}"
            );
        }
        let mut deep = Value::Null;
        for _ in 0..100 {
            deep = Value::Array(vec![deep]);
        }
        let mut m = Map::new();
        m.insert("d".into(), deep);
        assert!(validate_metadata(&m).is_err());
        assert!(validate_token_cost(Some(MAX_SAFE_INTEGER + 1)).is_err());
    }

    #[test]
    fn metadata_numbers_in_any_notation_stay_within_doubles() {
        for bad in [
            r#"{"n": 1e16}"#,
            r#"{"n": 1e23}"#,
            r#"{"n": 18446744073709551616}"#,
            r#"{"n": -1.5e300}"#,
        ] {
            let m: Map<String, Value> = serde_json::from_str(bad).unwrap();
            let err = validate_metadata(&m).unwrap_err().to_string();
            assert!(err.contains("metadata.n: "), "{bad}: {err}");
        }
    }

    #[test]
    fn ids_typed_in_any_case() {
        let id = AtomId::parse_any_case("atom-cfg-20241127-003").unwrap();
        assert_eq!(id.to_string(), "ATOM-CFG-20241127-003");
        assert_eq!(
            AtomId::parse_any_case("Atom-Ab_1-20241127-1000")
                .unwrap()
                .to_string(),
            "ATOM-AB_1-20241127-1000"
        );
        assert!(
            "atom-cfg-20241127-003".parse::<AtomId>().is_err(),
            "stored ids are strict"
        );
        let err = AtomId::parse_any_case("atom-cfg-2024-003")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"atom-cfg-2024-003\""), "{err}");
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2024-11-27T10:23:45Z").is_ok());
        assert!(parse_timestamp("2024-11-27T10:23:45+00:00").is_err());
        assert!(parse_timestamp("2024-11-27T10:23:45.5Z").is_err());
        let t = parse_rfc3339("at", "2024-11-27T12:23:45+02:00").unwrap();
        assert_eq!(format_timestamp(t), "2024-11-27T10:23:45Z");
    }

    #[test]
    fn dates_in_every_form_one_grammar() {
        let now = parse_rfc3339("now", "2024-11-27T10:23:45Z").unwrap()
            + chrono::TimeDelta::milliseconds(600);
        let at = |s: &str| parse_date_at("--since", s, now).map(format_timestamp);
        for (input, expected) in [
            ("2024-11-20", "2024-11-20T00:00:00Z"),
            ("2024-11-20T01:02:03+01:00", "2024-11-20T00:02:03Z"),
            ("today", "2024-11-27T00:00:00Z"),
            ("yesterday", "2024-11-26T00:00:00Z"),
            ("3d", "2024-11-24T10:23:45Z"),
            ("0d", "2024-11-27T10:23:45Z"),
            ("12h", "2024-11-26T22:23:45Z"),
        ] {
            assert_eq!(at(input).as_deref(), Ok(expected), "{input}");
        }
        for bad in [
            "",
            "d",
            "h",
            "3",
            "-3d",
            "+3d",
            "3w",
            "3 d",
            "1.5d",
            "Today",
            "tomorrow",
            "99999999999999999999d",
            "9223372036854775807h",
            "2024-13-01",
            "2024-11-27 10:23",
            "2024-11-27T10:23:45.5Z",
        ] {
            let e = at(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --since: "), "{bad}: {e}");
            assert!(
                e.contains("YYYY-MM-DD") && e.contains("Nd / Nh"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn ids_keep_to_their_range() {
        let max = format!("ATOM-TASK-20241127-{MAX_SEQ}");
        assert_eq!(max.parse::<AtomId>().unwrap().seq(), MAX_SEQ);
        for bad in [
            "ATOM-TASK-20241127-1000000000",
            "ATOM-TASK-20241127-4294967295",
            "ATOM-TASK-20241127-4294967296",
            "ATOM-TASK-20241127-99999999999999999999999",
            "ATOM-TASK-19991231-001",
            "ATOM-TASK-00000101-001",
        ] {
            assert_eq!(
                bad.parse::<AtomId>().unwrap_err().field(),
                "atom_id",
                "{bad}"
            );
        }
        let day = NaiveDate::from_ymd_opt(2024, 11, 27).unwrap();
        assert!(AtomId::new("TASK", day, MAX_SEQ + 1).is_err());
        assert!(AtomId::new("TASK", EARLIEST_DAY.pred_opt().unwrap(), 1).is_err());
        assert_eq!(crate::append::next_seq(MAX_SEQ - 1), Some(MAX_SEQ));
        assert_eq!(crate::append::next_seq(MAX_SEQ), None);
        assert_eq!(crate::append::next_seq(u32::MAX), None);
    }

    #[test]
    fn new_times_are_not_before_2000_nor_ahead_of_the_clock() {
        let now = parse_timestamp("2024-11-27T10:00:00Z").unwrap();
        let at = |s| parse_timestamp(s).unwrap();
        assert!(validate_new_time(at("2000-01-01T00:00:00Z"), now).is_ok());
        assert!(validate_new_time(at("2024-11-28T10:00:00Z"), now).is_ok());
        assert!(validate_new_time(at("1999-12-31T23:59:59Z"), now).is_err());
        assert!(validate_new_time(at("2024-11-28T10:00:01Z"), now).is_err());
    }

    proptest! {
        #[test]
        fn id_round_trips(t in "[A-Z][A-Z0-9_]{0,31}", days in 0i64..40_000, seq in 1u32..=MAX_SEQ) {
            let date = EARLIEST_DAY + chrono::Days::new(days as u64);
            let id = AtomId::new(&t, date, seq).unwrap();
            let parsed: AtomId = id.to_string().parse().unwrap();
            prop_assert_eq!(parsed, id);
        }

        #[test]
        fn id_parse_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<AtomId>();
        }

        /// The one number rule: what the text check lets in, the value check
        /// accepts before and after canonical JSON, and canonical JSON is a
        /// fixed point for it.
        #[test]
        fn accepted_numbers_survive_canonical_json(f in proptest::num::f64::ANY, precise in any::<bool>()) {
            let number = if precise { format!("{f:.20e}") } else { format!("{f:e}") };
            let text = format!("{{\"n\":{number}}}");
            let Ok(parsed) = serde_json::from_str::<Map<String, Value>>(&text) else {
                return Ok(());
            };
            if canonical::check_numbers(&text, "metadata").is_ok() {
                prop_assert!(validate_metadata(&parsed).is_ok(), "{}", text);
                let bytes = canonical::to_canonical_vec(&parsed).unwrap();
                let again: Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
                prop_assert!(validate_metadata(&again).is_ok(), "{}", text);
                prop_assert_eq!(canonical::to_canonical_vec(&again).unwrap(), bytes);
            }
        }
    }
}
