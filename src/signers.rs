//! Managing whose signatures a store trusts: `keys/allowed_signers`, in
//! git's `gpg.ssh.allowedSignersFile` format (SPEC §6).
//!
//! The design decision a reader must know: the file is edited as text, line
//! by line, so comments and lines atom does not understand survive; it is
//! rewritten atomically (temporary file, fsync, rename) under the store lock.

use std::path::{Path, PathBuf};

use serde::Serialize;
use ssh_key::{Algorithm, HashAlg, PublicKey};

use crate::signing::SIGNING_NAMESPACE;
use crate::store::{durable, io_context, StoreError};
use crate::trail::{Trail, TrailError, ALLOWED_SIGNERS, KEYS_DIR};

/// Errors of signer management.
#[derive(Debug, thiserror::Error)]
pub enum SignersError {
    /// The principal name cannot go in the file.
    #[error("invalid signer name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The key is not an OpenSSH public key line or a readable `.pub` file.
    #[error("invalid key {given:?}: {reason}")]
    InvalidKey {
        /// What was given (shortened).
        given: String,
        /// Why.
        reason: String,
    },
    /// No signer of that name.
    #[error("no trusted signer named {name} (signers: {})", known.join(", "))]
    NotFound {
        /// The name given.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
    /// Removing the name would stop trusting the store's own key.
    #[error(
        "{name} is this store's own signing key; without it its atoms would fail verification"
    )]
    OwnKey {
        /// The name given.
        name: String,
    },
    /// Reading or writing the file failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
}

impl From<StoreError> for SignersError {
    fn from(e: StoreError) -> Self {
        SignersError::Trail(e.into())
    }
}

/// One trusted key.
#[derive(Debug, Clone, Serialize)]
pub struct SignerInfo {
    /// The principal name.
    pub name: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519 AAAA...`.
    pub key: String,
    /// Whether it is the store's own signing key.
    pub own: bool,
}

/// What `signers add` did.
#[derive(Debug, Clone, Serialize)]
pub struct SignerAdded {
    /// The key now trusted.
    #[serde(flatten)]
    pub signer: SignerInfo,
    /// False when the key was trusted already (under `signer.name`).
    pub added: bool,
}

/// Parse a KEY argument: an `ssh-ed25519 AAAA... [comment]` line, or the
/// path of a `.pub` file holding one.
pub fn parse_key(given: &str) -> Result<PublicKey, SignersError> {
    let short: String = given.chars().take(40).collect();
    let invalid = |reason: String| SignersError::InvalidKey {
        given: short.clone(),
        reason,
    };
    let text = if given.trim_start().starts_with("ssh-") || given.trim_start().starts_with("ecdsa-")
    {
        given.to_owned()
    } else {
        std::fs::read_to_string(given).map_err(|e| {
            invalid(format!(
                "neither a public key line nor a readable .pub file ({e})"
            ))
        })?
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| invalid("no key in it".into()))?;
    if line.contains("PRIVATE KEY") {
        return Err(invalid(
            "this is a private key; give the public one (the .pub file)".into(),
        ));
    }
    let key = PublicKey::from_openssh(line).map_err(|e| invalid(e.to_string()))?;
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(invalid(format!(
            "{} keys are not supported; atom signs and checks ssh-ed25519 keys",
            key.algorithm()
        )));
    }
    Ok(key)
}

fn validate_name(name: &str) -> Result<(), SignersError> {
    let bad = |reason| {
        Err(SignersError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 200 {
        return bad("a name has 1 to 200 characters");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        return bad("a name has no spaces, quotes or control characters");
    }
    if name.starts_with('#') {
        return bad("a name cannot start with '#'");
    }
    Ok(())
}

/// `ssh-ed25519 AAAA...` without a comment.
impl Trail {
    fn allowed_signers_path(&self) -> PathBuf {
        self.home().join(KEYS_DIR).join(ALLOWED_SIGNERS)
    }

    /// The trusted keys, in file order.
    pub fn signers(&self) -> Result<Vec<SignerInfo>, SignersError> {
        let path = self.allowed_signers_path();
        let text = read_or_empty(&path)?;
        let own = self.signer().ok().map(|s| s.fingerprint());
        Ok(crate::signing::AllowedSigners::parse(&text)
            .entries()
            .iter()
            .map(|e| {
                let fingerprint = e.key.fingerprint(HashAlg::Sha256).to_string();
                SignerInfo {
                    name: e.principals.clone(),
                    own: own.as_deref() == Some(fingerprint.as_str()),
                    fingerprint,
                    key: crate::signing::key_line(&e.key),
                }
            })
            .collect())
    }

    /// Trust `key` (see [`parse_key`]) for signatures by `name`.
    pub fn add_signer(&self, name: &str, key: &str) -> Result<SignerAdded, SignersError> {
        validate_name(name)?;
        let key = parse_key(key)?;
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let _lock = self.lock()?;
        if let Some(existing) = self
            .signers()?
            .into_iter()
            .find(|s| s.fingerprint == fingerprint)
        {
            return Ok(SignerAdded {
                signer: existing,
                added: false,
            });
        }
        let path = self.allowed_signers_path();
        let mut text = read_or_empty(&path)?;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let line = crate::signing::key_line(&key);
        text.push_str(&format!(
            "{name} namespaces=\"{SIGNING_NAMESPACE}\" {line}\n"
        ));
        write_atomically(&path, &text)?;
        let own = self.signer().ok().map(|s| s.fingerprint()) == Some(fingerprint.clone());
        Ok(SignerAdded {
            signer: SignerInfo {
                name: name.to_owned(),
                fingerprint,
                key: line,
                own,
            },
            added: true,
        })
    }

    /// Stop trusting every key of `name`. Refuses the store's own key
    /// unless `force`.
    pub fn remove_signer(&self, name: &str, force: bool) -> Result<Vec<SignerInfo>, SignersError> {
        let _lock = self.lock()?;
        let signers = self.signers()?;
        let removed: Vec<SignerInfo> = signers.iter().filter(|s| s.name == name).cloned().collect();
        if removed.is_empty() {
            let mut known: Vec<String> = signers.into_iter().map(|s| s.name).collect();
            known.dedup();
            return Err(SignersError::NotFound {
                name: name.to_owned(),
                known,
            });
        }
        if !force && removed.iter().any(|s| s.own) {
            return Err(SignersError::OwnKey {
                name: name.to_owned(),
            });
        }
        let path = self.allowed_signers_path();
        let text = read_or_empty(&path)?;
        let kept: String = text
            .lines()
            .filter(|l| l.split_whitespace().next() != Some(name))
            .map(|l| format!("{l}\n"))
            .collect();
        write_atomically(&path, &kept)?;
        Ok(removed)
    }
}

fn read_or_empty(path: &Path) -> Result<String, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(StoreError::Io {
            context: format!("reading {}", path.display()),
            source: e,
        }),
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    io_context(
        (|| {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            durable::sync_dir(path.parent().unwrap_or(Path::new(".")))
        })(),
        || format!("writing {}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOuvGRj0ghh3wqFMwMvfVIMhj4N6ceJEPXffUc3y7xX7";

    #[test]
    fn parses_key_lines() {
        assert!(parse_key(&format!("{KEY} me@laptop")).is_ok());
        assert!(parse_key("ssh-ed25519 AAAAnotbase64").is_err());
        assert!(parse_key("/nonexistent/key.pub").is_err());
    }

    #[test]
    fn names() {
        assert!(validate_name("alice@example.org").is_ok());
        for bad in ["", "a b", "#x", "a\"b"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
