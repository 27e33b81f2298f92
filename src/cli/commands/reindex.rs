//! `atom reindex [--check]`: rebuild the index from git, or compare only.

use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rebuild into memory and compare with the index on disk; exit 1 on any difference.
    #[arg(long)]
    check: bool,
}

#[derive(Serialize)]
struct Report {
    atoms: usize,
    differences: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    if args.check {
        let check = trail.reindex_check()?;
        let differences = check.differences;
        let count = differences.len();
        if ctx.printer.json {
            ctx.printer.json(&Report {
                atoms: check.atoms,
                differences,
            })?;
        } else if count == 0 {
            ctx.printer.out("✓ index matches git\n")?;
        } else {
            ctx.printer.out(&(differences.join("\n") + "\n"))?;
        }
        if count > 0 {
            return Err(CliError::problem(
                format!("the index differs from git in {count} rows"),
                Some("run `atom reindex` to rebuild it".into()),
            ));
        }
        return Ok(());
    }
    let show_progress = ctx.printer.progress_enabled();
    let atoms = trail.reindex(&mut |n| {
        if show_progress {
            eprint!("\rindexing: {n} atoms");
        }
    })?;
    if show_progress {
        eprintln!("\rindexing: {atoms} atoms, done");
    }
    if ctx.printer.json {
        ctx.printer.json(&Report {
            atoms,
            differences: Vec::new(),
        })?;
    } else {
        ctx.printer.out(&format!("indexed {atoms} atoms\n"))?;
    }
    Ok(())
}
