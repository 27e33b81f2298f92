//! `atom push [REMOTE] [TRAIL]`: publish trails, archives and trusted keys.

use atom::shell::quote;

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
    signers_notes(ctx, trail, &report);
    Ok(())
}

/// What happened to the published keys, when it needs the user.
fn signers_notes(ctx: &Ctx, trail: &atom::Trail, report: &atom::sync::PushReport) {
    let p = &ctx.printer;
    if let Some(problem) = &report.signers_problem {
        p.note(&format!(
            "warning: {}'s published keys: {problem}",
            report.remote
        ));
    }
    if report.signers_action == "not listed" {
        let own = trail
            .signers()
            .ok()
            .and_then(|all| all.into_iter().find(|s| s.own));
        let add = own
            .map(|s| format!("atom signers add {} {}", quote(&s.name), quote(&s.key)))
            .unwrap_or_else(|| "atom signers add NAME KEY".into());
        p.note(&format!(
            "note: {}'s published keys do not list this store's key, so they were left as they are; \
             on a store whose key they list, run: {add}   then atom push",
            report.remote
        ));
    }
    for k in &report.keys_dropped {
        p.note(&format!(
            "note: {} no longer publishes {} {}: this store does not trust it (atom signers add {} {} keeps it published)",
            report.remote,
            k.name,
            k.fingerprint,
            quote(&k.name),
            quote(&k.key)
        ));
    }
}
