//! The index: a full rebuild from git, a filtered `log`, a search and the
//! stats, over a store of signed atoms written through the `Trail` API.
//!
//! `ATOM_BENCH_ATOMS` sets the store size (default 2000; the store is built
//! with one `Trail::import`).

use std::hint::black_box;

use atom::index::{Filter, StatsBy};
use atom::Trail;
use chrono::{DateTime, Duration};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

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
    let mut lines = String::new();
    for i in 0..n {
        // Spread over days, so per-day sequence numbers stay small.
        let at = start + Duration::minutes(i as i64 * 7);
        let record = json!({
            "type": TYPES[i % TYPES.len()],
            "operation": "modify_file",
            "agent": AGENTS[i % AGENTS.len()],
            "timestamp": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "summary": format!("step {i}: tune frame pacing in config {}", i % 97),
            "metadata": {"path": format!("conf/{}.env", i % 50), "context_sync_id": i},
            "token_cost": i % 1000,
            "project": format!("project-{}", i % 5),
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    trail
        .import(&mut lines.as_bytes(), &mut |_| {})
        .expect("import");
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
