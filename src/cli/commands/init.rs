//! `atom init`: create the store.

use std::path::PathBuf;

use atom::Trail;

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sign with this unencrypted ed25519 OpenSSH key instead of making one.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let report = Trail::init(&ctx.home, args.key.as_deref())?;
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
