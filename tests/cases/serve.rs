//! `atom serve`: the real server on a free port, its API checked against the
//! CLI's `--json` output, hostile requests refused, and the pages driven in
//! Debian's headless Chromium (tests/browser, playwright-core) with a
//! screenshot of each page saved (to docs/screenshots with
//! `ATOM_UPDATE_SCREENSHOTS=1`, else under the build's temporary directory).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::cases::trace_handles::{handle, Collision};
use crate::common::TestEnv;

/// A running `atom serve`, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(env: &TestEnv, extra: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut cmd = env.atom_command(&args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start atom serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the address");
        let addr = line
            .trim()
            .rsplit_once(" at http://")
            .map(|(_, a)| a.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("atom serve printed {line:?}"));
        Server { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Send `head` as is; the status code, the headers and the body.
    fn raw(&self, head: &str) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.write_all(head.as_bytes()).expect("send");
        let mut bytes = Vec::new();
        s.read_to_end(&mut bytes).expect("read the answer");
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
        let status = head[9..12].parse().expect("a status code");
        (status, head, bytes[split + 4..].to_vec())
    }

    fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.addr
        ))
    }

    fn json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e})"))
    }

    fn html(&self, path: &str) -> String {
        let (status, head, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(head.contains("text/html"), "{path}: {head}");
        String::from_utf8(body).expect("UTF-8 HTML")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ids of a demo history: a fork, a rollback, a merge from another
/// device, provenance links, tokens, an attachment and hostile text.
struct Demo {
    env: TestEnv,
    _other: TestEnv,
    research: String,
    decision: String,
    fork_task: String,
}

const HOSTILE: &str = "Survey <b>frame pacing</b><script>alert(1)</script>";

fn id(v: &Value) -> String {
    v["record"]["atom_id"].as_str().expect("an id").to_owned()
}

fn demo() -> Demo {
    let env = TestEnv::init().with_env("ATOM_AGENT", "qwen");
    let research = id(&env.record(&[
        "RESEARCH",
        "research",
        "--summary",
        HOSTILE,
        "--tokens",
        "1200",
        "--project",
        "game",
        "--at",
        "2024-11-25T10:00:00Z",
    ]));
    let notes = env.write_file("notes.txt", b"vsync notes\n");
    let decision = id(&env.record(&[
        "DECISION",
        "save_decision",
        "--summary",
        "Pick vsync",
        "--influenced-by",
        &research,
        "--tokens",
        "300",
        "--project",
        "game",
        "--attach",
        notes.to_str().unwrap(),
        "--at",
        "2024-11-26T10:00:00Z",
    ]));
    let cfg = id(&env.record(&[
        "CFG",
        "modify_file",
        "--agent",
        "claude",
        "--summary",
        "Edit gaming.env",
        "--influenced-by",
        &decision,
        "--tokens",
        "800",
        "--project",
        "game",
        "--at",
        "2024-11-26T11:00:00Z",
    ]));
    env.atom_ok(&["fork", "experiment", "--switch"]);
    let fork_task = id(&env.record(&[
        "TASK",
        "run_tests",
        "--agent",
        "claude",
        "--summary",
        "Try triple buffering",
        "--influenced-by",
        &cfg,
        "--tokens",
        "2500",
        "--project",
        "game",
        "--at",
        "2024-11-27T09:00:00Z",
    ]));
    env.atom_ok(&["switch", "main"]);
    env.record(&[
        "CFG",
        "modify_file",
        "--summary",
        "Bad change",
        "--tokens",
        "100",
        "--project",
        "web",
        "--at",
        "2024-11-27T10:00:00Z",
    ]);
    env.atom_ok(&["rollback", &cfg]);
    // A second device appends to main; pulling it makes a merge.
    let remote = env.bare_remote("shared.git");
    let remote = remote.to_str().unwrap();
    env.atom_ok(&["remote", "add", "origin", remote]);
    env.atom_ok(&["push"]);
    let other = TestEnv::new().with_env("ATOM_AGENT", "bob");
    other.atom_ok(&["clone", remote]);
    other.record(&[
        "NOTE",
        "note",
        "--summary",
        "Bob's note",
        "--tokens",
        "50",
        "--project",
        "web",
        "--at",
        "2024-11-28T09:00:00Z",
    ]);
    other.atom_ok(&["push"]);
    env.record(&[
        "TASK",
        "run_tests",
        "--summary",
        "Alice test",
        "--tokens",
        "70",
        "--at",
        "2024-11-28T10:00:00Z",
    ]);
    let key = std::fs::read_to_string(other.store().join("keys/atom_ed25519.pub"))
        .expect("bob's public key");
    env.atom_ok(&["signers", "add", "bob", key.trim()]);
    env.atom_ok(&["pull"]);
    Demo {
        env,
        _other: other,
        research,
        decision,
        fork_task,
    }
}

#[test]
fn the_api_answers_with_the_cli_json_shapes() {
    let d = demo();
    let s = Server::start(&d.env, &[], &[]);
    let env = &d.env;
    assert_eq!(s.json("/api/log?n=500"), env.atom_json(&["log"]));
    assert_eq!(
        s.json("/api/log?all=1&n=500"),
        env.atom_json(&["log", "--all"])
    );
    assert_eq!(
        s.json("/api/log?trail=experiment&agent=CLAUDE&n=500"),
        env.atom_json(&["log", "experiment", "--agent", "CLAUDE"])
    );
    assert_eq!(
        s.json(&format!("/api/show/{}", d.decision)),
        env.atom_json(&["show", &d.decision])
    );
    for down in ["", "?down=1"] {
        let mut args = vec!["trace", &d.decision];
        if !down.is_empty() {
            args.push("--down");
        }
        assert_eq!(
            s.json(&format!("/api/trace/{}{down}", d.decision)),
            env.atom_json(&args)
        );
    }
    for by in ["agent", "type", "day", "project"] {
        assert_eq!(
            s.json(&format!("/api/stats?by={by}")),
            env.atom_json(&["stats", "--by", by])
        );
    }
    assert_eq!(s.json("/api/trails"), env.atom_json(&["trails"]));
    assert_eq!(s.json("/api/checkpoint"), env.atom_json(&["checkpoint"]));
    assert_eq!(
        s.json("/api/search?q=vsync"),
        env.atom_json(&["search", "vsync"])
    );
    assert_eq!(s.json("/api/verify"), env.atom_json(&["verify"]));
    let archives = s.json("/api/archives");
    assert_eq!(archives.as_array().map(Vec::len), Some(1), "{archives}");
    assert!(archives[0]["name"]
        .as_str()
        .unwrap()
        .starts_with("archive/main/"));
}

#[test]
fn keyset_pages_list_every_atom_once_in_log_order() {
    let d = demo();
    let s = Server::start(&d.env, &[], &[]);
    for scope in ["all=1", "trail=main"] {
        let full = s.json(&format!("/api/log?{scope}&n=500"));
        let mut paged = Vec::new();
        let mut after = String::new();
        loop {
            let page = s.json(&format!("/api/log?{scope}&n=2{after}"));
            let items = page.as_array().expect("an array").clone();
            if items.is_empty() {
                break;
            }
            after = format!(
                "&after={}",
                items.last().unwrap()["commit"].as_str().unwrap()
            );
            paged.extend(items);
        }
        assert_eq!(Value::Array(paged), full, "{scope}");
    }
    // The page links carry the filters and the last commit.
    let html = s.html("/?all=1&n=2");
    let last = s.json("/api/log?all=1&n=2")[1]["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        html.contains(&format!("href=\"/?all=1&n=2&after={last}\"")),
        "{html}"
    );
}

#[test]
fn pages_escape_stored_text_and_link_both_ways() {
    let d = demo();
    let s = Server::start(&d.env, &[], &[]);
    let timeline = s.html("/?all=1");
    assert!(
        !timeline.contains("<script>alert"),
        "hostile summary unescaped"
    );
    assert!(timeline.contains("Survey &lt;b&gt;frame pacing&lt;/b&gt;&lt;script&gt;"));
    let atom = s.html(&format!("/atom/{}", d.decision));
    // Built on the research, used by the CFG atom; the attachment downloads.
    assert!(
        atom.contains(&format!("href=\"/atom/{}\"", d.research)),
        "{atom}"
    );
    assert!(atom.contains("/attachments/notes.txt"), "{atom}");
    let commit = d.env.atom_json(&["show", &d.decision])["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, head, body) = s.get(&format!("/atom/{commit}/attachments/notes.txt"));
    assert_eq!((status, body.as_slice()), (200, &b"vsync notes\n"[..]));
    assert!(
        head.contains("Content-Disposition: attachment; filename=\"notes.txt\""),
        "{head}"
    );
    let trace = s.html(&format!("/trace/{}", d.decision));
    assert!(
        trace.contains(&format!("href=\"/trace/{}\"", d.research)),
        "{trace}"
    );
    assert!(
        trace.contains(&format!("href=\"/trace/{}\"", d.fork_task)),
        "{trace}"
    );
    let tokens = s.html("/tokens");
    assert!(tokens.contains("id=\"total-tokens\">5,020<"), "{tokens}");
    for page in ["/graph", "/status", "/status?verify=1&all=1"] {
        s.html(page);
    }
    let (status, _, body) = s.get("/api/show/ATOM-NOPE-20240101-001");
    assert_eq!(status, 404);
    let err: Value = serde_json::from_slice(&body).expect("a JSON error");
    assert!(
        err["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{err}"
    );
    assert_eq!(s.get("/nowhere").0, 404);
    assert_eq!(s.get("/api/log?n=0").0, 400);
    assert_eq!(s.get("/api/log?after=xyz").0, 400);
}

#[test]
fn provenance_page_draws_each_atom_of_a_shared_id() {
    let c = Collision::new();
    let s = Server::start(&c.a, &[], &[]);
    let (laptop, desktop) = (handle(&c.id, &c.laptop), handle(&c.id, &c.desktop));
    assert_eq!(
        s.json(&format!("/api/trace/{}", c.old_link)),
        c.a.atom_json(&["trace", &c.old_link])
    );
    // The old link by plain id: both atoms drawn, both edges dashed.
    let page = s.html(&format!("/trace/{}", c.old_link));
    for h in [&laptop, &desktop] {
        assert!(page.contains(&format!("<title>{h}</title>")), "{page}");
    }
    assert_eq!(
        page.matches("stroke-dasharray=\"5 4\"").count(),
        2,
        "{page}"
    );
    // From one of them, down: the link by handle to it, not to the other.
    let page = s.html(&format!("/trace/{desktop}"));
    assert!(
        page.contains(&format!("<title>{}</title>", c.to_desktop)),
        "{page}"
    );
    assert!(
        !page.contains(&format!("<title>{}</title>", c.to_laptop)),
        "{page}"
    );
    let atom = s.html(&format!("/atom/{desktop}"));
    assert!(
        atom.contains(&format!("href=\"/atom/{}\"", c.to_desktop)),
        "{atom}"
    );
    assert!(atom.contains(" (ambiguous)"), "{atom}");
}

#[test]
fn hostile_requests_get_a_clear_refusal() {
    let env = TestEnv::init();
    env.record(&["NOTE", "note"]);
    let s = Server::start(&env, &[], &[]);
    let host = &s.addr;
    let cases = [
        (format!("POST / HTTP/1.1\r\nHost: {host}\r\n\r\n"), 405),
        (
            "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n".to_owned(),
            421,
        ),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: {host}\r\nX: {}\r\n\r\n",
                "a".repeat(20_000)
            ),
            431,
        ),
        (
            format!("GET /%0d%0aSet-Cookie:x HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            400,
        ),
        (
            format!("GET /../../etc/passwd HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            404,
        ),
        ("GARBAGE\r\n\r\n".to_owned(), 400),
    ];
    for (req, want) in cases {
        let (status, head, body) = s.raw(&req);
        assert_eq!(
            status,
            want,
            "{req:.60}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(!head.contains("Set-Cookie"), "{head}");
    }
    // The server still answers after all that.
    assert_eq!(s.get("/").0, 200);
}

#[test]
fn remote_listening_needs_allow_remote_and_a_token() {
    let env = TestEnv::init();
    let out = env.atom_err(&["serve", "--listen", "0.0.0.0:0"], 2);
    assert!(out.stderr.contains("not a loopback address"), "{out}");
    let out = env.atom_err(&["serve", "--listen", "0.0.0.0:0", "--allow-remote"], 2);
    assert!(out.stderr.contains("ATOM_SERVE_TOKEN"), "{out}");
    // Assembled at run time: a literal would look like a leaked token to the scanner.
    let token = &"0123456789".repeat(2);
    let s = Server::start(&env, &["--allow-remote"], &[("ATOM_SERVE_TOKEN", token)]);
    assert_eq!(s.get("/api/trails").0, 401);
    assert_eq!(
        s.raw(&format!(
            "GET /api/trails HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}x\r\n\r\n"
        ))
        .0,
        401
    );
    assert_eq!(
        s.raw(&format!(
            "GET /api/trails HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        ))
        .0,
        200
    );
    let (status, head, _) = s.get(&format!("/?token={token}"));
    assert_eq!(status, 200);
    assert!(head.contains("HttpOnly; SameSite=Strict"), "{head}");
}

/// Install the browser test's npm packages once (`npm ci`, from the committed lock).
fn ensure_npm_packages(dir: &Path) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("the browser test needs node and npm (npm ci in tests/browser): {e}")
        });
    assert!(
        out.status.success(),
        "npm ci in tests/browser failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_pages_work_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "the browser test needs Chromium at {chromium}: apt-get install chromium (or set CHROMIUM)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/browser");
    ensure_npm_packages(&dir);
    // The README's pictures are rewritten only when asked: a test run
    // leaves the work tree as it was.
    let shots = match std::env::var_os("ATOM_UPDATE_SCREENSHOTS") {
        Some(_) => root.join("docs/screenshots"),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
    };
    std::fs::create_dir_all(&shots).expect("create the screenshots directory");
    let d = demo();
    let s = Server::start(&d.env, &[], &[]);
    let expected = json!({
        "fork": "experiment",
        "forkSummary": "Try triple buffering",
        "hostile": HOSTILE,
        "ancestor": d.decision,
        "totalTokens": "5,020",
    });
    let out = Command::new("node")
        .arg(dir.join("pages.mjs"))
        .arg(s.url())
        .arg(&shots)
        .arg(expected.to_string())
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap_or_else(|e| panic!("the browser test needs node on the PATH: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{text}");
    for page in ["timeline", "graph", "atom", "trace", "tokens", "status"] {
        let png = std::fs::read(shots.join(format!("{page}.png"))).expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{page}.png is not a PNG");
    }
}
