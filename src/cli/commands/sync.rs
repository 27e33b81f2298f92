//! `atom sync auto off|git|d1|both`: push new atoms in the background after
//! each append; `atom sync`: one round now, in the foreground. The hidden
//! `atom sync --background` is the worker atom starts itself.

use atom::sync::auto::{self, AutoMode, AutoSyncError};

use crate::cli::error::{CliError, EXIT_PROBLEM};
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Run as the background worker (atom starts it after appends).
    #[arg(long, hide = true)]
    background: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Where new atoms go by themselves: off, git (the remote), d1 (the mirror) or both;
    /// without MODE, show the settings.
    Auto {
        /// off, git, d1 or both.
        #[arg(value_parser = ["off", "git", "d1", "both"])]
        mode: Option<String>,
        /// The git remote to push to (default: origin).
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
        /// Seconds without a new atom before a push starts (default: 2).
        #[arg(long, value_name = "SECONDS")]
        debounce: Option<u64>,
    },
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if args.background {
        // Quiet whatever happens: nobody reads its output.
        let _ = auto::run_worker(&ctx.home);
        return Ok(());
    }
    match args.command {
        Some(Sub::Auto {
            mode,
            remote,
            debounce,
        }) => set(ctx, mode, remote, debounce),
        None => now(ctx),
    }
}

fn set(
    ctx: &Ctx,
    mode: Option<String>,
    remote: Option<String>,
    debounce: Option<u64>,
) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let settings = match mode.as_deref().and_then(AutoMode::parse) {
        Some(mode) => trail.set_auto_sync(mode, remote.as_deref(), debounce)?,
        None if remote.is_some() || debounce.is_some() => {
            return Err(CliError::usage(
                "--remote and --debounce go with a mode",
                "e.g. atom sync auto git --remote origin --debounce 5",
            ))
        }
        None => trail.auto_settings(),
    };
    if ctx.printer.json {
        ctx.printer.json(&settings)?;
        return Ok(());
    }
    let text = match settings.auto {
        AutoMode::Off => "sync auto: off (push with `atom push`, `atom mirror push`)\n".to_owned(),
        AutoMode::Git => format!(
            "sync auto: git — new atoms are pushed to {} in the background, {} s after the last one\n",
            safe(&settings.remote),
            settings.debounce_seconds
        ),
        AutoMode::D1 => format!(
            "sync auto: d1 — new atoms are mirrored to D1 in the background, {} s after the last one\n",
            settings.debounce_seconds
        ),
        AutoMode::Both => format!(
            "sync auto: both — new atoms are pushed to {} and mirrored to D1 in the background, {} s after the last one\n",
            safe(&settings.remote),
            settings.debounce_seconds
        ),
    };
    ctx.printer.out(&text)?;
    if settings.auto.d1() {
        ctx.printer.note(&format!(
            "the D1 token is read from {} of the command that records; it is never stored",
            atom::mirror::d1::TOKEN_VAR
        ));
    }
    Ok(())
}

fn now(ctx: &Ctx) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let outcome = trail.sync_now()?;
    if ctx.printer.json {
        ctx.printer.json(&outcome)?;
        return Ok(());
    }
    let mut text = String::new();
    if let Some(remote) = &outcome.remote {
        text.push_str(&format!(
            "pushed to {}: {} ref{} updated{}\n",
            safe(remote),
            outcome.refs_updated,
            if outcome.refs_updated == 1 { "" } else { "s" },
            if outcome.pulled {
                " (pulled its new atoms first)"
            } else {
                ""
            }
        ));
    }
    if let Some(n) = outcome.mirrored {
        text.push_str(&format!(
            "mirrored to D1: {n} atom{} sent\n",
            if n == 1 { "" } else { "s" }
        ));
    }
    ctx.printer.out(&text)?;
    Ok(())
}

impl From<AutoSyncError> for CliError {
    fn from(e: AutoSyncError) -> Self {
        match e {
            AutoSyncError::Git(e) => e.into(),
            AutoSyncError::Mirror(e) => e.into(),
            AutoSyncError::Trail(e) => e.into(),
            AutoSyncError::Off => CliError::usage(
                e.to_string(),
                "turn it on with `atom sync auto git` (or d1, both), or push with `atom push`",
            ),
            AutoSyncError::Invalid(message) => {
                CliError::usage(message, "see `atom sync auto --help`")
            }
            AutoSyncError::Failed { message } => CliError {
                code: EXIT_PROBLEM,
                message,
                hint: Some(
                    "`atom status` shows the last error and the next retry; the worker retries by itself"
                        .to_owned(),
                ),
            },
        }
    }
}
