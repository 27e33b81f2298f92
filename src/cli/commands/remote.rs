//! `atom remote add NAME URL | remove NAME | list`: where trails are shared.

use serde::Serialize;

use atom::shell::quote;

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Add a remote: any URL git can push to (a path, ssh://, https://, git://).
    Add {
        /// Its name (e.g. `origin`, `desktop`).
        name: String,
        /// Where it is.
        url: String,
    },
    /// Forget a remote (the trails it brought stay).
    Remove {
        /// Its name.
        name: String,
    },
    /// List the remotes.
    List,
}

#[derive(Serialize)]
struct ListOut<'a> {
    remotes: &'a [atom::sync::RemoteInfo],
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let p = &ctx.printer;
    match args.action {
        Action::Add { name, url } => {
            let r = trail.remote_add(&name, &url)?;
            if p.json {
                p.json(&r)?;
            } else {
                p.out(&format!(
                    "added remote {} ({})\n",
                    safe(&r.name),
                    safe(&r.url)
                ))?;
                p.note(&format!(
                    "publish your trails with `atom push {0}`, fetch theirs with `atom pull {0}`",
                    quote(&r.name)
                ));
            }
        }
        Action::Remove { name } => {
            let r = trail.remote_remove(&name)?;
            if p.json {
                p.json(&r)?;
            } else {
                p.out(&format!("removed remote {} ({})\n", r.name, r.url))?;
            }
        }
        Action::List => {
            let remotes = trail.remotes()?;
            if p.json {
                p.json(&ListOut { remotes: &remotes })?;
            } else {
                let width = remotes
                    .iter()
                    .map(|r| safe(&r.name).chars().count())
                    .max()
                    .unwrap_or(0);
                let text: String = remotes
                    .iter()
                    .map(|r| format!("{:width$}  {}\n", safe(&r.name), safe(&r.url)))
                    .collect();
                p.out(&text)?;
            }
        }
    }
    Ok(())
}
