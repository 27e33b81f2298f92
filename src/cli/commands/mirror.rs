//! `atom mirror configure|push|status|restore`: the optional Cloudflare D1
//! mirror (SPEC §7). The API token comes from `CLOUDFLARE_API_TOKEN` only.

use std::path::PathBuf;

use atom::mirror::d1::{D1Client, D1Error, TOKEN_VAR};
use atom::mirror::{self, MirrorError, MirrorSettings};
use serde::Serialize;

use crate::cli::error::{CliError, EXIT_PROBLEM, EXIT_USAGE};
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Store the D1 database to mirror to (in the trail's git config).
    Configure {
        /// Cloudflare account id.
        #[arg(long)]
        account: String,
        /// D1 database id.
        #[arg(long)]
        database: String,
        /// API base URL (default: Cloudflare's).
        #[arg(long, value_name = "URL")]
        api_base: Option<String>,
    },
    /// Send D1 every atom, ref and trusted key it lacks.
    Push,
    /// What is mirrored, from local state (no network).
    Status,
    /// Rebuild a store from D1 alone into DIR (new or empty), then verify it.
    Restore {
        /// The directory of the new store.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Cloudflare account id (default: this store's mirror setting).
        #[arg(long)]
        account: Option<String>,
        /// D1 database id (default: this store's mirror setting).
        #[arg(long)]
        database: Option<String>,
        /// API base URL (default: this store's setting, else Cloudflare's).
        #[arg(long, value_name = "URL")]
        api_base: Option<String>,
    },
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.command {
        Sub::Configure {
            account,
            database,
            api_base,
        } => {
            let trail = ctx.open()?;
            let settings = MirrorSettings::new(&account, &database, api_base.as_deref())?;
            trail.mirror_configure(&settings)?;
            if ctx.printer.json {
                ctx.printer.json(&settings)?;
            } else {
                ctx.printer.out(&format!(
                    "mirror: D1 database {} of account {} at {}\n",
                    settings.database, settings.account, settings.api_base
                ))?;
                ctx.printer.note(&format!(
                    "the API token is read from {TOKEN_VAR} when you push; it is never stored"
                ));
            }
            Ok(())
        }
        Sub::Push => push(ctx),
        Sub::Status => {
            let status = ctx.open()?.mirror_status()?;
            if ctx.printer.json {
                ctx.printer.json(&status)?;
                return Ok(());
            }
            let mut text = match &status.settings {
                Some(s) => format!(
                    "mirror: D1 database {} of account {} at {}\n",
                    s.database, s.account, s.api_base
                ),
                None => {
                    "mirror: not configured (atom mirror configure --account ID --database ID)\n"
                        .to_owned()
                }
            };
            text.push_str(&format!(
                "pending: {} atom{}\n",
                status.pending,
                plural(status.pending)
            ));
            text.push_str(&match (&status.last_push, status.last_push_atoms) {
                (Some(at), Some(n)) => {
                    format!("last push: {at} ({n} atom{} sent)\n", plural(n as usize))
                }
                (Some(at), None) => format!("last push: {at}\n"),
                _ => "last push: never\n".to_owned(),
            });
            ctx.printer.out(&text)?;
            Ok(())
        }
        Sub::Restore {
            to,
            account,
            database,
            api_base,
        } => restore(ctx, to, account, database, api_base),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn push(ctx: &Ctx) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let settings = trail.mirror_settings().ok_or(MirrorError::NotConfigured)?;
    let client = D1Client::from_env(&settings.target()).map_err(MirrorError::from)?;
    let show = ctx.printer.progress_enabled();
    let report = trail.mirror_push(&client, &mut |done, total| {
        if show && total > 0 {
            let width = 30;
            let filled = done * width / total;
            eprint!(
                "\rmirror: [{}{}] {done}/{total} atoms",
                "#".repeat(filled),
                "-".repeat(width - filled)
            );
            if done == total {
                eprintln!();
            }
        }
    })?;
    if ctx.printer.json {
        ctx.printer.json(&report)?;
    } else {
        let mut line = format!(
            "pushed {} atom{} ({} objects) to D1 database {}",
            report.atoms_sent,
            plural(report.atoms_sent),
            report.objects_sent,
            settings.database
        );
        if report.atoms_present > 0 {
            line.push_str(&format!("; {} were there already", report.atoms_present));
        }
        line.push_str(&format!(
            "; {} ref{}, {} trusted key{}",
            report.refs,
            plural(report.refs),
            report.signers,
            plural(report.signers)
        ));
        if report.log_size > 0 {
            line.push_str(&format!(
                "; the log at {} leaves ({} new log commit{})",
                report.log_size,
                report.log_commits,
                plural(report.log_commits)
            ));
        }
        line.push('\n');
        ctx.printer.out(&line)?;
        if report.signers_action == "not listed" {
            ctx.printer.note(
                "note: the mirrored key list does not trust this store's key, so it was left as it is; \
                 push from a store whose key it lists after `atom signers add` of this store's key",
            );
        }
        if report.retries > 0 {
            ctx.printer.note(&format!(
                "note: D1 rate-limited {} request(s); they were retried",
                report.retries
            ));
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct RestoreOut<'a> {
    #[serde(flatten)]
    report: &'a mirror::RestoreReport,
}

fn restore(
    ctx: &Ctx,
    to: PathBuf,
    account: Option<String>,
    database: Option<String>,
    api_base: Option<String>,
) -> Result<(), CliError> {
    let configured = atom::Trail::open(&ctx.home)
        .ok()
        .and_then(|t| t.mirror_settings());
    let account = account.or_else(|| configured.as_ref().map(|s| s.account.clone()));
    let database = database.or_else(|| configured.as_ref().map(|s| s.database.clone()));
    let api_base = api_base.or_else(|| configured.as_ref().map(|s| s.api_base.clone()));
    let (Some(account), Some(database)) = (account, database) else {
        return Err(CliError::usage(
            "restore needs the D1 database: no --account/--database given and this store has no mirror configured",
            "atom mirror restore --to DIR --account ID --database ID",
        ));
    };
    let settings = MirrorSettings::new(&account, &database, api_base.as_deref())?;
    let client = D1Client::from_env(&settings.target()).map_err(MirrorError::from)?;
    let show = ctx.printer.progress_enabled();
    let report = mirror::restore(&to, &client, &settings, &mut |n| {
        if show && n % 100 == 0 {
            eprint!("\rrestoring: {n} objects");
        }
    })?;
    if show {
        eprintln!("\rrestoring: {} objects, done", report.objects);
    }
    if ctx.printer.json {
        ctx.printer.json(&RestoreOut { report: &report })?;
    } else {
        ctx.printer.out(&format!(
            "restored {} atom{} ({} objects, {} ref{}) into {}; trusted {} mirrored key{}\n",
            report.atoms,
            plural(report.atoms),
            report.objects,
            report.refs.len(),
            plural(report.refs.len()),
            report.home.display(),
            report.signers,
            plural(report.signers)
        ))?;
        for k in &report.trusted {
            ctx.printer
                .out(&format!("  trusted {}  {}\n", safe(&k.name), k.fingerprint))?;
        }
        if report.verify.failures.is_empty() {
            ctx.printer.out(&format!(
                "✓ {} atoms verified, chain intact\n",
                report.verify.atoms
            ))?;
        }
        if report.log.problems.is_empty() {
            ctx.printer.out(&format!(
                "✓ log: {} leaves, its chain and the mirrored checkpoint check out\n",
                report.log.size
            ))?;
        }
        for problem in &report.log.problems {
            ctx.printer.out(&format!("log: {}\n", safe(problem)))?;
        }
    }
    if let Some(problem) = &report.signers_problem {
        ctx.printer
            .note(&format!("warning: the mirrored key list: {problem}"));
    }
    let home = report.home.to_string_lossy();
    let home = atom::shell::quote(&home);
    if let (true, Some(problem)) = (
        report.verify.failures.is_empty(),
        report.log.problems.first(),
    ) {
        return Err(CliError::problem(
            format!(
                "the restored store's transparency log does not check out: {}",
                safe(problem)
            ),
            Some(format!(
                "the mirror may have been altered; `atom --store {home} verify --all` shows the log, and `atom mirror push` from the original store sends it again"
            )),
        ));
    }
    if !report.verify.ok {
        return Err(CliError::problem(
            format!(
                "the restored store does not verify: {} atom(s) fail",
                report.verify.failures.len()
            ),
            Some(format!("`atom --store {home} verify --all` lists them")),
        ));
    }
    Ok(())
}

impl From<MirrorError> for CliError {
    fn from(e: MirrorError) -> Self {
        let e = match e {
            MirrorError::Trail(inner) => return inner.into(),
            MirrorError::Signers(inner) => return inner.into(),
            e => e,
        };
        let message = e.to_string();
        let (code, hint) = match &e {
            MirrorError::Trail(_) | MirrorError::Signers(_) => unreachable!("handled above"),
            MirrorError::NotConfigured => (
                EXIT_USAGE,
                Some("atom mirror configure --account ID --database ID".to_owned()),
            ),
            MirrorError::Invalid(_) => (EXIT_USAGE, Some("see `atom mirror --help`".to_owned())),
            MirrorError::NotMirrored(_) => (
                EXIT_PROBLEM,
                Some("check --account/--database, and run `atom mirror push` from the store first".to_owned()),
            ),
            MirrorError::Damaged(_) => (
                EXIT_PROBLEM,
                Some("push again from a store that has these atoms (`atom mirror push`)".to_owned()),
            ),
            MirrorError::D1(d) => match d {
                D1Error::NoToken => (
                    EXIT_USAGE,
                    Some(format!("export {TOKEN_VAR}=<a Cloudflare API token with D1 edit rights>")),
                ),
                D1Error::Auth { .. } => (
                    EXIT_PROBLEM,
                    Some(format!("check {TOKEN_VAR}: the token needs D1 edit rights on this account")),
                ),
                D1Error::Unreachable { .. } => (
                    EXIT_PROBLEM,
                    Some("check the network and --api-base (`atom mirror status` shows it); nothing was marked as mirrored".to_owned()),
                ),
                D1Error::RateLimited { .. } => (
                    EXIT_PROBLEM,
                    Some("wait a few minutes and push again; what was sent is kept".to_owned()),
                ),
                D1Error::Api { .. } | D1Error::BadResponse(_) | D1Error::Client(_) => (
                    EXIT_PROBLEM,
                    Some("check the account and database ids (`atom mirror status`)".to_owned()),
                ),
            },
        };
        CliError {
            code,
            message,
            hint,
        }
    }
}
