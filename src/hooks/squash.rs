//! The commits a squash merge squashed, carried from `post-merge` to the
//! `post-commit` of the commit that lands them.
//!
//! `git merge --squash` lists the commits it squashed in `SQUASH_MSG` and
//! runs `post-merge` with `1`; `git commit` deletes `SQUASH_MSG` before it
//! runs `post-commit`. So `post-merge` keeps the list in the git directory
//! ([`SQUASHED_FILE`]), with the size of `HEAD`'s reflog at that moment,
//! and `post-commit` takes it only when the reflog grew by exactly one entry
//! since: its own commit. A squash abandoned by `git reset`, `git checkout`
//! or `git stash` (each also writes an entry, and deletes `SQUASH_MSG`) is
//! not taken for the next commit. Without a reflog (`core.logAllRefUpdates`
//! off) nothing is kept: a commit is never linked to commits it did not
//! squash. This costs a commit nothing: no `prepare-commit-msg` hook runs.

use std::io::Read as _;
use std::path::Path;

use super::project::Project;
use super::{io_err, HookError};

/// Where, in the git directory, `post-merge` keeps the commits a squash
/// merge squashed: a `reflog <bytes>` line, then one sha a line.
pub const SQUASHED_FILE: &str = "atom-squashed";

/// `HEAD`'s reflog, in the git directory.
const REFLOG: &str = "logs/HEAD";

/// The most of the reflog read after the kept size: one entry is a line
/// (two shas, an identity, a date and a subject).
const ONE_ENTRY_MAX: u64 = 64 * 1024;

fn is_sha(s: &str) -> bool {
    s.len() >= 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `post-merge 1` (a squash merge): keep the commits `SQUASH_MSG` lists for
/// the commit that lands them. A merge that squashed nothing keeps nothing.
pub fn keep_squashed(project: &Project) -> Result<(), HookError> {
    let git_dir = project.git_path("--git-dir", "")?;
    let file = git_dir.join(SQUASHED_FILE);
    let message = match std::fs::read_to_string(git_dir.join("SQUASH_MSG")) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_err("reading SQUASH_MSG")(e)),
    };
    let commits: Vec<&str> = message
        .lines()
        .filter_map(|l| l.strip_prefix("commit "))
        .filter(|s| is_sha(s))
        .collect();
    let reflog = std::fs::metadata(git_dir.join(REFLOG)).map(|m| m.len());
    let (Ok(size), false) = (reflog, commits.is_empty()) else {
        return match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io_err(format!("removing {}", file.display()))(e))
            }
            _ => Ok(()),
        };
    };
    let mut text = format!("reflog {size}\n");
    for c in commits {
        text.push_str(c);
        text.push('\n');
    }
    // Whole or not at all for post-commit: a temporary file, renamed.
    let tmp = git_dir.join(format!("{SQUASHED_FILE}.tmp"));
    let ctx = || format!("writing {}", file.display());
    std::fs::write(&tmp, text).map_err(io_err(ctx()))?;
    std::fs::rename(&tmp, &file).map_err(io_err(ctx()))
}

/// `post-commit`: the commits a squash merge squashed into the commit just
/// made, newest first; none when the kept list belongs to an abandoned
/// squash. The list is consumed either way.
pub fn take_squashed(git_dir: &Path) -> Result<Vec<String>, HookError> {
    let file = git_dir.join(SQUASHED_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(Vec::new());
    };
    std::fs::remove_file(&file).map_err(io_err(format!("removing {}", file.display())))?;
    let mut size = None;
    let mut commits = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("reflog ") {
            size = n.parse::<u64>().ok();
        } else if is_sha(line) {
            commits.push(line.to_owned());
        }
    }
    match size {
        Some(size) if !one_entry_since(&git_dir.join(REFLOG), size) => Ok(Vec::new()),
        // No size: the list of an earlier version's `prepare-commit-msg`,
        // written as this very commit began.
        _ => Ok(commits),
    }
}

/// Whether the reflog holds exactly one entry after its first `size` bytes.
fn one_entry_since(reflog: &Path, size: u64) -> bool {
    let Ok(file) = std::fs::File::open(reflog) else {
        return false;
    };
    let mut file = std::io::BufReader::new(file);
    if std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(size)).is_err() {
        return false;
    }
    let mut rest = Vec::new();
    if file.take(ONE_ENTRY_MAX).read_to_end(&mut rest).is_err() {
        return false;
    }
    rest.iter().filter(|&&b| b == b'\n').count() == 1 && rest.ends_with(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn git_dir(reflog: &str, kept: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join(REFLOG), reflog).unwrap();
        std::fs::write(dir.path().join(SQUASHED_FILE), kept).unwrap();
        dir
    }

    #[test]
    fn the_commit_right_after_the_squash_takes_its_commits() {
        let before = "x y a 1 +0000\tcommit: base\n";
        let after = format!("{before}y z a 2 +0000\tcommit: squashed\n");
        let dir = git_dir(&after, &format!("reflog {}\n{B}\n{A}\n", before.len()));
        assert_eq!(take_squashed(dir.path()).unwrap(), [B, A]);
        assert!(!dir.path().join(SQUASHED_FILE).exists(), "consumed");
        assert!(take_squashed(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn an_abandoned_squash_gives_the_next_commit_nothing() {
        let before = "x y a 1 +0000\tcommit: base\n";
        let after =
            format!("{before}y y a 2 +0000\treset: moving to HEAD\ny z a 3 +0000\tcommit: other\n");
        let dir = git_dir(&after, &format!("reflog {}\n{A}\n", before.len()));
        assert!(take_squashed(dir.path()).unwrap().is_empty());
        assert!(!dir.path().join(SQUASHED_FILE).exists(), "consumed");
    }

    #[test]
    fn a_list_is_not_taken_when_its_reflog_is_gone_or_shorter() {
        let log = "x y a 1 +0000\tcommit: base\n";
        let dir = git_dir(log, &format!("reflog 0\n{A}\n"));
        std::fs::remove_file(dir.path().join(REFLOG)).unwrap();
        assert!(take_squashed(dir.path()).unwrap().is_empty());
        // A reflog shorter than the kept size (expired meanwhile).
        let dir = git_dir(log, &format!("reflog 9999\n{A}\n"));
        assert!(take_squashed(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_list_an_earlier_prepare_commit_msg_wrote_is_taken() {
        let dir = git_dir("", &format!("{B}\n{A}\n"));
        assert_eq!(take_squashed(dir.path()).unwrap(), [B, A]);
    }
}
