//! The patterns: one [`Rule`] per well-known secret format. One pass of an
//! Aho-Corasick automaton over the text finds the cheap literal anchors
//! (`sk-`, `akia`, `-----begin`, `password`, ... in any case); only the rules
//! whose anchor is there run their regex, each compiled the first time it is
//! needed. A record with no anchor in it costs that one pass.
//!
//! Formats with a distinctive prefix (`ghp_`, `AKIA`, `xoxb-`, `AIza`) match
//! on shape alone. Looser shapes (`sk-...`, `Bearer ...`, `password=...`)
//! must also look random: see [`looks_random`].

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::Regex;

use super::Kind;

/// What a match must satisfy besides the pattern.
#[derive(Clone, Copy)]
enum Gate {
    /// The shape is enough.
    Shape,
    /// The captured value must look random, at least this long.
    Random(usize),
    /// A private key block: it must carry key material, not only its header.
    KeyBody,
}

pub(super) struct Rule {
    kind: Kind,
    /// Any of these (ASCII, lowercase; matched in any case) must occur in
    /// the text before the pattern runs.
    anchors: &'static [&'static str],
    pattern: &'static str,
    /// The capture group holding the secret (0: the whole match).
    group: usize,
    gate: Gate,
    /// Whether the pattern runs on the lowercased text (a cheap, exact
    /// way to match names in any case: ASCII lowercasing keeps every
    /// offset); its ranges still point into the original.
    on_lower: bool,
    regex: OnceLock<Regex>,
}

impl Rule {
    const fn new(
        kind: Kind,
        anchors: &'static [&'static str],
        pattern: &'static str,
        group: usize,
        gate: Gate,
    ) -> Self {
        Rule {
            kind,
            anchors,
            pattern,
            group,
            gate,
            on_lower: false,
            regex: OnceLock::new(),
        }
    }

    /// The same rule, run on the lowercased text.
    const fn any_case(mut self) -> Self {
        self.on_lower = true;
        self
    }

    fn regex(&self) -> &Regex {
        self.regex
            .get_or_init(|| Regex::new(self.pattern).expect("the built-in patterns compile"))
    }

    /// Add the ranges of `text` this rule finds to `out`; `haystack` is
    /// `text`, or its ASCII lowercase for a rule that runs on it.
    fn find(&self, text: &str, haystack: &str, out: &mut Vec<(Kind, Range<usize>)>) {
        for caps in self.regex().captures_iter(haystack) {
            let whole = caps.get(0).expect("a match has group 0");
            let Some(m) = caps.get(self.group) else {
                continue;
            };
            // The gate looks at the value (group 1 when there is one), as
            // written.
            let value = &text[caps.get(1).unwrap_or(whole).range()];
            let ok = match self.gate {
                Gate::Shape => true,
                Gate::Random(min) => looks_random(value, min),
                Gate::KeyBody => carries_key_material(value),
            };
            if ok {
                out.push((self.kind, m.range()));
            }
        }
    }
}

/// No finding is shorter than this (the shortest shape is a Slack token,
/// `xoxb-1-` and 8 more): shorter texts are not scanned.
const MIN_FINDING: usize = 15;

/// The anchors of every rule in one automaton, and which rule each is of.
struct Anchors {
    automaton: AhoCorasick,
    rule_of: Vec<usize>,
}

static ANCHORS: OnceLock<Anchors> = OnceLock::new();

/// Add every finding of the rules to `out`.
pub(super) fn find_all(text: &str, out: &mut Vec<(Kind, Range<usize>)>) {
    if text.len() < MIN_FINDING {
        return;
    }
    let anchors = ANCHORS.get_or_init(|| {
        let mut words = Vec::new();
        let mut rule_of = Vec::new();
        for (i, rule) in RULES.iter().enumerate() {
            for a in rule.anchors {
                words.push(*a);
                rule_of.push(i);
            }
        }
        Anchors {
            // An NFA: a DFA scans a little faster but takes longer to build
            // than a whole record takes to scan, once per process.
            automaton: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(words)
                .expect("the built-in anchors build"),
            rule_of,
        }
    });
    let mut hit = [false; RULES.len()];
    for m in anchors.automaton.find_overlapping_iter(text) {
        hit[anchors.rule_of[m.pattern().as_usize()]] = true;
    }
    let mut lowered: Option<String> = None;
    for (rule, _) in RULES.iter().zip(hit).filter(|(_, hit)| *hit) {
        let haystack = match rule.on_lower {
            true => lowered.get_or_insert_with(|| text.to_ascii_lowercase()),
            false => text,
        };
        rule.find(text, haystack, out);
    }
}

/// Words that make a name (`DB_PASSWORD`, `api_key`, `client-secret`) say
/// its value is a secret.
macro_rules! secret_words {
    () => {
        r"passw(?:or)?d|passphrase|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|credentials?"
    };
}

/// What every word of [`secret_words`] contains, one at least.
const NAME_ANCHORS: [&str; 6] = ["pass", "pwd", "secret", "token", "key", "credential"];

/// A name that says its value is a secret (a metadata key, an environment
/// variable): [`secret_words`] inside an identifier.
static SECRET_NAME: OnceLock<Regex> = OnceLock::new();

/// Whether `name` says its value is a secret (`password`, `GITHUB_TOKEN`,
/// `client-secret`, `aws.secret_access_key`).
pub(super) fn is_secret_name(name: &str) -> bool {
    let has = |word: &str| {
        name.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    name.len() <= 128
        && NAME_ANCHORS.iter().any(|a| has(a))
        && SECRET_NAME
            .get_or_init(|| {
                Regex::new(concat!(
                    "^[a-z0-9_.-]*(?:",
                    secret_words!(),
                    ")[a-z0-9_.-]*$"
                ))
                .expect("the built-in pattern compiles")
            })
            .is_match(&name.to_ascii_lowercase())
}

/// The rules, most specific first, in the order of [`Kind`], which also
/// decides what two overlapping findings merged into one are called.
pub(super) static RULES: [Rule; 15] = [
    // PEM, OpenSSH and PGP armor: the BEGIN line, header lines and base64
    // lines (newlines may have become spaces), up to the END line if any.
    Rule::new(
        Kind::PrivateKey,
        &["-----begin"],
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:[ \t]*\r?\n?[ \t]*(?:[A-Za-z-]+:[ -~]*|[A-Za-z0-9+/=]+))*(?:[ \t\r\n]*-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----)?",
        0,
        Gate::KeyBody,
    ),
    // An OpenSSH private key without its armor: the body starts with the
    // base64 of "openssh-key-v1\0" (a line of 70 characters in a key file).
    Rule::new(
        Kind::PrivateKey,
        &["b3blbnnzac1rzxktdje"],
        r"b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/=]{40,}(?:\r?\n[A-Za-z0-9+/=]{16,})*",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::AwsAccessKeyId,
        &["akia", "asia", "abia", "acca"],
        r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?-u:\b)",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::AwsSecretKey,
        &["aws"],
        r#"aws[a-z0-9_.-]{0,24}(?:secret|sk)[a-z0-9_.-]*["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?([a-z0-9/+]+)"#,
        1,
        Gate::Random(40),
    )
    .any_case(),
    Rule::new(
        Kind::GithubToken,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{36,})(?-u:\b)",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::SlackWebhook,
        &["hooks.slack.com"],
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{16,}",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::SlackToken,
        &["xox"],
        r"(?-u:\b)xox[abeoprs]-[0-9]+-[A-Za-z0-9-]{8,}",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::AnthropicKey,
        &["sk-ant-"],
        r"(?-u:\b)sk-ant-[A-Za-z0-9_-]{32,}",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::OpenAiKey,
        &["sk-"],
        r"(?-u:\b)sk-(?:proj-|svcacct-|admin-)?([A-Za-z0-9_-]{20,})",
        0,
        Gate::Random(20),
    ),
    Rule::new(
        Kind::GoogleApiKey,
        &["aiza"],
        r"(?-u:\b)AIza[0-9A-Za-z_-]{35}",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::StripeKey,
        &["_live_"],
        r"(?-u:\b)(?:sk|rk)_live_[A-Za-z0-9]{20,}",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::Jwt,
        &["eyj"],
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        0,
        Gate::Shape,
    ),
    Rule::new(
        Kind::Generic,
        &["bearer"],
        r"(?-u:\b)bearer[ \t]+([a-z0-9._~+/-]{16,}=*)",
        1,
        Gate::Random(16),
    )
    .any_case(),
    // `password=...`, `secret: ...`, `"api_key": "..."`, `DB_TOKEN=...`.
    Rule::new(
        Kind::Generic,
        &NAME_ANCHORS,
        concat!(
            "[a-z0-9_.-]*(?:",
            secret_words!(),
            r#")[a-z0-9_.-]*["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?([!-~&&[^"'`,;]]{12,})"#
        ),
        1,
        Gate::Random(12),
    )
    .any_case(),
    // A URL with a password in it: `scheme://user:password@host`.
    Rule::new(
        Kind::Generic,
        &["://"],
        r"(?-u:\b)[a-z][a-z0-9+.-]*://[!-~&&[^/:@]]+:([!-~&&[^/@]]{8,})@[A-Za-z0-9.-]+",
        1,
        Gate::Random(8),
    ),
];

/// Whether an armored private key block holds key material: base64 words
/// of 16 characters or more, [`MIN_KEY_BODY`] characters in all (a bare
/// header, as in a sentence about keys, is not a key).
fn carries_key_material(block: &str) -> bool {
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let body: usize = block
        .split_whitespace()
        .filter(|w| w.len() >= 16 && w.bytes().all(is_b64))
        .map(str::len)
        .sum();
    body >= MIN_KEY_BODY
}

/// The least key material a private key block must show to count.
const MIN_KEY_BODY: usize = 40;

/// The least Shannon entropy, in bits per character, of a value that
/// looks random. Random base64 or alphanumeric text of 12 characters or
/// more has 3.3 and up; English words and identifiers mostly fall below,
/// and the shapes that atom itself writes are left out before this test.
pub const MIN_ENTROPY: f64 = 3.0;

/// Whether `value` looks like a random secret rather than a word, a path,
/// a placeholder or one of the identifiers atom writes itself:
/// - at least `min_len` characters, with letters and digits, and
///   [`MIN_ENTROPY`] bits of entropy per character;
/// - not a git object id or SHA-256 digest (40 or 64 hex digits, or
///   `sha256:` and hex), a UUID, an atom id, a path (`/...`, `./...`,
///   `~/...`), a URL, a reference to a variable (`$X`, `${X}`, `{{x}}`,
///   `<x>`, `%X%`), or code (a call or an index, `rng.randint(100`,
///   `env[KEY_2]`, or a dotted name such as `settings.SECRET_KEY_2`).
pub fn looks_random(value: &str, min_len: usize) -> bool {
    let v = value.trim_matches(|c| matches!(c, '"' | '\'' | '`'));
    if v.chars().count() < min_len {
        return false;
    }
    if v.starts_with(['$', '{', '<', '%', '/', '~'])
        || v.starts_with("./")
        || v.contains("://")
        || v.contains("{{")
        || v.contains(['(', ')', '[', ']'])
        || is_dotted_name(v)
        || is_digest_like(v)
        || is_uuid(v)
        || v.parse::<crate::model::AtomId>().is_ok()
    {
        return false;
    }
    let has_letter = v.chars().any(|c| c.is_ascii_alphabetic());
    let has_digit = v.chars().any(|c| c.is_ascii_digit());
    has_letter && has_digit && entropy(v) >= MIN_ENTROPY
}

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A git object id (40 hex, or 64 for SHA-256 repositories) or a digest as
/// atom writes them (`sha256:` + 64 hex), in either case.
fn is_digest_like(v: &str) -> bool {
    let hex = v
        .split_once(':')
        .filter(|(algo, _)| matches!(*algo, "sha1" | "sha256" | "sha512"))
        .map_or(v, |(_, hex)| hex);
    matches!(hex.len(), 40 | 64 | 128) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `a.b`, `settings.SECRET_KEY_2`: names joined by dots, as code refers to
/// a value.
fn is_dotted_name(v: &str) -> bool {
    let name = |p: &str| {
        p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    v.contains('.') && v.split('.').all(name)
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
