//! `atom signers add NAME KEY | list | retire NAME | remove NAME`: whose
//! signatures this store trusts (keys/allowed_signers).

use atom::signers::{SignerInfo, SignerRetired};
use atom::signing::SshTime;
use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::output::{safe, DIM};
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
        /// An `ssh-ed25519 AAAA...` public key line (or ecdsa-sha2-nistp256/384/521, ssh-rsa), or the path of a .pub file.
        key: String,
    },
    /// List the trusted keys, with the options of their lines.
    List,
    /// Retire the key(s) of NAME: atoms signed up to TIME stay valid, later ones do not.
    Retire {
        /// The signer's name.
        name: String,
        /// The last time the key may sign: RFC 3339, YYYY-MM-DD, today,
        /// yesterday, Nd or Nh (default: now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Retire it even if it is this store's own signing key.
        #[arg(long)]
        force: bool,
    },
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
struct RetireOut<'a> {
    retired: &'a [SignerRetired],
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
                    safe(&added.signer.name),
                    added.signer.fingerprint
                ))?;
            } else {
                ctx.printer.out(&format!(
                    "already trusted as {} ({})\n",
                    safe(&added.signer.name),
                    added.signer.fingerprint
                ))?;
            }
        }
        Action::List => {
            let signers = trail.signers()?;
            if ctx.printer.json {
                ctx.printer.json(&ListOut { signers: &signers })?;
            } else {
                let width = signers
                    .iter()
                    .map(|s| safe(&s.name).chars().count())
                    .max()
                    .unwrap_or(0);
                let mut text = String::new();
                for s in &signers {
                    let mut notes = options(s);
                    if s.own {
                        notes.push_str(&ctx.printer.paint(DIM, "  (this store's key)"));
                    }
                    text.push_str(&format!(
                        "{:<width$}  {}{notes}\n",
                        safe(&s.name),
                        s.fingerprint
                    ));
                }
                ctx.printer.out(&text)?;
            }
        }
        Action::Retire { name, at, force } => {
            let at = at
                .as_deref()
                .map(|s| crate::cli::dates::parse("--at", s))
                .transpose()?;
            let retired = trail.retire_signer(&name, at, force)?;
            if ctx.printer.json {
                ctx.printer.json(&RetireOut { retired: &retired })?;
            } else {
                let mut text = String::new();
                for r in &retired {
                    let s = &r.signer;
                    let before = s.valid_before.as_deref().map_or("?".to_owned(), readable);
                    if r.changed {
                        text.push_str(&format!(
                            "retired {} ({}): its signatures up to {before} stay valid\n",
                            safe(&s.name),
                            s.fingerprint
                        ));
                    } else {
                        text.push_str(&format!(
                            "{} ({}) was retired already, at {before}; unchanged\n",
                            safe(&s.name),
                            s.fingerprint
                        ));
                    }
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
                        safe(&s.name),
                        s.fingerprint
                    ));
                }
                ctx.printer.out(&text)?;
            }
        }
    }
    Ok(())
}

/// The options of a line worth showing: all but the `namespaces="git"` atom writes.
fn options(s: &SignerInfo) -> String {
    let mut out = String::new();
    if s.cert_authority {
        out.push_str("  cert-authority");
    }
    match s.namespaces.as_deref() {
        Some("git") | None => {}
        Some(n) => out.push_str(&format!("  namespaces=\"{}\"", safe(n))),
    }
    if let Some(t) = &s.valid_after {
        out.push_str(&format!("  valid-after={}", safe(t)));
    }
    if let Some(t) = &s.valid_before {
        out.push_str(&format!("  valid-before={}", safe(t)));
    }
    out
}

/// A `valid-before`/`valid-after` value as RFC 3339 when it is UTC, as written otherwise.
fn readable(t: &str) -> String {
    match SshTime::parse(t) {
        Some(parsed) if t.ends_with(['Z', 'z']) => {
            chrono::DateTime::from_timestamp(parsed.seconds(), 0).map_or(t.to_owned(), |d| {
                d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
        }
        _ => safe(t).into_owned(),
    }
}
