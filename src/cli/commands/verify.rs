//! `atom verify [REV | --all]`: check digests, links, id order, signatures,
//! messages and trees of every reachable atom; exit 1 on any failure.

use atom::verify::{VerifyReport, VerifyScope};

use crate::cli::commands::switch::plural;
use crate::cli::error::CliError;
use crate::cli::output::{safe, GREEN, RED, YELLOW};
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A trail, an atom id, a commit sha prefix, @ or REV~N (default: the current trail).
    rev: Option<String>,
    /// Every trail and archived tip.
    #[arg(long, conflicts_with = "rev")]
    all: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let scope = match (&args.rev, args.all) {
        (_, true) => VerifyScope::All,
        (Some(rev), false) => VerifyScope::Rev(rev),
        (None, false) => VerifyScope::Current,
    };
    let report = trail.verify(scope)?;
    if ctx.printer.json {
        ctx.printer.json(&report)?;
    } else {
        ctx.printer.out(&human(ctx, &report))?;
    }
    if report.ok {
        return Ok(());
    }
    let n = report.failures.len();
    if n == 0 {
        let k = report.log.problems.len();
        return Err(CliError::problem(
            format!(
                "verification failed: the transparency log has {k} problem{}",
                plural(k)
            ),
            Some("atoms the log holds were taken off every trail and archive, or the log was changed outside atom: `atom log --all` and the log's problems above say which".into()),
        ));
    }
    let hint = if report.damaged_objects {
        "objects on disk are damaged: `atom pull --repair [REMOTE]` fetches good copies from a remote you pushed to"
    } else {
        "an atom that fails was changed outside atom, or signed by a key this store does not trust (`atom signers add`)"
    };
    Err(CliError::problem(
        format!(
            "verification failed: {n} atom{} of {} in {}",
            plural(n),
            report.atoms,
            report.scope
        ),
        Some(hint.into()),
    ))
}

fn human(ctx: &Ctx, report: &VerifyReport) -> String {
    let p = &ctx.printer;
    let mut text = String::new();
    for (mark, colour, list) in [
        ("✗", RED, &report.failures),
        ("!", YELLOW, &report.warnings),
    ] {
        for f in list {
            let id = f.atom_id.as_deref().unwrap_or("(not an atom)");
            text.push_str(&format!(
                "{} {} ({})\n",
                p.paint(colour, mark),
                p.paint(YELLOW, &safe(id)),
                &f.commit[..12]
            ));
            for r in &f.reasons {
                text.push_str(&format!("    {}\n", safe(r)));
            }
        }
    }
    for problem in &report.log.problems {
        text.push_str(&format!("{} log: {}\n", p.paint(RED, "✗"), safe(problem)));
    }
    if report.log.unlogged > 0 {
        text.push_str(&format!(
            "{} log: {} atom{} not logged yet (they arrived by plain git; the next append logs them)\n",
            p.paint(YELLOW, "!"),
            report.log.unlogged,
            plural(report.log.unlogged as usize)
        ));
    }
    if report.ok {
        text.push_str(&format!(
            "{} {} atom{} verified, chain intact\n",
            p.paint(GREEN, "✓"),
            report.atoms,
            plural(report.atoms)
        ));
    } else if !report.failures.is_empty() {
        text.push_str(&format!(
            "{} {} of {} atom{} failed verification\n",
            p.paint(RED, "✗"),
            report.failures.len(),
            report.atoms,
            plural(report.atoms)
        ));
    }
    text
}
