//! `atom rollback ID [--yes]`: reset the current trail to ID, keeping the
//! discarded atoms under an archive ref and recording a ROLLBACK atom.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use atom::shell::quote;

use crate::cli::commands::switch::plural;
use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom to reset the current trail to: an atom id or a commit on the trail.
    id: String,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let plan = trail.rollback_plan(&args.id)?;
    let n = plan.discarded.len();
    if !args.yes {
        let question = format!(
            "roll trail {} back to {}, taking {n} atom{} off it (kept under refs/atom/archive/{}/)? [y/N] ",
            safe(&plan.trail),
            safe(&plan.target),
            plural(n),
            safe(&plan.trail)
        );
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(
                format!(
                    "rollback would take {n} atom{} off trail {}; not confirmed",
                    plural(n),
                    plan.trail
                ),
                format!("run `atom rollback {} --yes` to confirm", quote(&args.id)),
            ));
        }
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(CliError::problem(
                "rollback cancelled; nothing changed",
                None,
            ));
        }
    }
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
