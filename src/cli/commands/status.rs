//! `atom status`: where things stand, offline (SPEC §5).

use atom::status::Status;
use atom::sync::auto::{AutoMode, AutoStatus};

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let status = trail.status(&cwd)?;
    // Atoms a remote or the mirror lacks with no round on its way (a mark
    // lost to a crash): schedule one.
    let s = &status.sync;
    if s.auto != AutoMode::Off
        && !s.running
        && s.pending.values().any(|n| *n > 0)
        && !atom::sync::auto::marked(trail.home())
    {
        trail.schedule_sync();
    }
    if ctx.printer.json {
        ctx.printer.json(&status)?;
        return Ok(());
    }
    ctx.printer.out(&render(&status))?;
    Ok(())
}

fn render(s: &Status) -> String {
    let mut out = format!("store       {}\n", safe(&s.store.to_string_lossy()));
    let switched = if s.trail == s.current {
        String::new()
    } else {
        format!(" (selected; HEAD names {})", s.current)
    };
    out.push_str(&format!(
        "trail       {}{switched}, {} atoms ({} trails in the store)\n",
        s.trail, s.atoms, s.trails
    ));
    out.push_str(&match &s.head {
        Some(h) => format!(
            "head        {} {} {}\n",
            h.atom_id,
            &h.commit[..12],
            safe(&h.timestamp)
        ),
        None => "head        none yet; add one with `atom record TYPE OPERATION`\n".into(),
    });
    if s.remotes.is_empty() {
        out.push_str("remotes     none (`atom remote add NAME URL`)\n");
    }
    for r in &s.remotes {
        let state = match (r.ahead, r.behind) {
            (None, _) => "never pushed or pulled on this trail".to_owned(),
            (Some(0), Some(0) | None) => "up to date, as last seen".to_owned(),
            (Some(a), b) => format!(
                "{a} ahead, {} behind, as last seen",
                b.map_or_else(|| "?".to_owned(), |b| b.to_string())
            ),
        };
        out.push_str(&format!(
            "remote      {} {} — {state}\n",
            safe(&r.name),
            safe(&r.url)
        ));
    }
    out.push_str(&match (s.mirror.configured, s.mirror.pending) {
        (false, _) => "mirror      not configured\n".to_owned(),
        (true, Some(n)) => format!("mirror      {n} atoms pending (`atom mirror push`)\n"),
        (true, None) => "mirror      configured; state unreadable\n".to_owned(),
    });
    match &s.hooks {
        None => out.push_str("hooks       not in a git repository\n"),
        Some(h) if h.installed.is_empty() => out.push_str(&format!(
            "hooks       none in {} (`atom hooks install`)\n",
            safe(&h.repo.to_string_lossy())
        )),
        Some(h) => out.push_str(&format!(
            "hooks       {} in {}{}\n",
            h.installed.join(", "),
            safe(&h.repo.to_string_lossy()),
            if h.this_store {
                ""
            } else {
                " (recording into another store)"
            }
        )),
    }
    let agents: Vec<String> = s
        .agents
        .installed
        .iter()
        .map(|a| {
            let outdated = if a.state == "installed" {
                ""
            } else {
                ", outdated"
            };
            format!("{} ({}{outdated})", a.agent, a.scope)
        })
        .collect();
    out.push_str(&match (agents.is_empty(), s.agents.spooled) {
        (true, 0) => "agents      none (`atom agents install`)\n".to_owned(),
        (false, 0) => format!("agents      {}\n", agents.join(", ")),
        (_, n) => format!(
            "agents      {}; {n} events waiting (`atom agents drain`)\n",
            if agents.is_empty() {
                "none installed".to_owned()
            } else {
                agents.join(", ")
            }
        ),
    });
    if s.agents.warnings > 0 {
        out.push_str(&format!(
            "            {} warnings of recording what hooks spooled (`atom agents drain` shows them)\n",
            s.agents.warnings
        ));
    }
    out.push_str(&render_sync(&s.sync));
    out.push_str(&match s.checkpoint {
        Some(n) => format!("checkpoint  {n} atoms logged\n"),
        None => "checkpoint  none yet\n".to_owned(),
    });
    out
}

/// The `sync` line: where new atoms go by themselves and how that goes.
fn render_sync(s: &AutoStatus) -> String {
    if s.auto == AutoMode::Off {
        return "sync        auto off (`atom sync auto git` pushes new atoms by themselves)\n"
            .to_owned();
    }
    let target = match (&s.remote, s.auto.d1()) {
        (Some(r), true) => format!("{} and D1", safe(r)),
        (Some(r), false) => safe(r).into_owned(),
        (None, _) => "D1".to_owned(),
    };
    let pending: Vec<String> = s
        .pending
        .iter()
        .map(|(to, n)| format!("{n} pending ({to})"))
        .collect();
    let mut parts = vec![format!("auto {} to {target}", s.auto.as_str())];
    parts.extend(pending);
    parts.push(match &s.last_success {
        Some(t) => format!("last success {}", safe(t)),
        None => "no success yet".to_owned(),
    });
    if s.running {
        parts.push("running".to_owned());
    }
    let mut out = format!("sync        {}\n", parts.join(", "));
    if let Some(e) = &s.last_error {
        out.push_str(&format!(
            "            last error ({} in a row): {}\n",
            s.failures,
            safe(e)
        ));
    }
    if let Some(t) = &s.next_retry {
        out.push_str(&format!(
            "            next retry {} (or `atom sync` now)\n",
            safe(t)
        ));
    }
    out
}
