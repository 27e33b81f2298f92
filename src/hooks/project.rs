//! Reading the user's project repository and writing its notes, with the
//! `git` binary: a hook runs where git runs it (with git's `GIT_DIR` and
//! friends in the environment), so the `git` it starts sees the same
//! repository, worktree and config. The reads a commit needs are started at
//! once and run side by side.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Serialize;

use super::{io_err, HookError, NOTES_REF};
use crate::model::AtomId;

/// A project repository, reached by running `git` in a directory (`None`:
/// the current directory and git's environment, as in a hook).
#[derive(Debug, Clone, Default)]
pub struct Project {
    dir: Option<PathBuf>,
    /// The git directory, when it is known and not to be discovered.
    git_dir: Option<PathBuf>,
}

/// One file a commit changed, against its first parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Path in the repository.
    pub path: String,
    /// `add`, `modify` or `delete` (a rename is a delete and an add).
    pub change: &'static str,
    /// Lines added; `None` for a binary file.
    pub added: Option<u64>,
    /// Lines removed; `None` for a binary file.
    pub removed: Option<u64>,
}

/// What a COMMIT atom says about a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit id.
    pub sha: String,
    /// Parent ids, first parent first.
    pub parents: Vec<String>,
    /// The author's name.
    pub author: String,
    /// The subject line.
    pub subject: String,
    /// Values of `Atom-Influenced-By:` trailers, split at commas and spaces.
    pub influenced_by: Vec<String>,
    /// The files changed against the first parent.
    pub files: Vec<FileChange>,
    /// The remote URL (`origin` first) without user or password, else the
    /// work tree's path.
    pub repo: String,
    /// The branch checked out; `None` on a detached HEAD.
    pub branch: Option<String>,
}

/// How many times a note is written before giving up: two commits at once
/// (in two worktrees) race for the notes ref's lock.
const NOTE_ATTEMPTS: u32 = 4;

fn note_backoff(attempt: &mut u32) {
    std::thread::sleep(std::time::Duration::from_millis(20 << *attempt));
    *attempt += 1;
}

/// `git log` format of the commit fields, NUL-separated.
const LOG_FORMAT: &str =
    "--format=%H%x00%P%x00%an%x00%s%x00%(trailers:key=Atom-Influenced-By,valueonly,separator=%x2C)%x00";

impl Project {
    /// The repository around the current directory, as git's environment says.
    pub fn here() -> Self {
        Project::default()
    }

    /// The repository around `dir`.
    pub fn at(dir: &Path) -> Self {
        Project {
            dir: Some(dir.to_owned()),
            git_dir: None,
        }
    }

    /// The repository whose git directory is `git_dir`, with `work_tree`
    /// (`None`: bare).
    pub fn located(git_dir: &Path, work_tree: Option<&Path>) -> Self {
        Project {
            dir: Some(work_tree.unwrap_or(git_dir).to_owned()),
            git_dir: Some(git_dir.to_owned()),
        }
    }

    pub(super) fn git(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        if let Some(d) = &self.dir {
            for var in crate::sync::git_cli::REPO_ENV {
                cmd.env_remove(var);
            }
            cmd.arg("-C").arg(d);
        }
        if let Some(g) = &self.git_dir {
            cmd.arg("--git-dir").arg(g);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Run git and return its stdout; a failure is [`HookError::Git`].
    pub(crate) fn run(&self, context: &str, args: &[&str]) -> Result<Vec<u8>, HookError> {
        let out = self
            .git(args)
            .output()
            .map_err(io_err(format!("running git ({context})")))?;
        checked(context, out)
    }

    /// Describe a commit (`HEAD` in a hook): fields, files and line counts,
    /// branch and repository.
    pub fn commit(&self, rev: &str) -> Result<CommitInfo, HookError> {
        self.start_commit(rev)?.finish()
    }

    /// Start describing a commit: three `git` processes run side by side
    /// while the caller does something else; [`PendingCommit::finish`]
    /// collects them.
    pub fn start_commit(&self, rev: &str) -> Result<PendingCommit, HookError> {
        let spawn = |args: &[&str]| {
            self.git(args)
                .spawn()
                .map_err(io_err("running git to read the commit"))
        };
        let log = spawn(&[
            "log",
            "-1",
            "-z",
            "--no-renames",
            "--raw",
            "--numstat",
            "-m",
            "--first-parent",
            "--no-abbrev",
            LOG_FORMAT,
            rev,
            "--",
        ])?;
        let where_ = spawn(&[
            "rev-parse",
            "--show-toplevel",
            "--absolute-git-dir",
            "--symbolic-full-name",
            "HEAD",
        ])?;
        let remotes = spawn(&["config", "--get-regexp", r"^remote\..*\.url$"])?;
        Ok(PendingCommit {
            log,
            where_,
            remotes,
        })
    }
}

/// The `git` processes [`Project::start_commit`] started.
#[derive(Debug)]
pub struct PendingCommit {
    log: std::process::Child,
    where_: std::process::Child,
    remotes: std::process::Child,
}

impl PendingCommit {
    /// Wait for the `git` processes and parse what they printed.
    pub fn finish(self) -> Result<CommitInfo, HookError> {
        let PendingCommit {
            log,
            where_,
            remotes,
        } = self;
        let wait = |c: std::process::Child| c.wait_with_output().map_err(io_err("waiting for git"));
        let log = checked("reading the commit", wait(log)?)?;
        let where_ = checked("locating the repository", wait(where_)?)?;
        // No remote is exit 1 with no output: fine.
        let remotes = wait(remotes)?.stdout;

        let mut info = parse_log(&log)?;
        let where_ = String::from_utf8_lossy(&where_);
        let mut lines = where_.lines();
        let toplevel = lines.next().unwrap_or_default().to_owned();
        let git_dir = Path::new(lines.next().unwrap_or_default());
        info.branch = lines
            .next()
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_owned)
            .or_else(|| rebasing_branch(git_dir));
        info.repo = remote_url(&String::from_utf8_lossy(&remotes)).unwrap_or(toplevel);
        Ok(info)
    }
}

impl Project {
    /// The atom ids in `commit`'s note (none when it has no note).
    pub fn note_ids(&self, commit: &str) -> Result<Vec<AtomId>, HookError> {
        let out = self
            .git(&["notes", "--ref", NOTES_REF, "show", commit])
            .output()
            .map_err(io_err("running git notes"))?;
        if !out.status.success() {
            // `git notes show` exits 1 when there is no note; any other failure
            // shows again when the note is written.
            return Ok(Vec::new());
        }
        Ok(parse_note(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Make `ids` the note of `commit`, one id per line.
    pub fn set_note(&self, commit: &str, ids: &[AtomId]) -> Result<(), HookError> {
        let text: Vec<String> = ids.iter().map(AtomId::to_string).collect();
        let text = text.join("\n");
        let args = [
            "notes", "--ref", NOTES_REF, "add", "-f", "-m", &text, commit,
        ];
        let mut attempt = 1;
        loop {
            match self.run("writing the note", &args) {
                Err(HookError::Git { .. }) if attempt < NOTE_ATTEMPTS => note_backoff(&mut attempt),
                other => return other.map(|_| ()),
            }
        }
    }

    /// Add `id` to `commit`'s note, keeping the ids it holds: one `git` run
    /// when the commit has no note yet, as after a plain commit.
    pub fn add_to_note(&self, commit: &str, id: &AtomId) -> Result<(), HookError> {
        let id_text = id.to_string();
        let args = ["notes", "--ref", NOTES_REF, "add", "-m", &id_text, commit];
        let mut attempt = 1;
        loop {
            let out = self
                .git(&args)
                .output()
                .map_err(io_err("running git notes"))?;
            if out.status.success() {
                return Ok(());
            }
            let mut ids = self.note_ids(commit)?;
            if !ids.is_empty() {
                // The commit has a note already (an amend that made the same
                // commit again): keep its ids.
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
                return self.set_note(commit, &ids);
            }
            if attempt >= NOTE_ATTEMPTS {
                return checked("writing the note", out).map(|_| ());
            }
            // Another writer held the notes ref (commits in two worktrees).
            note_backoff(&mut attempt);
        }
    }

    /// The name in git's committer identity (who is rewriting history).
    pub fn committer_name(&self) -> Result<String, HookError> {
        let out = self.run("reading the committer", &["var", "GIT_COMMITTER_IDENT"])?;
        let ident = String::from_utf8_lossy(&out);
        Ok(ident
            .split_once(" <")
            .map_or(ident.trim(), |(name, _)| name.trim())
            .to_owned())
    }
}

/// The branch a rebase in progress is rewriting (HEAD is detached meanwhile).
pub(super) fn rebasing_branch(git_dir: &Path) -> Option<String> {
    ["rebase-merge", "rebase-apply"].iter().find_map(|d| {
        let name = std::fs::read_to_string(git_dir.join(d).join("head-name")).ok()?;
        name.trim().strip_prefix("refs/heads/").map(str::to_owned)
    })
}

fn checked(context: &str, out: Output) -> Result<Vec<u8>, HookError> {
    if out.status.success() {
        return Ok(out.stdout);
    }
    let message = String::from_utf8_lossy(&out.stderr);
    let message = message.lines().next().unwrap_or("failed").trim();
    Err(HookError::Git {
        context: context.to_owned(),
        message: message.to_owned(),
    })
}

/// Atom ids in a note's text, in order, each once; other text is ignored.
pub(crate) fn parse_note(text: &str) -> Vec<AtomId> {
    let mut seen = BTreeSet::new();
    text.split_whitespace()
        .filter_map(|w| w.parse::<AtomId>().ok())
        .filter(|id| seen.insert(id.to_string()))
        .collect()
}

/// Parse `git log -1 -z --raw --numstat` with [`LOG_FORMAT`].
fn parse_log(out: &[u8]) -> Result<CommitInfo, HookError> {
    let bad = || HookError::Input("git log printed something unexpected".into());
    let mut fields = Vec::with_capacity(5);
    let mut rest = out;
    for _ in 0..5 {
        let nul = rest.iter().position(|&b| b == 0).ok_or_else(bad)?;
        fields.push(String::from_utf8_lossy(&rest[..nul]).into_owned());
        rest = &rest[nul + 1..];
    }
    // The commit's terminator (NUL with -z) and the newline before the diff.
    while let Some((&b, tail)) = rest.split_first() {
        if b != 0 && b != b'\n' {
            break;
        }
        rest = tail;
    }
    let mut files: Vec<FileChange> = Vec::new();
    let mut counts: Vec<(String, Option<u64>, Option<u64>)> = Vec::new();
    let mut tokens = rest.split(|&b| b == 0).filter(|t| !t.is_empty());
    while let Some(token) = tokens.next() {
        let token = String::from_utf8_lossy(token);
        if let Some(raw) = token.strip_prefix(':') {
            // `:old_mode new_mode old_sha new_sha STATUS`, then the path.
            let status = raw.split(' ').nth(4).ok_or_else(bad)?;
            let path = tokens.next().ok_or_else(bad)?;
            let change = match status.as_bytes().first() {
                Some(b'A') => "add",
                Some(b'D') => "delete",
                _ => "modify",
            };
            files.push(FileChange {
                path: String::from_utf8_lossy(path).into_owned(),
                change,
                added: None,
                removed: None,
            });
        } else {
            // `added<TAB>removed<TAB>path`; `-` for a binary file.
            let mut parts = token.splitn(3, '\t');
            let (a, r, p) = (parts.next(), parts.next(), parts.next().ok_or_else(bad)?);
            counts.push((
                p.to_owned(),
                a.and_then(|n| n.parse().ok()),
                r.and_then(|n| n.parse().ok()),
            ));
        }
    }
    for (path, added, removed) in counts {
        if let Some(f) = files.iter_mut().find(|f| f.path == path) {
            f.added = added;
            f.removed = removed;
        }
    }
    let split = |s: &str| -> Vec<String> {
        s.split([',', ' ', '\n'])
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Ok(CommitInfo {
        sha: fields[0].clone(),
        parents: split(&fields[1]),
        author: fields[2].clone(),
        subject: fields[3].clone(),
        influenced_by: split(&fields[4]),
        files,
        repo: String::new(),
        branch: None,
    })
}

/// `origin`'s URL, else the first remote's, without user or password.
fn remote_url(config: &str) -> Option<String> {
    let urls: Vec<(&str, &str)> = config.lines().filter_map(|l| l.split_once(' ')).collect();
    let (_, url) = urls
        .iter()
        .find(|(k, _)| *k == "remote.origin.url")
        .or_else(|| urls.first())?;
    Some(strip_userinfo(url))
}

/// `https://user:token@host/x` -> `https://host/x`: secrets stay out of the trail.
fn strip_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_log_with_raw_and_numstat() {
        let out = b"ffb5\x00aaa bbb\x00T\x00second subject\x00ATOM-X-20240101-001,ATOM-Y-20240101-002\x00\x00\n\
:100644 100644 422c de98 M\x00a.txt\x00:100644 000000 e899 0000 D\x00b.bin\x00\
:000000 100644 0000 3e75 A\x00sp ace.txt\x001\t0\ta.txt\x00-\t-\tb.bin\x001\t0\tsp ace.txt\x00";
        let info = parse_log(out).unwrap();
        assert_eq!(info.sha, "ffb5");
        assert_eq!(info.parents, ["aaa", "bbb"]);
        assert_eq!(info.subject, "second subject");
        assert_eq!(
            info.influenced_by,
            ["ATOM-X-20240101-001", "ATOM-Y-20240101-002"]
        );
        let f = |p: &str, c, a, r| FileChange {
            path: p.into(),
            change: c,
            added: a,
            removed: r,
        };
        assert_eq!(
            info.files,
            [
                f("a.txt", "modify", Some(1), Some(0)),
                f("b.bin", "delete", None, None),
                f("sp ace.txt", "add", Some(1), Some(0)),
            ]
        );
    }

    #[test]
    fn remote_urls_lose_their_credentials() {
        assert_eq!(
            strip_userinfo("https://bob:s3cret@example.com/r.git"),
            "https://example.com/r.git"
        );
        assert_eq!(
            strip_userinfo("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            remote_url("remote.fork.url /x\nremote.origin.url ssh://git@h/r\n").unwrap(),
            "ssh://h/r"
        );
        assert_eq!(remote_url(""), None);
    }

    #[test]
    fn notes_parse_to_unique_ids() {
        let ids = parse_note("ATOM-COMMIT-20240101-001\n\nnot an id\nATOM-COMMIT-20240101-001 ATOM-COMMIT-20240101-002\n");
        let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        assert_eq!(
            ids,
            ["ATOM-COMMIT-20240101-001", "ATOM-COMMIT-20240101-002"]
        );
    }
}
