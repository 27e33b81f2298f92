//! The transparency log's Merkle tree: RFC 6962 hashing, inclusion and
//! consistency proofs, and the C2SP text formats around them ([`note`],
//! [`checkpoint`], [`proof`]).
//!
//! Everything here is pure: no git, no SQLite, no I/O. Storage is reached
//! through [`HashReader`], and the algorithms are a port of Go's
//! `golang.org/x/mod/sumdb/tlog`, so proofs interoperate with Certificate
//! Transparency and the C2SP ecosystem.
//!
//! The one design decision a reader must know is the *stored-hash numbering*
//! of Go's tlog (Crosby and Wallach, "Efficient Data Structures for
//! Tamper-Evident Logging", §3.3): every hash a log keeps — leaf hashes and
//! the roots of complete subtrees — has a dense index, and appending leaf `n`
//! stores the leaf hash and the roots of the subtrees it completes at indexes
//! [`stored_hash_index`]`(0, n)`, `stored_hash_index(0, n) + 1`, ...
//! consecutively ([`stored_hashes_for_record_hash`] computes them). A log is
//! therefore an append-only array of hashes, [`stored_hash_count`]`(n)` long
//! after `n` leaves, from which any tree head and proof can be computed with
//! O(log n) reads.
//!
//! Tree sizes are at most [`MAX_TREE_SIZE`] (2^63; Go's tlog counts in `int64`), so the
//! index arithmetic never overflows. Proof *checks* take any sizes, since
//! hostile input reaches them, and answer `false` rather than panic.

pub mod checkpoint;
pub mod note;
pub mod proof;

pub use checkpoint::Checkpoint;
pub use note::{Note, NoteError, Signature, VerifierKey};
pub use proof::TlogProof;

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The largest tree size the provers accept: 2^63 leaves (Go's tlog counts
/// in `int64`). Below it, every stored-hash index fits a `u64`.
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// The root of the empty tree, per RFC 6962 §2.1: SHA-256 of the empty string.
const EMPTY_HASH: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The leaf hash of a record: SHA-256(0x00 || data) (RFC 6962 §2.1).
pub fn record_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right) (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 32 + 32];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// `(k, l)` with `k = 2^l` the largest power of two below `n` (1 for `n <= 2`).
fn maxpow2(n: u64) -> (u64, u32) {
    let l = if n <= 2 {
        0
    } else {
        63 - (n - 1).leading_zeros()
    };
    (1 << l, l)
}

/// The stored-hash index of the hash at `level` (0 = leaves) and position
/// `n` within that level: the root of the complete subtree over leaves
/// `[n << level, (n + 1) << level)`.
///
/// The result is meaningful when `(n + 1) << level <= 2^63`, which covers
/// every tree of at most [`MAX_TREE_SIZE`] leaves; beyond, it wraps around
/// instead of panicking.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    // Level L's n'th hash is written right after level L+1's 2n+1'th hash:
    // work down to the level 0 ordering, then add the level back.
    let mut n = n;
    for _ in 0..level.min(64) {
        n = n.wrapping_mul(2).wrapping_add(1);
    }
    // Level 0's n'th hash is written at n + n/2 + n/4 + ...
    let mut i: u64 = 0;
    while n > 0 {
        i = i.wrapping_add(n);
        n >>= 1;
    }
    i.wrapping_add(u64::from(level))
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` of a stored-hash
/// index.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // stored_hash_index(0, n) <= 2n, so the leaf whose append stored this
    // hash is in [index/2, index/2 + log2(index)].
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    loop {
        // Appending leaf n stores 1 + trailing_zeros(n + 1) hashes.
        let stored = 1 + u64::from((n + 1).trailing_zeros());
        match index_n.checked_add(stored) {
            Some(next) if next <= index => {
                n += 1;
                index_n = next;
            }
            _ => break,
        }
    }
    // The hash was stored with leaf n: it is one of (0, n), (1, n/2), ...
    let level = (index - index_n) as u32;
    (level, n >> level)
}

/// How many hashes a log of `n` leaves stores: the index the next leaf's
/// hash will be stored at.
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // The hashes up to the last leaf hash...
    let mut count = stored_hash_index(0, n - 1).wrapping_add(1);
    // ...and the roots of the subtrees that leaf completed.
    let mut i = n - 1;
    while i & 1 != 0 {
        count = count.wrapping_add(1);
        i >>= 1;
    }
    count
}

/// Reads the hashes a log stored, by stored-hash index (see
/// [`stored_hash_index`]).
///
/// Contract: `read_hashes` returns exactly one hash per index, in the order
/// asked, or an error. The functions of this module only ever ask for
/// indexes in increasing order, and a reader that answers with the wrong
/// number of hashes gets [`ProofError::ShortRead`], never a panic.
pub trait HashReader {
    /// Why hashes could not be read.
    type Error;

    /// The hashes stored at `indexes`, in the same order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

/// Why a tree hash or proof could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ProofError<E> {
    /// The sizes or indexes asked for name nothing: an inclusion proof needs
    /// `index < size`, a consistency proof `1 <= old <= new`, and no size
    /// exceeds [`MAX_TREE_SIZE`].
    #[error("no {what} for index or size {n} in a tree of size {t}")]
    InvalidInput {
        /// What was asked for: "inclusion proof", "consistency proof", ...
        what: &'static str,
        /// The tree size.
        t: u64,
        /// The leaf index or the older tree size.
        n: u64,
    },
    /// The [`HashReader`] broke its contract.
    #[error("hash storage returned {got} hashes for {want} indexes")]
    ShortRead {
        /// How many hashes were asked for.
        want: usize,
        /// How many came back.
        got: usize,
    },
    /// The [`HashReader`] failed.
    #[error("reading stored hashes")]
    Read(#[source] E),
}

/// Reads `indexes` from `r`, checking the reader's contract.
fn read<R: HashReader>(r: &R, indexes: &[u64]) -> Result<Vec<Hash>, ProofError<R::Error>> {
    let hashes = r.read_hashes(indexes).map_err(ProofError::Read)?;
    if hashes.len() != indexes.len() {
        return Err(ProofError::ShortRead {
            want: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// The hashes to store when appending leaf `n` (0-based) with leaf hash
/// `h`, to be stored from index [`stored_hash_index`]`(0, n)` on: `h` then
/// the roots of the subtrees it completes. Reads at most log2(n) earlier
/// hashes from `r`.
pub fn stored_hashes_for_record_hash<R: HashReader>(
    n: u64,
    h: Hash,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if n >= MAX_TREE_SIZE {
        return Err(ProofError::InvalidInput {
            what: "leaf to append",
            t: MAX_TREE_SIZE,
            n,
        });
    }
    // Each trailing 1 bit of n completes a subtree, whose left sibling is
    // already stored.
    let m = (n + 1).trailing_zeros();
    let indexes: Vec<u64> = (0..m)
        .rev()
        .map(|i| stored_hash_index(i, (n >> i) - 1))
        .collect();
    let old = read(r, &indexes)?;
    let mut hashes = Vec::with_capacity(old.len() + 1);
    let mut h = h;
    hashes.push(h);
    for left in old.iter().rev() {
        h = node_hash(left, &h);
        hashes.push(h);
    }
    Ok(hashes)
}

/// The root hash of the tree of the first `n` leaves, from the hashes the
/// log stored; one read of at most 1 + log2(n) hashes. The empty tree's
/// root is SHA-256 of the empty string (RFC 6962 §2.1).
pub fn tree_hash<R: HashReader>(n: u64, r: &R) -> Result<Hash, ProofError<R::Error>> {
    if n == 0 {
        return Ok(EMPTY_HASH);
    }
    if n > MAX_TREE_SIZE {
        return Err(ProofError::InvalidInput {
            what: "tree hash",
            t: MAX_TREE_SIZE,
            n,
        });
    }
    let mut indexes = Vec::new();
    subtree_index(0, n, &mut indexes);
    let hashes = read(r, &indexes)?;
    let mut rest = hashes.as_slice();
    Ok(subtree_hash(0, n, &mut rest))
}

/// Appends the stored-hash indexes needed for the hash of the subtree over
/// leaves `[lo, hi)`: the roots of its maximal complete subtrees, left to
/// right.
fn subtree_index(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = maxpow2(hi - lo + 1);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// The hash of the subtree over `[lo, hi)`, from the front of `hashes` (the
/// ones [`subtree_index`] asked for), which it consumes.
fn subtree_hash(mut lo: u64, hi: u64, hashes: &mut &[Hash]) -> Hash {
    let mut count = 0;
    while lo < hi {
        let (k, _) = maxpow2(hi - lo + 1);
        count += 1;
        lo += k;
    }
    let (mine, rest) = hashes
        .split_at_checked(count)
        .expect("the hashes read are the ones subtree_index asked for");
    *hashes = rest;
    let (last, others) = mine
        .split_last()
        .expect("a non-empty range has at least one complete subtree");
    others
        .iter()
        .rev()
        .fold(*last, |right, left| node_hash(left, &right))
}

/// The inclusion proof (RFC 6962 §2.1.1 audit path) that the tree of size
/// `t` contains leaf `n`: the sibling hashes from the leaf up to the root.
/// Needs `n < t <= MAX_TREE_SIZE`.
pub fn prove_record<R: HashReader>(
    t: u64,
    n: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if n >= t || t > MAX_TREE_SIZE {
        return Err(ProofError::InvalidInput {
            what: "inclusion proof",
            t,
            n,
        });
    }
    let mut indexes = Vec::new();
    leaf_proof_index(0, t, n, &mut indexes);
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = read(r, &indexes)?;
    let mut rest = hashes.as_slice();
    let mut proof = Vec::new();
    leaf_proof(0, t, n, &mut rest, &mut proof);
    Ok(proof)
}

/// Appends the indexes needed for the proof that leaf `n` is in the
/// subtree over `[lo, hi)`.
fn leaf_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 == hi {
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        leaf_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        leaf_proof_index(lo + k, hi, n, need);
    }
}

/// Appends to `proof` the proof that leaf `n` is in the subtree over
/// `[lo, hi)`, consuming the hashes [`leaf_proof_index`] asked for.
fn leaf_proof(lo: u64, hi: u64, n: u64, hashes: &mut &[Hash], proof: &mut Vec<Hash>) {
    if lo + 1 == hi {
        // The verifier knows the leaf hash.
        return;
    }
    // Walk down towards n, recording the hash of the path not taken.
    let (k, _) = maxpow2(hi - lo);
    let sibling = if n < lo + k {
        leaf_proof(lo, lo + k, n, hashes, proof);
        subtree_hash(lo + k, hi, hashes)
    } else {
        let sibling = subtree_hash(lo, lo + k, hashes);
        leaf_proof(lo + k, hi, n, hashes, proof);
        sibling
    };
    proof.push(sibling);
}

/// Whether `proof` shows that the tree of size `t` with root `th` has leaf
/// hash `h` at index `n`. Any input is accepted; invalid ones answer `false`.
pub fn check_record(proof: &[Hash], t: u64, th: &Hash, n: u64, h: &Hash) -> bool {
    n < t && run_record_proof(proof, 0, t, n, h).is_some_and(|root| root == *th)
}

/// The root of the subtree over `[lo, hi)` that `proof` implies for leaf
/// `n` with hash `leaf`; `None` when the proof has the wrong length.
fn run_record_proof(proof: &[Hash], lo: u64, hi: u64, n: u64, leaf: &Hash) -> Option<Hash> {
    if lo + 1 == hi {
        // The proof must not carry unneeded hashes.
        return proof.is_empty().then_some(*leaf);
    }
    let (sibling, rest) = proof.split_last()?;
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        let left = run_record_proof(rest, lo, lo + k, n, leaf)?;
        Some(node_hash(&left, sibling))
    } else {
        let right = run_record_proof(rest, lo + k, hi, n, leaf)?;
        Some(node_hash(sibling, &right))
    }
}

/// The consistency proof (RFC 6962 §2.1.2) that the tree of size `t`
/// contains the tree of size `n` as a prefix. Needs `1 <= n <= t <=
/// MAX_TREE_SIZE`; empty when `n == t`.
pub fn prove_tree<R: HashReader>(t: u64, n: u64, r: &R) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if n < 1 || n > t || t > MAX_TREE_SIZE {
        return Err(ProofError::InvalidInput {
            what: "consistency proof",
            t,
            n,
        });
    }
    let mut indexes = Vec::new();
    tree_proof_index(0, t, n, &mut indexes);
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = read(r, &indexes)?;
    let mut rest = hashes.as_slice();
    let mut proof = Vec::new();
    tree_proof(0, t, n, &mut rest, &mut proof);
    Ok(proof)
}

/// Appends the indexes needed for the part of the consistency proof that
/// concerns the subtree over `[lo, hi)`, with `lo < n <= hi`.
fn tree_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if n == hi {
        if lo != 0 {
            subtree_index(lo, hi, need);
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        tree_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        tree_proof_index(lo + k, hi, n, need);
    }
}

/// Appends to `proof` the part of the consistency proof that concerns the
/// subtree over `[lo, hi)`, consuming the hashes [`tree_proof_index`] asked
/// for.
fn tree_proof(lo: u64, hi: u64, n: u64, hashes: &mut &[Hash], proof: &mut Vec<Hash>) {
    if n == hi {
        // Common ground: the old tree itself (which the verifier knows) or
        // a complete subtree of it.
        if lo != 0 {
            proof.push(subtree_hash(lo, hi, hashes));
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    let sibling = if n <= lo + k {
        tree_proof(lo, lo + k, n, hashes, proof);
        subtree_hash(lo + k, hi, hashes)
    } else {
        let sibling = subtree_hash(lo, lo + k, hashes);
        tree_proof(lo + k, hi, n, hashes, proof);
        sibling
    };
    proof.push(sibling);
}

/// Whether `proof` shows that the tree of size `t` with root `th` contains
/// as a prefix the tree of size `n` with root `h`. Any input is accepted;
/// invalid ones (`n == 0`, `n > t`) answer `false`.
pub fn check_tree(proof: &[Hash], t: u64, th: &Hash, n: u64, h: &Hash) -> bool {
    n >= 1
        && n <= t
        && run_tree_proof(proof, 0, t, n, h).is_some_and(|(old, new)| old == *h && new == *th)
}

/// The roots of the subtree over `[lo, hi)` in the old tree (of size `n`,
/// root `old`) and in the new one that `proof` implies; `None` when the
/// proof has the wrong length.
fn run_tree_proof(proof: &[Hash], lo: u64, hi: u64, n: u64, old: &Hash) -> Option<(Hash, Hash)> {
    if n == hi {
        if lo == 0 {
            return proof.is_empty().then_some((*old, *old));
        }
        return match proof {
            [h] => Some((*h, *h)),
            _ => None,
        };
    }
    let (sibling, rest) = proof.split_last()?;
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        let (old_root, new_root) = run_tree_proof(rest, lo, lo + k, n, old)?;
        Some((old_root, node_hash(&new_root, sibling)))
    } else {
        let (old_root, new_root) = run_tree_proof(rest, lo + k, hi, n, old)?;
        Some((node_hash(sibling, &old_root), node_hash(sibling, &new_root)))
    }
}

/// The root of a growing tree in O(log n) memory: the roots of its maximal
/// complete subtrees (a "compact range"), largest first. Pushing leaf hashes
/// one by one gives the same [`root`](Frontier::root) as [`tree_hash`] over
/// the same leaves, without storing them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    subtrees: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf, given its [`record_hash`].
    pub fn push(&mut self, leaf_hash: Hash) {
        // Each trailing 1 bit of the old size is a complete subtree the new
        // leaf's subtree now completes, as in binary addition.
        let mut h = leaf_hash;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self
                .subtrees
                .pop()
                .expect("one subtree per 1 bit of the size");
            h = node_hash(&left, &h);
            size >>= 1;
        }
        self.subtrees.push(h);
        self.size += 1;
    }

    /// How many leaves were pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of its complete subtrees, largest first (one per 1 bit of
    /// the size): with the size, all it takes to resume it.
    pub fn subtrees(&self) -> &[Hash] {
        &self.subtrees
    }

    /// Resume a frontier from its size and [`Frontier::subtrees`]; `None`
    /// when their count does not match the size.
    pub fn resume(size: u64, subtrees: Vec<Hash>) -> Option<Self> {
        (subtrees.len() == size.count_ones() as usize).then_some(Frontier { size, subtrees })
    }

    /// The RFC 6962 root of the leaves pushed so far (SHA-256 of the empty
    /// string for none).
    pub fn root(&self) -> Hash {
        match self.subtrees.split_last() {
            None => EMPTY_HASH,
            Some((last, others)) => others
                .iter()
                .rev()
                .fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

/// A log's stored hashes in memory, in stored-hash order: for tests and
/// small logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryHashes(pub Vec<Hash>);

/// A stored-hash index past the end of a [`MemoryHashes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no hash is stored at index {index}")]
pub struct MissingHash {
    /// The index asked for.
    pub index: u64,
}

impl HashReader for MemoryHashes {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.0.get(i))
                    .copied()
                    .ok_or(MissingHash { index })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
