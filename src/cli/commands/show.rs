//! `atom show ID`: one atom in full, with its links both ways, each atom
//! at the other end named by a unique handle.

use atom::links::Links;
use atom::{AtomView, Trail};
use serde::Serialize;

use crate::cli::commands::view;
use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom: an atom id (any case), a trail, a commit sha prefix, @ or REV~N.
    id: String,
}

/// `{commit, record, signature}` plus the links as handles (an atom id, or
/// `ID@<short sha>` when the id names several atoms): `influenced`, the
/// atoms that built on this one; `built_on`, the atoms it built on; and
/// `ambiguous`, those of them reached through a link that names an id
/// several atoms share without recording which.
#[derive(Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub atom: AtomView,
    pub influenced: Vec<String>,
    pub built_on: Vec<String>,
    pub ambiguous: Vec<String>,
    #[serde(skip)]
    pub links: Links,
}

/// The atom `rev` names and its links.
pub fn shown(trail: &Trail, rev: &str) -> Result<Shown, CliError> {
    let atom = trail.show(rev)?;
    let links = trail.links(&atom)?;
    Ok(Shown {
        atom,
        influenced: Links::handles(&links.used_by),
        built_on: Links::handles(&links.built_on),
        ambiguous: links.ambiguous(),
        links,
    })
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let shown = shown(ctx.open()?, &args.id)?;
    if ctx.printer.json {
        ctx.printer.json(&shown)?;
    } else {
        ctx.printer
            .out(&view::full(&ctx.printer, &shown.atom, &shown.links))?;
    }
    Ok(())
}
