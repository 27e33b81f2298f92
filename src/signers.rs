//! Managing whose signatures a store trusts: `keys/allowed_signers`, in
//! git's `gpg.ssh.allowedSignersFile` format (SPEC §6).
//!
//! The design decision a reader must know: the file is edited as text, line
//! by line, so comments and lines atom does not understand survive; it is
//! rewritten atomically (temporary file, fsync, rename) under the store lock.
//! A signer name belongs to one key; a key is retired, not deleted, by
//! giving its line `valid-before`, so the atoms it signed until then stay
//! valid (for git too).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use ssh_key::{HashAlg, PublicKey};

use crate::signing::{AllowedSigner, AllowedSigners, SshTime};
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
    /// The name is another key's already.
    #[error("the name {name} is taken: it is the signer of {fingerprint}")]
    NameTaken {
        /// The name given.
        name: String,
        /// The key that has it.
        fingerprint: String,
        /// A name that is free.
        free: String,
    },
    /// Removing the name would stop trusting the store's own key.
    #[error(
        "{name} is this store's own signing key (or the key of its log's checkpoints); without it what the key signs would fail verification"
    )]
    OwnKey {
        /// The name given.
        name: String,
    },
    /// Retiring the name would stop trusting the atoms the store signs from now on.
    #[error(
        "{name} is this store's own signing key (or the key of its log's checkpoints); retired, what it signs after {at} would fail verification"
    )]
    RetireOwnKey {
        /// The name given.
        name: String,
        /// The retirement time asked for.
        at: String,
    },
    /// The retirement time is not after the line's `valid-after`.
    #[error("{name} is trusted only from {valid_after} (valid-after); it cannot retire at {at}, before it starts")]
    RetireBeforeStart {
        /// The name given.
        name: String,
        /// The line's `valid-after`, as written.
        valid_after: String,
        /// The retirement time asked for.
        at: String,
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

/// One line of the allowed signers: a key, its name and its options.
#[derive(Debug, Clone, Serialize)]
pub struct SignerInfo {
    /// The principal name (or the line's comma-separated patterns).
    pub name: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519 AAAA...` (or `ecdsa-sha2-nistp256`, `ssh-rsa`...).
    pub key: String,
    /// Whether it is one of the store's own keys: its signing key, or the
    /// Ed25519 key that signs its log beside an ECDSA or RSA signing key.
    pub own: bool,
    /// The `namespaces` option (atom writes `git`), if any.
    pub namespaces: Option<String>,
    /// The `valid-after` option as written (`YYYYMMDD[HHMM[SS]][Z]`), if any.
    pub valid_after: Option<String>,
    /// The `valid-before` option as written, if any: the key is retired
    /// for signatures made after it.
    pub valid_before: Option<String>,
    /// The `cert-authority` option: the line trusts certificates the key
    /// signs, not the key's own signatures.
    pub cert_authority: bool,
}

impl SignerInfo {
    fn of(e: &AllowedSigner, own: &[String]) -> Self {
        let fingerprint = e.key.fingerprint(HashAlg::Sha256).to_string();
        SignerInfo {
            name: e.principals.clone(),
            own: own.contains(&fingerprint),
            fingerprint,
            key: crate::signing::key_line(&e.key),
            namespaces: e.options.namespaces.clone(),
            valid_after: e
                .options
                .valid_after
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            valid_before: e
                .options
                .valid_before
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            cert_authority: e.options.cert_authority,
        }
    }
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

/// What `signers retire` did to one line of the name.
#[derive(Debug, Clone, Serialize)]
pub struct SignerRetired {
    /// The line as it is now.
    #[serde(flatten)]
    pub signer: SignerInfo,
    /// False when the line had an earlier `valid-before` already, which it keeps.
    pub changed: bool,
}

/// Parse a KEY argument: an `ssh-ed25519 AAAA... [comment]` line (or an
/// ECDSA or RSA one), or the path of a `.pub` file holding one.
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
    if !crate::signing::is_signing_algorithm(&key.algorithm()) {
        return Err(invalid(format!(
            "{} keys are not supported; atom signs and checks ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa keys",
            key.algorithm()
        )));
    }
    Ok(key)
}

/// Check a signer name: what an allowed_signers line can hold as one
/// principal (no spaces, quotes, patterns or control characters).
pub fn validate_name(name: &str) -> Result<(), SignersError> {
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
    if name.contains([',', '*', '?']) || name.starts_with('!') {
        return bad("a name has no ',', '*' or '?' and does not start with '!' (allowed_signers reads those as patterns)");
    }
    Ok(())
}

impl Trail {
    fn allowed_signers_path(&self) -> PathBuf {
        self.home().join(KEYS_DIR).join(ALLOWED_SIGNERS)
    }

    /// The lines of the allowed signers that ssh-keygen accepts, in file order.
    pub fn signers(&self) -> Result<Vec<SignerInfo>, SignersError> {
        let own = self.own_fingerprints();
        Ok(self
            .current_signers()?
            .entries()
            .iter()
            .map(|e| SignerInfo::of(e, &own))
            .collect())
    }

    /// The file as it is now (not the list this handle loaded when it opened).
    fn current_signers(&self) -> Result<AllowedSigners, SignersError> {
        Ok(AllowedSigners::parse(&read_or_empty(
            &self.allowed_signers_path(),
        )?))
    }

    /// Trust `key` (see [`parse_key`]) for signatures by `name`, in the
    /// `git` namespace. A key trusted already is left as it is; a name is
    /// one key's only.
    pub fn add_signer(&self, name: &str, key: &str) -> Result<SignerAdded, SignersError> {
        validate_name(name)?;
        let mut key = parse_key(key)?;
        key.set_comment("");
        let _lock = self.lock()?;
        let current = self.current_signers()?;
        let own = self.own_fingerprints();
        if let Some(existing) = current
            .entries()
            .iter()
            .find(|e| e.key.key_data() == key.key_data())
        {
            return Ok(SignerAdded {
                signer: SignerInfo::of(existing, &own),
                added: false,
            });
        }
        if let Some(other) = current.name_taken(name, &key) {
            return Err(SignersError::NameTaken {
                name: name.to_owned(),
                fingerprint: other.key.fingerprint(HashAlg::Sha256).to_string(),
                free: current.free_name(name, &key),
            });
        }
        let line = AllowedSigner::new(name, key);
        self.append_line(&line)?;
        Ok(SignerAdded {
            signer: SignerInfo::of(&line, &own),
            added: true,
        })
    }

    /// Trust a line another store trusts (clone, mirror restore), options
    /// kept, under its name or, when another key has that name here, under
    /// the first free `NAME-2`, `NAME-3`, ... A line present already is left.
    pub fn adopt_signer(&self, line: &AllowedSigner) -> Result<SignerAdded, SignersError> {
        let _lock = self.lock()?;
        let current = self.current_signers()?;
        let own = self.own_fingerprints();
        let mut line = line.clone();
        line.principals = current.free_name(&line.principals, &line.key);
        if current.entries().contains(&line) {
            return Ok(SignerAdded {
                signer: SignerInfo::of(&line, &own),
                added: false,
            });
        }
        self.append_line(&line)?;
        Ok(SignerAdded {
            signer: SignerInfo::of(&line, &own),
            added: true,
        })
    }

    fn append_line(&self, line: &AllowedSigner) -> Result<(), SignersError> {
        let path = self.allowed_signers_path();
        let mut text = read_or_empty(&path)?;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line.to_line());
        text.push('\n');
        Ok(write_atomically(&path, &text)?)
    }

    /// Retire every key of `name` at `at` (default now): its lines get
    /// `valid-before`, so signatures made until then (inclusive) stay
    /// trusted and later ones are not. A line retired earlier keeps its
    /// time. Refuses the store's own key unless `force`.
    pub fn retire_signer(
        &self,
        name: &str,
        at: Option<DateTime<Utc>>,
        force: bool,
    ) -> Result<Vec<SignerRetired>, SignersError> {
        let at = at.unwrap_or_else(|| {
            DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now is a valid time")
        });
        let when = SshTime::utc(at);
        let _lock = self.lock()?;
        let own = self.own_fingerprints();
        let path = self.allowed_signers_path();
        let text = read_or_empty(&path)?;
        let mut retired = Vec::new();
        let mut out = String::with_capacity(text.len() + 64);
        for raw in text.lines() {
            let Some(mut line) = AllowedSigner::parse(raw).filter(|l| l.principals == name) else {
                out.push_str(raw);
                out.push('\n');
                continue;
            };
            let info = SignerInfo::of(&line, &own);
            if info.own && !force {
                return Err(SignersError::RetireOwnKey {
                    name: name.to_owned(),
                    at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                });
            }
            if let Some(after) = &line.options.valid_after {
                if after.seconds() >= when.seconds() {
                    return Err(SignersError::RetireBeforeStart {
                        name: name.to_owned(),
                        valid_after: after.as_str().to_owned(),
                        at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    });
                }
            }
            let changed = line
                .options
                .valid_before
                .as_ref()
                .is_none_or(|b| b.seconds() > when.seconds());
            if changed {
                line.options.valid_before = Some(when.clone());
            }
            out.push_str(&line.to_line());
            out.push('\n');
            retired.push(SignerRetired {
                signer: SignerInfo::of(&line, &own),
                changed,
            });
        }
        if retired.is_empty() {
            return Err(self.not_found(name)?);
        }
        if retired.iter().any(|r| r.changed) {
            write_atomically(&path, &out)?;
        }
        Ok(retired)
    }

    fn not_found(&self, name: &str) -> Result<SignersError, SignersError> {
        let mut known: Vec<String> = self.signers()?.into_iter().map(|s| s.name).collect();
        known.dedup();
        Ok(SignersError::NotFound {
            name: name.to_owned(),
            known,
        })
    }

    /// Stop trusting every key of `name`. Refuses the store's own key
    /// unless `force`.
    pub fn remove_signer(&self, name: &str, force: bool) -> Result<Vec<SignerInfo>, SignersError> {
        let _lock = self.lock()?;
        let signers = self.signers()?;
        let removed: Vec<SignerInfo> = signers.iter().filter(|s| s.name == name).cloned().collect();
        if removed.is_empty() {
            return Err(self.not_found(name)?);
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
        for bad in ["", "a b", "#x", "a\"b", "a,b", "a*", "a?", "!a"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
