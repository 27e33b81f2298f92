//! Durability (SPEC §3), seen from outside: the real binary run under
//! `strace`, whose trace must show every file renamed into `objects/`,
//! `refs/`, `HEAD` or `packed-refs` fsynced before the rename and its
//! directory fsynced after, in at most seven fsyncs per `atom record`. Also:
//! ref locks of other programs are never removed, refs packed by `git gc`
//! keep working, and the packs each append writes stay few.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use atom::store::rollup::PACK_LIMIT;

use crate::common::{Output, TestEnv};

/// The most fsync and fdatasync calls one `atom record` may make: the pack,
/// its index and `objects/pack/`; the trail's ref and its directory; the
/// transparency log's ref and its directory.
const RECORD_FSYNCS: usize = 7;

/// What a traced command did to the files that matter.
#[derive(Debug, Default)]
struct Trace {
    /// fsync and fdatasync calls, on anything.
    fsyncs: usize,
    /// Renames and links into the git dir, in order: (from, to).
    renames: Vec<(String, String)>,
    /// What is wrong, one line each.
    problems: Vec<String>,
}

/// The quoted strings of a syscall's arguments, unescaped enough for paths.
fn quoted(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => s.extend(chars.next()),
                '"' => break,
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// Whether `path` (absolute) is a file whose rename must be durable.
fn guarded(git_dir: &str, path: &str) -> bool {
    let Some(rel) = path.strip_prefix(git_dir).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    rel.starts_with("objects/") || rel.starts_with("refs/") || rel == "HEAD" || rel == "packed-refs"
}

fn parent(path: &str) -> String {
    Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Check a `strace -f` log: each guarded rename's source (followed through
/// links) was fsynced before, and the target's directory after; the same
/// for each directory made in the git dir (its parent is fsynced after).
fn check_trace(log: &str, git_dir: &str) -> Trace {
    let mut trace = Trace::default();
    // Joined `<unfinished ...>` / `<... resumed>` halves, per process.
    let mut pending: HashMap<String, String> = HashMap::new();
    // Per process: fd -> path. Per path: its file's identity. Synced files.
    let mut fds: HashMap<(String, String), String> = HashMap::new();
    let mut inode: HashMap<String, usize> = HashMap::new();
    let mut next_inode = 0;
    let mut synced: HashSet<usize> = HashSet::new();
    // Directories that must still be fsynced, and why.
    let mut dirs_due: Vec<(String, String)> = Vec::new();
    for raw in log.lines() {
        let Some((pid, rest)) = raw.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let line = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(pid.to_owned(), head.to_owned());
            continue;
        } else if rest.starts_with("<... ") {
            let tail = rest.split_once("resumed>").map_or("", |(_, t)| t);
            format!("{}{tail}", pending.remove(pid).unwrap_or_default())
        } else {
            rest.to_owned()
        };
        // `name(args)  = ret`, padded with spaces before the `=`.
        let Some((lhs, ret)) = line.rsplit_once(" = ") else {
            continue;
        };
        let Some((call, args)) = lhs.trim_end().split_once('(') else {
            continue;
        };
        let Some(args) = args.strip_suffix(')') else {
            continue;
        };
        let ok = !ret.trim_start().starts_with('-');
        let paths = quoted(args);
        let id_of = |path: &str, inode: &mut HashMap<String, usize>, next: &mut usize| {
            *inode.entry(path.to_owned()).or_insert_with(|| {
                *next += 1;
                *next
            })
        };
        match call {
            "openat" if ok => {
                let Some(path) = paths.first() else { continue };
                let path = path.trim_end_matches('/').to_owned();
                let fd = ret.split_whitespace().next().unwrap_or("").to_owned();
                // A new file, or new content: a file to fsync anew.
                if args.contains("O_EXCL") || args.contains("O_TRUNC") {
                    inode.remove(&path);
                }
                if args.contains("O_CREAT") {
                    id_of(&path, &mut inode, &mut next_inode);
                }
                fds.insert((pid.to_owned(), fd), path);
            }
            "fsync" | "fdatasync" if ok => {
                trace.fsyncs += 1;
                let fd = args.trim().to_owned();
                if let Some(path) = fds.get(&(pid.to_owned(), fd)).cloned() {
                    let id = id_of(&path, &mut inode, &mut next_inode);
                    synced.insert(id);
                    dirs_due.retain(|(d, _)| *d != path);
                }
            }
            "rename" | "renameat" | "renameat2" | "link" | "linkat" if ok => {
                // The `*at` forms name paths relative to the current directory.
                let plain =
                    matches!(call, "rename" | "link") || args.matches("AT_FDCWD").count() == 2;
                if paths.len() != 2 || !plain {
                    trace.problems.push(format!("cannot follow: {line}"));
                    continue;
                }
                let (from, to) = (paths[0].clone(), paths[1].clone());
                let id = id_of(&from, &mut inode, &mut next_inode);
                if call.starts_with("rename") {
                    inode.remove(&from);
                    if guarded(git_dir, &to) {
                        if !synced.contains(&id) {
                            trace
                                .problems
                                .push(format!("renamed before it was fsynced: {from} -> {to}"));
                        }
                        dirs_due.push((parent(&to), format!("rename to {to}")));
                    }
                }
                inode.insert(to.clone(), id);
                if guarded(git_dir, &to) || guarded(git_dir, &from) {
                    trace.renames.push((from, to));
                }
            }
            "mkdir" | "mkdirat" if ok => {
                if let Some(dir) = paths.first().filter(|d| guarded(git_dir, d)) {
                    dirs_due.push((parent(dir), format!("mkdir {dir}")));
                }
            }
            _ => {}
        }
    }
    for (dir, why) in dirs_due {
        trace
            .problems
            .push(format!("{dir} was not fsynced after the {why}"));
    }
    trace
}

/// Run `atom ARGS` under strace; its output and the checked trace.
fn traced(env: &TestEnv, args: &[&str]) -> (Output, Trace) {
    let installed = env.command("strace").arg("-V").output();
    assert!(
        installed.is_ok_and(|o| o.status.success()),
        "strace is not installed: install it (e.g. `apt-get install strace`) to run the durability tests"
    );
    let log = env.path().join("strace.log");
    let out: Output = env
        .command("strace")
        .args(["-f", "-qq", "-s", "4096", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=fsync,fdatasync,openat,rename,renameat,renameat2,link,linkat,mkdir,mkdirat",
            env!("CARGO_BIN_EXE_atom"),
        ])
        .args(args)
        .output()
        .expect("run strace")
        .into();
    let text = std::fs::read_to_string(&log).expect("read the strace log");
    let git_dir = env.git_dir().to_string_lossy().into_owned();
    (out, check_trace(&text, &git_dir))
}

fn assert_durable(what: &str, out: &Output, trace: &Trace) {
    assert_eq!(out.code, 0, "{what} failed:\n{out}");
    assert!(
        trace.problems.is_empty(),
        "{what}:\n{}\nrenames: {:#?}",
        trace.problems.join("\n"),
        trace.renames
    );
    assert!(
        !trace.renames.is_empty(),
        "{what} renamed nothing: is the trace read right?"
    );
}

/// Packs in the store.
fn packs(env: &TestEnv) -> usize {
    std::fs::read_dir(env.git_dir().join("objects/pack"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".pack"))
            })
            .count()
        })
        .unwrap_or(0)
}

/// The names of the store's `.pack` files.
fn pack_names(env: &TestEnv) -> Vec<String> {
    std::fs::read_dir(env.git_dir().join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pack"))
        .collect()
}

#[test]
fn record_import_fork_and_rollback_fsync_before_every_rename() {
    let env = TestEnv::init();
    let attachment = env.write_file("notes.txt", b"attached\n");

    let (out, trace) = traced(&env, &["record", "TASK", "first"]);
    assert_durable("the first record", &out, &trace);
    eprintln!("fsyncs of the first record: {}", trace.fsyncs);
    // The first one also makes refs/atom/ for the log, and fsyncs refs/.
    assert!(
        trace.fsyncs <= RECORD_FSYNCS + 1,
        "{} fsyncs: {trace:#?}",
        trace.fsyncs
    );

    let args = [
        "record",
        "TASK",
        "second",
        "--attach",
        attachment.to_str().unwrap(),
    ];
    let (out, trace) = traced(&env, &args);
    assert_durable("a record with an attachment", &out, &trace);
    assert!(
        trace.fsyncs <= RECORD_FSYNCS,
        "{} fsyncs: {trace:#?}",
        trace.fsyncs
    );

    let (out, trace) = traced(&env, &["fork", "side"]);
    assert_durable("fork", &out, &trace);
    let (out, trace) = traced(&env, &["fork", "other", "--switch"]);
    assert_durable("fork --switch", &out, &trace);
    let (out, trace) = traced(&env, &["switch", "main"]);
    assert_durable("switch", &out, &trace);

    env.atom_ok(&["record", "TASK", "third"]);
    let first = &env.log_ids(&[])[2];
    // Creates refs/atom/archive/main/: new directories, fsynced top-down.
    let (out, trace) = traced(&env, &["rollback", first, "--yes"]);
    assert_durable("rollback", &out, &trace);

    let exported = env.atom_ok(&["export"]);
    let target = TestEnv::init();
    let file = target.write_file("trail.jsonl", exported.as_bytes());
    let (out, trace) = traced(&target, &["import", file.to_str().unwrap()]);
    assert_durable("import", &out, &trace);
    env.cross_check();
    target.cross_check();
}

#[test]
fn a_record_that_rolls_packs_up_stays_within_seven_fsyncs() {
    let env = TestEnv::init();
    for i in 0..PACK_LIMIT {
        env.atom_ok(&["record", "TASK", "fill", "--summary", &format!("atom {i}")]);
    }
    assert_eq!(packs(&env), PACK_LIMIT);
    let (out, trace) = traced(&env, &["record", "TASK", "rolls_up"]);
    assert_durable("the record that rolls packs up", &out, &trace);
    assert!(
        trace.fsyncs <= RECORD_FSYNCS,
        "{} fsyncs: {trace:#?}",
        trace.fsyncs
    );
    assert!(packs(&env) <= PACK_LIMIT / 2, "{} packs", packs(&env));
    assert_eq!(env.log_ids(&[]).len(), PACK_LIMIT + 1);
    env.cross_check();
}

#[test]
fn a_ref_lock_held_by_another_program_is_never_removed() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    let tip = env.tip().unwrap();
    let lock = env.git_dir().join("refs/heads/main.lock");
    // What a git command holding the ref, or one that crashed, leaves: old.
    std::fs::write(&lock, format!("{tip}\n")).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let out = env.atom_err(&["record", "TASK", "two"], 1);
    assert!(
        out.stderr
            .lines()
            .next()
            .unwrap()
            .contains(&*lock.to_string_lossy()),
        "the error line names the lock file: {out}"
    );
    assert!(lock.exists(), "the lock was removed");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), format!("{tip}\n"));
    assert_eq!(env.tip().unwrap(), tip, "nothing was recorded");
    assert_eq!(env.log_ids(&[]).len(), 1);

    // Once its owner is done, recording works again.
    std::fs::remove_file(&lock).unwrap();
    env.atom_ok(&["record", "TASK", "two"]);
    env.cross_check();
}

#[test]
fn a_ref_lock_left_by_a_killed_atom_writer_is_cleared() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    let tip = env.tip().unwrap();
    // An atom writer killed between taking the lock and renaming it leaves
    // its lock linked to its own file under atom-locks/.
    let own = env.git_dir().join("atom-locks/refs/heads/main.lock");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::write(&own, format!("{tip}\n")).unwrap();
    let lock = env.git_dir().join("refs/heads/main.lock");
    std::fs::hard_link(&own, &lock).unwrap();

    env.atom_ok(&["record", "TASK", "two"]);
    assert!(!lock.exists() && !own.exists());
    assert_eq!(env.log_ids(&[]).len(), 2);
    env.cross_check();
}

#[test]
fn records_forks_and_rollbacks_work_on_refs_git_gc_packed() {
    let env = TestEnv::init();
    env.record(&["TASK", "one"]);
    env.atom_ok(&["fork", "side"]);
    env.record(&["TASK", "two"]);
    env.git(&["gc", "--quiet"]);
    let heads = env.git_dir().join("refs/heads");
    assert!(!heads.join("main").exists(), "git gc left a loose ref");
    let packed = std::fs::read_to_string(env.git_dir().join("packed-refs")).unwrap();
    assert!(packed.contains("refs/heads/main"), "{packed}");

    let tip = env.tip().unwrap();
    env.record(&["TASK", "three"]);
    assert_eq!(env.git(&["rev-parse", "main~1"]).trim(), tip);
    env.atom_ok(&["rollback", &env.log_ids(&[])[1], "--yes"]);
    env.atom_ok(&["switch", "side"]);
    env.record(&["TASK", "on_side"]);
    env.atom_ok(&["switch", "main"]);
    assert_eq!(env.log_ids(&["side"]).len(), 2);
    assert_eq!(env.log_ids(&[]).len(), 3, "one, two and the rollback");
    let out = env.atom(&["verify", "--all"]);
    assert_eq!(out.code, 0, "{out}");
    env.cross_check();
}

#[test]
fn packs_stay_few_over_200_records() {
    let env = TestEnv::init();
    let mut most = 0;
    let mut gc_pack = None;
    for i in 0..200 {
        env.atom_ok(&["record", "TASK", "step", "--summary", &format!("step {i}")]);
        most = most.max(packs(&env));
        if i == 60 {
            // A pack of deltas (and a bitmap) as git writes it: rolled up too.
            env.git(&["gc", "--quiet"]);
            assert_eq!(packs(&env), 1);
            gc_pack = Some(pack_names(&env).remove(0));
        }
    }
    eprintln!(
        "200 records: at most {most} packs, {} at the end",
        packs(&env)
    );
    assert!(most <= PACK_LIMIT, "{most} packs");
    let gc_pack = gc_pack.unwrap();
    assert!(
        !pack_names(&env).contains(&gc_pack),
        "the pack of git gc is still there"
    );
    let stem = gc_pack.trim_end_matches(".pack").to_owned();
    let leftovers: Vec<String> = std::fs::read_dir(env.git_dir().join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&stem) || n.starts_with("tmp_"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let log = env.cross_check();
    assert_eq!(log.len(), 200);
    let tip = env.tip().unwrap();
    let verified = env.git_verify_commit(&tip);
    assert_eq!(verified.code, 0, "{verified}");
    let out = env.atom(&["verify"]);
    assert_eq!(out.code, 0, "{out}");
    let count = env.git(&["count-objects", "-v"]);
    assert!(count.starts_with("count: 0\n"), "loose objects:\n{count}");
}

#[test]
fn readers_in_other_processes_survive_rollups() {
    let env = TestEnv::init();
    env.record(&["TASK", "first"]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let failures = std::sync::Mutex::new(Vec::new());
    let rounds = std::sync::atomic::AtomicUsize::new(0);
    let readers = [
        vec!["git", "log", "--format=%H %s"],
        vec!["git", "rev-list", "--objects", "--all"],
        vec!["atom", "log"],
        vec!["atom", "verify"],
    ];
    std::thread::scope(|s| {
        for reader in &readers {
            let (env, stop, failures, rounds) = (&env, &stop, &failures, &rounds);
            s.spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out: Output = match reader[0] {
                        "git" => env.git_output(&reader[1..]),
                        _ => env.atom(&reader[1..]),
                    };
                    rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if out.code != 0 {
                        failures.lock().unwrap().push(format!("{reader:?}:\n{out}"));
                    }
                }
            });
        }
        // A long-lived reader: one `git cat-file` over the whole run, asked
        // again and again for the first commit, whose pack is rolled up.
        let first = env.tip().unwrap();
        let (env, stop, failures) = (&env, &stop, &failures);
        s.spawn(move || {
            let mut child = env
                .command("git")
                .arg("--git-dir")
                .arg(env.git_dir())
                .args(["cat-file", "--batch-check"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("run git cat-file");
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                use std::io::{BufRead as _, Write as _};
                writeln!(stdin, "{first}").unwrap();
                let mut line = String::new();
                stdout.read_line(&mut line).unwrap();
                if !line.contains(" commit ") {
                    failures.lock().unwrap().push(format!("cat-file: {line}"));
                }
            }
            drop(stdin);
            let _ = child.wait();
        });
        for i in 0..3 * PACK_LIMIT {
            let out = env.atom(&["record", "TASK", "step", "--summary", &format!("{i}")]);
            if out.code != 0 {
                failures.lock().unwrap().push(format!("record {i}:\n{out}"));
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let failures = failures.into_inner().unwrap();
    eprintln!("{} reader runs", rounds.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(packs(&env) <= PACK_LIMIT);
    assert_eq!(env.log_ids(&[]).len(), 3 * PACK_LIMIT + 1);
    env.cross_check();
}
