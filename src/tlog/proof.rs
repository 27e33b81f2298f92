//! C2SP transparency log proofs (`c2sp.org/tlog-proof@v1`): a leaf's index,
//! its RFC 6962 inclusion path and the signed checkpoint it leads to, in one
//! text a third party checks offline.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional)
//! index <n>
//! <base64 hash>             (0 to 64 lines, leaf's sibling first)
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! Parsing is strict and bounded (at most [`MAX_PATH`] hashes, at most
//! [`MAX_NOTE_SIZE`] bytes), and the checkpoint must parse as a signed note
//! whose text is a [`Checkpoint`] of a tree containing the index. No
//! signature is checked here: that needs the verifier's keys.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};

use super::checkpoint::{parse_decimal, parse_hash, Checkpoint};
use super::note::{Note, NoteError, MAX_NOTE_SIZE};
use super::Hash;

/// The first line of a proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes an inclusion path may have: one per level of a tree of
/// up to 2^64 leaves.
pub const MAX_PATH: usize = 64;

/// A parsed `c2sp.org/tlog-proof@v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data (the `extra` line); an empty one
    /// is written as no line at all.
    pub extra: Option<Vec<u8>>,
    /// The leaf's zero-based index.
    pub index: u64,
    /// The inclusion path, from the leaf's sibling up to a child of the root.
    pub path: Vec<Hash>,
    /// The signed checkpoint (a signed note), verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// The proof as text. A proof [`TlogProof::parse`] returned formats
    /// back to the text it was parsed from.
    pub fn format(&self) -> String {
        let mut out = String::with_capacity(80 + 45 * self.path.len() + self.checkpoint.len());
        out.push_str(PROOF_HEADER);
        out.push('\n');
        if let Some(extra) = self.extra.as_deref().filter(|e| !e.is_empty()) {
            out.push_str("extra ");
            out.push_str(&BASE64.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.path {
            out.push_str(&BASE64.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a proof. The checkpoint must be a well-formed signed note
    /// whose text is a [`Checkpoint`] with a size above the index.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let malformed = NoteError::MalformedProof;
        if text.len() > MAX_NOTE_SIZE {
            return Err(malformed("larger than 1 MiB"));
        }
        let mut rest = text;
        let mut next_line = || -> Result<&str, NoteError> {
            let (line, after) = rest
                .split_once('\n')
                .ok_or(malformed("ends before the checkpoint"))?;
            rest = after;
            Ok(line)
        };
        if next_line()? != PROOF_HEADER {
            return Err(malformed("first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut line = next_line()?;
        let extra = match line.strip_prefix("extra ") {
            Some(b64) => {
                let extra = BASE64
                    .decode(b64)
                    .map_err(|_| malformed("extra data is not base64"))?;
                if extra.is_empty() {
                    return Err(malformed("empty extra data"));
                }
                line = next_line()?;
                Some(extra)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(malformed(
                "no line 'index N' with N decimal without leading zeros",
            ))?;
        let mut path = Vec::new();
        loop {
            let line = next_line()?;
            if line.is_empty() {
                break;
            }
            if path.len() == MAX_PATH {
                return Err(malformed("more than 64 hashes in the inclusion path"));
            }
            path.push(parse_hash(line).ok_or(malformed("a path line is not base64 of 32 bytes"))?);
        }
        let checkpoint = rest;
        let note = Note::parse(checkpoint)?;
        let tree = Checkpoint::parse(&note.text)?;
        if index >= tree.size {
            return Err(malformed("index is not below the checkpoint's tree size"));
        }
        Ok(TlogProof {
            extra,
            index,
            path,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {}
