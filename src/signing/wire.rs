//! Armored SSH signatures read as OpenSSH reads them, so that whether a
//! signature verifies is `ssh-keygen -Y verify`'s (hence `git
//! verify-commit`'s) verdict.
//!
//! The design decision a reader must know: ssh-key decodes, and where it
//! reads a signature otherwise than OpenSSH (`sshsig.c`), OpenSSH's reading
//! is applied on top: an ECDSA signature's numbers (`r`, `s`) with
//! redundant leading zero bytes, which OpenSSH strips
//! (`sshbuf_get_bignum2`); an RSA signature shorter than the modulus, which
//! OpenSSH pads with leading zeros (`ssh_rsa_verify`); and the reserved
//! field, which OpenSSH leaves out of what it verifies. Such a signature
//! verifies as it does for git; it is not the form atom writes, which
//! `atom verify` checks apart.

use ssh_key::encoding::pem::PemLabel;
use ssh_key::encoding::{Decode, DecodePem, Reader};
use ssh_key::{Algorithm, SshSig};

/// Decode an armored SSH signature as OpenSSH would accept its encoding.
pub(super) fn decode(armored: &[u8]) -> Option<SshSig> {
    let sig = match SshSig::from_pem(armored) {
        Ok(sig) => sig,
        Err(_) => {
            let Blob(blob) = Blob::decode_pem(armored).ok()?;
            let fixed = with_minimal_ecdsa_numbers(&blob)?;
            let mut reader = fixed.as_slice();
            let sig = SshSig::decode(&mut reader).ok()?;
            if !reader.is_empty() {
                return None;
            }
            sig
        }
    };
    Some(as_openssh_reads(sig))
}

/// The body of an `SSH SIGNATURE` PEM document, undecoded.
struct Blob(Vec<u8>);

impl PemLabel for Blob {
    const PEM_LABEL: &'static str = "SSH SIGNATURE";
}

impl Decode for Blob {
    type Error = ssh_key::encoding::Error;

    fn decode(reader: &mut impl Reader) -> Result<Self, Self::Error> {
        let mut bytes = vec![0; reader.remaining_len()];
        reader.read(&mut bytes)?;
        Ok(Blob(bytes))
    }
}

/// An SSHSIG blob whose ECDSA signature numbers are written minimally;
/// `None` when it is not an ECDSA signature OpenSSH would read.
fn with_minimal_ecdsa_numbers(blob: &[u8]) -> Option<Vec<u8>> {
    // "SSHSIG", the version, then key, namespace, reserved, hash.
    let mut rest = blob.get(10..)?;
    for _ in 0..4 {
        string(&mut rest)?;
    }
    let head = &blob[..blob.len() - rest.len()];
    let mut sig = string(&mut rest)?;
    let algorithm = string(&mut sig)?;
    let mut data = string(&mut sig)?;
    if !rest.is_empty() || !sig.is_empty() || !algorithm.starts_with(b"ecdsa-sha2-") {
        return None;
    }
    let (r, s) = (bignum(&mut data)?, bignum(&mut data)?);
    if !data.is_empty() {
        return None;
    }
    let mut numbers = Vec::new();
    put_mpint(&mut numbers, r);
    put_mpint(&mut numbers, s);
    let mut inner = Vec::new();
    put_string(&mut inner, algorithm);
    put_string(&mut inner, &numbers);
    let mut out = head.to_vec();
    put_string(&mut out, &inner);
    Some(out)
}

/// A big-endian number as `sshbuf_get_bignum2_bytes_direct` reads it:
/// not negative, at most 2048 bytes (one more for a leading zero), its
/// leading zeros stripped.
fn bignum<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    const MAX_BIGNUM: usize = 16384 / 8;
    let d = string(b)?;
    if d.first().is_some_and(|&x| x & 0x80 != 0)
        || d.len() > MAX_BIGNUM + 1
        || (d.len() == MAX_BIGNUM + 1 && d[0] != 0)
    {
        return None;
    }
    let start = d.iter().position(|&x| x != 0).unwrap_or(d.len());
    Some(&d[start..])
}

fn string<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let s = b.get(4..4 + len)?;
    *b = &b[4 + len..];
    Some(s)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    let len = u32::try_from(s.len()).expect("a signature is far below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s);
}

/// A positive number with its leading zeros stripped, as an SSH mpint.
fn put_mpint(out: &mut Vec<u8>, magnitude: &[u8]) {
    if magnitude.first().is_some_and(|&x| x & 0x80 != 0) {
        let mut padded = vec![0];
        padded.extend_from_slice(magnitude);
        put_string(out, &padded);
    } else {
        put_string(out, magnitude);
    }
}

/// The signature OpenSSH verifies: the reserved field left out (OpenSSH
/// verifies over an empty one, whatever the blob holds), and an RSA
/// signature shorter than the modulus left-padded with zeros to its
/// length, as `ssh_rsa_verify` does.
fn as_openssh_reads(sig: SshSig) -> SshSig {
    let data = sig.signature().as_bytes();
    let short_rsa = match (sig.public_key().rsa(), sig.signature().algorithm()) {
        (Some(rsa), Algorithm::Rsa { .. }) => rsa
            .n()
            .as_positive_bytes()
            .map(|n| n.len())
            .filter(|&n| data.len() < n),
        _ => None,
    };
    if short_rsa.is_none() && sig.reserved().is_empty() {
        return sig;
    }
    let signature = match short_rsa {
        Some(len) => {
            let mut padded = vec![0; len - data.len()];
            padded.extend_from_slice(data);
            match ssh_key::Signature::new(sig.signature().algorithm(), padded) {
                Ok(s) => s,
                Err(_) => return sig,
            }
        }
        None => sig.signature().clone(),
    };
    SshSig::new(
        sig.public_key().clone(),
        sig.namespace(),
        sig.hash_alg(),
        signature,
    )
    .unwrap_or(sig)
}
