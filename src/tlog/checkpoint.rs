//! C2SP checkpoints (`c2sp.org/tlog-checkpoint`): the signed text of a log's
//! tree head — origin, tree size, root hash, then optional extension lines.
//!
//! Parsing is strict, so one tree head has one text: a size without leading
//! zeros, a root in canonical padded base64 of exactly 32 bytes, non-empty
//! extension lines. The origin must also be a valid key name (no spaces, no
//! `+`), which the spec only recommends: a checkpoint's origin names the key
//! that signs it.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};

use super::note::{valid_key_name, NoteError, MAX_NOTE_SIZE};
use super::Hash;

/// A log's tree head, as a checkpoint's note text carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `example.com/log42`.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 6962 root hash of those leaves.
    pub root: Hash,
    /// Extension lines (without their newlines), opaque and non-empty.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n`, then each extension
    /// line followed by a newline. A checkpoint whose fields
    /// [`Checkpoint::parse`] would accept formats to text that parses back
    /// to it.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint's note text (the text of a signed note, without
    /// its signatures).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let malformed = NoteError::MalformedCheckpoint;
        if text.len() > MAX_NOTE_SIZE {
            return Err(malformed("larger than 1 MiB"));
        }
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(malformed("control character other than newline"));
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(malformed("does not end in a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("fewer than three lines"));
        };
        if !valid_key_name(origin) {
            return Err(malformed("origin must be non-empty, without spaces or '+'"));
        }
        let size = parse_decimal(size).ok_or(malformed(
            "tree size is not a decimal number without leading zeros",
        ))?;
        let root = parse_hash(root).ok_or(malformed("root hash is not base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(malformed("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A `u64` in ASCII decimal, `0` or without leading zeros.
pub(super) fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return None;
    }
    s.parse().ok()
}

/// A hash in canonical padded base64 (44 characters).
pub(super) fn parse_hash(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    BASE64.decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {}
