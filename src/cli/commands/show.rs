//! `atom show ID`: one atom in full, with the atoms that built on it.

use atom::{AtomId, AtomView, Trail};
use serde::Serialize;

use crate::cli::commands::view;
use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom: an atom id (any case), a trail, a commit sha prefix, @ or REV~N.
    id: String,
}

/// `{commit, record, signature}` plus `influenced`: the atoms that list this one in `influenced_by`.
#[derive(Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub atom: AtomView,
    pub influenced: Vec<AtomId>,
}

/// The atom `rev` names and the atoms that built on it.
pub fn shown(trail: &Trail, rev: &str) -> Result<Shown, CliError> {
    let atom = trail.show(rev)?;
    let influenced = trail.influenced(&atom.record.atom_id)?;
    Ok(Shown { atom, influenced })
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let Shown { atom, influenced } = shown(ctx.open()?, &args.id)?;
    if ctx.printer.json {
        ctx.printer.json(&Shown { atom, influenced })?;
    } else {
        let mut text = view::full(&ctx.printer, &atom);
        if !influenced.is_empty() {
            let ids: Vec<String> = influenced.iter().map(ToString::to_string).collect();
            text.push_str(&format!("{:<11}{}\n", "used by", ids.join(", ")));
        }
        ctx.printer.out(&text)?;
    }
    Ok(())
}
