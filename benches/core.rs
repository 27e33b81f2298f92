//! The pieces of one append, each on its own: the canonical digest of a
//! record, the secret scan of its text, an SSH signature (and its check)
//! with each key type git signs with, a whole
//! `Trail::record` (signed and fsynced), and the index catching up with one
//! new atom.

use std::hint::black_box;

use atom::index::Index;
use atom::signing::{verify_signature, Signer, SshSigner};
use atom::store::GitStore;
use atom::{Draft, Trail};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::{Map, Value};

fn draft(i: usize) -> Draft {
    let mut d = Draft::new("CFG", "modify_file");
    d.agent = Some("qwen".into());
    d.summary = format!("step {i}: tune frame pacing");
    let mut meta = Map::new();
    meta.insert("path".into(), Value::from("gaming.env"));
    meta.insert("context_sync_id".into(), Value::from(i as u64));
    d.metadata = meta;
    d.token_cost = Some(1200);
    d
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let home = dir.path().join("store");
    Trail::init(&home, None).expect("init");
    let trail = Trail::open(&home).expect("open");
    let record = trail.record(draft(0)).expect("record").record;

    let mut group = c.benchmark_group("core");
    group.bench_function("canonical digest of a record", |b| {
        b.iter(|| black_box(record.compute_digest()))
    });
    let scanner = trail.secret_scanner();
    group.bench_function("secret scan of a record (summary, metadata)", |b| {
        b.iter(|| {
            black_box(scanner.locate("summary", &record.summary));
            black_box(scanner.locate_json("metadata", &record.metadata))
        })
    });
    let files: Vec<Value> = (0..1000)
        .map(|i| {
            serde_json::json!({
                "path": format!("src/mod{}/f{}.rs", i % 40, i),
                "change": "modify",
                "added": 3,
                "removed": 1,
            })
        })
        .collect();
    let mut commit_meta = Map::new();
    commit_meta.insert("files".into(), Value::Array(files));
    group.bench_function("secret scan of a 1,000-file commit's metadata", |b| {
        b.iter(|| black_box(scanner.locate_json("metadata", &commit_meta)))
    });
    let signer = SshSigner::load(&home.join("keys/atom_ed25519")).expect("the store's key");
    let payload = vec![b'x'; 700];
    group.bench_function("SSH signature of a 700-byte commit", |b| {
        b.iter(|| black_box(signer.sign(&payload).expect("sign")))
    });
    // The other key types git signs with, made by ssh-keygen.
    let mut signers = vec![("ed25519".to_owned(), signer)];
    for (kind, bits) in [("ecdsa", "256"), ("ecdsa", "384"), ("rsa", "3072")] {
        let key = dir.path().join(format!("id_{kind}{bits}"));
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-b", bits, "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("run ssh-keygen");
        assert!(made.success());
        let s = SshSigner::load(&key).expect("the key loads");
        group.bench_function(
            format!("SSH signature of a 700-byte commit, {kind} {bits}"),
            |b| b.iter(|| black_box(s.sign(&payload).expect("sign"))),
        );
        signers.push((format!("{kind} {bits}"), s));
    }
    for (name, s) in &signers {
        let armored = s.sign(&payload).expect("sign");
        group.bench_function(format!("SSH signature check, {name}"), |b| {
            b.iter(|| black_box(verify_signature(armored.as_bytes(), &payload)))
        });
    }
    group.sample_size(20);
    let mut i = 1;
    group.bench_function("append: Trail::record (signed, fsynced)", |b| {
        b.iter(|| {
            i += 1;
            black_box(trail.record(draft(i)).expect("record"))
        })
    });
    let git = GitStore::open(&home.join("trail.git")).expect("open git");
    let (mut index, _) = Index::open(&dir.path().join("bench-index.sqlite")).expect("index");
    index.catch_up(&git, &mut |_| {}).expect("catch up");
    group.bench_function("index catch-up after one append", |b| {
        b.iter_batched(
            || {
                i += 1;
                trail.record(draft(i)).expect("record");
            },
            |()| black_box(index.catch_up(&git, &mut |_| {}).expect("catch up")),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
