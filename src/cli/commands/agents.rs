//! `atom agents install|uninstall|list|drain`: capture from coding agents
//! (Claude Code, Codex CLI, Gemini CLI, Cursor) through their hooks.

use std::path::PathBuf;

use atom::agents::{self, install, Agent, Scope};
use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Args)]
struct Where {
    /// The agents (claude-code, codex, gemini, cursor); default: those whose
    /// settings directory (.claude, .codex, .gemini, .cursor) is there.
    agents: Vec<String>,
    /// The settings of the project around the current directory (the default).
    #[arg(long, conflicts_with = "user")]
    project: bool,
    /// The user's settings (~/.claude/settings.json, ...).
    #[arg(long)]
    user: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Write the agents' hook configuration (merged into what is there; idempotent).
    Install(Where),
    /// Remove it again (the file's bytes from before install when unchanged since).
    Uninstall(Where),
    /// Per agent: installed where, or outdated; events waiting in the spool.
    List,
    /// Record the events the hooks spooled (hooks start this themselves).
    Drain {
        /// Wait at most this long for another drain, in milliseconds.
        #[arg(long, default_value_t = 30_000, hide = true)]
        wait_ms: u64,
    },
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Install(w) => change(ctx, w, true),
        Action::Uninstall(w) => change(ctx, w, false),
        Action::List => list(ctx),
        Action::Drain { wait_ms } => drain(ctx, wait_ms),
    }
}

fn scope(w: &Where) -> Result<Scope, CliError> {
    if w.user {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                CliError::usage("HOME is not set", "set HOME, or install with --project")
            })?;
        return Ok(Scope::User(PathBuf::from(home)));
    }
    let here = std::env::current_dir()?;
    Ok(Scope::Project(agents::project_root(&here)))
}

fn chosen(w: &Where, scope: &Scope, installing: bool) -> Result<Vec<Agent>, CliError> {
    if !w.agents.is_empty() {
        let mut out = Vec::new();
        for a in &w.agents {
            let a = Agent::parse(a)?;
            if !out.contains(&a) {
                out.push(a);
            }
        }
        return Ok(out);
    }
    let found: Vec<Agent> = Agent::ALL
        .into_iter()
        .filter(|a| {
            if installing {
                install::agent_dir(*a, scope).is_dir()
            } else {
                install::settings_path(*a, scope).is_file()
            }
        })
        .collect();
    if found.is_empty() && installing {
        return Err(CliError::usage(
            format!(
                "no agent settings directory (.claude, .codex, .gemini, .cursor) in {}",
                match scope {
                    Scope::Project(p) | Scope::User(p) => p.display().to_string(),
                }
            ),
            "name the agents: atom agents install claude-code codex gemini cursor",
        ));
    }
    Ok(found)
}

#[derive(Serialize)]
struct ChangesOut<'a> {
    store: &'a std::path::Path,
    changes: &'a [install::Change],
}

fn change(ctx: &Ctx, w: Where, installing: bool) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let store = std::path::absolute(trail.home())?;
    let scope = scope(&w)?;
    let exe = std::env::current_exe()?;
    let mut changes = Vec::new();
    for agent in chosen(&w, &scope, installing)? {
        changes.push(if installing {
            install::install(agent, &scope, &exe, &store)?
        } else {
            install::uninstall(agent, &scope, &store)?
        });
    }
    if ctx.printer.json {
        ctx.printer.json(&ChangesOut {
            store: &store,
            changes: &changes,
        })?;
        return Ok(());
    }
    let mut text = String::new();
    for c in &changes {
        use install::Action as A;
        let what = match c.action {
            A::Installed => "hooks installed",
            A::Updated => "hooks updated",
            A::Unchanged => "already installed",
            A::Restored => "hooks removed; the file is as it was before install",
            A::Removed => "hooks removed (the file was edited since install, so it was written again: its formatting may differ)",
            A::NotInstalled => "not installed",
        };
        text.push_str(&format!(
            "{}: {what} ({})\n",
            c.agent,
            crate::cli::output::safe(&c.file.display().to_string())
        ));
    }
    if changes.is_empty() {
        text.push_str("no agent hooks here\n");
    }
    ctx.printer.out(&text)?;
    let wrote = changes.iter().any(|c| {
        matches!(
            c.action,
            install::Action::Installed | install::Action::Updated
        )
    });
    if installing && wrote {
        ctx.printer.note(&format!(
            "sessions, prompts and tool calls now become atoms in {} (see `atom log --all`)",
            store.display()
        ));
    }
    Ok(())
}

#[derive(Serialize)]
struct ListOut {
    agents: Vec<install::AgentStatus>,
    spooled: usize,
}

fn list(ctx: &Ctx) -> Result<(), CliError> {
    let store = std::path::absolute(&ctx.home)?;
    let exe = std::env::current_exe()?;
    let rows = install::statuses(&std::env::current_dir()?, &exe, &store);
    let spooled = agents::spool::pending(&store).map_or(0, |p| p.len());
    if ctx.printer.json {
        ctx.printer.json(&ListOut {
            agents: rows,
            spooled,
        })?;
        return Ok(());
    }
    let mut text = String::new();
    for agent in Agent::ALL {
        let mine: Vec<&install::AgentStatus> =
            rows.iter().filter(|r| r.agent == agent.name()).collect();
        let on: Vec<String> = mine
            .iter()
            .filter(|r| r.state != "not installed")
            .map(|r| {
                format!(
                    "{} {}{}",
                    r.scope,
                    crate::cli::output::safe(&r.file.display().to_string()),
                    if r.state == "installed" {
                        String::new()
                    } else {
                        format!(" ({})", r.state)
                    }
                )
            })
            .collect();
        let state = if on.is_empty() {
            "not installed".to_owned()
        } else {
            on.join("; ")
        };
        text.push_str(&format!("{:<12} {state}\n", agent.name()));
    }
    if spooled > 0 {
        text.push_str(&format!(
            "{spooled} events spooled, not yet recorded (atom agents drain)\n"
        ));
    }
    ctx.printer.out(&text)?;
    Ok(())
}

#[derive(Serialize)]
struct DrainOut {
    recorded: Vec<String>,
    skipped: usize,
    rejected: usize,
    left: usize,
    /// What drains found worth a warning since they were last shown (a
    /// masked secret, an influence that is not an atom, a note not written).
    warnings: Vec<String>,
}

fn drain(ctx: &Ctx, wait_ms: u64) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let report = agents::drain(trail, std::time::Duration::from_millis(wait_ms))?;
    let out = DrainOut {
        recorded: report.recorded.iter().map(ToString::to_string).collect(),
        skipped: report.skipped,
        rejected: report.rejected,
        left: report.left,
        warnings: agents::take_warnings(&ctx.home),
    };
    if !ctx.printer.json {
        for w in &out.warnings {
            ctx.printer.note(&format!("warning: atom: {w}"));
        }
    }
    if ctx.printer.json {
        ctx.printer.json(&out)?;
        return Ok(());
    }
    let mut text = format!(
        "{} atoms recorded from the agent spool\n",
        out.recorded.len()
    );
    if out.rejected > 0 {
        text.push_str(&format!(
            "{} malformed events dropped (see agents/rejected.log in the store)\n",
            out.rejected
        ));
    }
    if out.left > 0 {
        text.push_str(&format!(
            "{} events left: another drain is running\n",
            out.left
        ));
    }
    ctx.printer.out(&text)?;
    Ok(())
}
