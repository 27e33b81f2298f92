//! `atom doctor`: check git against the index, the transparency log, the
//! signing key, the mirror and the remotes; each problem with the command
//! that fixes it; exit 1 when a problem is found (SPEC §5).

use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::output::{safe, GREEN, RED, YELLOW};
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    checks: &'a [atom::status::Check],
}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let checks = trail.doctor(&cwd)?;
    let problems = checks.iter().filter(|c| c.status == "problem").count();
    if ctx.printer.json {
        ctx.printer.json(&Report {
            ok: problems == 0,
            checks: &checks,
        })?;
    } else {
        let mut out = String::new();
        for c in &checks {
            let mark = match c.status {
                "ok" => ctx.printer.paint(GREEN, "ok     "),
                "warning" => ctx.printer.paint(YELLOW, "warning"),
                _ => ctx.printer.paint(RED, "problem"),
            };
            out.push_str(&format!("{mark} {}: {}\n", c.check, safe(&c.detail)));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("        fix: {}\n", safe(fix)));
            }
        }
        ctx.printer.out(&out)?;
    }
    if problems > 0 {
        return Err(CliError::problem(
            format!("doctor found {problems} problem(s)"),
            Some("run the `fix:` command of each problem above".into()),
        ));
    }
    Ok(())
}
