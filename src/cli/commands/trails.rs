//! `atom trails`: every trail, its head atom and size; `*` marks the current one.

use atom::branches::TrailInfo;
use serde::Serialize;

use crate::cli::commands::switch::plural;
use crate::cli::error::CliError;
use crate::cli::output::{safe, GREEN, YELLOW};
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// The `--json` shape.
#[derive(Serialize)]
struct TrailsOut<'a> {
    current: &'a str,
    trails: &'a [TrailInfo],
}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let trails = trail.trails()?;
    let current = trails
        .iter()
        .find(|t| t.current)
        .map_or("", |t| t.name.as_str());
    if ctx.printer.json {
        ctx.printer.json(&TrailsOut {
            current,
            trails: &trails,
        })?;
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
