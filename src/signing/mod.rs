//! Signing atom commits and checking their signatures.
//!
//! A [`Signer`] produces the armored signature that goes into a commit's
//! `gpgsig` header; [`AllowedSigners`] decides whether a signature is good and
//! whose it is, with git's semantics (`openssh` ports the parts of ssh-keygen
//! that define them). Contract: `AllowedSigners::check` accepts what
//! `Signer::sign` produced for a key listed in the allowed signers file, for
//! the same payload, when the line's options allow the `git` namespace at the
//! commit's time.

mod allowed;
mod openssh;
mod ssh;
mod wire;

pub use allowed::{
    committer_time, key_line, signature_key, verify_signature, AllowedSigner, AllowedSigners,
    Refusal, SignatureCheck, SignatureStatus, SignatureValidity,
};
pub use openssh::{SignerOptions, SshTime};
pub use ssh::{canonical_armor, is_signing_algorithm, SshSigner, SIGNING_NAMESPACE};

/// Errors of key handling and signing.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The key file could not be read.
    #[error("cannot read signing key {path}: {source}")]
    Read {
        /// The key file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is not an OpenSSH private key.
    #[error("{path} is not an OpenSSH private key: {reason}")]
    Parse {
        /// The key file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The key is protected by a passphrase.
    #[error("signing key {path} is encrypted; atom signs without prompting and needs an unencrypted key")]
    Encrypted {
        /// The key file.
        path: std::path::PathBuf,
    },
    /// The key is of a type atom does not sign with (DSA, a security key).
    #[error("signing key {path} is {algorithm}; atom signs with ed25519, ecdsa (nistp256, nistp384, nistp521) and rsa keys")]
    Algorithm {
        /// The key file.
        path: std::path::PathBuf,
        /// The key's algorithm.
        algorithm: String,
    },
    /// The signing key is ECDSA or RSA, and the Ed25519 key that signs the
    /// transparency log beside it cannot be used.
    #[error("this store signs atoms with a {algorithm} key and its transparency log with the Ed25519 key {path}, which {problem}")]
    LogKey {
        /// The log key's file.
        path: std::path::PathBuf,
        /// The signing key's algorithm.
        algorithm: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Signing or key generation failed in the crypto library.
    #[error("signing failed: {0}")]
    Crypto(String),
    /// Writing key files failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Something that signs commit payloads the way `git commit -S` does.
pub trait Signer {
    /// The armored signature of `payload` (the commit without its signature
    /// header), ready for the `gpgsig` header.
    fn sign(&self, payload: &[u8]) -> Result<String, SigningError>;
}
