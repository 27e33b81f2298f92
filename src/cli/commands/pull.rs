//! `atom pull [REMOTE] [TRAIL]`: fetch, verify, then fast-forward or merge.

use atom::shell::quote;
use atom::sync::PullReport;

use crate::cli::error::CliError;
use crate::cli::output::{safe, Printer, DIM};
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote (default: origin).
    #[arg(default_value = atom::sync::DEFAULT_REMOTE)]
    remote: String,
    /// Only this trail (default: every trail, the archived tips and the published keys).
    #[arg(value_name = "TRAIL")]
    trail_name: Option<String>,
    /// First move damaged objects aside, then fetch every object again (what
    /// `atom verify` suggests when objects are corrupt).
    #[arg(long)]
    repair: bool,
    /// Join a remote trail that shares no history with the local trail of
    /// that name (by default such a pull is refused).
    #[arg(long)]
    allow_unrelated: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let p = &ctx.printer;
    let options = atom::sync::PullOptions {
        progress: p.progress_enabled() && !p.json,
        repair: args.repair,
        allow_unrelated: args.allow_unrelated,
    };
    let report = trail.pull_with(&args.remote, args.trail_name.as_deref(), &options)?;
    if p.json {
        p.json(&report)?;
        return Ok(());
    }
    p.out(&format!(
        "pulled from {} ({}): {} new atom{} verified\n",
        safe(&report.remote),
        safe(&report.url),
        report.verified,
        if report.verified == 1 { "" } else { "s" }
    ))?;
    if !report.repaired.is_empty() {
        p.out(&format!(
            "replaced {} damaged object{} (the damaged files are in trail.git/atom-damaged/)\n",
            report.repaired.len(),
            if report.repaired.len() == 1 { "" } else { "s" }
        ))?;
    }
    p.out(&updates(p, &report))?;
    p.out(&witnessed(&report))?;
    untrusted_note(p, &report);
    Ok(())
}

/// One line per log checked and cosigned, and per cosignature collected.
pub fn witnessed(report: &PullReport) -> String {
    let w = &report.witness;
    let mut text = String::new();
    for (origin, size) in &w.cosigned {
        text.push_str(&format!(
            "  witnessed log {} at {size} leaves (consistent; cosigned)\n",
            safe(origin)
        ));
    }
    for (witness, size) in &w.collected {
        text.push_str(&format!(
            "  {} cosigned this store's log at {size} leaves\n",
            safe(witness)
        ));
    }
    text
}

/// One line per trail that changed (or not).
pub fn updates(p: &Printer, report: &PullReport) -> String {
    let width = report
        .trails
        .iter()
        .map(|t| safe(&t.trail).chars().count())
        .max()
        .unwrap_or(0);
    report
        .trails
        .iter()
        .map(|t| {
            let mut line = format!("  {:width$}  {}", safe(&t.trail), t.action);
            if t.atoms > 0 {
                line.push_str(&format!(
                    ", {} atom{}",
                    t.atoms,
                    if t.atoms == 1 { "" } else { "s" }
                ));
            }
            if let Some(m) = &t.merge {
                line.push_str(&format!(", joined by {}", safe(m)));
            }
            line.push_str(&format!("  {}\n", p.paint(DIM, &safe(&t.commit[..12]))));
            line
        })
        .collect()
}

/// Keys the remote publishes that this store does not trust, and how to
/// trust them (the note is made safe for the terminal by [`Printer::note`]).
pub fn untrusted_note(p: &Printer, report: &PullReport) {
    if let Some(problem) = &report.signers_problem {
        p.note(&format!(
            "warning: {}'s published keys: {problem}",
            report.remote
        ));
    }
    for k in &report.untrusted_keys {
        p.note(&format!(
            "note: {} publishes a key you do not trust: {} {}; to trust it: atom signers add {} {}",
            report.remote,
            k.name,
            k.fingerprint,
            quote(&k.name),
            quote(&k.key)
        ));
    }
}
