//! `atom checkpoint [--verifier-key | --witness-key]`: the transparency
//! log's latest signed checkpoint, or the keys a third party needs.

use atom::sync::witness::Cosignature;
use atom::Trail;
use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print this store's note verifier key (C2SP signed-note,
    /// `name+keyid+base64(0x01 || key)`): what checks its checkpoints and proofs.
    #[arg(long, conflicts_with = "witness_key")]
    verifier_key: bool,
    /// Print the key this store cosigns other stores' checkpoints with
    /// (C2SP tlog-cosignature, type 0x04).
    #[arg(long)]
    witness_key: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let p = &ctx.printer;
    if args.verifier_key || args.witness_key {
        let key = if args.verifier_key {
            trail.verifier_key()?
        } else {
            trail.witness_key()?
        };
        if p.json {
            p.json(&serde_json::json!({ "key": key }))?;
        } else {
            p.out(&format!("{key}\n"))?;
        }
        return Ok(());
    }
    let latest = latest(trail)?;
    let (note, cosignatures) = (&latest.note, &latest.cosignatures);
    if p.json {
        p.json(&latest)?;
    } else {
        // The note verbatim: it is what others verify, byte for byte.
        p.out(&safe_note(note))?;
        for c in cosignatures {
            p.note(&format!(
                "note: {} cosigned this log at {} leaves ({})",
                c.witness,
                c.size,
                chrono::DateTime::from_timestamp(c.time as i64, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// The `--json` shape: the latest checkpoint with the cosignatures made of it.
#[derive(Serialize)]
pub struct Latest {
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub note: String,
    pub commit: String,
    pub cosignatures: Vec<Cosignature>,
}

/// The latest checkpoint, or why there is none.
pub fn latest(trail: &Trail) -> Result<Latest, CliError> {
    let Some(view) = trail.checkpoint()? else {
        return Err(CliError::problem(
            "the transparency log is empty: no atom was recorded yet",
            Some("`atom record` appends the first leaf and signs the first checkpoint".into()),
        ));
    };
    let cosignatures = trail
        .cosignatures()
        .map_err(|e| CliError::problem(format!("cannot read the cosignatures: {e}"), None))?;
    // The latest checkpoint carries the cosignatures made of it.
    let mut note = view.note.clone();
    for c in cosignatures.iter().filter(|c| c.size == view.size) {
        note.push_str(&c.line);
    }
    Ok(Latest {
        origin: view.origin,
        size: view.size,
        root: view.root,
        note,
        commit: view.commit,
        cosignatures,
    })
}

/// The note as is, unless it holds characters a terminal would act on.
fn safe_note(note: &str) -> String {
    note.lines().map(|l| format!("{}\n", safe(l))).collect()
}
