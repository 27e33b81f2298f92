//! The Merkle algorithms against a naive RFC 6962 implementation, the RFC's
//! reference vectors, and Cloudflare's port of Go's tlog (`tlog_tiles`).

use super::*;

/// RFC 6962 §2.1 MTH, straight from the definition.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n` (n >= 2), by counting up.
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1.1 PATH(m, D[n]), straight from the definition.
fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n == 1 {
        return Vec::new();
    }
    let k = split_point(n);
    if m < k {
        let mut p = naive_path(m, &leaves[..k]);
        p.push(naive_root(&leaves[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &leaves[k..]);
        p.push(naive_root(&leaves[..k]));
        p
    }
}

/// RFC 6962 §2.1.2 SUBPROOF(m, D[n], b), straight from the definition.
fn naive_subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b {
            Vec::new()
        } else {
            vec![naive_root(leaves)]
        };
    }
    let k = split_point(n);
    if m <= k {
        let mut p = naive_subproof(m, &leaves[..k], b);
        p.push(naive_root(&leaves[k..]));
        p
    } else {
        let mut p = naive_subproof(m - k, &leaves[k..], false);
        p.push(naive_root(&leaves[..k]));
        p
    }
}

fn leaf(i: u64) -> Hash {
    record_hash(format!("leaf {i}").as_bytes())
}

/// A log of `n` leaves: its leaf hashes and its stored hashes.
fn build(n: u64) -> (Vec<Hash>, MemoryHashes) {
    let mut leaves = Vec::new();
    let mut stored = MemoryHashes::default();
    for i in 0..n {
        assert_eq!(stored.0.len() as u64, stored_hash_index(0, i));
        let hashes = stored_hashes_for_record_hash(i, leaf(i), &stored).unwrap();
        stored.0.extend(hashes);
        leaves.push(leaf(i));
        assert_eq!(stored.0.len() as u64, stored_hash_count(i + 1));
    }
    (leaves, stored)
}

fn unhex(s: &str) -> Hash {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn naive_reference_is_rfc6962() {
    // The RFC 6962 reference leaves and roots (as published with the
    // Certificate Transparency implementations) keep the oracle honest.
    let data: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let leaves: Vec<Hash> = data.iter().map(|d| record_hash(d)).collect();
    let mut stored = MemoryHashes::default();
    let mut frontier = Frontier::new();
    for n in 0..=8 {
        let want = unhex(roots[n]);
        assert_eq!(naive_root(&leaves[..n]), want, "naive root of {n}");
        assert_eq!(
            tree_hash(n as u64, &stored).unwrap(),
            want,
            "tree_hash({n})"
        );
        assert_eq!(frontier.root(), want, "frontier of {n}");
        if n < 8 {
            let hashes = stored_hashes_for_record_hash(n as u64, leaves[n], &stored).unwrap();
            stored.0.extend(hashes);
            frontier.push(leaves[n]);
        }
    }
    // The inclusion path of leaf 0 in the tree of 8 leaves.
    let want: Vec<Hash> = [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    .map(unhex)
    .to_vec();
    assert_eq!(prove_record(8, 0, &stored).unwrap(), want);
    assert_eq!(naive_path(0, &leaves), want);
    // And of leaf 5.
    let want: Vec<Hash> = [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    .map(unhex)
    .to_vec();
    assert_eq!(prove_record(8, 5, &stored).unwrap(), want);
}

#[test]
fn maxpow2_is_the_largest_power_of_two_below() {
    for n in 2..5000u64 {
        let (k, l) = maxpow2(n);
        assert_eq!(k, 1 << l);
        assert!(k < n && 2 * k >= n, "maxpow2({n}) = {k}");
    }
    assert_eq!(maxpow2(1), (1, 0));
    assert_eq!(maxpow2(u64::MAX), (1 << 63, 63));
    assert_eq!(maxpow2((1 << 63) + 1), (1 << 63, 63));
    assert_eq!(maxpow2(1 << 63), (1 << 62, 62));
}

#[test]
fn stored_hash_index_round_trips() {
    // Dense: the indexes of all stored hashes are 0, 1, 2, ... in append order.
    let mut expected = 0u64;
    for n in 0..2000u64 {
        let count = 1 + (n + 1).trailing_zeros();
        for level in 0..count {
            let index = stored_hash_index(level, n >> level);
            assert_eq!(index, expected, "level {level} n {}", n >> level);
            assert_eq!(split_stored_hash_index(index), (level, n >> level));
            expected += 1;
        }
        assert_eq!(stored_hash_count(n + 1), expected);
        assert_eq!(stored_hash_count(n + 1), stored_hash_index(0, n + 1));
    }
    assert_eq!(stored_hash_count(0), 0);
    for index in 0..10_000 {
        let (level, n) = split_stored_hash_index(index);
        assert_eq!(stored_hash_index(level, n), index);
    }
    // Large indexes, up to the largest tree.
    for (level, n) in [(0, (1 << 63) - 1), (63, 0), (10, (1 << 53) - 1), (1, 12345)] {
        let index = stored_hash_index(level, n);
        assert_eq!(split_stored_hash_index(index), (level, n));
    }
    // Hostile inputs wrap instead of panicking.
    let _ = stored_hash_index(u32::MAX, u64::MAX);
    let _ = split_stored_hash_index(u64::MAX);
    let _ = stored_hash_count(u64::MAX);
}

#[test]
fn tree_hash_frontier_and_naive_agree_for_every_size_to_300() {
    let (leaves, stored) = build(300);
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), tree_hash(0, &stored).unwrap());
    for n in 1..=300usize {
        frontier.push(leaves[n - 1]);
        let want = naive_root(&leaves[..n]);
        assert_eq!(tree_hash(n as u64, &stored).unwrap(), want, "size {n}");
        assert_eq!(frontier.root(), want, "frontier size {n}");
        assert_eq!(frontier.size(), n as u64);
    }
}

#[test]
fn every_inclusion_proof_checks_and_tampering_fails() {
    let (leaves, stored) = build(70);
    for t in 1..=70u64 {
        let th = tree_hash(t, &stored).unwrap();
        for n in 0..t {
            let h = leaves[n as usize];
            let proof = prove_record(t, n, &stored).unwrap();
            assert_eq!(proof, naive_path(n as usize, &leaves[..t as usize]));
            assert!(check_record(&proof, t, &th, n, &h), "t {t} n {n}");
            // The wrong leaf, index, size or root fails.
            assert!(!check_record(&proof, t, &th, n, &leaf(1000)));
            assert!(!check_record(&proof, t, &leaf(1000), n, &h));
            if t > 1 {
                assert!(!check_record(&proof, t, &th, (n + 1) % t, &h));
            }
            // Every flipped bit, dropped or extra hash fails.
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i][i % 32] ^= 1;
                assert!(!check_record(&bad, t, &th, n, &h));
            }
            if !proof.is_empty() {
                assert!(!check_record(&proof[1..], t, &th, n, &h));
                assert!(!check_record(&proof[..proof.len() - 1], t, &th, n, &h));
            }
            let mut long = proof.clone();
            long.push(th);
            assert!(!check_record(&long, t, &th, n, &h));
        }
    }
}

#[test]
fn every_consistency_proof_checks_and_tampering_fails() {
    let (leaves, stored) = build(70);
    for t in 1..=70u64 {
        let th = tree_hash(t, &stored).unwrap();
        for n in 1..=t {
            let h = tree_hash(n, &stored).unwrap();
            let proof = prove_tree(t, n, &stored).unwrap();
            assert_eq!(
                proof,
                naive_subproof(n as usize, &leaves[..t as usize], true)
            );
            assert!(check_tree(&proof, t, &th, n, &h), "t {t} n {n}");
            assert!(!check_tree(&proof, t, &th, n, &leaf(1000)));
            assert!(!check_tree(&proof, t, &leaf(1000), n, &h));
            if n > 1 {
                let older = tree_hash(n - 1, &stored).unwrap();
                assert!(!check_tree(&proof, t, &th, n - 1, &older));
            }
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i][31 - i % 32] ^= 0x80;
                assert!(!check_tree(&bad, t, &th, n, &h), "t {t} n {n} flipped {i}");
            }
            if !proof.is_empty() {
                assert!(!check_tree(&proof[1..], t, &th, n, &h));
                assert!(!check_tree(&proof[..proof.len() - 1], t, &th, n, &h));
            }
            let mut long = proof.clone();
            long.push(th);
            assert!(!check_tree(&long, t, &th, n, &h));
        }
    }
}

#[test]
fn invalid_inputs_are_errors_not_panics() {
    let (_, stored) = build(10);
    let root = tree_hash(10, &stored).unwrap();
    for (t, n) in [
        (10, 10),
        (10, 11),
        (0, 0),
        (u64::MAX, 3),
        (MAX_TREE_SIZE + 1, 0),
    ] {
        assert!(matches!(
            prove_record(t, n, &stored),
            Err(ProofError::InvalidInput { .. })
        ));
        assert!(!check_record(&[], t, &root, n, &root));
    }
    for (t, n) in [(10, 0), (10, 11), (0, 0), (u64::MAX, 3)] {
        assert!(matches!(
            prove_tree(t, n, &stored),
            Err(ProofError::InvalidInput { .. })
        ));
        assert!(!check_tree(&[], t, &root, n, &root));
    }
    assert!(matches!(
        tree_hash(u64::MAX, &stored),
        Err(ProofError::InvalidInput { .. })
    ));
    assert!(matches!(
        stored_hashes_for_record_hash(u64::MAX, root, &stored),
        Err(ProofError::InvalidInput { .. })
    ));
    // Beyond what is stored: the reader's error.
    assert!(matches!(
        prove_record(11, 3, &stored),
        Err(ProofError::Read(MissingHash { .. }))
    ));
    assert!(matches!(tree_hash(12, &stored), Err(ProofError::Read(_))));
    // Checks of huge hostile trees answer false, quickly.
    let path = vec![root; 64];
    assert!(!check_record(&path, u64::MAX, &root, u64::MAX - 1, &root));
    assert!(!check_record(&path, u64::MAX, &root, 0, &root));
    assert!(!check_tree(&path, u64::MAX, &root, u64::MAX / 3, &root));
    assert!(!check_tree(&path, u64::MAX, &root, 1, &root));
}

#[test]
fn a_reader_breaking_its_contract_is_an_error() {
    struct Short;
    impl HashReader for Short {
        type Error = std::convert::Infallible;
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
            Ok(vec![[0; 32]; indexes.len().saturating_sub(1)])
        }
    }
    assert!(matches!(
        tree_hash(5, &Short),
        Err(ProofError::ShortRead { want: 2, got: 1 })
    ));
    assert!(matches!(
        prove_record(5, 1, &Short),
        Err(ProofError::ShortRead { .. })
    ));
    assert!(matches!(
        prove_tree(5, 3, &Short),
        Err(ProofError::ShortRead { .. })
    ));
    assert!(matches!(
        stored_hashes_for_record_hash(3, [0; 32], &Short),
        Err(ProofError::ShortRead { .. })
    ));
}

/// `tlog_tiles` (Cloudflare's port of Go's tlog) as an independent oracle.
mod tlog_tiles_oracle {
    use super::*;
    use tlog_tiles as oracle;

    struct Theirs<'a>(&'a MemoryHashes);
    impl oracle::HashReader for Theirs<'_> {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<oracle::Hash>, oracle::tlog::Error> {
            Ok(indexes
                .iter()
                .map(|&i| oracle::Hash(self.0 .0[i as usize]))
                .collect())
        }
    }

    fn theirs(hashes: &[Hash]) -> Vec<oracle::Hash> {
        hashes.iter().map(|h| oracle::Hash(*h)).collect()
    }

    #[test]
    fn stored_hashes_and_roots_match() {
        let (_, stored) = build(200);
        let mut their_stored: Vec<[u8; 32]> = Vec::new();
        for n in 0..200u64 {
            let theirs = oracle::stored_hashes_for_record_hash(
                n,
                oracle::Hash(leaf(n)),
                &Theirs(&MemoryHashes(their_stored.clone())),
            )
            .unwrap();
            their_stored.extend(theirs.iter().map(|h| h.0));
            assert_eq!(oracle::stored_hash_count(n + 1), stored_hash_count(n + 1));
            let root = oracle::tree_hash(n + 1, &Theirs(&stored)).unwrap();
            assert_eq!(root.0, tree_hash(n + 1, &stored).unwrap());
        }
        assert_eq!(their_stored, stored.0);
        for index in 0..2000u64 {
            let (level, n) = oracle::split_stored_hash_index(index);
            assert_eq!(split_stored_hash_index(index), (u32::from(level), n));
        }
    }

    #[test]
    fn proofs_match_and_verify_both_ways() {
        let (leaves, stored) = build(80);
        for t in 1..=80u64 {
            let th = tree_hash(t, &stored).unwrap();
            for n in 0..t {
                let ours = prove_record(t, n, &stored).unwrap();
                let theirs = oracle::prove_record(t, n, &Theirs(&stored)).unwrap();
                assert_eq!(theirs, theirs_of(&ours), "inclusion t {t} n {n}");
                oracle::check_record(
                    &theirs,
                    t,
                    oracle::Hash(th),
                    n,
                    oracle::Hash(leaves[n as usize]),
                )
                .unwrap();
            }
            for n in 1..=t {
                let h = tree_hash(n, &stored).unwrap();
                let ours = prove_tree(t, n, &stored).unwrap();
                let theirs = oracle::prove_tree(t, n, &Theirs(&stored)).unwrap();
                assert_eq!(theirs, theirs_of(&ours), "consistency t {t} n {n}");
                oracle::check_tree(&theirs_of(&ours), t, oracle::Hash(th), n, oracle::Hash(h))
                    .unwrap();
            }
        }
    }

    fn theirs_of(proof: &[Hash]) -> Vec<oracle::Hash> {
        theirs(proof)
    }
}
