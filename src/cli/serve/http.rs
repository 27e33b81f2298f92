//! A minimal HTTP/1.1 server side: read one GET request, write one response,
//! close the connection.
//!
//! The design decision: one request per connection (`Connection: close`),
//! no request bodies, no keep-alive, no chunking. That is all a read-only
//! view needs, and it leaves little to get wrong with hostile input: the
//! request head is capped at [`MAX_HEAD`] bytes and must arrive within the
//! socket's read timeout; the target is percent-decoded once and must be
//! valid UTF-8 without control characters; nothing from the request is
//! ever written back into a response header.

use std::collections::HashMap;
use std::io::{self, Read, Write};

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most headers a request may carry.
const MAX_HEADERS: usize = 64;

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    /// `GET` or `HEAD`.
    pub method: String,
    /// The decoded path segments, without empty ones: `/atom/X` is `["atom", "X"]`.
    pub segments: Vec<String>,
    /// The decoded query parameters (the last value of a repeated name wins).
    pub query: HashMap<String, String>,
    /// Header values by lower-case name.
    pub headers: HashMap<String, String>,
}

impl Request {
    /// A query parameter, `None` when absent or empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A header value by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Why a request was refused before it was routed.
#[derive(Debug)]
pub struct Refused {
    /// The status code.
    pub status: u16,
    /// What was wrong, for the response body.
    pub why: &'static str,
}

fn refused(status: u16, why: &'static str) -> Refused {
    Refused { status, why }
}

/// Read and parse one request head from `stream`.
pub fn read_request(stream: &mut impl Read) -> Result<Request, Refused> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let end = loop {
        if let Some(i) = find_end(&head) {
            break i;
        }
        if head.len() > MAX_HEAD {
            return Err(refused(431, "request head too large"));
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err(refused(400, "connection closed before the request ended")),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(refused(408, "request not received in time")),
        }
    };
    if end > MAX_HEAD {
        return Err(refused(431, "request head too large"));
    }
    let text =
        std::str::from_utf8(&head[..end]).map_err(|_| refused(400, "request head is not UTF-8"))?;
    parse_head(text)
}

/// The offset of the blank line ending the head (`\r\n\r\n`, or `\n\n`).
fn find_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn parse_head(text: &str) -> Result<Request, Refused> {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused(400, "malformed request line"));
    };
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
        return Err(refused(505, "only HTTP/1.0 and HTTP/1.1"));
    }
    if !matches!(method, "GET" | "HEAD") {
        return Err(refused(405, "this server is read-only: GET and HEAD only"));
    }
    if !target.starts_with('/') {
        return Err(refused(400, "the target must be a path"));
    }
    let mut headers = HashMap::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = l.split_once(':') else {
            return Err(refused(400, "malformed header"));
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(refused(400, "malformed header name"));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(refused(431, "too many headers"));
        }
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = path.split('#').next().unwrap_or_default();
    let mut segments = Vec::new();
    for s in path.split('/').filter(|s| !s.is_empty()) {
        segments.push(decode(s, false).ok_or_else(|| refused(400, "malformed path"))?);
    }
    let mut params = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || refused(400, "malformed query");
        params.insert(
            decode(k, true).ok_or_else(bad)?,
            decode(v, true).ok_or_else(bad)?,
        );
    }
    Ok(Request {
        method: method.to_owned(),
        segments,
        query: params,
        headers,
    })
}

/// Percent-decode `s` (`+` is a space in a query): `None` when the result is
/// not UTF-8 or holds a control character.
pub fn decode(s: &str, query: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

/// Percent-encode `s` for a URL path segment or query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers; their values are made by this program, never copied from a request.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, `content_type` and `body`.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Add a header.
    pub fn with(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Write the response (the head only when `head_only`).
    pub fn write_to(&self, out: &mut impl Write, head_only: bool) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
             Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
             Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
             Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            debug_assert!(!value.contains(['\r', '\n']), "header values are ours");
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        if !head_only {
            out.write_all(&self.body)?;
        }
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Request, u16> {
        read_request(&mut raw.as_bytes()).map_err(|r| r.status)
    }

    #[test]
    fn parses_a_get_with_segments_and_query() {
        let r =
            parse("GET /atom/ATOM-CFG-20241127-001?down=1&q=a+b%21 HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("parses");
        assert_eq!(r.segments, ["atom", "ATOM-CFG-20241127-001"]);
        assert_eq!(r.param("q"), Some("a b!"));
        assert_eq!(r.param("down"), Some("1"));
        assert_eq!(r.header("host"), Some("x"));
    }

    #[test]
    fn refuses_hostile_heads() {
        assert_eq!(parse("POST / HTTP/1.1\r\n\r\n").unwrap_err(), 405);
        assert_eq!(parse("GET / HTTP/2\r\n\r\n").unwrap_err(), 505);
        assert_eq!(parse("GET http://x/ HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert_eq!(parse("GET /%0d%0a HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert_eq!(parse("GET /%ff HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert_eq!(parse("GET /%4 HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert_eq!(
            parse("GET / HTTP/1.1\r\nno colon\r\n\r\n").unwrap_err(),
            400
        );
        assert_eq!(parse("GET / HTTP/1.1\r\n").unwrap_err(), 400);
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse(&big).unwrap_err(), 431);
    }

    #[test]
    fn encode_and_decode_round_trip() {
        for s in ["archive/main/2024", "a b&c=d", "日本", "x%y"] {
            assert_eq!(decode(&encode(s), true).as_deref(), Some(s));
        }
    }
}
