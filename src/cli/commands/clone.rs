//! `atom clone URL [DIR]`: a new store from a remote, trusting the keys it
//! publishes on first use.

use std::path::PathBuf;

use atom::Trail;

use crate::cli::commands::pull;
use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the trails are (a path, ssh://, https://, git://...).
    url: String,
    /// The new store's directory (default: --store, $ATOM_HOME, else ~/.local/share/atom).
    dir: Option<PathBuf>,
    /// The name this store's new key is trusted under, unique among the keys the remote publishes (default: <host>-<6 characters of its fingerprint>).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Sign with this unencrypted OpenSSH key (ed25519, ecdsa or rsa) instead of making one.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let home = args.dir.unwrap_or_else(|| ctx.home.clone());
    let p = &ctx.printer;
    if let Some(name) = &args.name {
        super::init::check_name(name)?;
    }
    let progress = p.progress_enabled() && !p.json;
    let report = Trail::clone_from(
        &args.url,
        &home,
        progress,
        args.name.as_deref(),
        args.key.as_deref(),
    )
    .map_err(|e| match e {
        atom::sync::SyncError::Trail(e) => super::init::key_error(e, args.key.is_some()),
        e => e.into(),
    })?;
    if p.json {
        p.json(&report)?;
        return Ok(());
    }
    let mut text = format!(
        "cloned {} into {} ({} atom{} verified; current trail {})\n",
        safe(&report.pull.url),
        report.home.display(),
        report.pull.verified,
        if report.pull.verified == 1 { "" } else { "s" },
        safe(&report.current)
    );
    text.push_str(&pull::updates(p, &report.pull));
    text.push_str(&pull::witnessed(&report.pull));
    if !report.trusted.is_empty() {
        text.push_str("trusting the keys it publishes (first use):\n");
        for k in &report.trusted {
            text.push_str(&format!("  {}  {}\n", safe(&k.name), k.fingerprint));
        }
    }
    p.out(&text)?;
    p.note(&format!(
        "this store signs with its own key {}; `atom push` publishes it, and the other devices trust it with `atom signers add`",
        report.fingerprint
    ));
    pull::untrusted_note(p, &report.pull);
    Ok(())
}
