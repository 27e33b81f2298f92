//! C2SP signed notes (`c2sp.org/signed-note`) with Ed25519 signatures, and
//! Ed25519 checkpoint cosignatures (`c2sp.org/tlog-cosignature`, type 0x04).
//!
//! A [`Note`] keeps every signature line it was parsed with, known or not,
//! so that a note formats back to the same text. Parsing follows the
//! structural rules of Go's `note.Open`; verification is per key: the
//! *first* line carrying a key's name and key ID decides, and a failing one
//! rejects the note, as `note.Open` does.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// Signature type 0x01: Ed25519 over the note text.
pub const ALG_ED25519: u8 = 0x01;

/// Signature type 0x04: a timestamped Ed25519 checkpoint cosignature
/// (`c2sp.org/tlog-cosignature`, `cosignature/v1`).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The largest note (or checkpoint, or proof) parsed: 1 MiB.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The most signature lines a note may carry (Go's `note.Open` limit).
pub const MAX_SIGNATURES: usize = 100;

/// The largest cosignature timestamp: 2^63 - 1.
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Why a note, key, checkpoint or proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text is not a well-formed signed note.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// The text is not a well-formed verifier key.
    #[error("malformed verifier key: {0}")]
    MalformedKey(&'static str),
    /// A verifier key whose key ID is not the one its name, type and key give.
    #[error(
        "verifier key for {name} claims key ID {}, but its key has {}",
        hex(.claimed),
        hex(.actual)
    )]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The key ID the text gives.
        claimed: [u8; 4],
        /// The key ID computed from the key.
        actual: [u8; 4],
    },
    /// A signature type this module does not implement.
    #[error("unsupported signature type {0:#04x}")]
    UnknownAlgorithm(u8),
    /// A key name that may not sign a note.
    #[error(
        "invalid key name {0:?}: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidKeyName(String),
    /// A cosignature time beyond 2^63 - 1.
    #[error("cosignature time {0} is beyond 2^63 - 1")]
    InvalidTimestamp(u64),
    /// The text is not a well-formed checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// The text is not a well-formed `c2sp.org/tlog-proof@v1`.
    #[error("malformed tlog proof: {0}")]
    MalformedProof(&'static str),
    /// No signature line carries the key's name and key ID.
    #[error("the note is not signed by {name}+{}", hex(.key_id))]
    NotSigned {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: [u8; 4],
    },
    /// The key's signature line does not verify.
    #[error("the signature of {name}+{} does not verify", hex(.key_id))]
    BadSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: [u8; 4],
    },
}

/// Lowercase hex of a key ID.
fn hex(key_id: &[u8; 4]) -> String {
    key_id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key ID the spec recommends and tlog-cosignature requires:
/// `SHA-256(name || 0x0A || alg || public key)[:4]`.
pub fn key_id(name: &str, alg: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key ("vkey") text of a key:
/// `name+hex(key ID)+base64(alg || public key)`.
pub fn verifier_key(name: &str, alg: u8, public: &[u8; 32]) -> String {
    let mut material = Vec::with_capacity(33);
    material.push(alg);
    material.extend_from_slice(public);
    format!(
        "{name}+{}+{}",
        hex(&key_id(name, alg, public)),
        BASE64.encode(material)
    )
}

/// Whether `name` may name a key: non-empty, with no Unicode space, no
/// `+`, and no control character (which no note may carry).
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < ' ')
}

/// A parsed verifier key: an Ed25519 key for note signatures
/// ([`ALG_ED25519`]) or for cosignatures ([`ALG_COSIGNATURE_V1`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key name, as signature lines carry it.
    pub name: String,
    /// The key ID, as signatures start with it.
    pub key_id: [u8; 4],
    /// The signature type.
    pub alg: u8,
    /// The Ed25519 public key.
    pub public: [u8; 32],
}

impl VerifierKey {
    /// Parses `name+hex8+base64(alg || key)`, checking that the key ID is
    /// the one the name, type and key give and that the key is an Ed25519
    /// point.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, rest) = s
            .split_once('+')
            .ok_or(NoteError::MalformedKey("expected name+keyid+key"))?;
        let (id_hex, key64) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedKey("expected name+keyid+key"))?;
        if !valid_key_name(name) {
            return Err(NoteError::MalformedKey("invalid key name"));
        }
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NoteError::MalformedKey("key ID is not 8 hex digits"));
        }
        let claimed = u32::from_str_radix(id_hex, 16)
            .map_err(|_| NoteError::MalformedKey("key ID is not 8 hex digits"))?
            .to_be_bytes();
        let material = BASE64
            .decode(key64)
            .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        let (&alg, key) = material
            .split_first()
            .ok_or(NoteError::MalformedKey("empty key"))?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(NoteError::UnknownAlgorithm(alg));
        }
        let public: [u8; 32] = key
            .try_into()
            .map_err(|_| NoteError::MalformedKey("an Ed25519 key is 32 bytes"))?;
        let actual = key_id(name, alg, &public);
        if actual != claimed {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_owned(),
                claimed,
                actual,
            });
        }
        VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: claimed,
            alg,
            public,
        })
    }
}

impl std::fmt::Display for VerifierKey {
    /// The vkey text, as [`verifier_key`] writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&verifier_key(&self.name, self.alg, &self.public))
    }
}

/// One signature line: `— name base64(key ID || bytes)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The key name.
    pub name: String,
    /// The key ID (the first 4 bytes of the encoded signature).
    pub key_id: [u8; 4],
    /// The signature proper, after the key ID: 64 bytes for Ed25519,
    /// 8 (timestamp) + 64 for a cosignature.
    pub bytes: Vec<u8>,
}

/// A signed note: a text and its signature lines, verified or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<Signature>,
}

/// The prefix of a signature line: em dash, space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Checks what every note (and so every signed text) must satisfy.
fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.len() > MAX_NOTE_SIZE {
        return Err(NoteError::MalformedNote("larger than 1 MiB"));
    }
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::MalformedNote(
            "control character other than newline",
        ));
    }
    Ok(())
}

impl Note {
    /// Parses a signed note, checking its structure but no signature: the
    /// text ends in a newline and is separated by the *last* blank line
    /// from 1 to [`MAX_SIGNATURES`] lines `— name base64`, each ending in a
    /// newline; no control character but newline; at most
    /// [`MAX_NOTE_SIZE`] bytes.
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        check_chars(note)?;
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::MalformedNote("no blank line before signatures"))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        let sigs = sigs.strip_suffix('\n').ok_or(NoteError::MalformedNote(
            "no signature lines ending in newline",
        ))?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::MalformedNote("more than 100 signatures"));
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note as text: the text, a blank line, then one line per
    /// signature. A note from [`Note::parse`], [`Note::sign`] or
    /// [`Note::cosign`] formats to text that parses back to it.
    pub fn format(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 110 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for sig in &self.signatures {
            let mut raw = Vec::with_capacity(4 + sig.bytes.len());
            raw.extend_from_slice(&sig.key_id);
            raw.extend_from_slice(&sig.bytes);
            out.push_str(SIG_PREFIX);
            out.push_str(&sig.name);
            out.push(' ');
            out.push_str(&BASE64.encode(raw));
            out.push('\n');
        }
        out
    }

    /// Signs the text with the Ed25519 key `key` under `name` (type 0x01),
    /// replacing any signature line of the same name and key ID.
    ///
    /// Refused when `name` is not a [`valid_key_name`], or when the text
    /// could not be a note's (not ending in a newline, a control character).
    pub fn sign(&mut self, name: &str, key: &SigningKey) -> Result<(), NoteError> {
        self.check_signable(name)?;
        let id = key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        let sig = key.sign(self.text.as_bytes());
        self.replace_signature(Signature {
            name: name.to_owned(),
            key_id: id,
            bytes: sig.to_bytes().to_vec(),
        });
        Ok(())
    }

    /// Cosigns the text as a checkpoint with the Ed25519 key `key` under
    /// `name` (type 0x04, `cosignature/v1`) at `time` (POSIX seconds),
    /// replacing any signature line of the same name and key ID. The signed
    /// message is `cosignature/v1\ntime <time>\n` followed by the text; the
    /// signature is the time (8 bytes, big-endian) then the Ed25519
    /// signature.
    ///
    /// Refused as [`Note::sign`] is, and when `time` exceeds 2^63 - 1.
    pub fn cosign(&mut self, name: &str, key: &SigningKey, time: u64) -> Result<(), NoteError> {
        self.check_signable(name)?;
        if time > MAX_TIMESTAMP {
            return Err(NoteError::InvalidTimestamp(time));
        }
        let id = key_id(name, ALG_COSIGNATURE_V1, key.verifying_key().as_bytes());
        let sig = key.sign(&cosignature_message(time, &self.text));
        let mut bytes = Vec::with_capacity(8 + 64);
        bytes.extend_from_slice(&time.to_be_bytes());
        bytes.extend_from_slice(&sig.to_bytes());
        self.replace_signature(Signature {
            name: name.to_owned(),
            key_id: id,
            bytes,
        });
        Ok(())
    }

    /// Verifies the signature of `key`: the first line with its name and
    /// key ID decides. `Ok(None)` for a verified note signature (type 0x01),
    /// `Ok(Some(time))` for a verified cosignature (type 0x04) made at
    /// `time`; [`NoteError::NotSigned`] when no line carries the key,
    /// [`NoteError::BadSignature`] when that line does not verify.
    pub fn verify(&self, key: &VerifierKey) -> Result<Option<u64>, NoteError> {
        let sig = self
            .signatures
            .iter()
            .find(|s| s.name == key.name && s.key_id == key.key_id)
            .ok_or_else(|| NoteError::NotSigned {
                name: key.name.clone(),
                key_id: key.key_id,
            })?;
        let bad = || NoteError::BadSignature {
            name: key.name.clone(),
            key_id: key.key_id,
        };
        let public = VerifyingKey::from_bytes(&key.public)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        match key.alg {
            ALG_ED25519 => {
                let sig = ed25519_dalek::Signature::from_slice(&sig.bytes).map_err(|_| bad())?;
                public
                    .verify_strict(self.text.as_bytes(), &sig)
                    .map_err(|_| bad())?;
                Ok(None)
            }
            ALG_COSIGNATURE_V1 => {
                let (time, sig) = sig.bytes.split_at_checked(8).ok_or_else(bad)?;
                let time = u64::from_be_bytes(time.try_into().map_err(|_| bad())?);
                if time > MAX_TIMESTAMP {
                    return Err(bad());
                }
                let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| bad())?;
                public
                    .verify_strict(&cosignature_message(time, &self.text), &sig)
                    .map_err(|_| bad())?;
                Ok(Some(time))
            }
            alg => Err(NoteError::UnknownAlgorithm(alg)),
        }
    }

    /// Checks that `name` may sign this note's text.
    fn check_signable(&self, name: &str) -> Result<(), NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName(name.to_owned()));
        }
        if !self.text.ends_with('\n') {
            return Err(NoteError::MalformedNote("text does not end in a newline"));
        }
        check_chars(&self.text)
    }

    /// Appends `sig`, dropping earlier lines of the same key.
    fn replace_signature(&mut self, sig: Signature) {
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.signatures.push(sig);
    }
}

/// The message a `cosignature/v1` signs.
fn cosignature_message(time: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}

/// Parses `— name base64(key ID || signature)` (without its newline).
fn parse_signature_line(line: &str) -> Result<Signature, NoteError> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or(NoteError::MalformedNote("signature line without '— '"))?;
    let (name, b64) = rest.split_once(' ').ok_or(NoteError::MalformedNote(
        "signature line without a signature",
    ))?;
    if !valid_key_name(name) {
        return Err(NoteError::MalformedNote(
            "invalid key name in a signature line",
        ));
    }
    let raw = BASE64
        .decode(b64)
        .map_err(|_| NoteError::MalformedNote("signature is not base64"))?;
    if raw.len() < 5 {
        return Err(NoteError::MalformedNote("signature shorter than 5 bytes"));
    }
    Ok(Signature {
        name: name.to_owned(),
        key_id: [raw[0], raw[1], raw[2], raw[3]],
        bytes: raw[4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of Go's golang.org/x/mod/sumdb/note (note.go's package
    // doc and note_test.go's TestSign/TestOpen).
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    /// The Ed25519 key of a Go note signer key `PRIVATE+KEY+name+id+base64(0x01 || seed)`.
    fn signing_key(skey: &str) -> SigningKey {
        let b64 = skey.splitn(5, '+').nth(4).unwrap();
        let raw = BASE64.decode(b64).unwrap();
        assert_eq!(raw[0], ALG_ED25519);
        SigningKey::from_bytes(&raw[1..].try_into().unwrap())
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn unsigned(text: &str) -> Note {
        Note {
            text: text.to_owned(),
            signatures: Vec::new(),
        }
    }

    #[test]
    fn signs_as_go_note_does() {
        let key = signing_key(PETER_SKEY);
        let public = key.verifying_key().to_bytes();
        assert_eq!(
            verifier_key("PeterNeumann", ALG_ED25519, &public),
            PETER_VKEY
        );
        assert_eq!(
            key_id("PeterNeumann", ALG_ED25519, &public),
            [0xc7, 0x4f, 0x20, 0xa3]
        );
        let mut note = unsigned(TEXT);
        note.sign("PeterNeumann", &key).unwrap();
        assert_eq!(note.format(), format!("{TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn verifies_go_note_signatures() {
        let note = Note::parse(&format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}")).unwrap();
        assert_eq!(note.text, TEXT);
        assert_eq!(note.signatures.len(), 2);
        assert_eq!(note.signatures[1].name, "EnochRoot");
        assert_eq!(note.signatures[1].key_id, [0xaf, 0x0c, 0xfe, 0x78]);
        assert_eq!(
            note.verify(&VerifierKey::parse(PETER_VKEY).unwrap()),
            Ok(None)
        );
        assert_eq!(
            note.verify(&VerifierKey::parse(ENOCH_VKEY).unwrap()),
            Ok(None)
        );
        assert_eq!(note.format(), format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}"));
        // Only Peter's line: Enoch did not sign.
        let note = Note::parse(&format!("{TEXT}\n{PETER_SIG}")).unwrap();
        assert_eq!(
            note.verify(&VerifierKey::parse(ENOCH_VKEY).unwrap()),
            Err(NoteError::NotSigned {
                name: "EnochRoot".into(),
                key_id: [0xaf, 0x0c, 0xfe, 0x78]
            })
        );
    }

    #[test]
    fn verifies_the_signed_note_spec_example() {
        // c2sp.org/signed-note, "Verifier keys: Example".
        let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
        let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let key = VerifierKey::parse(vkey).unwrap();
        assert_eq!(key.to_string(), vkey);
        let parsed = Note::parse(note).unwrap();
        assert_eq!(parsed.text, "This is an example message.\n");
        assert_eq!(parsed.verify(&key), Ok(None));
        let mut tampered = parsed.clone();
        tampered.text = "This is an example message!\n".into();
        assert!(matches!(
            tampered.verify(&key),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_bad_signature_from_a_known_key_fails_and_the_first_line_decides() {
        let key = VerifierKey::parse(PETER_VKEY).unwrap();
        let bad_sig = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let bad = Note::parse(&format!("{TEXT}\n{bad_sig}")).unwrap();
        assert!(matches!(
            bad.verify(&key),
            Err(NoteError::BadSignature { .. })
        ));
        let bad_first = Note::parse(&format!("{TEXT}\n{bad_sig}{PETER_SIG}")).unwrap();
        assert!(matches!(
            bad_first.verify(&key),
            Err(NoteError::BadSignature { .. })
        ));
        let good_first = Note::parse(&format!("{TEXT}\n{PETER_SIG}{bad_sig}")).unwrap();
        assert_eq!(good_first.verify(&key), Ok(None));
        // A line with Peter's name but another key ID is someone else's.
        let other_id = PETER_SIG.replace("x08g", "xxxx");
        let other = Note::parse(&format!("{TEXT}\n{other_id}")).unwrap();
        assert!(matches!(
            other.verify(&key),
            Err(NoteError::NotSigned { .. })
        ));
        // So is a line with Peter's key ID but another name.
        let other_name = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
        let other = Note::parse(&format!("{TEXT}\n{other_name}")).unwrap();
        assert!(matches!(
            other.verify(&key),
            Err(NoteError::NotSigned { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let sig = PETER_SIG;
        let bad = [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &sig[..sig.len() - 1]),
            format!("\x01{TEXT}\n{sig}"),
            format!("{TEXT}\r\n{sig}"),
            format!("{TEXT}\n{}", sig.replace("PeterNeumann", "Bad Name")),
            format!("{TEXT}\n{}", sig.replace("PeterNeumann", "Peter+Neumann")),
            format!("{TEXT}\n{}", sig.replace("\u{2014} ", "- ")),
            format!("{TEXT}\n{}", sig.replace(" x08go", "  x08go")),
            format!("{TEXT}\n{}", sig.replace("AM=", "AM")),
            format!("{TEXT}\n{sig}Unexpected line.\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAAAA==\n"),
            format!("{TEXT}\n{}", sig.repeat(101)),
            format!("{}\n{sig}", "a".repeat(MAX_NOTE_SIZE)),
        ];
        for note in &bad {
            assert!(
                matches!(Note::parse(note), Err(NoteError::MalformedNote(_))),
                "accepted {note:?}"
            );
        }
        assert_eq!(
            Note::parse(&format!("{TEXT}\n{}", sig.repeat(100)))
                .unwrap()
                .signatures
                .len(),
            100
        );
        // The text ends at the last blank line: a text may hold blank lines.
        let note = Note::parse(&format!("a\n\nb\n\n{sig}")).unwrap();
        assert_eq!(note.text, "a\n\nb\n");
    }

    #[test]
    fn verifier_keys_refuse_every_mangling() {
        let key = VerifierKey::parse(PETER_VKEY).unwrap();
        assert_eq!(key.name, "PeterNeumann");
        assert_eq!(key.key_id, [0xc7, 0x4f, 0x20, 0xa3]);
        assert_eq!(key.alg, ALG_ED25519);
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let s = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(VerifierKey::parse(s).is_err(), "accepted {s:?}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let s = String::from_utf8(m).unwrap();
            assert!(VerifierKey::parse(&s).is_err(), "accepted {s:?}");
        }
        assert!(matches!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            ),
            Err(NoteError::MalformedKey(_))
        ));
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::UnknownAlgorithm(0x65))
        );
        assert!(matches!(
            VerifierKey::parse(
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn key_names() {
        for good in [
            "PeterNeumann",
            "example.com/log42",
            "a",
            "caf\u{e9}",
            "x\u{7f}",
        ] {
            assert!(valid_key_name(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{3000}b",
            "a\u{85}b",
            "a\x01b",
        ] {
            assert!(!valid_key_name(bad), "{bad:?}");
        }
        let mut note = unsigned("x\n");
        assert_eq!(
            note.sign("a b", &key(1)),
            Err(NoteError::InvalidKeyName("a b".into()))
        );
        assert!(note.signatures.is_empty());
    }

    #[test]
    fn only_texts_a_note_can_carry_are_signed() {
        for text in ["", "no newline", "a\x01\n", "a\r\n"] {
            let mut note = unsigned(text);
            assert!(matches!(
                note.sign("k", &key(1)),
                Err(NoteError::MalformedNote(_))
            ));
            assert!(matches!(
                note.cosign("k", &key(1), 5),
                Err(NoteError::MalformedNote(_))
            ));
        }
    }

    #[test]
    fn signed_notes_round_trip_and_resigning_replaces() {
        let text = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let mut note = unsigned(text);
        note.sign("example.com/log", &key(1)).unwrap();
        note.cosign("w1.example", &key(2), 1_700_000_000).unwrap();
        note.cosign("w2.example", &key(3), 1_700_000_001).unwrap();
        let parsed = Note::parse(&note.format()).unwrap();
        assert_eq!(parsed, note);
        // Cosigning again with a later time replaces the earlier line.
        note.cosign("w1.example", &key(2), 1_800_000_000).unwrap();
        assert_eq!(note.signatures.len(), 3);
        assert_eq!(note.signatures[2].name, "w1.example");
        let w1 = VerifierKey::parse(&verifier_key(
            "w1.example",
            ALG_COSIGNATURE_V1,
            key(2).verifying_key().as_bytes(),
        ))
        .unwrap();
        assert_eq!(note.verify(&w1), Ok(Some(1_800_000_000)));
    }

    #[test]
    fn cosignatures_verify_with_their_time_and_only_as_cosignatures() {
        let text = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextension\n";
        let witness = key(7);
        let public = witness.verifying_key().to_bytes();
        let mut note = unsigned(text);
        note.cosign("witness.example/w", &witness, 1_679_315_147)
            .unwrap();
        let sig = &note.signatures[0];
        assert_eq!(
            sig.key_id,
            key_id("witness.example/w", ALG_COSIGNATURE_V1, &public)
        );
        assert_eq!(sig.bytes.len(), 72);
        assert_eq!(sig.bytes[..8], 1_679_315_147u64.to_be_bytes());
        // The signature covers "cosignature/v1\ntime <t>\n" + text.
        let msg = format!("cosignature/v1\ntime 1679315147\n{text}");
        let ed = ed25519_dalek::Signature::from_slice(&sig.bytes[8..]).unwrap();
        witness
            .verifying_key()
            .verify_strict(msg.as_bytes(), &ed)
            .unwrap();

        let vkey = verifier_key("witness.example/w", ALG_COSIGNATURE_V1, &public);
        let cosigner = VerifierKey::parse(&vkey).unwrap();
        assert_eq!(cosigner.alg, ALG_COSIGNATURE_V1);
        assert_eq!(note.verify(&cosigner), Ok(Some(1_679_315_147)));
        // The same key as a note signer (type 0x01) has another key ID.
        let as_signer =
            VerifierKey::parse(&verifier_key("witness.example/w", ALG_ED25519, &public)).unwrap();
        assert!(matches!(
            note.verify(&as_signer),
            Err(NoteError::NotSigned { .. })
        ));
        // Another time, or another text, fails.
        let mut moved = note.clone();
        moved.signatures[0].bytes[7] ^= 1;
        assert!(matches!(
            moved.verify(&cosigner),
            Err(NoteError::BadSignature { .. })
        ));
        let mut other = note.clone();
        other.text = text.replace("extension", "extensiom");
        assert!(matches!(
            other.verify(&cosigner),
            Err(NoteError::BadSignature { .. })
        ));
        // A time beyond 2^63 - 1 is refused both ways.
        assert_eq!(
            note.cosign("w", &witness, 1 << 63),
            Err(NoteError::InvalidTimestamp(1 << 63))
        );
        let mut late = note.clone();
        late.signatures[0].bytes[0] = 0x80;
        assert!(matches!(
            late.verify(&cosigner),
            Err(NoteError::BadSignature { .. })
        ));
        // A cosignature line too short to hold a time is a bad signature.
        let mut short = note.clone();
        short.signatures[0].bytes.truncate(6);
        assert!(matches!(
            short.verify(&cosigner),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn parses_the_tlog_cosignature_spec_example() {
        // c2sp.org/tlog-cosignature: the witness line's time is the one its
        // example message shows, 1679315147.
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
            \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
            \u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let parsed = Note::parse(note).unwrap();
        assert_eq!(parsed.signatures.len(), 2);
        let w1 = &parsed.signatures[1];
        assert_eq!(w1.name, "witness.example.com/w1");
        assert_eq!(w1.key_id, [0x8d, 0x66, 0xcf, 0x3f]);
        assert_eq!(w1.bytes.len(), 72);
        assert_eq!(
            u64::from_be_bytes(w1.bytes[..8].try_into().unwrap()),
            1_679_315_147
        );
        assert_eq!(parsed.format(), note);
    }

    /// `signed_note` (Cloudflare's port of Go's note) as an independent oracle.
    mod signed_note_oracle {
        use super::*;
        use signed_note as oracle;
        use signed_note::Verifier as _;

        /// A cosignature/v1 verifier written from the spec, for the oracle's
        /// note parser and verification loop.
        struct CosignatureVerifier {
            name: String,
            id: u32,
            key: VerifyingKey,
        }

        impl oracle::Verifier for CosignatureVerifier {
            fn name(&self) -> &str {
                &self.name
            }
            fn key_id(&self) -> u32 {
                self.id
            }
            fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
                let Some((time, sig)) = sig.split_first_chunk::<8>() else {
                    return false;
                };
                let mut signed =
                    format!("cosignature/v1\ntime {}\n", u64::from_be_bytes(*time)).into_bytes();
                signed.extend_from_slice(msg);
                ed25519_dalek::Signature::from_slice(sig)
                    .is_ok_and(|sig| self.key.verify_strict(&signed, &sig).is_ok())
            }
        }

        #[test]
        fn our_signatures_verify_with_signed_note() {
            let log = key(11);
            let witness = key(12);
            let vkey = verifier_key(
                "example.com/log",
                ALG_ED25519,
                log.verifying_key().as_bytes(),
            );
            let verifier = oracle::StandardVerifier::new(&vkey).unwrap();
            assert_eq!(
                verifier.key_id().to_be_bytes(),
                key_id(
                    "example.com/log",
                    ALG_ED25519,
                    log.verifying_key().as_bytes()
                )
            );
            let mut cosigning_material = vec![ALG_COSIGNATURE_V1];
            cosigning_material.extend_from_slice(witness.verifying_key().as_bytes());
            let cosigner = CosignatureVerifier {
                name: "w.example".into(),
                id: oracle::key_id("w.example", &cosigning_material),
                key: witness.verifying_key(),
            };
            assert_eq!(
                cosigner.id.to_be_bytes(),
                key_id(
                    "w.example",
                    ALG_COSIGNATURE_V1,
                    witness.verifying_key().as_bytes()
                )
            );
            for text in [
                "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                "a\n\nb\n",
            ] {
                let mut note = unsigned(text);
                note.sign("example.com/log", &log).unwrap();
                note.cosign("w.example", &witness, 1_234_567_890).unwrap();
                let theirs = oracle::Note::from_bytes(note.format().as_bytes()).unwrap();
                assert_eq!(theirs.text(), text.as_bytes());
                assert_eq!(theirs.to_bytes(), note.format().as_bytes());
                let list = oracle::VerifierList::new(vec![
                    Box::new(verifier.clone()),
                    Box::new(CosignatureVerifier {
                        name: cosigner.name.clone(),
                        ..cosigner
                    }),
                ]);
                let (verified, unverified) = theirs.verify(&list).unwrap();
                assert_eq!((verified.len(), unverified.len()), (2, 0));
                // Tampered text fails there too.
                let tampered = note
                    .format()
                    .replacen(text.split('\n').next().unwrap(), "x", 1);
                let theirs = oracle::Note::from_bytes(tampered.as_bytes()).unwrap();
                assert!(theirs.verify(&list).is_err());
            }
        }

        #[test]
        fn signed_note_signatures_verify_with_ours() {
            let signer = oracle::StandardSigner::new(PETER_SKEY).unwrap();
            let text = "origin.example\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
            let mut theirs = oracle::Note::new(text.as_bytes(), &[]).unwrap();
            theirs.add_sigs(&[&signer]).unwrap();
            let ours = Note::parse(std::str::from_utf8(&theirs.to_bytes()).unwrap()).unwrap();
            assert_eq!(ours.text, text);
            assert_eq!(
                ours.verify(&VerifierKey::parse(PETER_VKEY).unwrap()),
                Ok(None)
            );
            let mut resigned = unsigned(text);
            resigned
                .sign("PeterNeumann", &signing_key(PETER_SKEY))
                .unwrap();
            assert_eq!(resigned.format().as_bytes(), theirs.to_bytes());
        }

        #[test]
        fn structural_verdicts_agree() {
            let sig = PETER_SIG;
            let cases = [
                format!("{TEXT}\n{sig}"),
                format!("{TEXT}\n{sig}{ENOCH_SIG}"),
                format!("a\n\nb\n\n{sig}"),
                format!("\n\n{sig}"),
                TEXT.to_owned(),
                format!("{TEXT}\n"),
                format!("{TEXT}\n\n"),
                format!("{TEXT}\n{}", &sig[..sig.len() - 1]),
                format!("{TEXT}\n{}", sig.replace("PeterNeumann", "Bad Name")),
                format!("{TEXT}\n{sig}Unexpected line.\n"),
                format!("{TEXT}\n{}", sig.repeat(100)),
                format!("{TEXT}\n{}", sig.repeat(101)),
                format!("{TEXT}\n\u{2014} PeterNeumann AAAAAA==\n"),
                format!("{TEXT}\n\u{2014} PeterNeumann AAAAAAA=\n"),
                format!("{TEXT}\n\u{2014} PeterNeumann \n"),
                format!("{TEXT}\n\u{2014}  x08go/ZJ\n"),
                format!("{TEXT}\t\n{sig}"),
            ];
            for case in &cases {
                assert_eq!(
                    Note::parse(case).is_ok(),
                    oracle::Note::from_bytes(case.as_bytes()).is_ok(),
                    "{case:?}"
                );
            }
        }
    }
}
