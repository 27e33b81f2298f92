//! `atom stats [--by agent|type|day|project] [--since D] [--until D]`:
//! counts and token cost of the store, or of the trail `--trail` names.

use atom::index::StatsBy;

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to group the atoms by.
    #[arg(long, value_enum, default_value_t = By::Agent)]
    by: By,
    /// Only atoms at or after this time: RFC 3339, YYYY-MM-DD, today, yesterday, 3d, 2.weeks.ago.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only atoms before this time (same forms as --since).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
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
    let since = args
        .since
        .as_deref()
        .map(|d| crate::cli::dates::parse_timestamp("--since", d))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|d| crate::cli::dates::parse_timestamp("--until", d))
        .transpose()?;
    let trail = ctx.open()?;
    let rows = if ctx.selected.is_none() && since.is_none() && until.is_none() {
        trail.stats(by)?
    } else {
        trail.stats_of(
            by,
            ctx.selected.as_deref(),
            since.as_deref(),
            until.as_deref(),
        )?
    };
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
