//! Running the `git` binary on the store's repository: fetch, push, and the
//! few graph questions whose answers git has indexed (ancestry, what a ref
//! set lacks). The user's git configuration applies, so ssh settings,
//! credential helpers and `insteadOf` rules work as they do for `git fetch`.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use gix::ObjectId;

/// Environment variables that would point git at another repository (set
/// when atom runs inside a git hook): every `git` atom runs on a repository
/// it names by path goes without them.
pub(crate) const REPO_ENV: [&str; 8] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
];

/// What went wrong running git: the command and git's own last words.
#[derive(Debug)]
pub(crate) struct GitFailure {
    /// `fetch`, `push`, ...
    pub(crate) what: String,
    /// git's message (its last `fatal:`/`error:` line, else its last line).
    pub(crate) message: String,
}

/// One ref's fate in a push (`git push --porcelain`).
#[derive(Debug, Clone)]
pub(crate) struct PushedRef {
    /// The flag git prints: ` ` fast-forward, `*` new, `=` up to date, `!` rejected, ...
    pub(crate) flag: char,
    /// The ref on the remote.
    pub(crate) name: String,
    /// git's summary, e.g. `[rejected] (fetch first)`.
    pub(crate) summary: String,
}

/// The `git` binary on one repository.
pub(crate) struct GitCli<'a> {
    git_dir: &'a Path,
}

impl<'a> GitCli<'a> {
    pub(crate) fn new(git_dir: &'a Path) -> Self {
        GitCli { git_dir }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        for var in REPO_ENV {
            cmd.env_remove(var);
        }
        cmd.arg("--git-dir").arg(self.git_dir);
        cmd
    }

    /// Run git with `args`; its stdout on success.
    pub(crate) fn output(&self, args: &[&str]) -> Result<String, GitFailure> {
        let what = args.first().copied().unwrap_or("git").to_owned();
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| GitFailure {
                what: what.clone(),
                message: format!("cannot run git: {e}"),
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(GitFailure {
                what,
                message: last_words(&String::from_utf8_lossy(&out.stderr)),
            })
        }
    }

    /// Run git with `args`, copying its stderr (progress) to ours when
    /// `progress` is on and keeping it for the error message.
    fn run_streaming(&self, args: &[String], progress: bool) -> Result<String, GitFailure> {
        let what = args
            .iter()
            .find(|a| matches!(a.as_str(), "fetch" | "push"))
            .cloned()
            .unwrap_or_default();
        let failure = |message: String| GitFailure {
            what: what.clone(),
            message,
        };
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failure(format!("cannot run git: {e}")))?;
        let mut stderr = child.stderr.take().expect("piped");
        let copier = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if progress {
                    let _ = std::io::stderr().write_all(&buf[..n]);
                }
                kept.extend_from_slice(&buf[..n]);
            }
            kept
        });
        let mut stdout = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        let status = child
            .wait()
            .map_err(|e| failure(format!("waiting for git: {e}")))?;
        let kept = copier.join().unwrap_or_default();
        if status.success() {
            Ok(stdout)
        } else {
            // A rejected push still reports per ref on stdout.
            let message = last_words(&String::from_utf8_lossy(&kept));
            if what == "push" && !stdout.trim().is_empty() {
                return Ok(stdout);
            }
            Err(failure(message))
        }
    }

    /// `git fetch` of `refspecs` from `remote`, checking every object git
    /// receives (`transfer.fsckObjects`).
    pub(crate) fn fetch(
        &self,
        remote: &str,
        refspecs: &[String],
        progress: bool,
    ) -> Result<(), GitFailure> {
        self.fetch_with(remote, refspecs, progress, false)
    }

    /// [`Self::fetch`]; with `refetch`, every object is fetched again as a
    /// fresh clone would (to replace damaged ones).
    pub(crate) fn fetch_with(
        &self,
        remote: &str,
        refspecs: &[String],
        progress: bool,
        refetch: bool,
    ) -> Result<(), GitFailure> {
        let mut full: Vec<String> = [
            "-c",
            "transfer.fsckObjects=true",
            "fetch",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
        ]
        .map(str::to_owned)
        .to_vec();
        full.push(if progress { "--progress" } else { "--quiet" }.to_owned());
        if refetch {
            full.push("--refetch".to_owned());
        }
        full.push("--end-of-options".to_owned());
        full.push(remote.to_owned());
        full.extend(refspecs.iter().cloned());
        self.run_streaming(&full, progress).map(drop)
    }

    /// `git push --porcelain` of `refspecs` to `remote`; what happened to
    /// each ref (rejections included: they are not an error here).
    pub(crate) fn push(
        &self,
        remote: &str,
        refspecs: &[String],
        lease: Option<(&str, Option<ObjectId>)>,
        progress: bool,
    ) -> Result<Vec<PushedRef>, GitFailure> {
        let mut args = vec!["push".to_owned(), "--porcelain".to_owned()];
        if progress {
            args.push("--progress".to_owned());
        }
        // That one ref may be replaced, but only while it still holds
        // `expected` (nothing, for `None`).
        if let Some((name, expected)) = lease {
            let expected = expected.map(|e| e.to_string()).unwrap_or_default();
            args.push(format!("--force-with-lease={name}:{expected}"));
        }
        args.push("--end-of-options".to_owned());
        args.push(remote.to_owned());
        args.extend(refspecs.iter().cloned());
        let out = self.run_streaming(&args, progress)?;
        Ok(out.lines().filter_map(parse_porcelain).collect())
    }

    /// Commits reachable from `tips` that no trail or archive ref reaches,
    /// children before parents.
    pub(crate) fn new_commits(&self, tips: &[ObjectId]) -> Result<Vec<ObjectId>, GitFailure> {
        if tips.is_empty() {
            return Ok(Vec::new());
        }
        let tips: Vec<String> = tips.iter().map(ToString::to_string).collect();
        let mut args: Vec<&str> = vec!["rev-list", "--topo-order"];
        args.extend(tips.iter().map(String::as_str));
        args.extend(["--not", "--branches", "--glob=refs/atom/archive/*"]);
        let out = self.output(&args)?;
        Ok(out
            .lines()
            .filter_map(|l| ObjectId::from_hex(l.trim().as_bytes()).ok())
            .collect())
    }

    /// How many commits `tip` has that `base` lacks (all of them without a base).
    pub(crate) fn count_between(
        &self,
        base: Option<ObjectId>,
        tip: ObjectId,
    ) -> Result<usize, GitFailure> {
        let range = match base {
            Some(b) => format!("{b}..{tip}"),
            None => tip.to_string(),
        };
        let out = self.output(&["rev-list", "--count", &range])?;
        Ok(out.trim().parse().unwrap_or(0))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub(crate) fn is_ancestor(
        &self,
        ancestor: ObjectId,
        descendant: ObjectId,
    ) -> Result<bool, GitFailure> {
        let status = self
            .command()
            .args(["merge-base", "--is-ancestor"])
            .arg(ancestor.to_string())
            .arg(descendant.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| GitFailure {
                what: "merge-base".into(),
                message: format!("cannot run git: {e}"),
            })?;
        match status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(GitFailure {
                what: "merge-base".into(),
                message: format!("cannot compare {ancestor} and {descendant}"),
            }),
        }
    }

    /// Where `name` points on `remote` (`git ls-remote`), if it exists.
    pub(crate) fn ls_remote(
        &self,
        remote: &str,
        name: &str,
    ) -> Result<Option<ObjectId>, GitFailure> {
        let out = self.output(&["ls-remote", "--end-of-options", remote, name])?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(_, r)| *r == name)
            .and_then(|(id, _)| ObjectId::from_hex(id.as_bytes()).ok()))
    }

    /// Whether `a` and `b` share any history (`git merge-base`).
    pub(crate) fn related(&self, a: ObjectId, b: ObjectId) -> Result<bool, GitFailure> {
        let out = self
            .command()
            .args(["merge-base"])
            .arg(a.to_string())
            .arg(b.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| GitFailure {
                what: "merge-base".into(),
                message: format!("cannot run git: {e}"),
            })?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(GitFailure {
                what: "merge-base".into(),
                message: format!("cannot compare {a} and {b}"),
            }),
        }
    }

    /// The kind of each object in `ids` (`commit`, `blob`, ...; `missing`
    /// when absent), in one `git cat-file --batch-check`.
    pub(crate) fn kinds(&self, ids: &[ObjectId]) -> Result<Vec<String>, GitFailure> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut child = self
            .command()
            .args(["cat-file", "--batch-check=%(objecttype)"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| GitFailure {
                what: "cat-file".into(),
                message: format!("cannot run git: {e}"),
            })?;
        let input: String = ids.iter().map(|id| format!("{id}\n")).collect();
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || {
            use std::io::Write as _;
            stdin.write_all(input.as_bytes())
        });
        let out = child.wait_with_output().map_err(|e| GitFailure {
            what: "cat-file".into(),
            message: format!("cannot run git: {e}"),
        })?;
        let _ = writer.join();
        let kinds: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap_or(l).to_owned())
            .collect();
        if kinds.len() != ids.len() {
            return Err(GitFailure {
                what: "cat-file".into(),
                message: "cannot read the kinds of the fetched objects".into(),
            });
        }
        Ok(kinds)
    }

    /// Delete every ref under `prefix` (a namespace of atom's own).
    pub(crate) fn delete_refs_under(&self, prefix: &str) -> Result<(), GitFailure> {
        let refs = self.output(&["for-each-ref", "--format=%(refname)", prefix])?;
        let script: String = refs
            .lines()
            .filter(|l| !l.is_empty())
            .map(|r| format!("delete {r}\n"))
            .collect();
        if script.is_empty() {
            return Ok(());
        }
        let mut child = self
            .command()
            .args(["update-ref", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| GitFailure {
                what: "update-ref".into(),
                message: format!("cannot run git: {e}"),
            })?;
        let _ = child
            .stdin
            .take()
            .expect("piped")
            .write_all(script.as_bytes());
        let out = child.wait_with_output().map_err(|e| GitFailure {
            what: "update-ref".into(),
            message: e.to_string(),
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(GitFailure {
                what: "update-ref".into(),
                message: last_words(&String::from_utf8_lossy(&out.stderr)),
            })
        }
    }
}

/// `<flag>\t<from>:<to>\t<summary>` lines of `git push --porcelain`.
fn parse_porcelain(line: &str) -> Option<PushedRef> {
    let mut parts = line.splitn(3, '\t');
    let flag = parts.next()?.chars().next()?;
    let refs = parts.next()?;
    let summary = parts.next().unwrap_or("").to_owned();
    let name = refs.split_once(':').map_or(refs, |(_, to)| to).to_owned();
    Some(PushedRef {
        flag,
        name,
        summary,
    })
}

/// The line of git's stderr that says what went wrong.
fn last_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .or(lines.last())
        .map(|l| {
            l.trim_start_matches("fatal: ")
                .trim_start_matches("error: ")
                .to_owned()
        })
        .unwrap_or_else(|| "git failed without saying why".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines() {
        let r = parse_porcelain("!\trefs/heads/main:refs/heads/main\t[rejected] (fetch first)")
            .unwrap();
        assert_eq!(r.flag, '!');
        assert_eq!(r.name, "refs/heads/main");
        assert!(parse_porcelain("To /tmp/x").is_none());
    }

    #[test]
    fn git_last_words() {
        assert_eq!(
            last_words("Cloning\nfatal: repository 'x' does not exist\nmore\n"),
            "repository 'x' does not exist"
        );
        assert_eq!(last_words("a\nb\r"), "b");
    }
}
