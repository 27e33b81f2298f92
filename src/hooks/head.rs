//! `HEAD` of the repository a git hook runs in, read from the files git
//! keeps it in: no process, no config, no object.
//!
//! The `post-commit` hook runs on every commit and needs only the new
//! commit's id, its branch and where the repository is. git runs a hook at
//! the top of the work tree and exports `GIT_DIR` when the git directory is
//! not `./.git` (a linked worktree); `HEAD` names a branch whose loose ref
//! or `packed-refs` line holds the commit. Reading that directly costs a
//! few system calls, where opening the repository with gix reads the
//! configuration files and lists the packs (about 0.6 ms on every commit).
//! Anything else (a reftable repository, a bare one, a symbolic ref chain
//! deeper than git's own limit) is left to gix ([`of_hook`]).

use std::path::{Path, PathBuf};

use super::{io_err, HookError};

/// What `HEAD` is in a hook's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The git directory (of this worktree).
    pub git_dir: PathBuf,
    /// The work tree's top directory (`None`: a bare repository).
    pub work_tree: Option<PathBuf>,
    /// The commit `HEAD` points at.
    pub commit: String,
    /// The branch (`refs/heads/` stripped); `None` when `HEAD` is detached.
    pub branch: Option<String>,
}

/// `HEAD` of the repository git runs the hook in (the current directory,
/// git's environment applies): from git's files ([`read`]), else with gix.
pub fn of_hook() -> Result<Head, HookError> {
    let here = std::env::current_dir().map_err(io_err("reading the current directory"))?;
    match read(&here, |k| std::env::var(k).ok()) {
        Some(head) => Ok(head),
        None => read_with_gix(&here),
    }
}

/// `HEAD` through gix, for the layouts [`read`] leaves alone. Only `HEAD`
/// and refs are read: gix must not run `git` to find the installation's
/// config, nor read the system's.
fn read_with_gix(here: &Path) -> Result<Head, HookError> {
    let mut options = gix::open::Options::default();
    options.permissions.config.git_binary = false;
    options.permissions.config.system = false;
    let trust = gix::sec::trust::Mapping {
        full: options.clone(),
        reduced: options,
    };
    let repo = gix::ThreadSafeRepository::discover_with_environment_overrides_opts(
        here,
        Default::default(),
        trust,
    )
    .map_err(|e| HookError::NotARepo {
        path: here.to_owned(),
        message: e.to_string(),
    })?
    .to_thread_local();
    let absolute = |p: &Path| std::fs::canonicalize(here.join(p));
    let git_dir = absolute(repo.git_dir()).map_err(io_err("locating the git directory"))?;
    let work_tree = match repo.workdir() {
        Some(w) => Some(absolute(w).map_err(io_err("locating the work tree"))?),
        None => None,
    };
    let git = |e: &dyn std::fmt::Display| HookError::Git {
        context: "reading HEAD".into(),
        message: e.to_string(),
    };
    // HEAD as it is, not peeled: no object is read.
    let head = repo.head().map_err(|e| git(&e))?;
    let commit = head
        .id()
        .ok_or_else(|| git(&"HEAD names no commit yet"))?
        .to_string();
    let branch = head.referent_name().and_then(|name| {
        name.as_bstr()
            .to_string()
            .strip_prefix("refs/heads/")
            .map(str::to_owned)
    });
    Ok(Head {
        git_dir,
        work_tree,
        commit,
        branch,
    })
}

/// How many symbolic refs are followed (git's own limit).
const MAX_SYMREF_DEPTH: usize = 5;

/// Read `HEAD` as git leaves it for a hook running in `here`, with git's
/// environment `env` (`GIT_DIR`, `GIT_WORK_TREE`, `GIT_COMMON_DIR`); `None`
/// when the repository is not laid out as this reader knows.
pub fn read(here: &Path, env: impl Fn(&str) -> Option<String>) -> Option<Head> {
    let (git_dir, work_tree) = match env("GIT_DIR") {
        Some(dir) => {
            let work_tree = env("GIT_WORK_TREE").map_or_else(|| here.to_owned(), |w| here.join(w));
            (here.join(dir), work_tree)
        }
        None => {
            let dot_git = here.join(".git");
            let meta = std::fs::metadata(&dot_git).ok()?;
            if meta.is_dir() {
                (dot_git, here.to_owned())
            } else {
                let text = std::fs::read_to_string(&dot_git).ok()?;
                let target = text.strip_prefix("gitdir:")?.trim();
                (here.join(target), here.to_owned())
            }
        }
    };
    if git_dir == work_tree {
        return None;
    }
    let common = match env("GIT_COMMON_DIR") {
        Some(dir) => here.join(dir),
        None => match std::fs::read_to_string(git_dir.join("commondir")) {
            Ok(rel) => git_dir.join(rel.trim_end_matches(['\n', '\r'])),
            Err(_) => git_dir.clone(),
        },
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let (commit, branch) = match head.strip_prefix("ref:") {
        None => (object_id(&head)?, None),
        Some(name) => {
            let (commit, name) = resolve(&common, name.trim(), MAX_SYMREF_DEPTH)?;
            (commit, name.strip_prefix("refs/heads/").map(str::to_owned))
        }
    };
    Some(Head {
        git_dir: std::fs::canonicalize(&git_dir).ok()?,
        work_tree: Some(std::fs::canonicalize(&work_tree).ok()?),
        commit,
        branch,
    })
}

/// The object id ref `name` holds and the ref that holds it: its loose
/// file, else its `packed-refs` line; a symbolic ref is followed `depth`
/// times at most (git names the branch at the end of the chain).
fn resolve(common: &Path, name: &str, depth: usize) -> Option<(String, String)> {
    // A reftable repository's HEAD names `refs/heads/.invalid`; the
    // per-worktree namespaces live in the worktree's own directory.
    let per_worktree = ["refs/worktree/", "refs/bisect/", "refs/rewritten/"];
    if !name.starts_with("refs/")
        || name == "refs/heads/.invalid"
        || name.contains("..")
        || per_worktree.iter().any(|p| name.starts_with(p))
    {
        return None;
    }
    let path = common.join(name);
    match std::fs::symlink_metadata(&path) {
        // A symbolic link is an old form of symbolic ref.
        Ok(meta) if meta.file_type().is_symlink() => None,
        Ok(_) => {
            let text = std::fs::read_to_string(&path).ok()?;
            match text.strip_prefix("ref:") {
                Some(next) if depth > 0 => resolve(common, next.trim(), depth - 1),
                Some(_) => None,
                None => Some((object_id(&text)?, name.to_owned())),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
            let id = packed
                .lines()
                .filter(|l| !l.starts_with(['#', '^']))
                .find_map(|l| {
                    let (id, refname) = l.split_once(' ')?;
                    (refname == name).then(|| object_id(id)).flatten()
                })?;
            Some((id, name.to_owned()))
        }
        Err(_) => None,
    }
}

/// A full object id (SHA-1 or SHA-256, lowercase hex), trimmed.
fn object_id(text: &str) -> Option<String> {
    let id = text.trim_end_matches(['\n', '\r']);
    is_object_id(id).then(|| id.to_owned())
}

/// Whether `s` is a full object id (SHA-1 or SHA-256, lowercase hex).
pub(super) fn is_object_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git/refs/heads/topic")).unwrap();
        dir
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_loose_branch_a_packed_one_and_a_detached_head() {
        let dir = repo();
        let root = dir.path();
        write(root, ".git/HEAD", "ref: refs/heads/topic/x\n");
        write(root, ".git/refs/heads/topic/x", &format!("{A}\n"));
        let head = read(root, no_env).unwrap();
        assert_eq!(head.commit, A);
        assert_eq!(head.branch.as_deref(), Some("topic/x"));
        assert_eq!(head.work_tree, Some(std::fs::canonicalize(root).unwrap()));
        assert_eq!(
            head.git_dir,
            std::fs::canonicalize(root.join(".git")).unwrap()
        );

        std::fs::remove_file(root.join(".git/refs/heads/topic/x")).unwrap();
        write(
            root,
            ".git/packed-refs",
            &format!("# pack-refs with: peeled fully-peeled sorted \n{B} refs/heads/main\n^{A}\n{A} refs/heads/topic/x\n"),
        );
        assert_eq!(read(root, no_env).unwrap().commit, A);

        write(root, ".git/HEAD", &format!("{B}\n"));
        let head = read(root, no_env).unwrap();
        assert_eq!((head.commit.as_str(), head.branch), (B, None));
    }

    #[test]
    fn a_linked_worktree_through_git_dir_and_its_common_dir() {
        let dir = repo();
        let root = dir.path();
        write(root, ".git/worktrees/wt/HEAD", "ref: refs/heads/side\n");
        write(root, ".git/worktrees/wt/commondir", "../..\n");
        write(root, ".git/refs/heads/side", &format!("{B}\n"));
        std::fs::create_dir(root.join("wt")).unwrap();
        let git_dir = root.join(".git/worktrees/wt");
        let env = |k: &str| (k == "GIT_DIR").then(|| git_dir.to_string_lossy().into_owned());
        let head = read(&root.join("wt"), env).unwrap();
        assert_eq!(
            (head.commit.as_str(), head.branch.as_deref()),
            (B, Some("side"))
        );
        // The same through the worktree's `.git` file.
        write(root, "wt/.git", &format!("gitdir: {}\n", git_dir.display()));
        assert_eq!(read(&root.join("wt"), no_env).unwrap(), head);
    }

    /// git itself as the reference: what `git rev-parse` says in a real
    /// repository, loose, packed, detached and in a linked worktree.
    #[test]
    fn agrees_with_git_rev_parse() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let git = |cwd: &Path, args: &[&str]| {
            let out = std::process::Command::new("git")
                .current_dir(cwd)
                .args(["-c", "user.name=a", "-c", "user.email=a@b"])
                .args(args)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        git(dir.path(), &["init", "-q", "-b", "main", "repo"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let check = |cwd: &Path, env: &dyn Fn(&str) -> Option<String>| {
            let head = read(cwd, env).unwrap();
            assert_eq!(head.commit, git(cwd, &["rev-parse", "HEAD"]));
            let branch = git(cwd, &["rev-parse", "--abbrev-ref", "HEAD"]);
            assert_eq!(head.branch.as_deref().unwrap_or("HEAD"), branch);
            let git_dir = git(cwd, &["rev-parse", "--absolute-git-dir"]);
            assert_eq!(head.git_dir, std::fs::canonicalize(git_dir).unwrap());
        };
        check(&root, &no_env);
        git(&root, &["pack-refs", "--all"]);
        assert!(!root.join(".git/refs/heads/main").exists());
        check(&root, &no_env);
        // A symbolic ref between HEAD and the branch: git names the branch.
        git(
            &root,
            &["symbolic-ref", "refs/heads/alias", "refs/heads/main"],
        );
        git(&root, &["symbolic-ref", "HEAD", "refs/heads/alias"]);
        check(&root, &no_env);
        git(&root, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        git(&root, &["checkout", "-q", "--detach"]);
        check(&root, &no_env);
        git(&root, &["worktree", "add", "-q", "-b", "side", "../wt"]);
        let wt = dir.path().join("wt");
        git(&wt, &["commit", "-q", "--allow-empty", "-m", "two"]);
        check(&wt, &no_env);
        let git_dir = root.join(".git/worktrees/wt");
        check(&wt, &|k: &str| {
            (k == "GIT_DIR").then(|| git_dir.to_string_lossy().into_owned())
        });
    }

    #[test]
    fn what_this_reader_does_not_know_is_left_to_gix() {
        let dir = repo();
        let root = dir.path();
        // Unborn branch, reftable placeholder, a ref outside refs/, a
        // symref loop, a short id: none is guessed at.
        for head in [
            "ref: refs/heads/none\n".to_owned(),
            "ref: refs/heads/.invalid\n".to_owned(),
            "ref: HEAD\n".to_owned(),
            "ref: refs/heads/loop\n".to_owned(),
            "1234abcd\n".to_owned(),
        ] {
            write(root, ".git/HEAD", &head);
            write(root, ".git/refs/heads/loop", "ref: refs/heads/loop\n");
            assert_eq!(read(root, no_env), None, "{head}");
        }
        assert_eq!(read(&root.join(".git"), no_env), None, "not in a work tree");
    }
}
