//! `atom trails`: every trail, its head atom and size; `*` marks the current
//! one. `atom trails delete NAME` and `atom trails rename OLD NEW` keep
//! them tidy without losing an atom.

use atom::branches::TrailInfo;
use atom::shell::quote;
use serde::Serialize;

use crate::cli::commands::switch::plural;
use crate::cli::error::CliError;
use crate::cli::output::{safe, GREEN, YELLOW};
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// List the trails (what `atom trails` alone does).
    List,
    /// Delete a trail, keeping its tip under refs/atom/archive/NAME/ (nothing is lost).
    Delete {
        /// The trail to delete (not the current one).
        name: String,
    },
    /// Rename a trail; HEAD follows when it is the current one.
    Rename {
        /// The trail's name.
        old: String,
        /// Its new name (letters, digits, '.', '_' and '-').
        new: String,
    },
}

/// The `--json` shape.
#[derive(Serialize)]
pub struct TrailsOut<'a> {
    pub current: &'a str,
    pub trails: &'a [TrailInfo],
}

impl<'a> TrailsOut<'a> {
    /// The shape of `trails`, the current one named.
    pub fn of(trails: &'a [TrailInfo]) -> Self {
        let current = trails
            .iter()
            .find(|t| t.current)
            .map_or("", |t| t.name.as_str());
        TrailsOut { current, trails }
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.action.unwrap_or(Action::List) {
        Action::List => list(ctx),
        Action::Delete { name } => delete(ctx, &name),
        Action::Rename { old, new } => rename(ctx, &old, &new),
    }
}

fn delete(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    let report = ctx.open()?.delete_trail(name)?;
    if ctx.printer.json {
        ctx.printer.json(&report)?;
        return Ok(());
    }
    let tip = report.commit.to_hex_with_len(12).to_string();
    ctx.printer.out(&format!(
        "deleted trail {} (head {}); kept under {}\n",
        safe(&report.name),
        safe(report.head.as_deref().unwrap_or(&tip)),
        safe(&report.archive_ref)
    ))?;
    ctx.printer.note(&format!(
        "to restore it: atom fork {} --from {tip}",
        quote(&report.name)
    ));
    Ok(())
}

fn rename(ctx: &Ctx, old: &str, new: &str) -> Result<(), CliError> {
    let report = ctx.open()?.rename_trail(old, new)?;
    if ctx.printer.json {
        ctx.printer.json(&report)?;
        return Ok(());
    }
    ctx.printer.out(&format!(
        "renamed trail {} to {}{}\n",
        safe(&report.from),
        safe(&report.to),
        if report.current { " (current)" } else { "" }
    ))?;
    Ok(())
}

fn list(ctx: &Ctx) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let trails = trail.trails()?;
    if ctx.printer.json {
        ctx.printer.json(&TrailsOut::of(&trails))?;
        return Ok(());
    }
    let width = trails
        .iter()
        .map(|t| safe(&t.name).chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for t in &trails {
        let marker = if t.current { "*" } else { " " };
        let name = format!("{:<width$}", safe(&t.name));
        let name = if t.current {
            ctx.printer.paint(GREEN, &name)
        } else {
            name
        };
        let head = match &t.head {
            Some(h) => ctx.printer.paint(YELLOW, &safe(h)),
            None => "(no atoms yet)".to_owned(),
        };
        text.push_str(&format!(
            "{marker} {name}  {head}  {} atom{}\n",
            t.atoms,
            plural(t.atoms)
        ));
    }
    ctx.printer.out(&text)?;
    Ok(())
}
