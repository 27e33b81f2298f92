//! A client for Cloudflare D1's REST API (`POST .../d1/database/{db}/query`).
//!
//! The one design decision: everything goes through [`D1Client::batch`],
//! which sends statements in as few requests as D1 allows and treats a
//! request as all-or-nothing (D1 runs a batch as one transaction). Callers
//! build statements within D1's per-statement limits with [`insert_rows`].

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

/// Cloudflare's API base.
pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";
/// The environment variable holding the API token.
pub const TOKEN_VAR: &str = "CLOUDFLARE_API_TOKEN";
/// D1: bound parameters per statement.
pub const MAX_PARAMS: usize = 100;
/// D1 allows 100,000 bytes per statement; we stay under this, counting the
/// SQL text and the parameters.
pub const MAX_STATEMENT_BYTES: usize = 90_000;
/// Statements per request.
const MAX_BATCH_STATEMENTS: usize = 50;
/// Bytes per request body, about.
const MAX_BATCH_BYTES: usize = 1_000_000;
/// Attempts of one request answered with HTTP 429.
const ATTEMPTS: u32 = 6;
/// The longest wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// The largest answer read from the API (a restore reads up to a batch of
/// rows at a time, far below this).
const MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// Errors talking to D1. None of them carries the token.
#[derive(Debug, thiserror::Error)]
pub enum D1Error {
    /// No token in the environment.
    #[error("{TOKEN_VAR} is not set")]
    NoToken,
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The request did not get an answer.
    #[error("cannot reach D1 at {url}: {message}")]
    Unreachable {
        /// The endpoint (without credentials).
        url: String,
        /// Why.
        message: String,
    },
    /// Cloudflare refused the token.
    #[error("D1 refused the API token (HTTP {status}): {message}")]
    Auth {
        /// HTTP status.
        status: u16,
        /// Cloudflare's messages, verbatim.
        message: String,
    },
    /// Still rate-limited after every retry.
    #[error("D1 kept answering HTTP 429 (rate limited) after {ATTEMPTS} attempts: {message}")]
    RateLimited {
        /// Cloudflare's messages, verbatim.
        message: String,
    },
    /// Cloudflare answered with an error.
    #[error("D1 answered HTTP {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Cloudflare's messages, verbatim.
        message: String,
    },
    /// The answer was not the API's envelope.
    #[error("D1's answer cannot be read: {0}")]
    BadResponse(String),
}

/// One SQL statement with its parameters (strings, numbers or null).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Statement {
    /// The SQL.
    pub sql: String,
    /// Bound parameters.
    pub params: Vec<Value>,
}

impl Statement {
    /// A statement; `params` must be strings, numbers or null.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Statement {
            sql: sql.into(),
            params,
        }
    }

    /// Bytes it costs against D1's statement limit (SQL text and parameters).
    pub fn size(&self) -> usize {
        self.sql.len() + self.params.iter().map(param_size).sum::<usize>()
    }
}

fn param_size(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 8,
        _ => 24,
    }
}

/// Multi-row `INSERT`s: `head` is `INSERT ... (a, b) VALUES`, each row has
/// the same number of values, `tail` follows the values (`ON CONFLICT ...`).
/// Rows are packed into as few statements as D1's limits allow.
pub fn insert_rows(head: &str, tail: &str, rows: Vec<Vec<Value>>) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut sql = String::new();
    let mut params: Vec<Value> = Vec::new();
    let mut size = 0;
    for row in rows {
        let row_sql = format!("({})", vec!["?"; row.len()].join(", "));
        let row_size = row_sql.len() + 2 + row.iter().map(param_size).sum::<usize>();
        let full = params.len() + row.len() > MAX_PARAMS
            || size + row_size + tail.len() + 1 > MAX_STATEMENT_BYTES;
        if !params.is_empty() && full {
            out.push(Statement::new(
                format!("{sql} {tail}"),
                std::mem::take(&mut params),
            ));
        }
        if params.is_empty() {
            sql = format!("{head} {row_sql}");
            size = sql.len();
        } else {
            sql.push_str(", ");
            sql.push_str(&row_sql);
        }
        size += row_size;
        params.extend(row);
    }
    if !params.is_empty() {
        out.push(Statement::new(format!("{sql} {tail}"), params));
    }
    out
}

/// Where a D1 database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct D1Target {
    /// API base (`https://api.cloudflare.com/client/v4`).
    pub api_base: String,
    /// Cloudflare account id.
    pub account: String,
    /// D1 database id.
    pub database: String,
}

impl D1Target {
    /// The query endpoint.
    pub fn url(&self) -> String {
        format!(
            "{}/accounts/{}/d1/database/{}/query",
            self.api_base.trim_end_matches('/'),
            self.account,
            self.database
        )
    }
}

/// A connected client. The token lives only in memory.
pub struct D1Client {
    http: ureq::Agent,
    url: String,
    token: String,
    /// Requests sent, including retries.
    pub requests: std::cell::Cell<usize>,
    /// Requests answered with HTTP 429 and retried.
    pub retries: std::cell::Cell<usize>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    result: Option<Vec<QueryResult>>,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
}

#[derive(Deserialize)]
struct QueryResult {
    #[serde(default)]
    results: Vec<Map<String, Value>>,
    #[serde(default = "yes")]
    success: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct ApiMessage {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: String,
}

/// Rows of one statement's answer.
pub type Rows = Vec<Map<String, Value>>;

impl D1Client {
    /// A client for `target`, with the token from `CLOUDFLARE_API_TOKEN`.
    pub fn from_env(target: &D1Target) -> Result<Self, D1Error> {
        let token = std::env::var(TOKEN_VAR)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or(D1Error::NoToken)?;
        Self::new(target, token)
    }

    /// A client for `target` with `token`.
    pub fn new(target: &D1Target, token: String) -> Result<Self, D1Error> {
        let http = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(90)))
            .user_agent(concat!("atom/", env!("CARGO_PKG_VERSION")))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(D1Client {
            http,
            url: target.url(),
            token,
            requests: Default::default(),
            retries: Default::default(),
        })
    }

    /// Run one statement and return its rows.
    pub fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows, D1Error> {
        let mut r = self.send(&serde_json::json!({ "sql": sql, "params": params }))?;
        Ok(r.pop().unwrap_or_default())
    }

    /// Run statements in order, in as few requests as the limits allow; each
    /// request is one transaction. `progress` gets the number done so far.
    pub fn batch(
        &self,
        statements: &[Statement],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Rows>, D1Error> {
        let mut out = Vec::with_capacity(statements.len());
        let mut start = 0;
        while start < statements.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < statements.len()
                && end - start < MAX_BATCH_STATEMENTS
                && (end == start || bytes + statements[end].size() <= MAX_BATCH_BYTES)
            {
                bytes += statements[end].size();
                end += 1;
            }
            let body = serde_json::json!({ "batch": &statements[start..end] });
            out.extend(self.send(&body)?);
            start = end;
            progress(start);
        }
        Ok(out)
    }

    fn send(&self, body: &Value) -> Result<Vec<Rows>, D1Error> {
        let mut wait = Duration::from_secs(1);
        for attempt in 1..=ATTEMPTS {
            self.requests.set(self.requests.get() + 1);
            let resp = self
                .http
                .post(&self.url)
                .header("Authorization", &format!("Bearer {}", self.token))
                .header("Content-Type", "application/json")
                .send(body.to_string())
                .map_err(|e| D1Error::Unreachable {
                    url: self.url.clone(),
                    message: describe(&e),
                })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            let text = resp
                .into_body()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_string()
                .map_err(|e| D1Error::Unreachable {
                    url: self.url.clone(),
                    message: describe(&e),
                })?;
            let envelope: Option<Envelope> = serde_json::from_str(&text).ok();
            let message = envelope
                .as_ref()
                .map(|e| messages(&e.errors))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| text.chars().take(300).collect::<String>().trim().to_owned());
            if status == 429 {
                if attempt == ATTEMPTS {
                    return Err(D1Error::RateLimited { message });
                }
                self.retries.set(self.retries.get() + 1);
                std::thread::sleep(retry_after.unwrap_or(wait).min(MAX_WAIT));
                wait = (wait * 2).min(MAX_WAIT);
                continue;
            }
            if status == 401 || status == 403 {
                return Err(D1Error::Auth { status, message });
            }
            let Some(envelope) = envelope else {
                return Err(if (200..300).contains(&status) {
                    D1Error::BadResponse(format!("not the API's JSON envelope: {message}"))
                } else {
                    D1Error::Api { status, message }
                });
            };
            if !(200..300).contains(&status) || !envelope.success {
                return Err(D1Error::Api { status, message });
            }
            let results = envelope
                .result
                .ok_or_else(|| D1Error::BadResponse("no `result` in a successful answer".into()))?;
            if let Some(failed) = results.iter().position(|r| !r.success) {
                return Err(D1Error::Api {
                    status,
                    message: format!("statement {} of the batch failed", failed + 1),
                });
            }
            return Ok(results.into_iter().map(|r| r.results).collect());
        }
        unreachable!("the last attempt returns")
    }
}

fn messages(errors: &[ApiMessage]) -> String {
    errors
        .iter()
        .map(|e| match e.code {
            Some(c) => format!("{} (code {c})", e.message),
            None => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A transport error, without the URL (named separately).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            format!("connection failed: {e}")
        }
        ureq::Error::Io(io) => format!("connection failed: {io}"),
        _ => format!("request failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_rows_respects_parameter_and_size_limits() {
        let rows: Vec<Vec<Value>> = (0..250)
            .map(|i| vec![Value::from(i), Value::from("x".repeat(1000))])
            .collect();
        let stmts = insert_rows(
            "INSERT INTO t (a, b) VALUES",
            "ON CONFLICT DO NOTHING",
            rows,
        );
        assert!(stmts.iter().all(|s| s.params.len() <= MAX_PARAMS));
        assert!(stmts.iter().all(|s| s.size() <= MAX_STATEMENT_BYTES + 1000));
        assert_eq!(stmts.iter().map(|s| s.params.len()).sum::<usize>(), 500);
        assert_eq!(stmts[0].sql.matches('?').count(), stmts[0].params.len());
        let big: Vec<Vec<Value>> = (0..3)
            .map(|_| vec![Value::from("y".repeat(60_000))])
            .collect();
        assert_eq!(insert_rows("INSERT INTO t (b) VALUES", "", big).len(), 3);
    }
}
