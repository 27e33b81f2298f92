//! `atom init`: create the store.

use std::path::PathBuf;

use atom::signing::SigningError;
use atom::{Trail, TrailError};

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sign with this unencrypted ed25519 OpenSSH key instead of making one.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let report = Trail::init(&ctx.home, args.key.as_deref()).map_err(|e| match e {
        // A --key that cannot sign is bad input; nothing was made.
        TrailError::Signing(
            e @ (SigningError::Read { .. }
            | SigningError::Parse { .. }
            | SigningError::Algorithm { .. }
            | SigningError::Encrypted { .. }),
        ) if args.key.is_some() => CliError::usage(
            format!("{e}; nothing was created"),
            "give an unencrypted ed25519 OpenSSH private key (ssh-keygen -t ed25519 -N '' -f FILE), or leave --key out and atom makes one",
        ),
        e => e.into(),
    })?;
    if ctx.printer.json {
        ctx.printer.json(&report)?;
        return Ok(());
    }
    let verb = if report.created {
        "Created"
    } else {
        "Store already exists:"
    };
    ctx.printer.out(&format!(
        "{verb} atom store in {}\nsigning key {} ({})\n",
        report.home.display(),
        report.signing_key.display(),
        report.fingerprint
    ))?;
    Ok(())
}
