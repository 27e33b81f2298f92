//! The index: a full rebuild from git, a filtered `log`, a search and the
//! stats, over a store of signed atoms written through the `Trail` API.
//!
//! `ATOM_BENCH_ATOMS` sets the store size (default 2000; each atom is signed
//! and fsynced, so building the store takes about 10 ms an atom).

use std::hint::black_box;

use atom::index::{Filter, StatsBy};
use atom::{Draft, Trail};
use chrono::{DateTime, Duration};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{Map, Value};

const AGENTS: [&str; 4] = ["qwen", "claude-code", "perplexity", "alice"];
const TYPES: [&str; 4] = ["CFG", "RESEARCH", "DECISION", "TASK"];

fn store(n: usize) -> (tempfile::TempDir, Trail) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let home = dir.path().join("store");
    Trail::init(&home, None).expect("init");
    let trail = Trail::open(&home).expect("open");
    let start = DateTime::parse_from_rfc3339("2024-11-27T00:00:00Z")
        .expect("a valid time")
        .to_utc();
    for i in 0..n {
        let mut draft = Draft::new(TYPES[i % TYPES.len()], "modify_file");
        draft.agent = Some(AGENTS[i % AGENTS.len()].to_owned());
        draft.summary = format!("step {i}: tune frame pacing in config {}", i % 97);
        let mut meta = Map::new();
        meta.insert("path".into(), Value::from(format!("conf/{}.env", i % 50)));
        meta.insert("context_sync_id".into(), Value::from(i as u64));
        draft.metadata = meta;
        draft.token_cost = Some((i % 1000) as u64);
        draft.project = Some(format!("project-{}", i % 5));
        // Spread over days, so per-day sequence numbers stay small.
        draft.at = Some(start + Duration::minutes(i as i64 * 7));
        trail.record(draft).expect("record");
    }
    (dir, trail)
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("ATOM_BENCH_ATOMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let (_dir, trail) = store(n);
    let mut group = c.benchmark_group(format!("index/{n} atoms"));
    group.sample_size(10);
    group.bench_function("reindex (full rebuild from git)", |b| {
        b.iter(|| black_box(trail.reindex(&mut |_| {}).expect("reindex")))
    });
    let filter = Filter {
        agent: Some("qwen".into()),
        path: Some("conf/2.env".into()),
        limit: Some(20),
        ..Filter::default()
    };
    group.bench_function("log --agent qwen --path conf/2.env -n 20", |b| {
        b.iter(|| black_box(trail.log(None, false, &filter).expect("log")))
    });
    group.bench_function("search 'frame pacing' -n 20", |b| {
        b.iter(|| black_box(trail.search("frame pacing", Some(20)).expect("search")))
    });
    group.bench_function("stats --by agent", |b| {
        b.iter(|| black_box(trail.stats(StatsBy::Agent).expect("stats")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
