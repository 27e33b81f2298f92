//! `atom signers add NAME KEY | list | remove NAME`: whose signatures this
//! store trusts (keys/allowed_signers).

use atom::signers::SignerInfo;
use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::output::DIM;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Trust KEY for signatures by NAME.
    Add {
        /// The signer's name (e.g. an email address).
        name: String,
        /// An `ssh-ed25519 AAAA...` public key line, or the path of a .pub file.
        key: String,
    },
    /// List the trusted keys.
    List,
    /// Stop trusting every key of NAME.
    Remove {
        /// The signer's name.
        name: String,
        /// Remove it even if it is this store's own signing key.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Serialize)]
struct ListOut<'a> {
    signers: &'a [SignerInfo],
}

#[derive(Serialize)]
struct RemoveOut<'a> {
    removed: &'a [SignerInfo],
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    match args.action {
        Action::Add { name, key } => {
            let added = trail.add_signer(&name, &key)?;
            if ctx.printer.json {
                ctx.printer.json(&added)?;
            } else if added.added {
                ctx.printer.out(&format!(
                    "trusting {} ({})\n",
                    added.signer.name, added.signer.fingerprint
                ))?;
            } else {
                ctx.printer.out(&format!(
                    "already trusted as {} ({})\n",
                    added.signer.name, added.signer.fingerprint
                ))?;
            }
        }
        Action::List => {
            let signers = trail.signers()?;
            if ctx.printer.json {
                ctx.printer.json(&ListOut { signers: &signers })?;
            } else {
                let width = signers.iter().map(|s| s.name.len()).max().unwrap_or(0);
                let mut text = String::new();
                for s in &signers {
                    let own = if s.own {
                        ctx.printer.paint(DIM, "  (this store's key)")
                    } else {
                        String::new()
                    };
                    text.push_str(&format!("{:<width$}  {}{own}\n", s.name, s.fingerprint));
                }
                ctx.printer.out(&text)?;
            }
        }
        Action::Remove { name, force } => {
            let removed = trail.remove_signer(&name, force)?;
            if ctx.printer.json {
                ctx.printer.json(&RemoveOut { removed: &removed })?;
            } else {
                let mut text = String::new();
                for s in &removed {
                    text.push_str(&format!(
                        "no longer trusting {} ({})\n",
                        s.name, s.fingerprint
                    ));
                }
                ctx.printer.out(&text)?;
            }
        }
    }
    Ok(())
}
