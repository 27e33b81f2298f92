//! The commits a squash merge squashed, carried from `post-merge` to the
//! `post-commit` of the commit that lands them.
//!
//! `git merge --squash` lists the commits it squashed in `SQUASH_MSG` and
//! runs `post-merge` with `1`; `git commit` deletes `SQUASH_MSG` before it
//! runs `post-commit`. So `post-merge` keeps the list in the git directory
//! ([`SQUASHED_FILE`]) with the size of `HEAD`'s reflog at that moment, and
//! a hard link to `SQUASH_MSG` ([`SQUASH_MSG_LINK`]). `post-commit` takes
//! the list only when the reflog grew by exactly one entry since (its own
//! commit) and `SQUASH_MSG` was deleted after that entry was written (by
//! this very commit: the link's inode changes when the other name goes). A
//! squash abandoned by `git reset`, `git checkout` (`-f` too, which writes
//! no reflog entry) or `git stash` is not taken for the next commit.
//! Without a reflog (`core.logAllRefUpdates` off, reftable repositories)
//! nothing is kept: a commit is never linked to commits it did not squash.
//! This costs a commit nothing: no `prepare-commit-msg` hook runs.

use std::io::Read as _;
use std::path::Path;

use super::head::is_object_id;
use super::project::Project;
use super::{io_err, HookError};

/// Where, in the git directory, `post-merge` keeps the commits a squash
/// merge squashed: a `reflog <bytes>` line, then one sha a line.
pub const SQUASHED_FILE: &str = "atom-squash";

/// A hard link to `SQUASH_MSG`, made by `post-merge` beside the list.
pub const SQUASH_MSG_LINK: &str = "atom-squash-msg";

/// Where an earlier version's `prepare-commit-msg` left the list (one sha a
/// line), as a commit began; taken as it is while such a hook is installed.
const LEGACY_FILE: &str = "atom-squashed";

/// `HEAD`'s reflog, in the git directory.
const REFLOG: &str = "logs/HEAD";

/// The most of the reflog read after the kept size: one entry is a line
/// (two shas, an identity, a date and a subject).
const ONE_ENTRY_MAX: u64 = 64 * 1024;

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
        .filter(|s| is_object_id(s))
        .collect();
    let link = git_dir.join(SQUASH_MSG_LINK);
    remove(&link)?;
    let reflog = std::fs::metadata(git_dir.join(REFLOG)).map(|m| m.len());
    let (Ok(size), false) = (reflog, commits.is_empty()) else {
        return remove(&file);
    };
    std::fs::hard_link(git_dir.join("SQUASH_MSG"), &link)
        .map_err(io_err(format!("linking {}", link.display())))?;
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

/// Remove `path` if it is there.
fn remove(path: &Path) -> Result<(), HookError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io_err(format!("removing {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

/// The text of `path`, which is removed; `None` when it is not there.
fn take(path: &Path) -> Result<Option<String>, HookError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    remove(path)?;
    Ok(Some(text))
}

/// `post-commit`: the commits a squash merge squashed into the commit just
/// made, newest first; none when the kept list belongs to an abandoned
/// squash. The list is consumed either way.
pub fn take_squashed(git_dir: &Path) -> Result<Vec<String>, HookError> {
    use std::os::unix::fs::MetadataExt as _;
    let legacy = take(&git_dir.join(LEGACY_FILE))?;
    let link = git_dir.join(SQUASH_MSG_LINK);
    let squash_msg = std::fs::metadata(&link).ok();
    remove(&link)?;
    let Some(text) = take(&git_dir.join(SQUASHED_FILE))? else {
        return Ok(legacy.as_deref().map(shas).unwrap_or_default());
    };
    let size = text
        .lines()
        .find_map(|l| l.strip_prefix("reflog "))
        .and_then(|n| n.parse::<u64>().ok());
    let reflog = git_dir.join(REFLOG);
    let (Some(size), Some(squash_msg), Ok(log)) = (size, squash_msg, std::fs::metadata(&reflog))
    else {
        return Ok(Vec::new());
    };
    // SQUASH_MSG gone (only the link is left), and gone no earlier than
    // this commit's reflog entry was written.
    let consumed = squash_msg.nlink() == 1
        && (squash_msg.ctime(), squash_msg.ctime_nsec()) >= (log.mtime(), log.mtime_nsec());
    if !consumed || !one_entry_since(&reflog, size) {
        return Ok(Vec::new());
    }
    Ok(shas(&text))
}

/// The full object ids among `text`'s lines.
fn shas(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| is_object_id(l))
        .map(str::to_owned)
        .collect()
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
    const BASE: &str = "x y a 1 +0000\tcommit: base\n";

    /// A git directory right after `post-merge 1` kept `B` and `A`.
    fn squashed() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("logs")).unwrap();
        std::fs::write(d.join(REFLOG), BASE).unwrap();
        std::fs::write(d.join("SQUASH_MSG"), format!("commit {B}\ncommit {A}\n")).unwrap();
        std::fs::write(
            d.join(SQUASHED_FILE),
            format!("reflog {}\n{B}\n{A}\n", BASE.len()),
        )
        .unwrap();
        std::fs::hard_link(d.join("SQUASH_MSG"), d.join(SQUASH_MSG_LINK)).unwrap();
        dir
    }

    /// What git does to the git directory, a moment apart.
    fn reflog_entry(dir: &Path, message: &str) {
        std::thread::sleep(std::time::Duration::from_millis(10));
        let mut log = std::fs::read_to_string(dir.join(REFLOG)).unwrap();
        log.push_str(&format!("y z a 2 +0000\t{message}\n"));
        std::fs::write(dir.join(REFLOG), log).unwrap();
    }

    fn squash_msg_deleted(dir: &Path) {
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::remove_file(dir.join("SQUASH_MSG")).unwrap();
    }

    fn nothing_left(dir: &Path) -> bool {
        [SQUASHED_FILE, SQUASH_MSG_LINK, LEGACY_FILE]
            .iter()
            .all(|f| !dir.join(f).exists())
    }

    #[test]
    fn the_commit_right_after_the_squash_takes_its_commits() {
        let dir = squashed();
        // `git commit`: the reflog entry, then SQUASH_MSG deleted.
        reflog_entry(dir.path(), "commit: squashed");
        squash_msg_deleted(dir.path());
        assert_eq!(take_squashed(dir.path()).unwrap(), [B, A]);
        assert!(nothing_left(dir.path()), "consumed");
        assert!(take_squashed(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn an_abandoned_squash_gives_the_next_commit_nothing() {
        // `git reset --hard`: an entry of its own.
        let dir = squashed();
        squash_msg_deleted(dir.path());
        reflog_entry(dir.path(), "reset: moving to HEAD");
        reflog_entry(dir.path(), "commit: other");
        assert!(take_squashed(dir.path()).unwrap().is_empty());
        assert!(nothing_left(dir.path()), "consumed");
        // `git checkout -f`: no entry, SQUASH_MSG deleted before the commit.
        let dir = squashed();
        squash_msg_deleted(dir.path());
        reflog_entry(dir.path(), "commit: other");
        assert!(take_squashed(dir.path()).unwrap().is_empty());
        assert!(nothing_left(dir.path()), "consumed");
    }

    #[test]
    fn a_list_is_not_taken_while_squash_msg_is_there_or_without_its_reflog() {
        let dir = squashed();
        reflog_entry(dir.path(), "commit: other");
        assert!(take_squashed(dir.path()).unwrap().is_empty());
        let dir = squashed();
        reflog_entry(dir.path(), "commit: squashed");
        squash_msg_deleted(dir.path());
        std::fs::remove_file(dir.path().join(REFLOG)).unwrap();
        assert!(take_squashed(dir.path()).unwrap().is_empty());
        // A reflog shorter than the kept size (expired meanwhile).
        let dir = squashed();
        squash_msg_deleted(dir.path());
        std::fs::write(dir.path().join(REFLOG), "").unwrap();
        assert!(take_squashed(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_list_an_earlier_prepare_commit_msg_wrote_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEGACY_FILE), format!("{B}\n{A}\n")).unwrap();
        assert_eq!(take_squashed(dir.path()).unwrap(), [B, A]);
        assert!(nothing_left(dir.path()));
    }
}
