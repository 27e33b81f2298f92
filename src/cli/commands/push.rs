//! `atom push [REMOTE] [TRAIL]`: publish trails, archives and trusted keys.

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote (default: origin).
    #[arg(default_value = atom::sync::DEFAULT_REMOTE)]
    remote: String,
    /// Only this trail (default: every trail and the archived tips).
    #[arg(value_name = "TRAIL")]
    trail_name: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let p = &ctx.printer;
    let report = trail.push(
        &args.remote,
        args.trail_name.as_deref(),
        p.progress_enabled() && !p.json,
    )?;
    if p.json {
        p.json(&report)?;
        return Ok(());
    }
    let mut text = format!(
        "pushed to {} ({})\n",
        safe(&report.remote),
        safe(&report.url)
    );
    let width = report
        .refs
        .iter()
        .map(|r| safe(&r.name).chars().count())
        .max()
        .unwrap_or(0);
    for r in &report.refs {
        let extra = if r.name == atom::sync::SIGNERS_REF {
            format!(
                " ({} trusted key{})",
                report.keys,
                if report.keys == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            "  {:width$}  {}{extra}\n",
            safe(&r.name),
            safe(&r.status)
        ));
    }
    p.out(&text)?;
    Ok(())
}
