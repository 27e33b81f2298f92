//! Trusted keys in git's `gpg.ssh.allowedSignersFile` format, and checking a
//! commit signature against them.
//!
//! One line per key: `principal [options] keytype base64 [comment]`. Only
//! keys valid for the `git` namespace count (no `namespaces=` option, or one
//! that lists `git`), as git itself decides.

use std::path::Path;

use serde::Serialize;
use ssh_key::{HashAlg, PublicKey, SshSig};

use super::SIGNING_NAMESPACE;

/// The keys a store trusts, by principal name.
#[derive(Debug, Default, Clone)]
pub struct AllowedSigners {
    entries: Vec<(String, PublicKey)>,
}

/// The outcome of checking one commit's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureStatus {
    /// Valid, by a trusted key.
    Good,
    /// Valid, by a key the store does not trust.
    Untrusted,
    /// Present but invalid (wrong data, namespace, or garbage).
    Bad,
    /// Not signed.
    None,
}

/// Status plus who signed (the principal for trusted keys, the fingerprint otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    /// The verdict.
    pub status: SignatureStatus,
    /// The signer's principal name or key fingerprint, when known.
    pub signer: Option<String>,
}

impl AllowedSigners {
    /// Read the file; a missing file is an empty list.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    /// Parse the file's text; lines that are not understood are skipped, as git does.
    pub fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(parse_line)
            .collect();
        AllowedSigners { entries }
    }

    /// The trusted (principal, key) pairs.
    pub fn entries(&self) -> &[(String, PublicKey)] {
        &self.entries
    }

    /// The principal that trusts `key`, if any.
    pub fn principal_of(&self, key: &PublicKey) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, k)| k.key_data() == key.key_data())
            .map(|(p, _)| p.as_str())
    }

    /// The list in the file format: one `principal namespaces="git" key`
    /// line per key, in order.
    pub fn to_text(&self) -> String {
        self.entries
            .iter()
            .map(|(p, k)| format!("{p} namespaces=\"git\" {}\n", key_line(k)))
            .collect()
    }

    /// This list plus every key of `other` it lacks (with `other`'s principal).
    pub fn union(&self, other: &AllowedSigners) -> AllowedSigners {
        let mut entries = self.entries.clone();
        for (p, k) in &other.entries {
            if !entries.iter().any(|(_, e)| e.key_data() == k.key_data()) {
                entries.push((p.clone(), k.clone()));
            }
        }
        AllowedSigners { entries }
    }

    /// Check an armored signature over `payload` made at `time` (the
    /// commit's time, Unix seconds): [`verify_signature`], then [`Self::judge`].
    pub fn check(&self, armored: &[u8], payload: &[u8], time: i64) -> SignatureCheck {
        match verify_signature(armored, payload) {
            SignatureValidity::Valid(key) => self.judge(&key, time),
            SignatureValidity::Invalid(key) => SignatureCheck {
                status: SignatureStatus::Bad,
                signer: key.map(|k| k.fingerprint(HashAlg::Sha256).to_string()),
            },
        }
    }

    /// Whether this list trusts `key` for a signature made at `time` (Unix
    /// seconds): `Good` with the principal, else `Untrusted` with the key's
    /// fingerprint. The key's signature must already be known valid.
    pub fn judge(&self, key: &PublicKey, _time: i64) -> SignatureCheck {
        match self
            .entries
            .iter()
            .find(|(_, k)| k.key_data() == key.key_data())
        {
            Some((principal, _)) => SignatureCheck {
                status: SignatureStatus::Good,
                signer: Some(principal.clone()),
            },
            None => SignatureCheck {
                status: SignatureStatus::Untrusted,
                signer: Some(key.fingerprint(HashAlg::Sha256).to_string()),
            },
        }
    }
}

/// What a signature says by itself, before asking whom the store trusts.
#[derive(Debug, Clone)]
pub enum SignatureValidity {
    /// It verifies over the payload in the `git` namespace, by this key.
    Valid(PublicKey),
    /// It does not verify; the key it names, when it names one.
    Invalid(Option<PublicKey>),
}

/// Check an armored SSH signature over `payload` cryptographically (and its
/// namespace), independently of any list of trusted keys. The index keeps
/// this verdict, so trust can be decided at read time against the current
/// allowed signers.
pub fn verify_signature(armored: &[u8], payload: &[u8]) -> SignatureValidity {
    let Ok(sig) = SshSig::from_pem(armored) else {
        return SignatureValidity::Invalid(None);
    };
    let key = PublicKey::new(sig.public_key().clone(), "");
    if sig.namespace() != SIGNING_NAMESPACE || key.verify(SIGNING_NAMESPACE, payload, &sig).is_err()
    {
        return SignatureValidity::Invalid(Some(key));
    }
    SignatureValidity::Valid(key)
}

fn parse_line(line: &str) -> Option<(String, PublicKey)> {
    let (principal, rest) = line.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    // Options come before the key type; they may hold quoted spaces.
    let key_start = find_key_start(rest)?;
    let (options, key) = rest.split_at(key_start);
    if !namespace_allows_git(options) {
        return None;
    }
    let key = PublicKey::from_openssh(key.trim()).ok()?;
    Some((principal.to_owned(), key))
}

fn find_key_start(s: &str) -> Option<usize> {
    let mut in_quotes = false;
    let mut token_start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c.is_whitespace() && !in_quotes => token_start = i + c.len_utf8(),
            _ if i == token_start && !in_quotes && is_key_type_at(&s[i..]) => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_key_type_at(s: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-"].iter().any(|p| s.starts_with(p))
}

fn namespace_allows_git(options: &str) -> bool {
    let options = options.trim();
    let Some(pos) = options.find("namespaces=") else {
        return true;
    };
    let value = options[pos + "namespaces=".len()..]
        .trim_start_matches('"')
        .split('"')
        .next()
        .unwrap_or("");
    value.split(',').any(|n| n.trim() == SIGNING_NAMESPACE)
}

/// The public key an armored SSH signature names (whether or not it verifies).
pub fn signature_key(armored: &[u8]) -> Option<PublicKey> {
    SshSig::from_pem(armored)
        .ok()
        .map(|sig| PublicKey::new(sig.public_key().clone(), ""))
}

/// `ssh-ed25519 AAAA...` without a comment.
pub fn key_line(key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    k.to_openssh()
        .expect("a parsed public key encodes")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOuvGRj0ghh3wqFMwMvfVIMhj4N6ceJEPXffUc3y7xX7";

    #[test]
    fn parses_git_format() {
        let text = format!(
            "# comment\nalice namespaces=\"git\" {KEY} laptop\nbob {KEY}\ncarol namespaces=\"file\" {KEY}\nbroken line\n"
        );
        let a = AllowedSigners::parse(&text);
        let names: Vec<_> = a.entries().iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
    }
}
