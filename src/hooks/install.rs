//! Installing and uninstalling the scripts of `hooks/` in a project.
//!
//! The hooks directory is the one git runs hooks from (`git rev-parse
//! --git-path hooks`, which follows `core.hooksPath`). A user's hook of the
//! same name is renamed to `<name>.atom-chained` and run first by ours;
//! uninstalling renames it back, so it comes back byte for byte with its
//! mode. Our scripts are recognised by their [`MARKER`] line.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::project::Project;
use super::{io_err, HookError};

/// The hooks `atom hooks install` installs.
pub const HOOK_NAMES: [&str; 4] = ["post-commit", "post-merge", "post-rewrite", "pre-push"];

/// Hooks earlier versions installed: `install` and `uninstall` remove ours
/// (and put a chained user hook back). `prepare-commit-msg` kept a squash
/// merge's commits; `post-merge` does now, and every commit ran it.
const RETIRED: [&str; 1] = ["prepare-commit-msg"];

/// What a chained user hook is renamed to: `<name>` + this.
pub const CHAINED_SUFFIX: &str = ".atom-chained";

/// The line that marks a hook script as ours.
const MARKER: &str = "# installed by `atom hooks install`";

const TEMPLATES: [(&str, &str); 4] = [
    ("post-commit", include_str!("../../hooks/post-commit")),
    ("post-merge", include_str!("../../hooks/post-merge")),
    ("post-rewrite", include_str!("../../hooks/post-rewrite")),
    ("pre-push", include_str!("../../hooks/pre-push")),
];

/// Where a project's hooks live.
#[derive(Debug, Clone, Serialize)]
pub struct HooksDir {
    /// The work tree's top directory.
    pub repo: PathBuf,
    /// The directory git runs hooks from.
    pub dir: PathBuf,
}

/// What happened to one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookAction {
    /// Our script was written.
    Installed,
    /// Our script was there with other settings and was rewritten.
    Updated,
    /// Our script was there already, the same.
    Unchanged,
    /// Our script was removed.
    Removed,
    /// There was no script of ours.
    Absent,
}

/// One hook's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct HookChange {
    /// The hook's name (`post-commit`).
    pub name: &'static str,
    /// What was done.
    pub action: HookAction,
    /// Install: a user's hook runs before ours (kept as `<name>.atom-chained`).
    /// Uninstall: a user's hook was put back in place.
    pub chained: bool,
    /// Uninstall: a hook that is not ours is in place and was left alone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub foreign: bool,
}

/// Find the hooks directory of the repository around `repo`.
pub fn locate(repo: &Path) -> Result<HooksDir, HookError> {
    let not_a_repo = |e: HookError| match e {
        HookError::Git { message, .. } => HookError::NotARepo {
            path: repo.to_owned(),
            message,
        },
        e => e,
    };
    let top = Project::at(repo)
        .run("locating the repository", &["rev-parse", "--show-toplevel"])
        .map_err(not_a_repo)?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim_end_matches('\n'));
    if top.as_os_str().is_empty() {
        return Err(HookError::NotARepo {
            path: repo.to_owned(),
            message: "it has no work tree".into(),
        });
    }
    let hooks = Project::at(&top).run(
        "locating the hooks directory",
        &["rev-parse", "--git-path", "hooks"],
    )?;
    // Relative to the top directory, where git runs hooks (also for a
    // relative core.hooksPath).
    let dir = top.join(String::from_utf8_lossy(&hooks).trim_end_matches('\n'));
    Ok(HooksDir { repo: top, dir })
}

/// The script for hook `name`, calling `atom_bin` and recording into `store`.
fn render(name: &str, atom_bin: &Path, store: &Path) -> String {
    let template = TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("a template for every hook name");
    template
        .lines()
        .map(|line| match line {
            "atom_bin=atom" => format!("atom_bin={}", sh_quote(&atom_bin.to_string_lossy())),
            "atom_store=" => format!("atom_store={}", sh_quote(&store.to_string_lossy())),
            other => other.to_owned(),
        })
        .fold(String::new(), |mut s, l| {
            s.push_str(&l);
            s.push('\n');
            s
        })
}

/// `'...'` for sh, with `'` written as `'\''`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn is_ours(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| String::from_utf8_lossy(&b).lines().any(|l| l == MARKER))
}

/// The hooks of ours installed in `hooks.dir`, with the store each
/// records into (as its script says).
pub fn installed(hooks: &HooksDir) -> Vec<(&'static str, Option<PathBuf>)> {
    TEMPLATES
        .iter()
        .filter_map(|(name, _)| {
            let text = std::fs::read_to_string(hooks.dir.join(name)).ok()?;
            if !text.lines().any(|l| l == MARKER) {
                return None;
            }
            let store = text.lines().find_map(|l| {
                let q = l.strip_prefix("atom_store='")?.strip_suffix('\'')?;
                (!q.is_empty()).then(|| PathBuf::from(q.replace(r"'\''", "'")))
            });
            Some((*name, store))
        })
        .collect()
}

/// Whether anything (a file or a symlink, even a dangling one) is at `path`.
fn occupied(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn chained_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{CHAINED_SUFFIX}"))
}

/// Install our hooks in `hooks.dir`, recording into `store` with the binary
/// `atom_bin`. Installing twice changes nothing.
pub fn install(
    hooks: &HooksDir,
    atom_bin: &Path,
    store: &Path,
) -> Result<Vec<HookChange>, HookError> {
    let dir = &hooks.dir;
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    // Refuse before changing anything.
    for name in HOOK_NAMES {
        let (path, chained) = (dir.join(name), chained_path(dir, name));
        if occupied(&path) && !is_ours(&path) && occupied(&chained) {
            return Err(HookError::ChainTaken {
                hook: path,
                chained,
            });
        }
    }
    let mut changes = Vec::new();
    for name in HOOK_NAMES {
        let path = dir.join(name);
        let chained = chained_path(dir, name);
        let script = render(name, atom_bin, store);
        let action = if is_ours(&path) {
            if std::fs::read(&path).is_ok_and(|b| b == script.as_bytes()) {
                HookAction::Unchanged
            } else {
                HookAction::Updated
            }
        } else {
            if occupied(&path) {
                std::fs::rename(&path, &chained).map_err(io_err(format!(
                    "keeping {} as {}",
                    path.display(),
                    chained.display()
                )))?;
            }
            HookAction::Installed
        };
        if action != HookAction::Unchanged {
            write_executable(&path, &script)?;
        }
        changes.push(HookChange {
            name,
            action,
            chained: occupied(&chained),
            foreign: false,
        });
    }
    changes.extend(retire(dir)?);
    Ok(changes)
}

/// Write `text` to `path` with mode 0755, atomically (temporary file, rename).
fn write_executable(path: &Path, text: &str) -> Result<(), HookError> {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = path.with_extension("atom-tmp");
    let ctx = || format!("writing {}", path.display());
    std::fs::write(&tmp, text).map_err(io_err(ctx()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .map_err(io_err(ctx()))?;
    std::fs::rename(&tmp, path).map_err(io_err(ctx()))
}

/// Remove our hooks from `hooks.dir` and put chained user hooks back.
/// A hook that is not ours is left alone.
pub fn uninstall(hooks: &HooksDir) -> Result<Vec<HookChange>, HookError> {
    let mut changes = Vec::new();
    for name in HOOK_NAMES {
        changes.push(remove_ours(&hooks.dir, name)?);
    }
    changes.extend(retire(&hooks.dir)?);
    Ok(changes)
}

/// Remove the [`RETIRED`] hooks of ours from `dir`; what was removed.
fn retire(dir: &Path) -> Result<Vec<HookChange>, HookError> {
    let mut removed = Vec::new();
    for name in RETIRED {
        let change = remove_ours(dir, name)?;
        if change.action == HookAction::Removed {
            removed.push(change);
        }
    }
    Ok(removed)
}

/// Remove our hook `name` from `dir` and put a chained user hook back; a
/// hook that is not ours is left alone.
fn remove_ours(dir: &Path, name: &'static str) -> Result<HookChange, HookError> {
    let path = dir.join(name);
    let chained = chained_path(dir, name);
    let ours = is_ours(&path);
    let foreign = occupied(&path) && !ours;
    if ours {
        std::fs::remove_file(&path).map_err(io_err(format!("removing {}", path.display())))?;
    }
    let restore = occupied(&chained) && !foreign;
    if restore {
        std::fs::rename(&chained, &path).map_err(io_err(format!(
            "restoring {} from {}",
            path.display(),
            chained.display()
        )))?;
    }
    Ok(HookChange {
        name,
        action: if ours {
            HookAction::Removed
        } else {
            HookAction::Absent
        },
        chained: restore,
        foreign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_sets_binary_and_store_and_keeps_the_marker() {
        let s = render(
            "post-commit",
            Path::new("/opt/it's/atom"),
            Path::new("/data/store"),
        );
        assert!(
            s.lines().any(|l| l == r"atom_bin='/opt/it'\''s/atom'"),
            "{s}"
        );
        assert!(s.lines().any(|l| l == "atom_store='/data/store'"), "{s}");
        assert!(s.lines().any(|l| l == MARKER));
        assert!(!s.contains("atom_bin=atom\n"));
    }
}
