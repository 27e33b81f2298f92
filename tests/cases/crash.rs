//! Crashes (SPEC §8): writers killed with SIGKILL at random moments during
//! record, rollback, reindex and pull. Afterwards git fsck --strict and
//! `atom verify` accept the store, every id a writer printed is there, and
//! the next command works.
//!
//! The kill delays come from a fixed-seed generator, so a failing round can
//! be replayed; each test prints its figures (rounds, killed, acknowledged).

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use crate::common::TestEnv;

/// A small deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// What happened to one command started and killed after a delay.
struct Round {
    /// It finished before the kill: exit code and stdout.
    finished: Option<(i32, String)>,
}

/// Start `atom ARGS`, kill it after `delay_us` unless it finished first.
fn run_and_kill(env: &TestEnv, args: &[&str], delay_us: u64) -> Round {
    let mut child = env
        .atom_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start atom");
    std::thread::sleep(Duration::from_micros(delay_us));
    let finished = match child.try_wait().expect("poll atom") {
        Some(_) => true,
        None => {
            let _ = child.kill();
            false
        }
    };
    let out = child.wait_with_output().expect("wait for atom");
    Round {
        finished: (finished || out.status.code().is_some()).then(|| {
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }),
    }
}

/// How long `atom ARGS` takes to run to the end here, now (in µs): kill
/// delays are drawn from 0 to 1.5 times that, so that some runs are killed
/// early, some late, and some finish, however loaded the machine is.
fn calibrate(env: &TestEnv, args: &[&str]) -> u64 {
    let start = std::time::Instant::now();
    let out = env.atom(args);
    assert_eq!(out.code, 0, "atom {args:?}:\n{out}");
    (start.elapsed().as_micros() as u64 * 3 / 2).max(1_000)
}

/// Every atom id on every trail and archive, from git alone.
fn ids_in_git(env: &TestEnv) -> BTreeSet<String> {
    env.git(&[
        "log",
        "--branches",
        "--glob=refs/atom/archive/*",
        "--format=%(trailers:key=Atom-Id,valueonly)",
    ])
    .lines()
    .filter(|l| !l.is_empty())
    .map(str::to_owned)
    .collect()
}

/// Print the figures, and require that every acknowledged id is in git and
/// that some runs were killed.
fn assert_nothing_lost(
    env: &TestEnv,
    what: &str,
    (rounds, killed): (usize, usize),
    acknowledged: &BTreeSet<String>,
) {
    let present = ids_in_git(env);
    let lost: Vec<&String> = acknowledged.difference(&present).collect();
    eprintln!(
        "{what}: {rounds} runs, {killed} killed, {} atoms acknowledged, {} lost",
        acknowledged.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(killed > 0, "nothing was killed: the delays are too long");
}

/// The store is whole: fsck, verify of everything, a working next record.
fn assert_whole(env: &TestEnv) {
    let fsck = env.git_output(&["fsck", "--strict", "--no-dangling"]);
    assert!(
        fsck.code == 0 && fsck.stdout.trim().is_empty(),
        "git fsck --strict complained:\n{fsck}"
    );
    let v = env.atom(&["verify", "--all"]);
    assert_eq!(v.code, 0, "atom verify --all failed after crashes:\n{v}");
    // Locks a killed writer left behind do not stop the next one for long.
    env.atom_ok(&["record", "TASK", "after_crashes"]);
    let check = env.atom(&["reindex", "--check"]);
    assert_eq!(check.code, 0, "the index disagrees with git:\n{check}");
}

#[test]
fn killed_writers_lose_no_acknowledged_atom() {
    let env = TestEnv::init();
    let mut rng = Lcg(0x5eed_0001);
    let (mut rounds, mut killed) = (0, 0);
    let mut acknowledged = BTreeSet::new();
    // Two writers at a time, each killed at a random moment of its run.
    let span = calibrate(&env, &["record", "TASK", "calibrate"]) * 2;
    for _ in 0..60 {
        let delays = [rng.below(span), rng.below(span)];
        let results: Vec<Round> = std::thread::scope(|s| {
            let handles: Vec<_> = delays
                .iter()
                .enumerate()
                .map(|(w, &d)| {
                    let env = &env;
                    s.spawn(move || {
                        let agent = format!("writer-{w}");
                        run_and_kill(env, &["record", "TASK", "write", "--agent", &agent], d)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            rounds += 1;
            match r.finished {
                Some((0, stdout)) => {
                    acknowledged.insert(stdout.trim().to_owned());
                }
                Some(_) => {}
                None => killed += 1,
            }
        }
    }
    assert_nothing_lost(&env, "record", (rounds, killed), &acknowledged);
    assert_whole(&env);
}

#[test]
fn killed_rollbacks_and_reindexes_lose_nothing() {
    let env = TestEnv::init();
    let mut rng = Lcg(0x5eed_0002);
    let mut acknowledged = BTreeSet::new();
    let (mut rounds, mut killed) = (0, 0);
    for i in 0..3 {
        env.record(&["TASK", "warm_up", "--summary", &i.to_string()]);
    }
    let reindex_span = calibrate(&env, &["reindex"]);
    let rollback_span = {
        let log = env.atom_json(&["log", "-n", "3"]);
        let target = log[2]["record"]["atom_id"].as_str().unwrap().to_owned();
        calibrate(&env, &["rollback", &target, "--yes"])
    };
    for round in 0..25 {
        for i in 0..3 {
            let v = env.record(&["TASK", "step", "--summary", &format!("{round}.{i}")]);
            acknowledged.insert(v["record"]["atom_id"].as_str().unwrap().to_owned());
        }
        let log = env.atom_json(&["log", "-n", "3"]);
        let target = log[2]["record"]["atom_id"].as_str().unwrap().to_owned();
        let (cmd, delay): (Vec<&str>, u64) = if round % 2 == 0 {
            (vec!["rollback", &target, "--yes"], rng.below(rollback_span))
        } else {
            std::fs::remove_file(env.store().join("index.sqlite")).ok();
            (vec!["reindex"], rng.below(reindex_span))
        };
        let r = run_and_kill(&env, &cmd, delay);
        rounds += 1;
        match r.finished {
            Some((0, _)) if cmd[0] == "rollback" => {
                let tip = env.atom_json(&["show", "main"]);
                acknowledged.insert(tip["record"]["atom_id"].as_str().unwrap().to_owned());
            }
            Some(_) => {}
            None => killed += 1,
        }
    }
    assert_nothing_lost(&env, "rollback/reindex", (rounds, killed), &acknowledged);
    assert_whole(&env);
}

#[test]
fn killed_pulls_change_nothing_or_everything() {
    let a = TestEnv::init();
    let remote = a.bare_remote("shared.git");
    let remote_s = remote.to_str().unwrap();
    a.atom_ok(&["remote", "add", "origin", remote_s]);
    a.record(&["TASK", "first"]);
    a.atom_ok(&["push"]);
    let b = TestEnv::new();
    b.atom_ok(&["clone", remote_s]);

    let mut rng = Lcg(0x5eed_0003);
    let (mut rounds, mut killed) = (0, 0);
    a.record(&["TASK", "calibrate"]);
    a.atom_ok(&["push"]);
    let span = calibrate(&b, &["pull"]);
    for round in 0..20 {
        a.record(&["TASK", "more", "--summary", &round.to_string()]);
        a.atom_ok(&["push"]);
        if round % 3 == 0 {
            // Both sides appended: the pull has a MERGE atom to write.
            b.record(&["TASK", "local", "--summary", &round.to_string()]);
        }
        let r = run_and_kill(&b, &["pull"], rng.below(span));
        rounds += 1;
        if r.finished.is_none() {
            killed += 1;
        }
    }
    eprintln!("pull: {rounds} runs, {killed} killed");
    assert!(killed > 0, "nothing was killed: the delays are too long");
    // Trust B's key on A, so that A can verify B's merges after a final pull.
    let b_key = b.store().join("keys/atom_ed25519.pub");
    a.atom_ok(&["signers", "add", "b", b_key.to_str().unwrap()]);
    b.atom_ok(&["pull"]);
    let from_a = ids_in_git(&a);
    let on_b = ids_in_git(&b);
    let missing: Vec<&String> = from_a.difference(&on_b).collect();
    assert!(missing.is_empty(), "after a final pull B lacks {missing:?}");
    assert_whole(&b);
}

/// The pack holding `id`, and where its entry starts and how long it is
/// (from `git show-index`).
fn pack_entry(env: &TestEnv, id: &str) -> (std::path::PathBuf, usize, usize) {
    let dir = env.git_dir().join("objects/pack");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let idx = entry.unwrap().path();
        if idx.extension().is_none_or(|e| e != "idx") {
            continue;
        }
        let out = env
            .command("git")
            .args(["show-index", "--object-format=sha1"])
            .stdin(std::fs::File::open(&idx).unwrap())
            .output()
            .unwrap();
        let listing = String::from_utf8(out.stdout).unwrap();
        let mut offsets: Vec<(usize, &str)> = listing
            .lines()
            .map(|l| {
                let mut f = l.split_whitespace();
                (f.next().unwrap().parse().unwrap(), f.next().unwrap())
            })
            .collect();
        offsets.sort();
        let pack = idx.with_extension("pack");
        let end = std::fs::metadata(&pack).unwrap().len() as usize - 20;
        for (i, (offset, oid)) in offsets.iter().enumerate() {
            if *oid == id {
                let next = offsets.get(i + 1).map_or(end, |n| n.0);
                return (pack, *offset, next - offset);
            }
        }
    }
    panic!("{id} is in no pack");
}

#[test]
fn a_garbled_object_is_named_by_verify_and_repaired_by_pull() {
    let env = TestEnv::init();
    let remote = env.bare_remote("backup.git");
    env.record(&["TASK", "one"]);
    let damaged_id = env.record(&["TASK", "two", "--summary", "precious"])["record"]["atom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.atom_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    env.atom_ok(&["push"]);

    // A disk error garbles the newest atom's record blob inside its pack.
    let blob = env.git(&["rev-parse", "main:atom.json"]);
    let blob = blob.trim();
    let (pack, offset, len) = pack_entry(&env, blob);
    let mut bytes = std::fs::read(&pack).unwrap();
    for b in &mut bytes[offset + len / 2..offset + len / 2 + 4] {
        *b ^= 0x5a;
    }
    let mut perms = std::fs::metadata(&pack).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&pack, perms).unwrap();
    std::fs::write(&pack, &bytes).unwrap();

    let out = env.atom_err(&["verify"], 1);
    assert!(
        out.stdout.contains(&damaged_id),
        "verify names the atom:\n{out}"
    );
    assert!(out.stderr.contains("atom pull --repair"), "{out}");

    let pulled = env.atom_json(&["pull", "--repair"]);
    assert_eq!(pulled["repaired"], serde_json::json!([blob]), "{pulled:#}");
    env.atom_ok(&["verify"]);
    assert_eq!(
        env.atom_json(&["show", &damaged_id])["record"]["summary"],
        "precious"
    );
    env.cross_check();
}

#[test]
fn killed_imports_write_all_or_nothing() {
    const LINES: usize = 600;
    let env = TestEnv::init();
    let batch: String = (0..LINES)
        .map(|i| format!("{{\"type\":\"TASK\",\"operation\":\"bulk\",\"summary\":\"line {i}\"}}\n"))
        .collect();
    let file = env.write_file("batch.jsonl", batch.as_bytes());
    let file = file.to_str().unwrap();
    let span = calibrate(&env, &["import", file]);
    let mut rng = Lcg(0x5eed_0004);
    let (mut rounds, mut killed, mut acknowledged) = (0, 0, 1);
    for _ in 0..12 {
        let r = run_and_kill(&env, &["import", file], rng.below(span));
        rounds += 1;
        match r.finished {
            Some((0, _)) => acknowledged += 1,
            Some(_) => {}
            None => killed += 1,
        }
        // All or nothing: the trail holds whole batches only.
        let count = env.git(&["rev-list", "--count", "main"]);
        let count: usize = count.trim().parse().unwrap();
        assert_eq!(count % LINES, 0, "a partial import: {count} atoms");
        assert!(
            count / LINES >= acknowledged,
            "an acknowledged import is gone"
        );
    }
    eprintln!(
        "import: {rounds} runs of {LINES} lines, {killed} killed, {acknowledged} imports acknowledged, 0 lost"
    );
    assert!(killed > 0, "nothing was killed: the delays are too long");
    assert_whole(&env);
}
