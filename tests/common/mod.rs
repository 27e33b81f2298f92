//! `TestEnv`: one throw-away store per test, the real `atom` binary run with a
//! cleared environment, and cross-checks against stock git, ssh-keygen and
//! Python (independent implementations of what atom claims to write).

use std::ffi::OsString;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// What a finished process printed and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    /// The exit code; -1 when killed by a signal.
    pub code: i32,
}

impl From<std::process::Output> for Output {
    fn from(o: std::process::Output) -> Self {
        Output {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A record's canonical JSON and digest as computed by Python.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// RFC 8785 text of the whole record (what `atom.json` must hold).
    pub text: String,
    /// `sha256:` + hex SHA-256 of the canonical record without `digest`.
    pub digest: String,
}

/// RFC 8785 for the JSON atom writes (no floats): keys sorted by UTF-16 code
/// units, no whitespace, UTF-8 kept as is, json.dumps escaping. For keys in
/// the BMP this is exactly `json.dumps(v, sort_keys=True, separators=(",", ":"),
/// ensure_ascii=False)`.
const PY_CANONICAL: &str = r#"
import hashlib, json, sys

def canon(v):
    if isinstance(v, dict):
        return {k: canon(v[k]) for k in sorted(v, key=lambda k: k.encode("utf-16-be"))}
    if isinstance(v, list):
        return [canon(x) for x in v]
    return v

def dumps(v):
    return json.dumps(canon(v), separators=(",", ":"), ensure_ascii=False)

out = []
for record in json.load(sys.stdin):
    without = {k: x for k, x in record.items() if k != "digest"}
    digest = "sha256:" + hashlib.sha256(dumps(without).encode("utf-8")).hexdigest()
    out.append({"text": dumps(record), "digest": digest})
json.dump(out, sys.stdout)
"#;

/// One store in a temporary directory, and how to run commands against it.
pub struct TestEnv {
    tmp: TempDir,
    env: Vec<(OsString, OsString)>,
}

impl TestEnv {
    /// An empty directory with a `home/`; no store yet.
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("atom-test-")
            .tempdir()
            .expect("create a temporary directory");
        std::fs::create_dir(tmp.path().join("home")).expect("create home");
        TestEnv {
            tmp,
            env: Vec::new(),
        }
    }

    /// A fresh environment with `atom init` already run.
    pub fn init() -> Self {
        let env = Self::new();
        env.atom_ok(&["init"]);
        env
    }

    /// Set an extra environment variable for every command (e.g. `ATOM_AGENT`).
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The temporary directory.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// `$HOME` of the commands.
    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// `$ATOM_HOME` of the commands.
    pub fn store(&self) -> PathBuf {
        self.path().join("store")
    }

    /// The store's bare repository.
    pub fn git_dir(&self) -> PathBuf {
        self.store().join("trail.git")
    }

    /// Write `bytes` to `name` inside the temporary directory (creating
    /// directories) and return its path.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(&path, bytes).expect("write a test file");
        path
    }

    /// A command with the test environment only: no user config leaks in.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("ATOM_HOME", self.store())
            .env("LANG", "C")
            .current_dir(self.path())
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `atom ARGS...` as a command, not yet run.
    pub fn atom_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_atom"));
        cmd.args(args);
        cmd
    }

    /// Run `atom ARGS...`.
    pub fn atom(&self, args: &[&str]) -> Output {
        let out = self.atom_command(args).output().expect("run atom");
        let out = Output::from(out);
        assert!(
            !out.stderr.contains("panicked"),
            "atom {args:?} panicked:\n{out}"
        );
        out
    }

    /// Run `atom ARGS...` with `input` on stdin.
    pub fn atom_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .atom_command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run atom");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("write stdin");
        Output::from(child.wait_with_output().expect("wait for atom"))
    }

    /// Run `atom ARGS...`, require exit 0, return stdout.
    pub fn atom_ok(&self, args: &[&str]) -> String {
        let out = self.atom(args);
        assert_eq!(out.code, 0, "atom {args:?} failed:\n{out}");
        out.stdout
    }

    /// Run `atom --json ARGS...`, require exit 0, parse stdout.
    pub fn atom_json(&self, args: &[&str]) -> Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let stdout = self.atom_ok(&with_json);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("atom {args:?} printed invalid JSON ({e}):\n{stdout}"))
    }

    /// `atom --json record ARGS...`: the `{commit, record, signature}` object.
    pub fn record(&self, args: &[&str]) -> Value {
        let mut full = vec!["record"];
        full.extend_from_slice(args);
        self.atom_json(&full)
    }

    /// Run `atom ARGS...` and require exit `code` with the error format of
    /// SPEC §5: exactly one `error: ` line, then one `hint: ` line.
    pub fn atom_err(&self, args: &[&str], code: i32) -> Output {
        let out = self.atom(args);
        assert_eq!(
            out.code, code,
            "atom {args:?}: unexpected exit code:\n{out}"
        );
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(
            lines.len() == 2 && lines[0].starts_with("error: ") && lines[1].starts_with("hint: "),
            "atom {args:?}: expected an `error:` line and a `hint:` line:\n{out}"
        );
        out
    }

    /// Run `git --git-dir <store>/trail.git ARGS...`.
    pub fn git_output(&self, args: &[&str]) -> Output {
        let out = self
            .command("git")
            .arg("--git-dir")
            .arg(self.git_dir())
            .args(args)
            .output()
            .expect("run git");
        out.into()
    }

    /// Run git, require success, return stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        assert_eq!(out.code, 0, "git {args:?} failed:\n{out}");
        out.stdout
    }

    /// `git verify-commit` against the store's allowed signers.
    pub fn git_verify_commit(&self, sha: &str) -> Output {
        let allowed = format!(
            "gpg.ssh.allowedSignersFile={}",
            self.store().join("keys/allowed_signers").display()
        );
        self.git_output(&["-c", &allowed, "verify-commit", sha])
    }

    /// Run git on the repository `repo` as an attacker would: plain git,
    /// mallory's identity, `input` on stdin. Requires success; returns
    /// stdout, trimmed.
    pub fn attacker_git(&self, repo: &Path, args: &[&str], input: &[u8]) -> String {
        self.attacker_git_as(repo, args, input, &[])
    }

    /// [`Self::attacker_git`] with `people` in the environment instead of
    /// mallory (see [`Self::people_of`]).
    pub fn attacker_git_as(
        &self,
        repo: &Path,
        args: &[&str],
        input: &[u8],
        people: &[(String, String)],
    ) -> String {
        let mut child = self
            .command("git")
            .arg("--git-dir")
            .arg(repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "mallory")
            .env("GIT_AUTHOR_EMAIL", "mallory@example.org")
            .env("GIT_COMMITTER_NAME", "mallory")
            .env("GIT_COMMITTER_EMAIL", "mallory@example.org")
            .envs(people.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run git");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("write stdin");
        let out: Output = child.wait_with_output().expect("wait for git").into();
        assert_eq!(out.code, 0, "git {args:?} failed:\n{out}");
        out.stdout.trim().to_owned()
    }

    /// The author and committer of `commit` in the store, names, emails and
    /// dates, as git's environment variables (`GIT_AUTHOR_NAME`, ...,
    /// `GIT_COMMITTER_DATE`): what a forger sets to make a commit claim the
    /// same people and times as the one it replaces.
    pub fn people_of(&self, commit: &str) -> Vec<(String, String)> {
        let out = self.git(&[
            "log",
            "-1",
            "--date=raw",
            "--format=%an%n%ae%n%ad%n%cn%n%ce%n%cd",
            commit,
        ]);
        let keys = [
            "GIT_AUTHOR_NAME",
            "GIT_AUTHOR_EMAIL",
            "GIT_AUTHOR_DATE",
            "GIT_COMMITTER_NAME",
            "GIT_COMMITTER_EMAIL",
            "GIT_COMMITTER_DATE",
        ];
        keys.iter()
            .zip(out.lines())
            .map(|(k, v)| (k.to_string(), v.to_owned()))
            .collect()
    }

    /// A new bare repository `name` in the temporary directory, to share
    /// trails through.
    pub fn bare_remote(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        let out = self
            .command("git")
            .args(["init", "-q", "--bare"])
            .arg(&path)
            .output()
            .expect("run git init --bare");
        assert!(out.status.success(), "git init --bare {name} failed");
        path
    }

    /// The atom ids `atom log ARGS...` lists, newest first.
    pub fn log_ids(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["log"];
        full.extend_from_slice(args);
        self.atom_json(&full)
            .as_array()
            .expect("log --json is an array")
            .iter()
            .map(|a| a["record"]["atom_id"].as_str().expect("atom_id").to_owned())
            .collect()
    }

    /// The commit `refs/heads/main` points to, `None` before the first atom.
    pub fn tip(&self) -> Option<String> {
        let out = self.git_output(&["rev-parse", "--verify", "-q", "refs/heads/main"]);
        (out.code == 0).then(|| out.stdout.trim().to_owned())
    }

    /// `git count-objects -v`: changes whenever any object is written.
    pub fn object_counts(&self) -> String {
        self.git(&["count-objects", "-v"])
    }

    /// The contents of blobs named like `<commit>:atom.json`, read in one
    /// `git cat-file --batch`.
    pub fn cat_blobs(&self, specs: &[String]) -> Vec<Vec<u8>> {
        let mut child = self
            .command("git")
            .arg("--git-dir")
            .arg(self.git_dir())
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run git cat-file");
        let input: String = specs.iter().map(|s| format!("{s}\n")).collect();
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("wait for git");
        writer.join().expect("writer thread").expect("write stdin");
        assert!(out.status.success(), "git cat-file --batch failed");
        let mut rest = &out.stdout[..];
        let mut blobs = Vec::with_capacity(specs.len());
        for spec in specs {
            let nl = rest.iter().position(|&b| b == b'\n').expect("header line");
            let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
            let fields: Vec<&str> = header.split(' ').collect();
            assert!(
                fields.len() == 3 && fields[1] == "blob",
                "{spec}: unexpected cat-file header {header:?}"
            );
            let size: usize = fields[2].parse().expect("blob size");
            blobs.push(rest[nl + 1..nl + 1 + size].to_vec());
            rest = &rest[nl + 1 + size + 1..];
        }
        blobs
    }

    /// The canonical form and digest of each record, computed by Python.
    pub fn python_canonical(&self, records: &[&Value]) -> Vec<Canonical> {
        let input = serde_json::to_vec(records).expect("serialize records");
        let out = self.python(PY_CANONICAL, &input);
        let parsed: Vec<Value> = serde_json::from_slice(&out).expect("python printed JSON");
        parsed
            .iter()
            .map(|v| Canonical {
                text: v["text"].as_str().expect("text").to_owned(),
                digest: v["digest"].as_str().expect("digest").to_owned(),
            })
            .collect()
    }

    /// Lowercase hex SHA-256 of `bytes`, computed by Python's hashlib.
    pub fn sha256_hex(&self, bytes: &[u8]) -> String {
        let script = "import hashlib, sys\nsys.stdout.write(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())";
        String::from_utf8(self.python(script, bytes)).expect("hex digest")
    }

    fn python(&self, script: &str, input: &[u8]) -> Vec<u8> {
        let mut child = self
            .command("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed for the cross-checks");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("wait for python3");
        writer.join().expect("writer thread").expect("write stdin");
        assert!(
            out.status.success(),
            "python3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The current trail's records, oldest first, after [`TestEnv::cross_check`].
    pub fn records(&self) -> Vec<Value> {
        let mut log: Vec<Value> = self
            .cross_check()
            .into_iter()
            .map(|a| a["record"].clone())
            .collect();
        log.reverse();
        log
    }

    /// Check the store with independent tools and return `atom log --json`
    /// (the current trail, newest first; it must not be empty):
    /// - `git fsck --strict` is silent and succeeds (dangling objects, such as
    ///   the blobs of an attachment whose record was refused, are not reported);
    /// - `git verify-commit` accepts the tip of every ref and an even sample of
    ///   [`VERIFY_SAMPLE`] commits of the whole history (every commit is signed
    ///   by the same code, and `git verify-commit` costs ~25 ms a commit);
    /// - `git log`'s `Atom-Id` trailers list the ids `atom log` lists, in order;
    /// - each record's digest and its `atom.json` bytes match Python's RFC 8785.
    pub fn cross_check(&self) -> Vec<Value> {
        let fsck = self.git_output(&["fsck", "--strict", "--no-dangling"]);
        assert!(
            fsck.code == 0 && fsck.stdout.trim().is_empty() && fsck.stderr.trim().is_empty(),
            "git fsck --strict complained:\n{fsck}"
        );

        let history = self.git(&["rev-list", "--all"]);
        let history: Vec<&str> = history.lines().collect();
        assert!(!history.is_empty(), "cross_check needs at least one atom");
        let tips = self.git(&["for-each-ref", "--format=%(objectname) %(objecttype)"]);
        let mut commits: Vec<&str> = tips
            .lines()
            .filter_map(|l| l.strip_suffix(" commit"))
            .collect();
        let step = history.len().div_ceil(VERIFY_SAMPLE);
        commits.extend(history.iter().step_by(step));
        commits.push(history[history.len() - 1]);
        commits.sort_unstable();
        commits.dedup();
        let allowed = format!(
            "gpg.ssh.allowedSignersFile={}",
            self.store().join("keys/allowed_signers").display()
        );
        let mut verify = vec!["-c", &allowed, "verify-commit"];
        verify.extend(&commits);
        let verified = self.git_output(&verify);
        assert_eq!(verified.code, 0, "git verify-commit failed:\n{verified}");
        let good = verified
            .stderr
            .lines()
            .filter(|l| l.starts_with("Good \"git\" signature"))
            .count();
        assert_eq!(
            good,
            commits.len(),
            "not every commit verified:\n{verified}"
        );

        let log = self.atom_json(&["log"]);
        let log = log.as_array().expect("log --json is an array").clone();
        let atom_ids: Vec<&str> = log
            .iter()
            .map(|a| a["record"]["atom_id"].as_str().expect("atom_id"))
            .collect();
        let trailers = self.git(&["log", "--format=%(trailers:key=Atom-Id,valueonly)"]);
        let trailer_ids: Vec<&str> = trailers.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            trailer_ids, atom_ids,
            "git log trailers disagree with atom log"
        );

        let records: Vec<&Value> = log.iter().map(|a| &a["record"]).collect();
        let expected = self.python_canonical(&records);
        let specs: Vec<String> = log
            .iter()
            .map(|a| format!("{}:atom.json", a["commit"].as_str().expect("commit")))
            .collect();
        let blobs = self.cat_blobs(&specs);
        for ((record, want), blob) in records.iter().zip(&expected).zip(&blobs) {
            assert_eq!(
                record["digest"].as_str(),
                Some(want.digest.as_str()),
                "digest of {} differs from Python's",
                record["atom_id"]
            );
            assert_eq!(
                String::from_utf8_lossy(blob),
                want.text,
                "atom.json of {} is not the canonical record",
                record["atom_id"]
            );
        }
        log
    }
}

/// How many commits of a store's history [`TestEnv::cross_check`] hands to
/// `git verify-commit`, besides the tip of every ref.
pub const VERIFY_SAMPLE: usize = 64;

/// Assert that `log` (newest first) is one linear chain: each record names
/// the next one as `previous_atom`/`previous_digest`, and the oldest none.
pub fn assert_linear_chain(log: &[Value]) {
    for pair in log.windows(2) {
        let (child, parent) = (&pair[0]["record"], &pair[1]["record"]);
        assert_eq!(
            child["previous_atom"], parent["atom_id"],
            "{} does not follow {}",
            child["atom_id"], parent["atom_id"]
        );
        assert_eq!(child["previous_digest"], parent["digest"]);
    }
    if let Some(first) = log.last() {
        assert_eq!(first["record"]["previous_atom"], Value::Null);
        assert_eq!(first["record"]["previous_digest"], Value::Null);
    }
}

/// The record in `records` imported from `tool`'s `table` row `id`.
pub fn by_source<'a>(records: &'a [Value], tool: &str, table: &str, id: &str) -> &'a Value {
    records
        .iter()
        .find(|r| {
            r["metadata"]["source"] == serde_json::json!({"tool": tool, "table": table, "id": id})
        })
        .unwrap_or_else(|| panic!("no atom from {tool} {table} {id}"))
}
