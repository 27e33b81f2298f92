//! `atom init`: create the store.

use std::path::PathBuf;

use atom::signing::SigningError;
use atom::{Trail, TrailError};

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sign with this unencrypted OpenSSH key (ed25519, ecdsa or rsa) instead of making one.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The name the store's own key is trusted and published under (default: the key's comment when it is a usable name, else <host>-<6 characters of its fingerprint>).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// Refuse a signer name an allowed_signers line cannot hold (exit 2).
pub fn check_name(name: &str) -> Result<(), CliError> {
    atom::signers::validate_name(name).map_err(|e| {
        CliError::usage(
            format!("{e}; nothing was created"),
            "pick a name like alice-laptop",
        )
    })
}

/// A `--key` that cannot sign is bad input (exit 2); nothing was made.
pub fn key_error(e: TrailError, key_given: bool) -> CliError {
    match e {
        TrailError::Signing(
            e @ (SigningError::Read { .. }
            | SigningError::Parse { .. }
            | SigningError::Algorithm { .. }
            | SigningError::Encrypted { .. }),
        ) if key_given => CliError::usage(
            format!("{e}; nothing was created"),
            "give an unencrypted ed25519, ecdsa or rsa OpenSSH private key (ssh-keygen -t ed25519 -N '' -f FILE), or leave --key out and atom makes one",
        ),
        e => e.into(),
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if let Some(name) = &args.name {
        check_name(name)?;
    }
    let named = Trail::init_named(&ctx.home, args.key.as_deref(), args.name.as_deref());
    let report = named.map_err(|e| key_error(e, args.key.is_some()))?;
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
        "{verb} atom store in {}\nsigning key {} ({}), trusted as {}\n",
        report.home.display(),
        report.signing_key.display(),
        report.fingerprint,
        crate::cli::output::safe(&report.name)
    ))?;
    if let Some(log) = &report.log_key {
        ctx.printer.out(&format!(
            "log key {} ({}), trusted as {} for checkpoints only: the transparency log is signed with Ed25519\n",
            log.path.display(),
            log.fingerprint,
            crate::cli::output::safe(&log.name)
        ))?;
    }
    Ok(())
}
