//! `atom import FILE|-`: append JSON-lines records to the current trail, all
//! or nothing, with a progress display on a terminal.

use std::io::BufRead;
use std::path::PathBuf;

use atom::import::{ImportError, ImportOptions, ImportProgress};

use crate::cli::error::{CliError, EXIT_USAGE};
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON-lines file (`atom export` output, or the seed system's atom_trail rows); `-` reads stdin.
    file: PathBuf,
    /// Where the attachments' files are, each named by its sha256 (`export --attachments DIR`).
    #[arg(long, value_name = "DIR")]
    attachments: Option<PathBuf>,
    /// Give each record the next free number of its day here instead of its own id (for an
    /// export from another store whose ids this one has taken); links follow.
    #[arg(long)]
    renumber: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let mut input: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(&args.file) {
            Ok(f) => Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            Err(e) => {
                return Err(CliError::usage(
                    format!("cannot read {}: {e}", args.file.display()),
                    "check the file name and its permissions; `-` reads stdin",
                ))
            }
        }
    };
    let show = ctx.printer.progress_enabled();
    let options = ImportOptions {
        attachments: args.attachments,
        renumber: args.renumber,
    };
    let result = trail.import_with(&mut input, &options, &mut |p| {
        if show {
            match p {
                ImportProgress::Lines(n) => eprint!("\rimporting: {n} atoms signed"),
                ImportProgress::Indexing(n) => eprint!("\rimporting: {n} atoms signed, indexing"),
            }
        }
    });
    if show {
        eprint!("\r\x1b[K");
    }
    let report = match result {
        Ok(r) => r,
        Err(ImportError::Trail(e)) => return Err(e.into()),
        Err(e @ ImportError::Line { .. }) => {
            let message = e.to_string();
            let hint = if message.contains("already an atom of this store")
                || message.contains("already holds an atom of that day")
                || message.contains("ids of one day must increase")
            {
                "this store has atoms of those days: `atom import --renumber FILE` gives the records the next free numbers (links follow)"
            } else {
                "fix that line and import the file again: fields that are present (ids, timestamps, digests, links) must check out; leave out what atom should compute"
            };
            return Err(CliError {
                code: EXIT_USAGE,
                message: format!("{message}; nothing was imported"),
                hint: Some(hint.into()),
            });
        }
        Err(e @ ImportError::Read(_)) => {
            return Err(CliError::usage(
                format!("{e}; nothing was imported"),
                "the input must be UTF-8 JSON lines",
            ))
        }
    };
    if ctx.printer.json {
        ctx.printer.json(&report)?;
    } else if report.imported == 0 {
        ctx.printer.out("nothing to import\n")?;
    } else {
        ctx.printer.out(&format!(
            "imported {} atom{} onto trail {} ({} .. {})\n",
            report.imported,
            if report.imported == 1 { "" } else { "s" },
            safe(&report.trail),
            report
                .first
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            report
                .last
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ))?;
    }
    Ok(())
}
