//! `atom rollback ID`: reset the current trail to ID, keeping the discarded
//! atoms under an archive ref and recording a ROLLBACK atom. It never asks
//! (SPEC §5): nothing is lost, the discarded tip stays reachable.

use atom::shell::quote;

use crate::cli::commands::switch::plural;
use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom to reset the current trail to: an atom id, a commit on the trail, or @~N.
    id: String,
    /// Accepted for scripts written for older versions; rollback never asks.
    #[arg(long, short = 'y', hide = true)]
    yes: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let plan = trail.rollback_plan(&args.id)?;
    let n = plan.discarded.len();
    let report = trail.rollback(plan)?;
    if ctx.printer.json {
        ctx.printer.json(&report)?;
        return Ok(());
    }
    let p = &report.plan;
    let tip = p.tip.to_hex_with_len(12).to_string();
    let mut text = format!(
        "rolled back trail {} to {}; {n} atom{} taken off: {}\n",
        safe(&p.trail),
        safe(&p.target),
        plural(n),
        safe(&p.discarded.join(", "))
    );
    text.push_str(&format!(
        "kept under {} ({tip})\nrecorded {}\n",
        safe(&report.archive_ref),
        report.rollback.record.atom_id
    ));
    ctx.printer.out(&text)?;
    ctx.printer.note(&format!(
        "to restore them: atom fork restored --from {}",
        quote(&tip)
    ));
    Ok(())
}
