//! `atom hooks install|uninstall [--repo PATH]`: tie a project's commits to
//! the trail with git hooks.

use std::path::{Path, PathBuf};

use atom::hooks::{self, HookAction, HookChange, HooksDir, Project};
use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Install the hooks (post-commit, post-merge, post-rewrite, pre-push) and let notes travel with pushes and fetches (an existing hook keeps running, first).
    Install {
        /// The project repository (default: the one around the current directory).
        #[arg(long, value_name = "PATH")]
        repo: Option<PathBuf>,
    },
    /// Remove the hooks and the git config install added; put back any hook they chained.
    Uninstall {
        /// The project repository (default: the one around the current directory).
        #[arg(long, value_name = "PATH")]
        repo: Option<PathBuf>,
    },
}

#[derive(Serialize)]
struct Out<'a> {
    repo: &'a Path,
    hooks_dir: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trail: Option<&'a str>,
    hooks: &'a [HookChange],
    /// Install: the git config entries added; uninstall: those removed.
    config: Vec<ConfigEntry<'a>>,
}

#[derive(Serialize)]
struct ConfigEntry<'a> {
    key: &'a str,
    value: &'a str,
}

fn entries(list: &[(String, String)]) -> Vec<ConfigEntry<'_>> {
    list.iter()
        .map(|(key, value)| ConfigEntry { key, value })
        .collect()
}

fn config_lines(list: &[(String, String)], done: &str) -> String {
    list.iter()
        .map(|(k, v)| format!("git config {k} = {v}: {done}\n"))
        .collect()
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Install { repo } => install(ctx, repo),
        Action::Uninstall { repo } => uninstall(ctx, repo),
    }
}

fn locate(repo: Option<PathBuf>) -> Result<HooksDir, CliError> {
    Ok(hooks::locate(&repo.unwrap_or_else(|| ".".into()))?)
}

fn install(ctx: &Ctx, repo: Option<PathBuf>) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let store = std::path::absolute(trail.home())?;
    let current = trail.current_trail()?;
    let dir = locate(repo)?;
    let bin = std::env::current_exe()?;
    let changes = hooks::install(&dir, &bin, &store)?;
    let added = hooks::configure(&Project::at(&dir.repo))?;
    if ctx.printer.json {
        ctx.printer.json(&Out {
            repo: &dir.repo,
            hooks_dir: &dir.dir,
            store: Some(&store),
            trail: Some(&current),
            hooks: &changes,
            config: entries(&added),
        })?;
        return Ok(());
    }
    let mut text = String::new();
    for c in &changes {
        let what = match c.action {
            HookAction::Unchanged => "already installed".to_owned(),
            HookAction::Updated => format!("updated in {}", dir.dir.display()),
            _ => format!("installed in {}", dir.dir.display()),
        };
        let chain = if c.chained {
            format!(
                " (the hook that was there runs first; kept as {}.atom-chained)",
                c.name
            )
        } else {
            String::new()
        };
        text.push_str(&format!("{}: {what}{chain}\n", c.name));
    }
    text.push_str(&config_lines(&added, "added"));
    text.push_str(&format!(
        "commits in {} now become COMMIT atoms on the current trail ({current}) of {}\n",
        dir.repo.display(),
        store.display()
    ));
    ctx.printer.out(&text)?;
    ctx.printer.note(
        "a commit's atom: git notes --ref=atom show <commit>; notes go along with `git push` and arrive with `git pull` (run install again after adding a remote)",
    );
    Ok(())
}

fn uninstall(ctx: &Ctx, repo: Option<PathBuf>) -> Result<(), CliError> {
    let dir = locate(repo)?;
    let changes = hooks::uninstall(&dir)?;
    let removed = hooks::unconfigure(&Project::at(&dir.repo))?;
    if ctx.printer.json {
        ctx.printer.json(&Out {
            repo: &dir.repo,
            hooks_dir: &dir.dir,
            store: None,
            trail: None,
            hooks: &changes,
            config: entries(&removed),
        })?;
        return Ok(());
    }
    let mut text = String::new();
    for c in &changes {
        let what = match (c.action, c.foreign) {
            (_, true) => "not atom's hook; left alone",
            (HookAction::Removed, _) => "removed",
            _ => "not installed",
        };
        let restored = if c.chained {
            "; the hook it chained is back in place"
        } else {
            ""
        };
        text.push_str(&format!("{}: {what}{restored}\n", c.name));
    }
    text.push_str(&config_lines(&removed, "removed"));
    ctx.printer.out(&text)?;
    Ok(())
}
