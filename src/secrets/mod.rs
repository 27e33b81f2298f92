//! Secrets that must never enter the trail: a scanner for private keys and
//! well-known token formats, used to refuse them (`record`, `import`, MCP)
//! or to mask them (`record --redact`, the git hooks).
//!
//! A trail is append-only and shared, so a secret recorded once is there for
//! good: on every device, every mirror and every export. [`scan`] finds
//! private key material (PEM, OpenSSH and PGP armor, an OpenSSH key body
//! without armor) and the tokens of widespread services (AWS, GitHub, Slack,
//! OpenAI, Anthropic, Google, Stripe, JWTs, bearer tokens, URLs with a
//! password, `password=`/`secret:`/`token=`/`api_key` assignments of a
//! random-looking value); [`redact`] replaces each finding with
//! `[REDACTED:<kind>]`. A [`Scanner`] can also know one store's own signing
//! key, so that even loose lines of its base64 body are found.
//!
//! The one design decision: the patterns are written here, on the `regex`
//! crate, rather than taken from a secret-scanning crate. The crates that
//! exist are whole scanners (file walkers, git history, reports) with heavy
//! dependencies or a newer Rust than atom's, or single early releases whose
//! rules may change under a store that must keep refusing exactly what it
//! refused. atom needs a small set of formats tuned against its own data —
//! records are full of SHA-256 digests, commit ids, atom ids and paths that
//! must never be mistaken for secrets — and an API that returns ranges, never
//! copies of the secrets. A finding therefore carries its kind and its byte
//! range only; no message atom prints ever holds the secret itself.
//!
//! ```
//! let token = format!("ghp_{}", "a1B2c3D4".repeat(5)[..36].to_owned());
//! let text = format!("GITHUB_TOKEN={token} for the deploy");
//! let found = atom::secrets::scan(&text);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].kind.name(), "github-token");
//! let masked = atom::secrets::redact(&text);
//! assert_eq!(masked.text, "GITHUB_TOKEN=[REDACTED:github-token] for the deploy");
//! ```

mod json;
mod rules;

use std::fmt;
use std::ops::Range;

pub use json::Located;
pub use rules::{entropy, looks_random, MIN_ENTROPY};

/// What kind of secret a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// This store's own signing key (its file, or lines of its base64 body).
    StoreKey,
    /// Private key material: PEM, OpenSSH or PGP.
    PrivateKey,
    /// An AWS access key id (`AKIA...`, `ASIA...`).
    AwsAccessKeyId,
    /// An AWS secret access key, in an assignment.
    AwsSecretKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A Slack incoming webhook URL.
    SlackWebhook,
    /// A Slack token (`xoxb-`, `xoxp-`, ...).
    SlackToken,
    /// An Anthropic API key (`sk-ant-`).
    AnthropicKey,
    /// An OpenAI-style API key (`sk-`, `sk-proj-`).
    OpenAiKey,
    /// A Google API key (`AIza`).
    GoogleApiKey,
    /// A Stripe live secret or restricted key.
    StripeKey,
    /// A JSON Web Token.
    Jwt,
    /// A random-looking value of a password, secret, token or key
    /// (assignment, bearer token, URL password).
    Generic,
}

impl Kind {
    /// The short name used in masks: `[REDACTED:github-token]`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::StoreKey => "store-key",
            Kind::PrivateKey => "private-key",
            Kind::AwsAccessKeyId => "aws-access-key-id",
            Kind::AwsSecretKey => "aws-secret-key",
            Kind::GithubToken => "github-token",
            Kind::SlackWebhook => "slack-webhook",
            Kind::SlackToken => "slack-token",
            Kind::AnthropicKey => "anthropic-key",
            Kind::OpenAiKey => "openai-key",
            Kind::GoogleApiKey => "google-api-key",
            Kind::StripeKey => "stripe-key",
            Kind::Jwt => "jwt",
            Kind::Generic => "secret",
        }
    }

    /// What it is, for messages: "a GitHub token".
    pub fn describe(self) -> &'static str {
        match self {
            Kind::StoreKey => "this store's own signing key",
            Kind::PrivateKey => "a private key",
            Kind::AwsAccessKeyId => "an AWS access key id",
            Kind::AwsSecretKey => "an AWS secret access key",
            Kind::GithubToken => "a GitHub token",
            Kind::SlackWebhook => "a Slack webhook URL",
            Kind::SlackToken => "a Slack token",
            Kind::AnthropicKey => "an Anthropic API key",
            Kind::OpenAiKey => "an OpenAI API key",
            Kind::GoogleApiKey => "a Google API key",
            Kind::StripeKey => "a Stripe secret key",
            Kind::Jwt => "a JSON Web Token",
            Kind::Generic => "a password, secret or token",
        }
    }

    /// Private key material (a store's key included).
    pub fn is_private_key(self) -> bool {
        matches!(self, Kind::StoreKey | Kind::PrivateKey)
    }

    /// Which of two overlapping findings names the merged one: lower wins.
    fn rank(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// One secret found in a text: its kind and where it is (byte offsets,
/// always on character boundaries). It never holds the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: Kind,
    /// Where it is in the scanned text.
    pub range: Range<usize>,
}

/// A text with its secrets masked, and what was masked (ranges refer to the
/// original text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text, each finding replaced with `[REDACTED:<kind>]`.
    pub text: String,
    /// What was found.
    pub findings: Vec<Finding>,
}

/// The mask that replaces a finding of `kind`.
pub fn mask(kind: Kind) -> String {
    format!("[REDACTED:{}]", kind.name())
}

/// Finds secrets; [`Scanner::default`] knows the well-known formats, and
/// [`Scanner::with_private_key`] teaches it private keys to look for.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    keys: Vec<KnownKey>,
}

/// A private key the scanner looks for.
#[derive(Debug, Clone)]
struct KnownKey {
    /// Base64 lines of its body (each long enough to tell).
    lines: Vec<String>,
    /// Its body without line breaks.
    body: String,
    /// Its public key's base64, which is no secret.
    public: String,
    /// The first line of an OpenSSH key body, the same in every unencrypted
    /// key of its type (format, cipher, key type): no sign of this key.
    header: String,
}

/// How every OpenSSH private key body starts: base64 of "openssh-key-v1\0".
const OPENSSH_MAGIC: &str = "b3BlbnNzaC1rZXktdjE";

/// Base64 runs shorter than this are not compared with a known key.
const MIN_KNOWN_RUN: usize = 40;

impl Scanner {
    /// A scanner for the well-known formats.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also find the private key whose file holds `key_file` (OpenSSH or
    /// PEM text): the file, any line of its base64 body, or any run of 40
    /// or more base64 characters taken from it, reported as
    /// [`Kind::StoreKey`]. Its public half (`public_key`, an
    /// `ssh-ed25519 AAAA...` line) is no secret and never matches.
    pub fn with_private_key(mut self, key_file: &str, public_key: Option<&str>) -> Self {
        let body: Vec<&str> = key_file
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
            .collect();
        let public = public_key
            .and_then(|p| p.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_owned();
        let header = body
            .first()
            .filter(|l| l.starts_with(OPENSSH_MAGIC))
            .map_or(String::new(), |l| (*l).to_owned());
        let lines = body
            .iter()
            .filter(|l| l.len() >= MIN_KNOWN_RUN && !public.contains(**l) && **l != header)
            .map(|l| (*l).to_owned())
            .collect();
        let body = body.concat();
        if !body.is_empty() {
            self.keys.push(KnownKey {
                lines,
                body,
                public,
                header,
            });
        }
        self
    }

    /// Every secret in `text`, in order; overlapping findings are merged.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut raw: Vec<(Kind, Range<usize>)> = Vec::new();
        rules::find_all(text, &mut raw);
        self.find_known(text, &mut raw);
        if raw.is_empty() {
            return Vec::new();
        }
        merge(raw)
    }

    /// `text` with every finding masked, and the findings.
    pub fn redact(&self, text: &str) -> Redacted {
        let findings = self.scan(text);
        Redacted {
            text: apply_masks(text, &findings),
            findings,
        }
    }

    /// Secrets in the value of `name`: those [`Scanner::scan`] finds, or,
    /// when the name says it holds a secret (`password`, `GITHUB_TOKEN`,
    /// `client_secret`, ...), the whole value if it is one random-looking
    /// word. This is how a metadata pair or an environment variable is
    /// judged: `{"password": "..."}` like `password=...`.
    pub fn scan_named(&self, name: &str, value: &str) -> Vec<Finding> {
        let mut found = self.scan(value);
        if found.is_empty() && value.len() >= 12 && rules::is_secret_name(name) {
            let trimmed = value.trim();
            if !trimmed.contains(char::is_whitespace) && looks_random(trimmed, 12) {
                let start = value.len() - value.trim_start().len();
                found.push(Finding {
                    kind: Kind::Generic,
                    range: start..start + trimmed.len(),
                });
            }
        }
        found
    }

    /// Lines and runs of the known keys' base64 bodies in `text`.
    fn find_known(&self, text: &str, out: &mut Vec<(Kind, Range<usize>)>) {
        if self.keys.is_empty() || text.len() < MIN_KNOWN_RUN {
            return;
        }
        for key in &self.keys {
            for line in &key.lines {
                for (at, _) in text.match_indices(line.as_str()) {
                    out.push((Kind::StoreKey, at..at + line.len()));
                }
            }
        }
        let bytes = text.as_bytes();
        let is_b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
        let mut i = 0;
        while i < bytes.len() {
            if !is_b64(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_b64(bytes[i]) {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() >= MIN_KNOWN_RUN
                && self.keys.iter().any(|k| {
                    k.body.contains(run) && !k.public.contains(run) && !k.header.contains(run)
                })
            {
                out.push((Kind::StoreKey, start..i));
            }
        }
    }
}

/// `text` with `findings` (sorted, disjoint) masked.
fn apply_masks(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        out.push_str(&text[at..f.range.start]);
        out.push_str(&mask(f.kind));
        at = f.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Sort findings and merge the overlapping ones (the merged finding spans
/// both and takes the kind that ranks first).
fn merge(mut raw: Vec<(Kind, Range<usize>)>) -> Vec<Finding> {
    raw.sort_by_key(|(kind, r)| (r.start, std::cmp::Reverse(r.end), kind.rank()));
    let mut out: Vec<Finding> = Vec::with_capacity(raw.len());
    for (kind, range) in raw {
        match out.last_mut() {
            Some(last) if range.start < last.range.end => {
                last.range.end = last.range.end.max(range.end);
                if kind.rank() < last.kind.rank() {
                    last.kind = kind;
                }
            }
            _ => out.push(Finding { kind, range }),
        }
    }
    out
}

/// Every well-known secret in `text` (see [`Scanner::scan`]).
pub fn scan(text: &str) -> Vec<Finding> {
    Scanner::new().scan(text)
}

/// `text` with every well-known secret masked as `[REDACTED:<kind>]`, and
/// the findings (see [`Scanner::redact`]).
pub fn redact(text: &str) -> Redacted {
    Scanner::new().redact(text)
}

#[cfg(test)]
mod tests;
