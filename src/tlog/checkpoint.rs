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
mod tests {
    use super::*;

    const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    #[test]
    fn the_spec_example_round_trips() {
        let text = format!("example.com/behind-the-sofa\n20852163\n{ROOT}\n");
        let checkpoint = Checkpoint::parse(&text).unwrap();
        assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size, 20852163);
        assert_eq!(BASE64.encode(checkpoint.root), ROOT);
        assert!(checkpoint.extensions.is_empty());
        assert_eq!(checkpoint.to_text(), text);
        let with_ext = format!("o\n0\n{ROOT}\nabc\ndef ghi\n");
        let checkpoint = Checkpoint::parse(&with_ext).unwrap();
        assert_eq!(checkpoint.extensions, ["abc", "def ghi"]);
        assert_eq!(checkpoint.to_text(), with_ext);
    }

    #[test]
    fn only_canonical_checkpoints_parse() {
        let good = [
            format!("o\n0\n{ROOT}\n"),
            format!("o\n18446744073709551615\n{ROOT}\n"),
            format!("example.com/log\n1\n{ROOT}\nx\n"),
        ];
        for text in &good {
            assert_eq!(Checkpoint::parse(text).unwrap().to_text(), *text);
        }
        let bad = [
            format!("o\n1\n{ROOT}"),
            "o\n1\n".to_owned(),
            format!("\n1\n{ROOT}\n"),
            format!("a b\n1\n{ROOT}\n"),
            format!("a+b\n1\n{ROOT}\n"),
            format!("o\n01\n{ROOT}\n"),
            format!("o\n00\n{ROOT}\n"),
            format!("o\n+1\n{ROOT}\n"),
            format!("o\n-1\n{ROOT}\n"),
            format!("o\n 1\n{ROOT}\n"),
            format!("o\n\n{ROOT}\n"),
            format!("o\n0x1f\n{ROOT}\n"),
            format!("o\n18446744073709551616\n{ROOT}\n"),
            format!("o\n1\n{}\n", ROOT.trim_end_matches('=')),
            format!("o\n1\n{}\n", ROOT.replace("2I=", "2J=")),
            "o\n1\nQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBCg==\n".to_owned(),
            "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n".to_owned(),
            format!("o\n1\n{ROOT}\n\n"),
            format!("o\n1\n{ROOT}\nabc\n\ndef\n"),
            format!("o\n1\n{ROOT}\na\tb\n"),
            format!("o\n1\n{ROOT}\r\n"),
        ];
        for text in &bad {
            assert!(
                matches!(
                    Checkpoint::parse(text),
                    Err(NoteError::MalformedCheckpoint(_))
                ),
                "accepted {text:?}"
            );
        }
    }

    /// `tlog_tiles` (Cloudflare's port of Go's checkpoint code) as an oracle.
    #[test]
    fn tlog_tiles_reads_ours_and_agrees_on_verdicts() {
        let ours = Checkpoint {
            origin: "example.com/log".into(),
            size: 12345,
            root: super::super::record_hash(b"x"),
            extensions: vec!["ext one".into(), "two".into()],
        };
        let theirs = tlog_tiles::Checkpoint::from_bytes(ours.to_text().as_bytes()).unwrap();
        assert_eq!(theirs.origin(), ours.origin);
        assert_eq!(theirs.size(), ours.size);
        assert_eq!(theirs.hash().0, ours.root);
        assert_eq!(theirs.extension(), "ext one\ntwo\n");
        assert_eq!(theirs.to_bytes(), ours.to_text().as_bytes());
        // Same verdicts, except on origins with spaces or '+', which the
        // spec only advises against and this module refuses.
        let cases = [
            format!("o\n0\n{ROOT}\n"),
            format!("o\n7\n{ROOT}\nx\ny\n"),
            format!("o\n1\n{ROOT}"),
            format!("\n1\n{ROOT}\n"),
            format!("o\n01\n{ROOT}\n"),
            format!("o\n0x1\n{ROOT}\n"),
            format!("o\n18446744073709551616\n{ROOT}\n"),
            format!("o\n1\n{}\n", ROOT.trim_end_matches('=')),
            "o\n1\nQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBCg==\n".to_owned(),
            format!("o\n1\n{ROOT}\nabc\n\n"),
            "o\n1\n".to_owned(),
        ];
        for case in &cases {
            assert_eq!(
                Checkpoint::parse(case).is_ok(),
                tlog_tiles::Checkpoint::from_bytes(case.as_bytes()).is_ok(),
                "{case:?}"
            );
        }
    }
}
