//! SSH signatures (`-----BEGIN SSH SIGNATURE-----`), as `ssh-keygen -Y sign -n git`
//! makes them for `git commit -S` with `gpg.format=ssh`, with the key types
//! git signs with: Ed25519, ECDSA (nistp256, nistp384, nistp521) and RSA.
//!
//! The design decision a reader must know: signing is in-process for every
//! key type (no `ssh-keygen` per atom). Ed25519 is deterministic, so its
//! signatures are byte-identical to ssh-keygen's; ECDSA signatures use
//! RFC 6979 nonces and RSA ones are `rsa-sha2-512` (PKCS #1 v1.5 over
//! SHA-512), the algorithm ssh-keygen picks for the default `sha512` hash:
//! they differ from ssh-keygen's bytes (ECDSA) but verify the same way.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, SshSig};

use super::{Signer, SigningError};

/// The SSH signature namespace git uses for commits.
pub const SIGNING_NAMESPACE: &str = "git";

/// An OpenSSH key that signs atom commits: Ed25519, ECDSA or RSA.
pub struct SshSigner {
    key: PrivateKey,
    /// For an Ed25519 key, the expanded secret, checked against the public
    /// key once at load: `PrivateKey::sign` redoes both on every signature,
    /// which doubles its cost.
    dalek: Option<ed25519_dalek::SigningKey>,
}

/// Whether atom signs with keys of `algorithm`: those git signs commits
/// with and ssh-keygen verifies (DSA and security-key types are not).
pub fn is_signing_algorithm(algorithm: &Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { .. }
    )
}

impl SshSigner {
    /// Load an unencrypted private key in OpenSSH format: Ed25519, ECDSA
    /// (nistp256, nistp384, nistp521) or RSA.
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let text = fs::read_to_string(path).map_err(|source| SigningError::Read {
            path: path.to_owned(),
            source,
        })?;
        let key = PrivateKey::from_openssh(&text).map_err(|e| SigningError::Parse {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if key.is_encrypted() {
            return Err(SigningError::Encrypted {
                path: path.to_owned(),
            });
        }
        if !is_signing_algorithm(&key.algorithm()) {
            return Err(SigningError::Algorithm {
                path: path.to_owned(),
                algorithm: key.algorithm().to_string(),
            });
        }
        SshSigner::new(key)
    }

    fn new(key: PrivateKey) -> Result<Self, SigningError> {
        let dalek = match key.key_data().ed25519() {
            Some(pair) => Some(
                ed25519_dalek::SigningKey::try_from(pair)
                    .map_err(|e| SigningError::Crypto(e.to_string()))?,
            ),
            None => None,
        };
        Ok(SshSigner { key, dalek })
    }

    /// [`SshSigner::load`], and sign once: a key that loads but cannot sign
    /// (an RSA modulus outside 1024..=8192 bits, say) fails here, when it
    /// is chosen, rather than at the first atom.
    pub fn load_checked(path: &Path) -> Result<Self, SigningError> {
        let signer = SshSigner::load(path)?;
        signer.sign(b"").map_err(|e| SigningError::Parse {
            path: path.to_owned(),
            reason: format!("it cannot sign: {e}"),
        })?;
        Ok(signer)
    }

    /// Make a new key pair at `path` (mode 0600) and `path.pub`.
    pub fn generate(path: &Path, comment: &str) -> Result<Self, SigningError> {
        let mut rng = ssh_key::rand_core::UnwrapErr(ssh_key::getrandom::SysRng);
        let mut key = PrivateKey::random(&mut rng, Algorithm::Ed25519)
            .map_err(|e| SigningError::Crypto(e.to_string()))?;
        key.set_comment(comment);
        let private = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| SigningError::Crypto(e.to_string()))?;
        write_new(path, private.as_bytes(), 0o600)?;
        let public = format!("{}\n", public_line(&key));
        write_new(&pub_path(path), public.as_bytes(), 0o644)?;
        SshSigner::new(key)
    }

    /// `ssh-ed25519 AAAA... comment` (or `ecdsa-sha2-nistp256`, `ssh-rsa`...).
    pub fn public_key_line(&self) -> String {
        public_line(&self.key)
    }

    /// The public key, without its comment.
    pub fn public_key(&self) -> ssh_key::PublicKey {
        ssh_key::PublicKey::new(self.key.public_key().key_data().clone(), "")
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The Ed25519 key itself, when the key is one: it then also signs the
    /// transparency log's checkpoints (C2SP signed notes, Ed25519 only).
    pub fn ed25519(&self) -> Option<&ed25519_dalek::SigningKey> {
        self.dalek.as_ref()
    }

    /// The key's fingerprint, `SHA256:...`, as ssh-keygen prints it.
    pub fn fingerprint(&self) -> String {
        self.key
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string()
    }
}

impl Signer for SshSigner {
    fn sign(&self, payload: &[u8]) -> Result<String, SigningError> {
        use ed25519_dalek::Signer as _;
        let crypto = |e: ssh_key::Error| SigningError::Crypto(e.to_string());
        let Some(dalek) = &self.dalek else {
            // ECDSA and RSA (rsa-sha2-512 for HashAlg::Sha512, as ssh-keygen).
            return self
                .key
                .sign(SIGNING_NAMESPACE, HashAlg::Sha512, payload)
                .and_then(|sig| armor(&sig))
                .map_err(crypto);
        };
        let signed =
            SshSig::signed_data(SIGNING_NAMESPACE, HashAlg::Sha512, payload).map_err(crypto)?;
        let raw = dalek.sign(&signed).to_bytes().to_vec();
        let signature = ssh_key::Signature::new(Algorithm::Ed25519, raw).map_err(crypto)?;
        SshSig::new(
            self.key.public_key().key_data().clone(),
            SIGNING_NAMESPACE,
            HashAlg::Sha512,
            signature,
        )
        .and_then(|sig| armor(&sig))
        .map_err(crypto)
    }
}

/// The armor atom writes a signature in, which is ssh-keygen's: PEM with
/// LF line endings, base64 wrapped at 70 columns.
fn armor(sig: &SshSig) -> Result<String, ssh_key::Error> {
    sig.to_pem(LineEnding::LF)
}

/// An armored SSH signature decoded and armored again as atom writes it;
/// `None` when it does not decode. The signature covers the commit without
/// its armor, so only this comparison tells a re-armored (re-wrapped, CRLF)
/// copy of a signed commit from the original.
pub fn canonical_armor(armored: &[u8]) -> Option<String> {
    armor(&super::wire::decode(armored)?).ok()
}

fn public_line(key: &PrivateKey) -> String {
    key.public_key()
        .to_openssh()
        .expect("a public key that parsed always encodes")
}

fn pub_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SigningError> {
    let err = |source| SigningError::Write {
        path: path.to_owned(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_armor_is_what_sign_writes_and_undoes_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let signer = SshSigner::generate(&dir.path().join("k"), "test").unwrap();
        let armor = signer.sign(b"payload").unwrap();
        assert_eq!(canonical_armor(armor.as_bytes()).as_deref(), Some(&*armor));
        let crlf = armor.replace('\n', "\r\n");
        assert_eq!(canonical_armor(crlf.as_bytes()).as_deref(), Some(&*armor));
        assert_eq!(canonical_armor(b"not a signature"), None);
    }
}
