//! A store this user may not write (a read-only mount, another user's
//! store): every read command answers from the index as it is, and a write,
//! or an index that is missing or out of date, is one clear error that
//! changes nothing.
//!
//! Root ignores file permissions, so as root (CI) the commands run as the
//! unprivileged user 65534 through `setpriv` on a store readable by everyone;
//! otherwise the store is made read-only with `chmod -R a-w`.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Output, TestEnv};

/// The store of `env`, out of this user's reach until dropped.
struct ReadOnlyStore<'a> {
    env: &'a TestEnv,
    /// The `atom` binary the unprivileged user can run; `None` when the
    /// tests do not run as root (the store itself is made read-only).
    as_nobody: Option<PathBuf>,
}

impl<'a> ReadOnlyStore<'a> {
    fn new(env: &'a TestEnv) -> Self {
        let root = std::fs::metadata(env.path()).expect("temp dir").uid() == 0;
        if !root {
            chmod(env, "a-w", &env.store());
            return ReadOnlyStore {
                env,
                as_nobody: None,
            };
        }
        // Everyone may read the store and reach it; nobody but root may write.
        chmod(env, "a+rX,go-w", &env.store());
        std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o755))
            .expect("open the temp dir");
        for dir in env.path().ancestors().skip(1) {
            assert!(
                open_to_others(dir, 0o001),
                "{} is not searchable by other users: set TMPDIR to a directory they can reach",
                dir.display()
            );
        }
        // The binary must be runnable by that user too: copy it when its
        // directory is out of reach (a build under /root).
        let built = PathBuf::from(env!("CARGO_BIN_EXE_atom"));
        let runnable = open_to_others(&built, 0o005)
            && built
                .ancestors()
                .skip(1)
                .all(|dir| open_to_others(dir, 0o001));
        let binary = if runnable {
            built
        } else {
            let copy = env.path().join("atom-for-nobody");
            std::fs::copy(&built, &copy).expect("copy the atom binary");
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
                .expect("make the copy runnable");
            copy
        };
        ReadOnlyStore {
            env,
            as_nobody: Some(binary),
        }
    }

    /// Run `atom ARGS...` as a user who may read the store but not write it.
    fn atom(&self, args: &[&str]) -> Output {
        let mut cmd = match &self.as_nobody {
            Some(binary) => {
                let mut cmd = self.env.command("setpriv");
                cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                    .arg(binary);
                cmd
            }
            None => self.env.command(env!("CARGO_BIN_EXE_atom")),
        };
        let out = Output::from(cmd.args(args).output().expect("run atom"));
        assert!(
            !out.stderr.contains("panicked"),
            "atom {args:?} panicked:\n{out}"
        );
        out
    }

    /// Run a read command that must succeed without a word on stderr.
    fn atom_ok(&self, args: &[&str]) -> String {
        let out = self.atom(args);
        assert!(
            out.code == 0 && out.stderr.is_empty(),
            "atom {args:?} on a read-only store:\n{out}"
        );
        out.stdout
    }

    /// Run a command that must fail with exit 1, one `error:` line and one
    /// `hint:` line; returns stderr.
    fn atom_err(&self, args: &[&str]) -> String {
        let out = self.atom(args);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(
            out.code == 1
                && lines.len() == 2
                && lines[0].starts_with("error: ")
                && lines[1].starts_with("hint: "),
            "atom {args:?} on a read-only store: expected exit 1, an error and a hint:\n{out}"
        );
        assert!(
            !out.stderr.contains("delete") && !out.stderr.contains("readonly database"),
            "atom {args:?}: a permission problem is not a damaged index:\n{out}"
        );
        out.stderr
    }
}

impl Drop for ReadOnlyStore<'_> {
    fn drop(&mut self) {
        // Writable again, so that the temporary directory can be removed.
        chmod(self.env, "u+w", &self.env.store());
        let _ = std::fs::set_permissions(self.env.path(), std::fs::Permissions::from_mode(0o700));
    }
}

fn chmod(env: &TestEnv, mode: &str, path: &Path) {
    let status = env
        .command("chmod")
        .args(["-R", mode])
        .arg(path)
        .status()
        .expect("run chmod");
    assert!(status.success(), "chmod -R {mode} {}", path.display());
}

/// Whether users other than the owner have the permission bits `bits` on `path`.
fn open_to_others(path: &Path, bits: u32) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.mode() & bits == bits)
}

/// Fold the index's write-ahead log into the file and remove it and the
/// `-shm` file, as SQLite does when the last connection closes cleanly.
fn fold_wal(env: &TestEnv) {
    let index = env.store().join("index.sqlite");
    let out = env
        .command("sqlite3")
        .arg(&index)
        .arg("PRAGMA wal_checkpoint(TRUNCATE);")
        .output()
        .expect("run sqlite3");
    assert!(out.status.success(), "sqlite3: {out:?}");
    let wal = env.store().join("index.sqlite-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() == 0) {
        std::fs::remove_file(&wal).expect("remove the empty WAL");
    }
    let _ = std::fs::remove_file(env.store().join("index.sqlite-shm"));
    assert!(!wal.exists(), "the WAL is folded in");
}

/// A store with two trails, an archived tip, links, metadata paths and a
/// search word.
fn populated() -> (TestEnv, String, String) {
    let env = TestEnv::init();
    let first = env.record(&[
        "RESEARCH",
        "research",
        "--agent",
        "perplexity",
        "--summary",
        "survey of kernel knobs",
    ]);
    let first_id = first["record"]["atom_id"].as_str().unwrap().to_owned();
    let attachment = env.write_file("gaming.env", b"vm.max_map_count=2147483642\n");
    let second = env.record(&[
        "CFG",
        "modify_file",
        "--agent",
        "qwen",
        "--meta",
        r#"{"path":"gaming.env"}"#,
        "--influenced-by",
        &first_id,
        "--tokens",
        "1200",
        "--attach",
        attachment.to_str().unwrap(),
    ]);
    let second_id = second["record"]["atom_id"].as_str().unwrap().to_owned();
    env.atom_ok(&["fork", "experiment"]);
    env.atom_ok(&["rollback", &first_id, "--yes"]);
    env.atom_ok(&["fork", "later", "--from", &second_id]);
    (env, first_id, second_id)
}

/// The read commands and what each prints on the writable store.
fn read_commands(first: &str, second: &str) -> Vec<Vec<String>> {
    [
        vec!["log"],
        vec!["--json", "log", "--all"],
        vec!["log", "--all", "--path", "gaming.env"],
        vec!["--json", "show", second],
        vec!["search", "kernel"],
        vec!["query", "SELECT atom_id, agent FROM atoms ORDER BY atom_id"],
        vec!["trails"],
        vec!["stats", "--by", "type"],
        vec!["trace", first, "--down"],
        vec!["--json", "verify", "--all"],
        vec!["export"],
        vec!["cat", second, "gaming.env"],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(String::from).collect())
    .collect()
}

fn args(command: &[String]) -> Vec<&str> {
    command.iter().map(String::as_str).collect()
}

#[test]
fn every_read_command_answers_on_a_store_this_user_cannot_write() {
    let (env, first, second) = populated();
    let commands = read_commands(&first, &second);
    let before = env.object_counts();

    // Straight after the writes: every write command leaves the index up to
    // date, so a reader who cannot write needs nothing from them.
    let locked = ReadOnlyStore::new(&env);
    let answers: Vec<String> = commands.iter().map(|c| locked.atom_ok(&args(c))).collect();
    drop(locked);
    let expected: Vec<String> = commands.iter().map(|c| env.atom_ok(&args(c))).collect();
    for ((command, got), want) in commands.iter().zip(&answers).zip(&expected) {
        assert_eq!(got, want, "atom {command:?}");
    }
    let verified: Value = serde_json::from_str(&expected[9]).expect("verify --json");
    assert_eq!(verified["ok"], true, "{verified}");

    // Without the index's WAL and shared-memory files (an index last closed
    // by another program, such as the sqlite3 shell).
    fold_wal(&env);
    let locked = ReadOnlyStore::new(&env);
    for (command, want) in commands.iter().zip(&expected) {
        assert_eq!(&locked.atom_ok(&args(command)), want, "atom {command:?}");
    }
    drop(locked);
    assert_eq!(env.object_counts(), before, "reading wrote nothing");
}

#[test]
fn a_write_or_an_out_of_date_index_on_a_read_only_store_is_one_clear_error() {
    let (env, first, _) = populated();
    let tip = env.tip();

    // Writes name the file they may not write, and write nothing.
    {
        let locked = ReadOnlyStore::new(&env);
        let err = locked.atom_err(&["record", "TASK", "plan", "--summary", "x"]);
        assert!(
            err.contains("read-only") && err.contains("atom.lock"),
            "{err}"
        );
        let err = locked.atom_err(&["rollback", &first, "--yes"]);
        assert!(err.contains("read-only"), "{err}");
        let err = locked.atom_err(&["reindex"]);
        assert!(err.contains("index.sqlite"), "{err}");
    }
    assert_eq!(env.tip(), tip, "nothing was recorded");

    // A ref moved behind atom's back: the index is out of date, and this
    // user cannot bring it up to date.
    let head = env.git(&["rev-parse", "refs/heads/main"]);
    env.git(&["update-ref", "refs/heads/elsewhere", head.trim()]);
    {
        let locked = ReadOnlyStore::new(&env);
        let err = locked.atom_err(&["log"]);
        assert!(
            err.contains("out of date") && err.contains("refs/heads/elsewhere"),
            "{err}"
        );
        assert!(err.contains("atom reindex"), "{err}");
    }

    // No index at all.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(env.store().join(format!("index.sqlite{suffix}")));
    }
    {
        let locked = ReadOnlyStore::new(&env);
        let err = locked.atom_err(&["trails"]);
        assert!(err.contains("does not exist"), "{err}");
        assert!(!env.store().join("index.sqlite").exists());
    }

    // Whoever may write catches up as usual.
    let trails = env.atom_json(&["trails"]);
    let names: Vec<&str> = trails["trails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["elsewhere", "experiment", "later", "main"]);
    assert_eq!(env.tip(), tip);
}
