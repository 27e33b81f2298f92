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
mod tests {
    use super::*;
    use crate::tlog::{
        check_record, prove_record, record_hash, stored_hashes_for_record_hash, tree_hash,
        MemoryHashes,
    };
    use ed25519_dalek::SigningKey;

    fn signed(checkpoint: &Checkpoint) -> String {
        let mut note = Note {
            text: checkpoint.to_text(),
            signatures: Vec::new(),
        };
        note.sign(&checkpoint.origin, &SigningKey::from_bytes(&[9; 32]))
            .unwrap();
        note.cosign(
            "w.example",
            &SigningKey::from_bytes(&[10; 32]),
            1_700_000_000,
        )
        .unwrap();
        note.format()
    }

    #[test]
    fn proofs_of_a_log_round_trip_and_check() {
        let mut stored = MemoryHashes::default();
        for i in 0..21u64 {
            let hashes =
                stored_hashes_for_record_hash(i, record_hash(&i.to_be_bytes()), &stored).unwrap();
            stored.0.extend(hashes);
        }
        let checkpoint = Checkpoint {
            origin: "example.com/log".into(),
            size: 21,
            root: tree_hash(21, &stored).unwrap(),
            extensions: Vec::new(),
        };
        let note = signed(&checkpoint);
        for index in 0..21u64 {
            let proof = TlogProof {
                extra: (index % 2 == 0).then(|| vec![index as u8, 0xff]),
                index,
                path: prove_record(21, index, &stored).unwrap(),
                checkpoint: note.clone(),
            };
            let text = proof.format();
            let parsed = TlogProof::parse(&text).unwrap();
            assert_eq!(parsed, proof);
            assert_eq!(parsed.format(), text);
            let tree = Checkpoint::parse(&Note::parse(&parsed.checkpoint).unwrap().text).unwrap();
            assert!(check_record(
                &parsed.path,
                tree.size,
                &tree.root,
                parsed.index,
                &record_hash(&index.to_be_bytes())
            ));
        }
        // Empty extra data is written as no line.
        let proof = TlogProof {
            extra: Some(Vec::new()),
            index: 0,
            path: Vec::new(),
            checkpoint: note.clone(),
        };
        assert_eq!(TlogProof::parse(&proof.format()).unwrap().extra, None);
    }

    /// The spec's example, with a checkpoint signed here (the spec elides
    /// its signatures).
    fn spec_example() -> (String, String) {
        let head = "c2sp.org/tlog-proof@v1\n\
            extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n\
            index 73894\n\
            gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\
            B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\
            EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n\
            RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n\
            AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\
            \n";
        let checkpoint = Checkpoint::parse(
            "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n",
        )
        .unwrap();
        (head.to_owned(), signed(&checkpoint))
    }

    #[test]
    fn parses_the_spec_example() {
        let (head, note) = spec_example();
        let text = format!("{head}{note}");
        let proof = TlogProof::parse(&text).unwrap();
        assert_eq!(proof.index, 73894);
        assert_eq!(proof.path.len(), 5);
        assert_eq!(
            BASE64.encode(proof.path[4]),
            "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk="
        );
        assert!(proof
            .extra
            .as_ref()
            .unwrap()
            .starts_with(b"age-v1.2.1-darwin-arm64.tar.gz"));
        assert_eq!(proof.checkpoint, note);
        assert_eq!(proof.format(), text);
    }

    #[test]
    fn malformed_proofs_are_refused() {
        let (head, note) = spec_example();
        let hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n";
        let bad = [
            String::new(),
            head.clone(),
            format!("{}{note}", head.replace("@v1", "@v2")),
            format!("{}{note}", head.replace("extra YWdl", "extra  YWdl")),
            format!("{}{note}", head.replace("extra YWdl", "extra *Wdl")),
            format!("{}{note}", head.replace("extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ", "extra ")),
            format!("{}{note}", head.replace("index 73894", "index 073894")),
            format!("{}{note}", head.replace("index 73894", "index -1")),
            format!("{}{note}", head.replace("index 73894", "index")),
            format!("{}{note}", head.replace("index 73894", "index 109482")),
            format!("{}{note}", head.replace("index 73894\n", "")),
            format!("{}{note}", head.replace("5vk=", "5vk")),
            format!("{}{note}", head.replace("5vk=\n\n", "5vk=\n")),
            format!("{}{note}", head.replace("\nindex", "\n\nindex")),
            format!("c2sp.org/tlog-proof@v1\nindex 0\n{}\n{note}", hash.repeat(65)),
            format!("{head}example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n"),
            format!("{head}example.com/fancylog\n109482\n"),
            format!("{head}x\n\n{}", note.split("\n\n").nth(1).unwrap()),
            format!("{head}{note}{}", "a".repeat(MAX_NOTE_SIZE)),
        ];
        for text in &bad {
            assert!(TlogProof::parse(text).is_err(), "accepted {text:?}");
        }
        let longest = format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n{}\n{note}",
            hash.repeat(64)
        );
        assert_eq!(TlogProof::parse(&longest).unwrap().path.len(), 64);
    }
}
