//! `atom serve`: a read-only web view of the store, pages and a JSON API.
//!
//! The design decision: a small synchronous server on std's `TcpListener`
//! (see [`http`]) with a few worker threads, each holding its own opened
//! [`Trail`] (a `Trail` is not shared between threads). Every answer is
//! read through the same façade calls, and serialized into the same shapes,
//! as the CLI's `--json`; the pages are rendered on the server from those
//! values, charts and graphs as inline SVG, with every stored string
//! escaped. Nothing is written but the index catching up, as any read
//! command does.
//!
//! Loopback only unless `--allow-remote`, which requires a token; on
//! loopback the `Host` header must name a loopback host too, so a web page
//! elsewhere cannot read the store by rebinding its DNS name to 127.0.0.1.

mod api;
mod graph;
mod html;
pub mod http;
mod pages;

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use atom::Trail;

use http::{Request, Response};

/// How many requests are answered at once.
const WORKERS: usize = 4;
/// How long a client may take to send its request, or to read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The cookie a browser keeps the token in.
const TOKEN_COOKIE: &str = "atom_token";

/// What `atom serve` was asked for.
pub struct Options {
    /// The store directory.
    pub home: PathBuf,
    /// The token every request must carry (`--allow-remote`); `None` on loopback.
    pub token: Option<String>,
}

/// Answer requests on `listener` until the process is stopped.
pub fn run(listener: TcpListener, options: Options) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let options = Arc::new(options);
    let (send, receive) = mpsc::sync_channel::<TcpStream>(64);
    let receive = Arc::new(Mutex::new(receive));
    for _ in 0..WORKERS {
        let receive = Arc::clone(&receive);
        let options = Arc::clone(&options);
        std::thread::spawn(move || worker(&receive, &options, local));
    }
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if send.send(stream).is_err() {
                    break;
                }
            }
            // A connection that failed before it was accepted is the
            // client's business; out of descriptors, wait a little.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Ok(())
}

fn worker(receive: &Mutex<mpsc::Receiver<TcpStream>>, options: &Options, local: SocketAddr) {
    let mut trail: Option<Trail> = None;
    loop {
        let next = match receive.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(mut stream) = next else { return };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let (response, head_only) = match http::read_request(&mut stream) {
            Err(r) => {
                let _ = html::refused(r.status, r.why).write_to(&mut stream, false);
                drain(&mut stream);
                continue;
            }
            Ok(req) => {
                let head_only = req.method == "HEAD";
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    answer(&req, options, local, &mut trail)
                }));
                let response = answer.unwrap_or_else(|_| {
                    // The trail may be in any state after a panic: open it afresh.
                    trail = None;
                    html::refused(500, "internal error")
                });
                (response, head_only)
            }
        };
        let _ = response.write_to(&mut stream, head_only);
        let _ = stream.flush();
    }
}

/// After refusing a request whose rest was not read: stop writing and read
/// what is left for a moment, so that closing does not reset the connection
/// before the client has read the refusal.
fn drain(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 8192];
    let mut left: usize = 1 << 20;
    while left > 0 {
        match std::io::Read::read(stream, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn answer(
    req: &Request,
    options: &Options,
    local: SocketAddr,
    trail: &mut Option<Trail>,
) -> Response {
    if let Some(refusal) = check_access(req, options, local) {
        return refusal;
    }
    if trail.is_none() {
        match Trail::open(&options.home) {
            Ok(t) => *trail = Some(t),
            Err(e) => return pages::error_response(req, crate::cli::error::CliError::from(e)),
        }
    }
    let t = trail.as_ref().expect("opened above");
    let mut response = pages::route(req, t);
    // Notes gathered on the way (an index rebuilt) have no terminal here.
    t.take_notices();
    if options.token.is_some() && req.param("token").is_some() {
        // The token came in the address: keep it in a cookie so the links work.
        response = response.with(
            "Set-Cookie",
            format!(
                "{TOKEN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                options.token.as_deref().unwrap_or_default()
            ),
        );
    }
    response
}

/// Refuse a request that names another host (on loopback) or lacks the token.
fn check_access(req: &Request, options: &Options, local: SocketAddr) -> Option<Response> {
    match &options.token {
        None => {
            let host = req.header("host").unwrap_or_default();
            (!is_loopback_host(host, local.port())).then(|| {
                html::refused(
                    421,
                    "this server answers only requests addressed to a loopback host (127.0.0.1, localhost, [::1])",
                )
            })
        }
        Some(token) => {
            let given = req
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .or_else(|| cookie(req, TOKEN_COOKIE))
                .or_else(|| req.param("token"));
            let ok = given.is_some_and(|g| same_bytes(g.as_bytes(), token.as_bytes()));
            (!ok).then(|| {
                html::refused(
                    401,
                    "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN once",
                )
            })
        }
    }
}

fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header("cookie")?.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// `127.0.0.1`, `localhost` or `[::1]`, with this server's port or none.
fn is_loopback_host(host: &str, port: u16) -> bool {
    let (name, p) = match host.rsplit_once(':') {
        Some((n, p)) if !p.contains(']') => (n, Some(p)),
        _ => (host, None),
    };
    let port_ok = p.is_none_or(|p| p.parse::<u16>() == Ok(port));
    let name = name.to_ascii_lowercase();
    port_ok
        && (name == "localhost"
            || name == "[::1]"
            || name
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

/// Compare two secrets in time that depends only on their lengths.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_only() {
        assert!(is_loopback_host("127.0.0.1:8080", 8080));
        assert!(is_loopback_host("localhost:8080", 8080));
        assert!(is_loopback_host("[::1]:8080", 8080));
        assert!(is_loopback_host("localhost", 8080));
        assert!(!is_loopback_host("evil.example:8080", 8080));
        assert!(!is_loopback_host("127.0.0.1:9999", 8080));
        assert!(!is_loopback_host("", 8080));
    }

    #[test]
    fn same_bytes_compares_whole_secrets() {
        assert!(same_bytes(b"secret-token", b"secret-token"));
        assert!(!same_bytes(b"secret-token", b"secret-tokem"));
        assert!(!same_bytes(b"secret", b"secret-token"));
    }
}
