//! `atom stats [--by agent|type|day|project]`: counts and token cost.

use atom::index::StatsBy;

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to group the atoms by.
    #[arg(long, value_enum, default_value_t = By::Agent)]
    by: By,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum By {
    Agent,
    Type,
    Day,
    Project,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (by, heading) = match args.by {
        By::Agent => (StatsBy::Agent, "agent"),
        By::Type => (StatsBy::Type, "type"),
        By::Day => (StatsBy::Day, "day"),
        By::Project => (StatsBy::Project, "project"),
    };
    // SPEC §5: `stats --json` is an array of `{key, atoms, token_cost}`.
    let rows = ctx.open()?.stats(by)?;
    if ctx.printer.json {
        ctx.printer.json(&rows)?;
        return Ok(());
    }
    let mut lines: Vec<[String; 3]> = vec![[heading.into(), "atoms".into(), "tokens".into()]];
    lines.extend(rows.iter().map(|r| {
        [
            r.key
                .as_deref()
                .map_or_else(|| "(none)".into(), |k| safe(k).into_owned()),
            r.atoms.to_string(),
            r.token_cost.to_string(),
        ]
    }));
    lines.push([
        "total".into(),
        rows.iter().map(|r| r.atoms).sum::<u64>().to_string(),
        rows.iter().map(|r| r.token_cost).sum::<u64>().to_string(),
    ]);
    let w: Vec<usize> = (0..3)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let last = lines.len() - 1;
    for (n, l) in lines.iter().enumerate() {
        if n == last {
            out.push_str(&format!("{}\n", "-".repeat(w[0] + w[1] + w[2] + 4)));
        }
        out.push_str(&format!(
            "{:<w0$}  {:>w1$}  {:>w2$}\n",
            l[0],
            l[1],
            l[2],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        ));
    }
    ctx.printer.out(&out)?;
    Ok(())
}
