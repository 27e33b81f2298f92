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
/// SHA-256(name || 0x0A || alg || public key)[:4].
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
mod tests {}
