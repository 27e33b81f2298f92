//! `atom prove ID`, `atom prove --check FILE [--key VKEY]`,
//! `atom prove --consistency OLD NEW`: offline-checkable proofs that an atom
//! is in the store's transparency log (C2SP tlog-proof), and that one
//! checkpoint extends another.

use std::path::{Path, PathBuf};

use atom::tlog::note::VerifierKey;
use base64::Engine as _;

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom to prove (an id, a trail name or a commit).
    #[arg(required_unless_present_any = ["check", "consistency"])]
    id: Option<String>,
    /// Check a proof file (`-` reads stdin) instead of making one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["id", "consistency"])]
    check: Option<PathBuf>,
    /// The log's verifier key to check with (default: this store's).
    #[arg(long, value_name = "VERIFIER_KEY", requires = "check")]
    key: Option<String>,
    /// Print the consistency path between two checkpoint files of this
    /// store's log, one base64 hash a line.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with = "id")]
    consistency: Option<Vec<PathBuf>>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if let Some(file) = &args.check {
        return check(ctx, file, args.key.as_deref());
    }
    if let Some(files) = &args.consistency {
        return consistency(ctx, &files[0], &files[1]);
    }
    let trail = ctx.open()?;
    let id = args.id.as_deref().expect("clap requires it");
    let commit = trail.resolve(id)?;
    let proof = trail.prove(commit)?;
    if ctx.printer.json {
        ctx.printer.json(&serde_json::json!({
            "commit": commit.to_string(),
            "index": proof.index,
            "proof": proof.format(),
        }))?;
    } else {
        ctx.printer.out(&proof.format())?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, CliError> {
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::take(std::io::stdin(), 1 << 20)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::usage(format!("cannot read stdin: {e}"), "pass a file"))?;
        buf
    } else {
        let meta = std::fs::metadata(path).map_err(|e| {
            CliError::usage(
                format!("cannot read {}: {e}", path.display()),
                "pass a readable file",
            )
        })?;
        if meta.len() > 1 << 20 {
            return Err(CliError::usage(
                format!("{} is larger than 1 MiB", path.display()),
                "a proof or checkpoint is a few hundred bytes",
            ));
        }
        std::fs::read(path).map_err(|e| {
            CliError::usage(
                format!("cannot read {}: {e}", path.display()),
                "pass a readable file",
            )
        })?
    };
    String::from_utf8(bytes).map_err(|_| {
        CliError::usage(
            format!("{} is not UTF-8 text", path.display()),
            "pass a proof or checkpoint file",
        )
    })
}

use std::io::Read as _;

fn check(ctx: &Ctx, file: &Path, key: Option<&str>) -> Result<(), CliError> {
    let text = read(file)?;
    let key = match key {
        Some(k) => k.to_owned(),
        None => ctx.open()?.verifier_key()?,
    };
    let key = VerifierKey::parse(&key).map_err(|e| {
        CliError::usage(
            format!("not a verifier key: {e}"),
            "pass the key `atom checkpoint --verifier-key` prints on the log's store",
        )
    })?;
    match atom::transparency::check_proof(&text, &key) {
        Ok(proven) => {
            if ctx.printer.json {
                ctx.printer.json(&proven)?;
            } else {
                ctx.printer.out(&format!(
                    "✓ leaf {} ({} {}) is in log {} at size {}, signed by {}\n",
                    proven.index,
                    proven.commit,
                    safe(&proven.digest),
                    safe(&proven.origin),
                    proven.size,
                    safe(&key.name)
                ))?;
            }
            Ok(())
        }
        Err(why) => Err(CliError::problem(
            format!("the proof does not check out: {why}"),
            Some("make a new one with `atom prove ID` on the log's store".into()),
        )),
    }
}

fn consistency(ctx: &Ctx, old: &Path, new: &Path) -> Result<(), CliError> {
    let parse = |path: &Path| -> Result<atom::tlog::checkpoint::Checkpoint, CliError> {
        atom::transparency::parse_checkpoint(&read(path)?).map_err(|why| {
            CliError::usage(
                format!("{}: {why}", path.display()),
                "pass two checkpoint files (`atom checkpoint > FILE`)",
            )
        })
    };
    let (old_cp, new_cp) = (parse(old)?, parse(new)?);
    let trail = ctx.open()?;
    for (path, cp) in [(old, &old_cp), (new, &new_cp)] {
        let ours = trail.log_root(cp.size)?;
        if ours != cp.root || trail.checkpoint()?.is_none_or(|v| v.origin != cp.origin) {
            return Err(CliError::problem(
                format!("{} is not a checkpoint of this store's log", path.display()),
                Some("run it on the store whose log signed both checkpoints".into()),
            ));
        }
    }
    let path = trail.prove_consistency(old_cp.size, new_cp.size)?;
    let lines: Vec<String> = path
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.encode(h))
        .collect();
    if ctx.printer.json {
        ctx.printer.json(&serde_json::json!({
            "old": old_cp.size, "new": new_cp.size, "path": lines,
        }))?;
    } else {
        ctx.printer
            .out(&lines.iter().map(|l| format!("{l}\n")).collect::<String>())?;
    }
    Ok(())
}
