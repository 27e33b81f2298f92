//! `atom serve [--listen ADDR] [--open] [--allow-remote]`: a read-only web
//! view of the store (pages and a JSON API), see `crate::cli::serve`.

use std::net::{SocketAddr, TcpListener};

use crate::cli::error::CliError;
use crate::cli::serve::{self, Options};
use crate::cli::Ctx;

/// The environment variable holding the token `--allow-remote` requires.
const TOKEN_VAR: &str = "ATOM_SERVE_TOKEN";
/// The shortest token accepted.
const MIN_TOKEN: usize = 16;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (port 0: any free port; the address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8765")]
    listen: SocketAddr,
    /// Open the first page in a browser (xdg-open or open).
    #[arg(long)]
    open: bool,
    /// Accept a non-loopback address; every request must then carry the
    /// token in $ATOM_SERVE_TOKEN (Authorization: Bearer, or ?token= once).
    #[arg(long)]
    allow_remote: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let token = match (args.allow_remote, std::env::var(TOKEN_VAR).ok()) {
        (false, _) if !args.listen.ip().is_loopback() => {
            return Err(CliError::usage(
                format!("{} is not a loopback address; atom serve shows the store to whoever can connect", args.listen.ip()),
                format!("listen on 127.0.0.1, or add --allow-remote with a token of {MIN_TOKEN}+ characters in ${TOKEN_VAR}"),
            ))
        }
        (false, _) => None,
        (true, Some(t)) if t.chars().count() >= MIN_TOKEN && t.bytes().all(|b| b.is_ascii_graphic() && b != b';') => Some(t),
        (true, _) => {
            return Err(CliError::usage(
                format!("--allow-remote needs a token in ${TOKEN_VAR}"),
                format!("set {TOKEN_VAR} to {MIN_TOKEN} or more printable characters (no spaces or ';'), e.g. `export {TOKEN_VAR}=$(openssl rand -hex 16)`"),
            ))
        }
    };
    // Open the store first: a missing store is an error now, not on the first page.
    let trail = ctx.open()?;
    trail.catch_up()?;
    let listener = TcpListener::bind(args.listen).map_err(|e| {
        CliError::usage(
            format!("cannot listen on {}: {e}", args.listen),
            "pick another port with --listen 127.0.0.1:PORT (port 0: any free port)",
        )
    })?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}/");
    ctx.printer
        .out(&format!("serving {} at {url}\n", ctx.home.display()))?;
    ctx.printer.note("read-only; stop with Ctrl-C");
    if args.open {
        open_browser(ctx, &url);
    }
    serve::run(
        listener,
        Options {
            home: ctx.home.clone(),
            token,
        },
    )?;
    Ok(())
}

fn open_browser(ctx: &Ctx, url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        ctx.printer.note(&format!(
            "note: could not run {opener} ({e}); open {url} yourself"
        ));
    }
}
