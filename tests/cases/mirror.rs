//! The Cloudflare D1 mirror (SPEC §7) against a real local D1: Miniflare
//! (workerd with a D1 binding) running `tests/d1/worker.mjs`, which answers
//! the D1 REST API shape on 127.0.0.1.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::cases::verify::{record_n, verify};
use crate::common::{Output, TestEnv};

const ACCOUNT: &str = "test-account";
const DATABASE: &str = "test-db";
pub(crate) const TOKEN: &str = "d1-test-token-7f3c9a1e5b";

fn d1_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/d1")
}

/// Install the worker's npm packages once (`npm ci`, from the committed lock).
fn ensure_npm_packages() {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = d1_dir();
    if dir.join("node_modules/miniflare/package.json").is_file() {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("the D1 mirror tests need node and npm (npm ci in tests/d1): {e}")
        });
    assert!(
        out.status.success(),
        "npm ci in tests/d1 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One local D1 behind the REST API, stopped when dropped.
pub(crate) struct D1Worker {
    child: Child,
    port: u16,
}

impl D1Worker {
    pub(crate) fn start() -> Self {
        ensure_npm_packages();
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(d1_dir())
            .env("D1_TEST_TOKEN", TOKEN)
            .env("D1_TEST_ACCOUNT", ACCOUNT)
            .env("D1_TEST_DATABASE", DATABASE)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("the D1 mirror tests need node on the PATH: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the worker's port");
        let port = line
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("tests/d1/server.mjs did not start: {line:?}"));
        D1Worker { child, port }
    }

    fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/client/v4", self.port)
    }

    /// A plain HTTP/1.1 request to the worker; returns (status, JSON body).
    fn http(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the worker");
        let body = body.to_string();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send a request");
        // The body is read by its Content-Length (the worker never chunks),
        // not to the end of the stream: workerd keeps the connection open
        // for seconds after its answer whatever the request asks.
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader
            .read_line(&mut status_line)
            .expect("read a status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status code");
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).expect("read a header");
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("a Content-Length");
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("read a response body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Rows of one SELECT, through the REST API as atom sees it.
    fn select(&self, sql: &str) -> Vec<Value> {
        let path = format!("/client/v4/accounts/{ACCOUNT}/d1/database/{DATABASE}/query");
        let (status, body) = self.http(&path, Some(TOKEN), &json!({"sql": sql, "params": []}));
        assert_eq!(status, 200, "{sql}: {body}");
        body["result"][0]["results"]
            .as_array()
            .expect("rows")
            .clone()
    }

    pub(crate) fn count(&self, table: &str) -> u64 {
        self.select(&format!("SELECT count(*) AS n FROM {table}"))[0]["n"]
            .as_u64()
            .expect("a count")
    }

    /// Make the next `times` API requests answer `status` with `retry-after`.
    fn fail_next(&self, status: u16, retry_after: &str, times: u32) {
        let plan = json!({"status": status, "retry_after": retry_after, "times": times});
        assert_eq!(self.http("/__control/fail", None, &plan).0, 200);
    }

    fn stats(&self) -> Value {
        self.http("/__control/stats", None, &json!({})).1
    }
}

impl Drop for D1Worker {
    fn drop(&mut self) {
        // Closing stdin makes server.mjs dispose Miniflare (and workerd).
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `atom ARGS...` with `CLOUDFLARE_API_TOKEN=token`.
fn with_token(env: &TestEnv, token: &str, args: &[&str]) -> Output {
    let out = env
        .atom_command(args)
        .env("CLOUDFLARE_API_TOKEN", token)
        .output()
        .expect("run atom");
    let out = Output::from(out);
    assert!(
        !out.stderr.contains("panicked"),
        "atom {args:?} panicked:\n{out}"
    );
    out
}

fn push_json(env: &TestEnv) -> Value {
    let out = with_token(env, TOKEN, &["--json", "mirror", "push"]);
    assert_eq!(out.code, 0, "mirror push failed:\n{out}");
    serde_json::from_str(&out.stdout).expect("push --json prints JSON")
}

fn status(env: &TestEnv) -> Value {
    env.atom_json(&["mirror", "status"])
}

pub(crate) fn configure(env: &TestEnv, d1: &D1Worker) {
    configure_at(env, &d1.api_base());
}

fn configure_at(env: &TestEnv, api_base: &str) {
    env.atom_ok(&[
        "mirror",
        "configure",
        "--account",
        ACCOUNT,
        "--database",
        DATABASE,
        "--api-base",
        api_base,
    ]);
}

/// A local D1 and a store of `n` atoms configured to mirror to it.
fn configured_store(n: usize) -> (D1Worker, TestEnv) {
    let d1 = D1Worker::start();
    let env = TestEnv::init();
    record_n(&env, n);
    configure(&env, &d1);
    (d1, env)
}

/// Every ref of a store's repository with its commit, as `git for-each-ref` lists them.
fn refs(env: &TestEnv, prefixes: &[&str]) -> String {
    let mut args = vec!["for-each-ref", "--format=%(refname) %(objectname)"];
    args.extend_from_slice(prefixes);
    env.git(&args)
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read a directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
        }
    }
    found
}

#[test]
fn push_incremental_push_status_and_byte_identical_restore() {
    let d1 = D1Worker::start();
    let env = TestEnv::init();
    // An attachment larger than one D1 row part, and a fork and a rollback,
    // so that the mirror holds several parts, trails and an archive ref.
    let big: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let attachment = env.write_file("big.bin", &big);
    record_n(&env, 2);
    env.record(&[
        "RESEARCH",
        "research",
        "--attach",
        attachment.to_str().unwrap(),
    ]);
    env.atom_ok(&["fork", "side"]);
    record_n(&env, 1);
    env.atom_ok(&["switch", "side"]);
    env.record(&["DECISION", "save_decision", "--summary", "on the side"]);
    env.atom_ok(&["switch", "main"]);
    let first = env.atom_json(&["log", "-n", "4"]);
    let back_to = first[2]["record"]["atom_id"].as_str().unwrap().to_owned();
    env.atom_ok(&["rollback", &back_to, "--yes"]);

    let s = status(&env);
    assert_eq!(s["configured"], false);
    configure(&env, &d1);
    let total = env
        .git(&[
            "rev-list",
            "--count",
            "--branches",
            "--glob=refs/atom/archive/*",
        ])
        .trim()
        .parse::<u64>()
        .unwrap();
    let s = status(&env);
    assert_eq!(s["configured"], true);
    assert_eq!(s["pending"], total);
    assert_eq!(s["last_push"], Value::Null);

    let pushed = push_json(&env);
    assert_eq!(pushed["atoms_sent"], total);
    assert_eq!(pushed["retries"], 0);
    assert_eq!(d1.count("atoms"), total);
    let s = status(&env);
    assert_eq!(s["pending"], 0);
    assert!(s["last_push"].is_string(), "{s}");
    // Rows carry the atoms' fields, and the record parses.
    let rows =
        d1.select("SELECT atom_id, agent, record, commit_sha FROM atoms WHERE type = 'RESEARCH'");
    assert_eq!(rows.len(), 1);
    let record: Value = serde_json::from_str(rows[0]["record"].as_str().unwrap()).unwrap();
    assert_eq!(record["atom_id"], rows[0]["atom_id"]);
    // The attachment was cut into parts that fit D1's limits.
    let parts = d1.select(&format!(
        "SELECT count(*) AS n, max(length(data)) AS longest FROM objects WHERE size = {}",
        big.len()
    ));
    assert!(parts[0]["n"].as_u64().unwrap() >= 3, "{parts:?}");
    assert!(parts[0]["longest"].as_u64().unwrap() <= 60_000, "{parts:?}");
    let heads = d1.select("SELECT name, target FROM heads ORDER BY name");
    assert!(
        heads.iter().any(|h| h["name"] == "refs/heads/side"),
        "{heads:?}"
    );
    assert!(heads.iter().any(|h| h["name"]
        .as_str()
        .unwrap()
        .starts_with("refs/atom/archive/main/")));
    assert!(heads
        .iter()
        .any(|h| h["name"] == "HEAD" && h["target"] == "refs/heads/main"));
    assert_eq!(d1.count("signers"), 1);

    // Nothing new: a push sends nothing.
    assert_eq!(push_json(&env)["atoms_sent"], 0);

    // Two more atoms: pending 2, and the next push sends only those.
    let added = record_n(&env, 2);
    assert_eq!(status(&env)["pending"], 2);
    let before = d1.count("atoms");
    let pushed = push_json(&env);
    assert_eq!(pushed["atoms_sent"], 2);
    assert_eq!(d1.count("atoms"), before + 2);
    for (_, commit) in &added {
        let rows = d1.select(&format!(
            "SELECT ref FROM ref_atoms WHERE commit_sha = '{commit}'"
        ));
        assert_eq!(rows, vec![json!({"ref": "refs/heads/main"})]);
    }
    assert_eq!(status(&env)["pending"], 0);
    assert_eq!(status(&env)["last_push_atoms"], 2);

    // The current trail is mirrored too.
    env.atom_ok(&["switch", "side"]);
    assert_eq!(push_json(&env)["atoms_sent"], 0);
    let head = d1.select("SELECT target FROM heads WHERE name = 'HEAD'");
    assert_eq!(head, vec![json!({"target": "refs/heads/side"})]);

    // Restore from D1 alone into a new directory.
    let restored = TestEnv::new();
    let out = with_token(
        &env,
        TOKEN,
        &[
            "--json",
            "mirror",
            "restore",
            "--to",
            restored.store().to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "restore failed:\n{out}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["atoms"], total + 2);
    assert_eq!(report["verify"]["ok"], true);
    // Identical commit shas on every trail and archive ref, and the same HEAD.
    let prefixes = ["refs/heads/", "refs/atom/archive/"];
    assert_eq!(refs(&restored, &prefixes), refs(&env, &prefixes));
    assert_eq!(
        restored.git(&["symbolic-ref", "HEAD"]),
        env.git(&["symbolic-ref", "HEAD"])
    );
    // git fsck --strict, git verify-commit with the mirrored keys, digests.
    restored.cross_check();
    let (code, report, out) = verify(&restored, &["--all"]);
    assert_eq!(code, 0, "atom verify --all on the restored store:\n{out}");
    assert_eq!(report["atoms"], total + 2);
    // The attachment came back byte for byte.
    let research = restored.atom_json(&["log", "--all", "--type", "RESEARCH"]);
    let commit = research[0]["commit"].as_str().unwrap();
    let blob = restored.cat_blobs(&[format!("{commit}:attachments/big.bin")]);
    assert_eq!(blob[0], big);
    // The restored store has its own key and trusts the mirrored one.
    let signers = restored.atom_json(&["signers", "list"]);
    assert_eq!(signers["signers"].as_array().unwrap().len(), 2);
    // It mirrors to the same database, which already has everything.
    assert_eq!(status(&restored)["pending"], 0);
    restored.record(&["CFG", "modify_file", "--summary", "after restore"]);
    assert_eq!(push_json(&restored)["atoms_sent"], 1);
}

#[test]
fn push_skips_what_d1_already_has() {
    let (d1, env) = configured_store(3);
    assert_eq!(push_json(&env)["atoms_sent"], 3);
    // Pointing the mirror elsewhere and back forgets what was pushed...
    env.atom_ok(&[
        "mirror",
        "configure",
        "--account",
        ACCOUNT,
        "--database",
        "other-db",
    ]);
    configure(&env, &d1);
    assert_eq!(status(&env)["pending"], 3);
    // ...and the next push finds the atoms in D1 and sends none again.
    let pushed = push_json(&env);
    assert_eq!(pushed["atoms_sent"], 0);
    assert_eq!(pushed["atoms_present"], 3);
    assert_eq!(d1.count("atoms"), 3);
    assert_eq!(status(&env)["pending"], 0);
}

#[test]
fn wrong_token_exits_1_marks_nothing_and_leaks_no_token() {
    let (_d1, env) = configured_store(2);
    let wrong = "wrong-token-5e8d1c2b9a";
    let out = with_token(&env, wrong, &["mirror", "push"]);
    assert_eq!(out.code, 1, "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("Authentication error"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains("CLOUDFLARE_API_TOKEN"),
        "{out}"
    );
    assert!(
        !out.stdout.contains(wrong) && !out.stderr.contains(wrong),
        "{out}"
    );
    let s = status(&env);
    assert_eq!(s["pending"], 2);
    assert_eq!(s["last_push"], Value::Null);
    assert_eq!(refs(&env, &["refs/atom/mirror/"]), "");

    // A good push afterwards works; neither token is in any file of the store.
    let out = with_token(&env, TOKEN, &["mirror", "push"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
        "{out}"
    );
    assert_eq!(status(&env)["pending"], 0);
    for token in [wrong, TOKEN] {
        assert_eq!(files_containing(&env.store(), token), Vec::<PathBuf>::new());
    }

    // Without a token: bad usage, exit 2.
    let out = env.atom_err(&["mirror", "push"], 2);
    assert!(
        out.stderr.contains("CLOUDFLARE_API_TOKEN is not set"),
        "{out}"
    );
}

#[test]
fn rate_limited_once_then_push_succeeds_after_backoff() {
    let (d1, env) = configured_store(2);
    d1.fail_next(429, "1", 1);
    let started = std::time::Instant::now();
    let pushed = push_json(&env);
    assert_eq!(pushed["atoms_sent"], 2);
    assert_eq!(pushed["retries"], 1);
    assert_eq!(d1.stats()["failed"], 1);
    assert_eq!(d1.count("atoms"), 2);
    assert_eq!(status(&env)["pending"], 0);
    // It waited as long as `retry-after` said before trying again.
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

#[test]
fn unreachable_mirror_exits_1_and_marks_nothing() {
    let env = TestEnv::init();
    record_n(&env, 2);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    configure_at(&env, &format!("http://127.0.0.1:{port}/client/v4"));
    let out = with_token(&env, TOKEN, &["mirror", "push"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .starts_with("error: cannot reach D1 at http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.stderr.contains("\nhint: "), "{out}");
    assert_eq!(status(&env)["pending"], 2);
    assert_eq!(status(&env)["last_push"], Value::Null);
    assert_eq!(refs(&env, &["refs/atom/mirror/"]), "");

    // Restore from it fails too, leaving no half-made store.
    let target = env.path().join("restored");
    let out = with_token(
        &env,
        TOKEN,
        &["mirror", "restore", "--to", target.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(!target.exists(), "restore left {target:?} behind");
}

#[test]
fn bad_mirror_arguments_are_usage_errors() {
    let env = TestEnv::init();
    record_n(&env, 1);
    let out = env.atom_err(&["mirror", "push"], 2);
    assert!(out.stderr.contains("no D1 mirror is configured"), "{out}");
    env.atom_err(
        &["mirror", "configure", "--account", "a/b", "--database", "d"],
        2,
    );
    env.atom_err(
        &[
            "mirror",
            "configure",
            "--account",
            "a",
            "--database",
            "d",
            "--api-base",
            "ftp://x",
        ],
        2,
    );
    env.atom_err(&["mirror", "restore", "--to", "elsewhere"], 2);
    // Restoring into a directory that is not empty is refused, untouched.
    let full = env.write_file("full/keep.txt", b"mine");
    let dir = full.parent().unwrap().to_str().unwrap().to_owned();
    let out = with_token(
        &env,
        TOKEN,
        &[
            "mirror",
            "restore",
            "--to",
            &dir,
            "--account",
            "a",
            "--database",
            "d",
        ],
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("is not empty"), "{out}");
    assert_eq!(std::fs::read(&full).unwrap(), b"mine");
}

/// Whoever holds the D1 token adds their key to `signers` and a forged
/// atom: restore trusts only the key list chain in custody, names the keys
/// it trusts, and the forged atom fails verification (exit 1).
#[test]
fn keys_written_into_d1_rows_are_not_trusted_by_restore() {
    let (d1, a) = configured_store(2);
    push_json(&a);

    // Mallory: a copy of A's store with her own key, one atom signed by it,
    // her key in her allowed_signers, mirrored to the same database.
    let m = TestEnv::new();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(a.store())
        .arg(m.store())
        .status()
        .unwrap();
    assert!(status.success());
    let key = m.store().join("keys/atom_ed25519");
    std::fs::remove_file(&key).unwrap();
    std::fs::remove_file(key.with_extension("pub")).unwrap();
    let out = m
        .command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "mallory", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let m_key = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let m_key: Vec<&str> = m_key.split_whitespace().take(2).collect();
    m.atom_ok(&["signers", "add", "mallory", &m_key.join(" ")]);
    let forged = m.record(&["TASK", "forged"])["record"]["atom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pushed = push_json(&m);
    assert_eq!(pushed["signers_action"], "not listed", "{pushed:#}");
    assert_eq!(
        d1.select("SELECT principal FROM signers WHERE principal = 'mallory'")
            .len(),
        1,
        "the rows hold mallory's key"
    );

    let restored = TestEnv::new();
    let out = with_token(
        &a,
        TOKEN,
        &[
            "mirror",
            "restore",
            "--to",
            restored.store().to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 1, "{out}");
    let a_fpr = a.atom_json(&["signers", "list"])["signers"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        out.stdout.contains(&a_fpr),
        "names the key it trusts:\n{out}"
    );
    assert!(!out.stdout.contains("mallory"), "{out}");
    let (code, _, verified) = verify(&restored, &["--all"]);
    assert_eq!(code, 1);
    assert!(verified.stdout.contains(&forged), "{verified}");
    let signers = restored.atom_json(&["signers", "list"]);
    assert_eq!(
        signers["signers"].as_array().unwrap().len(),
        2,
        "{signers:#}"
    );
}

/// `atom mirror restore --to DIR` from the database `env` mirrors to.
fn restore_to(env: &TestEnv, dir: &Path, json: bool) -> Output {
    let dir = dir.to_str().unwrap();
    let mut args = vec!["mirror", "restore", "--to", dir];
    if json {
        args.insert(0, "--json");
    }
    with_token(env, TOKEN, &args)
}

/// The transparency log (SPEC §10) travels with the mirror: its commits as
/// objects, its tip in `heads`, each push's checkpoint in `checkpoints`;
/// each push sends only the log commits not mirrored yet, and the restored
/// store has the same log, checkpoint and proofs.
#[test]
fn the_mirror_carries_the_log_and_restore_rebuilds_it() {
    let (d1, env) = configured_store(3);
    let pushed = push_json(&env);
    assert_eq!(pushed["log_commits"], 3, "{pushed:#}");
    assert_eq!(pushed["log_size"], 3);
    let log_tip = env.git(&["rev-parse", "refs/atom/log"]).trim().to_owned();
    assert_eq!(
        d1.select("SELECT target FROM heads WHERE name = 'refs/atom/log'"),
        vec![json!({"target": log_tip})]
    );
    assert_eq!(
        env.git(&["rev-parse", "refs/atom/mirror-log"]).trim(),
        log_tip
    );
    let rows = d1.select("SELECT size, origin, log_commit, note FROM checkpoints");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["note"], env.atom_ok(&["checkpoint"]));
    assert_eq!(rows[0]["log_commit"], log_tip);
    // Each log commit's objects: the commit, its tree and two blobs.
    for spec in [
        "refs/atom/log",
        "refs/atom/log^{tree}",
        "refs/atom/log:leaves",
        "refs/atom/log~2:checkpoint",
    ] {
        let sha = env.git(&["rev-parse", spec]).trim().to_owned();
        let n = d1.select(&format!(
            "SELECT count(*) AS n FROM objects WHERE sha = '{sha}'"
        ));
        assert_eq!(n[0]["n"], 1, "{spec}");
    }

    // Nothing new: no log commit sent. Two atoms more: their two.
    assert_eq!(push_json(&env)["log_commits"], 0);
    let ids = record_n(&env, 2);
    let pushed = push_json(&env);
    assert_eq!(pushed["log_commits"], 2, "{pushed:#}");
    assert_eq!(pushed["log_size"], 5);
    assert_eq!(d1.count("checkpoints"), 2);

    // An atom that came in by plain git is logged by the push, so the
    // mirrored log holds every mirrored atom.
    let other = TestEnv::init();
    other.record(&["TASK", "elsewhere"]);
    let key = std::fs::read_to_string(other.store().join("keys/atom_ed25519.pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    env.atom_ok(&["signers", "add", "other", &key.join(" ")]);
    let out = other
        .command("git")
        .arg("--git-dir")
        .arg(other.git_dir())
        .args(["push", "-q"])
        .arg(env.git_dir())
        .arg("refs/heads/main:refs/heads/from-other")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pushed = push_json(&env);
    assert_eq!(pushed["atoms_sent"], 1, "{pushed:#}");
    assert_eq!(pushed["log_size"], 6, "{pushed:#}");
    assert_eq!(env.atom_json(&["checkpoint"])["size"], 6);

    let restored = TestEnv::new();
    let out = restore_to(&env, &restored.store(), true);
    assert_eq!(out.code, 0, "restore failed:\n{out}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["log"]["size"], 6, "{report:#}");
    assert_eq!(report["log"]["problems"], json!([]), "{report:#}");
    assert_eq!(report["log"]["unlogged"], 0, "{report:#}");
    // The same log, checkpoint and proofs as the original.
    assert_eq!(
        restored.git(&["rev-parse", "refs/atom/log"]),
        env.git(&["rev-parse", "refs/atom/log"])
    );
    assert_eq!(
        restored.atom_ok(&["checkpoint"]),
        env.atom_ok(&["checkpoint"])
    );
    let (last, _) = &ids[1];
    assert_eq!(
        restored.atom_ok(&["prove", last]),
        env.atom_ok(&["prove", last])
    );
    let (code, report, out) = verify(&restored, &["--all"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["log"]["size"], 6);
    // The restored store mirrors on from there: only what it adds.
    restored.record(&["TASK", "after_restore"]);
    let pushed = push_json(&restored);
    assert_eq!(pushed["log_commits"], 1, "{pushed:#}");
    assert_eq!(pushed["log_size"], 7);

    // Human output names the log.
    let again = TestEnv::new();
    let out = restore_to(&env, &again.store(), false);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("✓ log: 7 leaves"), "{out}");
}

/// Whoever holds the D1 token rewrites rows: a log head moved back, a log
/// head or checkpoint rows removed, a forged checkpoint, an altered log
/// object. Each restore fails (exit 1) and says why.
#[test]
fn a_mirrored_log_altered_in_d1_fails_restore() {
    let (d1, env) = configured_store(3);
    push_json(&env);
    let older = env.git(&["rev-parse", "refs/atom/log"]).trim().to_owned();
    record_n(&env, 2);
    push_json(&env);
    let tip = env.git(&["rev-parse", "refs/atom/log"]).trim().to_owned();
    let exec = |sql: &str| {
        d1.select(sql);
    };
    let restore_fails = |what: &str, needle: &str| {
        let dir = env
            .path()
            .join(format!("restored-{}", what.replace(' ', "-")));
        let out = restore_to(&env, &dir, false);
        assert_eq!(out.code, 1, "{what}: {out}");
        assert!(
            out.stderr.contains(needle) || out.stdout.contains(needle),
            "{what}: expected {needle:?}:\n{out}"
        );
        out
    };

    // The log's head pointed at an older log commit: the restored log is
    // behind the mirrored checkpoint and misses two atoms.
    exec(&format!(
        "UPDATE heads SET target = '{older}' WHERE name = 'refs/atom/log'"
    ));
    let out = restore_fails("head moved back", "transparency log does not check out");
    assert!(
        out.stdout.contains("this store's log holds 3"),
        "names the checkpoint it is behind:\n{out}"
    );
    assert!(
        out.stdout
            .contains("2 restored atom(s) are not in the restored log"),
        "{out}"
    );
    // ...and the checkpoints removed too: the atoms it lacks still tell.
    exec("DELETE FROM checkpoints WHERE size = 5");
    restore_fails(
        "head and checkpoint moved back",
        "2 restored atom(s) are not in the restored log",
    );
    exec(&format!(
        "UPDATE heads SET target = '{tip}' WHERE name = 'refs/atom/log'"
    ));
    push_json(&env);
    // Every push sends the log's head and checkpoint again.
    assert_eq!(d1.count("checkpoints"), 2);

    // The log's head pointed at something that is not a log commit.
    let atom = env.git(&["rev-parse", "main"]).trim().to_owned();
    let blob = env
        .git(&["rev-parse", "refs/atom/log:leaves"])
        .trim()
        .to_owned();
    exec(&format!(
        "UPDATE heads SET target = '{blob}' WHERE name = 'refs/atom/log'"
    ));
    restore_fails("head at a blob", "not a commit the mirror holds");
    exec(&format!(
        "UPDATE heads SET target = '{atom}' WHERE name = 'refs/atom/log'"
    ));
    restore_fails("head at an atom", "transparency log does not check out");

    // No log head at all.
    exec("DELETE FROM heads WHERE name = 'refs/atom/log'");
    restore_fails("no head", "holds no transparency log");
    exec(&format!(
        "INSERT INTO heads (name, target, updated_at) VALUES ('refs/atom/log', '{tip}', 'now')"
    ));

    // A checkpoint row that is not signed by the store's key.
    let note = env.atom_ok(&["checkpoint"]);
    let forged = note.replacen("\n5\n", "\n9\n", 1);
    exec(&format!(
        "INSERT INTO checkpoints (size, origin, root, log_commit, note, pushed_at) VALUES (9, 'o', 'r', '{tip}', '{forged}', 'now')"
    ));
    restore_fails(
        "forged checkpoint",
        "not signed by a key in keys/allowed_signers",
    );
    exec("DELETE FROM checkpoints WHERE size = 9");

    // A log object altered: it no longer hashes to its id.
    let leaves = env
        .git(&["rev-parse", "refs/atom/log:leaves"])
        .trim()
        .to_owned();
    exec(&format!(
        "UPDATE objects SET data = 'eA==', size = 1 WHERE sha = '{leaves}'"
    ));
    restore_fails("log blob altered", &format!("object {leaves} hashes to"));
}

/// A seed `atom_trail` row, signed as the seed signed it.
fn seed_row(
    env: &TestEnv,
    id: &str,
    previous: Option<&str>,
    ts: &str,
    metadata: &str,
) -> Vec<Value> {
    let signature = format!(
        "sha256:{}",
        env.sha256_hex(format!("{id}{metadata}").as_bytes())
    );
    vec![
        json!(id),
        json!("save_decision"),
        json!("claude"),
        json!(ts),
        json!(signature),
        json!(previous),
        json!(metadata),
    ]
}

#[test]
fn import_from_d1_reads_the_seed_table_once() {
    let d1 = D1Worker::start();
    let env = TestEnv::init();
    let path = format!("/client/v4/accounts/{ACCOUNT}/d1/database/{DATABASE}/query");
    let create = "CREATE TABLE atom_trail (atom_id TEXT PRIMARY KEY, operation TEXT NOT NULL, agent TEXT NOT NULL, timestamp TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, signature TEXT NOT NULL, previous_atom TEXT, metadata TEXT)";
    assert_eq!(
        d1.http(&path, Some(TOKEN), &json!({"sql": create, "params": []}))
            .0,
        200
    );
    let insert = |row: Vec<Value>| {
        let (status, body) = d1.http(
            &path,
            Some(TOKEN),
            &json!({"sql": "INSERT INTO atom_trail VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", "params": row}),
        );
        assert_eq!(status, 200, "{body}");
    };
    insert(seed_row(
        &env,
        "ATOM-DECISION-20241127-001",
        None,
        "2024-11-27 10:23:45",
        r#"{"summary":"use D1"}"#,
    ));
    insert(seed_row(
        &env,
        "ATOM-DECISION-20241127-002",
        Some("ATOM-DECISION-20241127-001"),
        "2024-11-27 11:00:00",
        r#"{"summary":"keep it"}"#,
    ));
    let args = [
        "import",
        "--from",
        "d1",
        "--account",
        ACCOUNT,
        "--database",
        DATABASE,
        "--api-base",
    ];
    let mut args: Vec<&str> = args.to_vec();
    let base = d1.api_base();
    args.push(&base);
    args.push("--json");
    let out = with_token(&env, TOKEN, &args);
    assert_eq!(out.code, 0, "{out}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (report["imported"].as_u64(), report["legacy"].as_u64()),
        (Some(2), Some(2)),
        "{report}"
    );
    let log = env.cross_check();
    assert_eq!(log[0]["record"]["atom_id"], "ATOM-DECISION-20241127-002");
    assert_eq!(
        log[0]["record"]["metadata"]["source"],
        json!({"tool": "d1", "table": "atom_trail", "id": "ATOM-DECISION-20241127-002"})
    );
    assert!(log[1]["record"]["metadata"]["legacy_signature"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    // Again, with one new row: only that one comes in.
    insert(seed_row(
        &env,
        "ATOM-DECISION-20241127-003",
        Some("ATOM-DECISION-20241127-002"),
        "2024-11-27 12:00:00",
        r#"{"summary":"more"}"#,
    ));
    let out = with_token(&env, TOKEN, &args);
    assert_eq!(out.code, 0, "{out}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (report["imported"].as_u64(), report["skipped"].as_u64()),
        (Some(1), Some(2)),
        "{report}"
    );

    // A row changed after signing is refused, naming it; nothing is written.
    let tip = env.tip();
    let mut forged = seed_row(
        &env,
        "ATOM-DECISION-20241127-004",
        Some("ATOM-DECISION-20241127-003"),
        "2024-11-27 13:00:00",
        r#"{"summary":"a"}"#,
    );
    forged[6] = json!(r#"{"summary":"b"}"#);
    insert(forged);
    let out = with_token(&env, TOKEN, &args);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .starts_with("error: atom_trail ATOM-DECISION-20241127-004: signature "),
        "{out}"
    );
    assert_eq!(env.tip(), tip);
}
