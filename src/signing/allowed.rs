//! Trusted keys in git's `gpg.ssh.allowedSignersFile` format, and the one
//! trust decision every check of a signature makes with them.
//!
//! One line per key: `principals [options] keytype base64 [comment]`, read
//! as `ssh-keygen` reads it (see [`super::openssh`]). The design decision a
//! reader must know: [`AllowedSigners::judge`] does what `git verify-commit`
//! does, step for step, so the two always agree. git first asks
//! `ssh-keygen -Y find-principals` for the principals of the first line that
//! lists the key and is valid at the commit's time (namespaces are not
//! looked at there), then `ssh-keygen -Y verify -I <principal> -n git` for
//! each of them, which wants some line whose principal patterns match that
//! name, that lists the key (not as a `cert-authority`), allows the `git`
//! namespace and is valid at the commit's time.

use std::fmt;
use std::path::Path;

use serde::Serialize;
use ssh_key::{HashAlg, PublicKey};

use super::openssh::{self, match_pattern_list, PatternMatch, SignerOptions};
use super::SIGNING_NAMESPACE;

/// The lines of an allowed signers file that ssh-keygen accepts, in order.
#[derive(Debug, Default, Clone)]
pub struct AllowedSigners {
    entries: Vec<AllowedSigner>,
}

/// One line of the file: whom (principal patterns), under which options,
/// which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSigner {
    /// The first field: a principal name, or comma-separated patterns.
    pub principals: String,
    /// `namespaces`, `valid-after`, `valid-before`, `cert-authority`.
    pub options: SignerOptions,
    /// The public key (its comment is the rest of the line).
    pub key: PublicKey,
}

/// The outcome of checking one commit's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureStatus {
    /// Valid, by a trusted key.
    Good,
    /// Valid, by a key the store does not trust (for that commit).
    Untrusted,
    /// Present but invalid (wrong data, namespace, or garbage).
    Bad,
    /// Not signed.
    None,
}

/// Status plus who signed (the principal for trusted keys, the fingerprint otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    /// The verdict.
    pub status: SignatureStatus,
    /// The signer's principal name or key fingerprint, when known.
    pub signer: Option<String>,
}

/// Why a valid signature by a key is not trusted at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No line lists the key.
    NotListed,
    /// Only `cert-authority` lines list it: they trust certificates the key
    /// signed, not signatures by the key itself.
    CertAuthority {
        /// The principals of the first such line.
        principals: String,
    },
    /// The first line listing it starts later than the commit.
    NotYetValid {
        /// That line's principals.
        principals: String,
        /// Its `valid-after`, as written.
        valid_after: String,
    },
    /// The first line listing it ended before the commit.
    Expired {
        /// That line's principals.
        principals: String,
        /// Its `valid-before`, as written.
        valid_before: String,
    },
    /// The line git finds it by does not allow the `git` namespace.
    Namespace {
        /// That line's principals.
        principals: String,
        /// Its `namespaces`, as written.
        namespaces: String,
    },
    /// git looks the key up as these principals and no line for them allows it.
    Principal {
        /// The principals field of the line that lists the key.
        principals: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotListed => write!(f, "no line lists the key"),
            Refusal::CertAuthority { principals } => write!(
                f,
                "{principals} lists it only as a cert-authority, which trusts the certificates it signs, not its own signatures"
            ),
            Refusal::NotYetValid {
                principals,
                valid_after,
            } => write!(
                f,
                "the line of {principals} has valid-after=\"{valid_after}\", later than the commit"
            ),
            Refusal::Expired {
                principals,
                valid_before,
            } => write!(
                f,
                "the line of {principals} has valid-before=\"{valid_before}\", earlier than the commit (a retired key)"
            ),
            Refusal::Namespace {
                principals,
                namespaces,
            } => write!(
                f,
                "the line of {principals} allows namespaces=\"{namespaces}\", which excludes \"{SIGNING_NAMESPACE}\""
            ),
            Refusal::Principal { principals } => write!(
                f,
                "git looks the key up as {principals:?} and no line for that principal allows it"
            ),
        }
    }
}

impl AllowedSigner {
    /// A line trusting `key` for `principal` in the `git` namespace, as
    /// atom writes them.
    pub fn new(principal: &str, key: PublicKey) -> Self {
        AllowedSigner {
            principals: principal.to_owned(),
            options: SignerOptions {
                namespaces: Some(SIGNING_NAMESPACE.to_owned()),
                ..SignerOptions::default()
            },
            key,
        }
    }

    /// Parse one line as ssh-keygen does; `None` for blank and comment
    /// lines and for every line it refuses (unknown option, bad time, ...).
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (principals, rest) = split_principals(line)?;
        // The second field is the key, or else the options and then the key.
        let (options, key) = match parse_key(rest) {
            Some(key) => (SignerOptions::default(), key),
            None => {
                let end = options_end(rest)?;
                let (field, after) = rest.split_at(end);
                let after = after.get(1..)?.trim_start_matches([' ', '\t']);
                let key = parse_key(after)?;
                (SignerOptions::parse(field).ok()?, key)
            }
        };
        Some(AllowedSigner {
            principals,
            options,
            key,
        })
    }

    /// The line in the file format, without a newline.
    pub fn to_line(&self) -> String {
        let mut line = if self.principals.is_empty()
            || self.principals.starts_with('#')
            || self.principals.contains([' ', '\t', '\r', '\n'])
        {
            format!("\"{}\"", self.principals)
        } else {
            self.principals.clone()
        };
        if !self.options.is_empty() {
            line.push(' ');
            line.push_str(&self.options.to_field());
        }
        line.push(' ');
        line.push_str(&key_line(&self.key));
        let comment = self.key.comment().as_str_lossy();
        if !comment.is_empty() {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }

    /// Whether the line names `key` itself (a `cert-authority` line does not).
    fn lists(&self, key: &PublicKey) -> bool {
        !self.options.cert_authority && self.key.key_data() == key.key_data()
    }

    /// Whether the line covers a signature made at `verify_time` (as
    /// [`openssh::verify_time`] gives it).
    fn valid_at(&self, verify_time: i64) -> Result<(), Refusal> {
        if let Some(after) = &self.options.valid_after {
            if verify_time < after.seconds() {
                return Err(Refusal::NotYetValid {
                    principals: self.principals.clone(),
                    valid_after: after.as_str().to_owned(),
                });
            }
        }
        if let Some(before) = &self.options.valid_before {
            if verify_time > before.seconds() {
                return Err(Refusal::Expired {
                    principals: self.principals.clone(),
                    valid_before: before.as_str().to_owned(),
                });
            }
        }
        Ok(())
    }
}

impl AllowedSigners {
    /// Read the file; a missing file is an empty list.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    /// Parse the file's text; comments and lines ssh-keygen refuses are
    /// skipped, as it skips them.
    pub fn parse(text: &str) -> Self {
        AllowedSigners {
            entries: text.lines().filter_map(AllowedSigner::parse).collect(),
        }
    }

    /// The lines, in file order.
    pub fn entries(&self) -> &[AllowedSigner] {
        &self.entries
    }

    /// The principals of the first line that lists `key` (whatever its
    /// options say), if any.
    pub fn principal_of(&self, key: &PublicKey) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key.key_data() == key.key_data())
            .map(|e| e.principals.as_str())
    }

    /// The first line that gives `name` (as its principals field or one of
    /// its comma-separated principals) to a key other than `key`.
    pub fn name_taken(&self, name: &str, key: &PublicKey) -> Option<&AllowedSigner> {
        self.entries.iter().find(|e| {
            e.key.key_data() != key.key_data()
                && (e.principals == name || e.principals.split(',').any(|p| p == name))
        })
    }

    /// `name`, or the first of `name-2`, `name-3`, ... that no line gives
    /// to a key other than `key`.
    pub fn free_name(&self, name: &str, key: &PublicKey) -> String {
        std::iter::once(name.to_owned())
            .chain((2..).map(|n| format!("{name}-{n}")))
            .find(|n| self.name_taken(n, key).is_none())
            .expect("some suffix is free")
    }

    /// The list in the file format, one line per entry, options kept.
    pub fn to_text(&self) -> String {
        self.entries
            .iter()
            .map(|e| format!("{}\n", e.to_line()))
            .collect()
    }

    /// This list plus the lines of `other` for the keys it does not list.
    pub fn union(&self, other: &AllowedSigners) -> AllowedSigners {
        let mut entries = self.entries.clone();
        for e in &other.entries {
            if self.principal_of(&e.key).is_none() && !entries.contains(e) {
                entries.push(e.clone());
            }
        }
        AllowedSigners { entries }
    }

    /// Check an armored signature over `payload` made at `time` (the
    /// commit's time, Unix seconds): [`verify_signature`], then [`Self::judge`].
    pub fn check(&self, armored: &[u8], payload: &[u8], time: i64) -> SignatureCheck {
        match verify_signature(armored, payload) {
            SignatureValidity::Valid(key) => self.judge(&key, time),
            SignatureValidity::Invalid(key) => SignatureCheck {
                status: SignatureStatus::Bad,
                signer: key.map(|k| k.fingerprint(HashAlg::Sha256).to_string()),
            },
        }
    }

    /// Whether this list trusts `key` for a signature made at `time` (Unix
    /// seconds; git's committer time): `Good` with the principal, else
    /// `Untrusted` with the key's fingerprint ([`Self::refusal`] says why).
    /// The key's signature must already be known valid.
    pub fn judge(&self, key: &PublicKey, time: i64) -> SignatureCheck {
        match self.decide(key, time) {
            Ok(principal) => SignatureCheck {
                status: SignatureStatus::Good,
                signer: Some(principal),
            },
            Err(_) => SignatureCheck {
                status: SignatureStatus::Untrusted,
                signer: Some(key.fingerprint(HashAlg::Sha256).to_string()),
            },
        }
    }

    /// Why [`Self::judge`] does not trust `key` at `time`; `None` when it does.
    pub fn refusal(&self, key: &PublicKey, time: i64) -> Option<Refusal> {
        self.decide(key, time).err()
    }

    /// git's two steps (module documentation): the principal, or why not.
    fn decide(&self, key: &PublicKey, time: i64) -> Result<String, Refusal> {
        // git passes no verify-time for a commit dated 0; ssh-keygen then
        // uses the current time.
        let time = if time == 0 {
            chrono::Utc::now().timestamp()
        } else {
            time
        };
        // Reading the local time zone is only needed for lines with times.
        let timed = self
            .entries
            .iter()
            .any(|e| e.options.valid_after.is_some() || e.options.valid_before.is_some());
        let verify_time = if timed {
            openssh::verify_time(time)
        } else {
            time
        };
        // ssh-keygen -Y find-principals
        let Some(found) = self
            .entries
            .iter()
            .find(|e| e.lists(key) && e.valid_at(verify_time).is_ok())
        else {
            return Err(match self.entries.iter().find(|e| e.lists(key)) {
                Some(e) => e.valid_at(verify_time).err().unwrap_or(Refusal::NotListed),
                None => match self
                    .entries
                    .iter()
                    .find(|e| e.key.key_data() == key.key_data())
                {
                    Some(ca) => Refusal::CertAuthority {
                        principals: ca.principals.clone(),
                    },
                    None => Refusal::NotListed,
                },
            });
        };
        // It prints the principals one per line, up to an empty one; git
        // runs ssh-keygen -Y verify -I <principal> with each until one passes.
        for principal in found.principals.split(',').take_while(|p| !p.is_empty()) {
            let allows = |e: &&AllowedSigner| {
                match_pattern_list(principal, &e.principals) == PatternMatch::Positive
                    && e.lists(key)
                    && e.options.allows_namespace(SIGNING_NAMESPACE)
                    && e.valid_at(verify_time).is_ok()
            };
            if self.entries.iter().any(|e| allows(&e)) {
                return Ok(principal.to_owned());
            }
        }
        Err(match &found.options.namespaces {
            Some(n) if !found.options.allows_namespace(SIGNING_NAMESPACE) => Refusal::Namespace {
                principals: found.principals.clone(),
                namespaces: n.clone(),
            },
            _ => Refusal::Principal {
                principals: found.principals.clone(),
            },
        })
    }
}

/// What a signature says by itself, before asking whom the store trusts.
#[derive(Debug, Clone)]
pub enum SignatureValidity {
    /// It verifies over the payload in the `git` namespace, by this key.
    Valid(PublicKey),
    /// It does not verify; the key it names, when it names one.
    Invalid(Option<PublicKey>),
}

/// Check an armored SSH signature over `payload` cryptographically (and its
/// namespace), independently of any list of trusted keys. The index keeps
/// this verdict, so trust can be decided at read time against the current
/// allowed signers.
pub fn verify_signature(armored: &[u8], payload: &[u8]) -> SignatureValidity {
    let Some(sig) = super::wire::decode(armored) else {
        return SignatureValidity::Invalid(None);
    };
    let key = PublicKey::new(sig.public_key().clone(), "");
    if sig.namespace() != SIGNING_NAMESPACE || key.verify(SIGNING_NAMESPACE, payload, &sig).is_err()
    {
        return SignatureValidity::Invalid(Some(key));
    }
    SignatureValidity::Valid(key)
}

/// The time git checks a commit's signature at: the committer's timestamp
/// in the signed payload (the commit without its signature), Unix seconds.
pub fn committer_time(payload: &[u8]) -> Option<i64> {
    let header = payload.split(|&b| b == b'\n').take_while(|l| !l.is_empty());
    let line = header
        .filter_map(|l| l.strip_prefix(b"committer "))
        .next()?;
    let after_email = &line[line.iter().rposition(|&b| b == b'>')? + 1..];
    let text = std::str::from_utf8(after_email).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The first field and the rest, as ssh's `strdelimw` splits them: up to
/// whitespace, or a `"`-quoted part.
fn split_principals(line: &str) -> Option<(String, &str)> {
    const WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];
    let at = line.find(|c| WHITESPACE.contains(&c) || c == '"')?;
    if let Some(quoted) = line[at..].strip_prefix('"') {
        let close = quoted.find('"')?;
        let principals = format!("{}{}", &line[..at], &quoted[..close]);
        Some((
            principals,
            quoted[close + 1..].trim_start_matches(WHITESPACE),
        ))
    } else {
        Some((
            line[..at].to_owned(),
            line[at + 1..].trim_start_matches(WHITESPACE),
        ))
    }
}

/// `sshkey_read`: `keytype base64 [comment]`, separated by spaces or tabs.
fn parse_key(s: &str) -> Option<PublicKey> {
    let sep = [' ', '\t'];
    let (kind, rest) = s.split_once(sep)?;
    let rest = rest.trim_start_matches(sep);
    let (blob, comment) = rest.split_once(sep).unwrap_or((rest, ""));
    if blob.is_empty() {
        return None;
    }
    let mut key = PublicKey::from_openssh(&format!("{kind} {blob}")).ok()?;
    key.set_comment(comment.trim_matches(sep));
    Some(key)
}

/// `sshkey_advance_past_options`: where the options field ends (at
/// whitespace outside quotes); `None` for an unterminated quote.
fn options_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < b.len() && (quoted || (b[i] != b' ' && b[i] != b'\t')) {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if b[i] == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    (!(i >= b.len() && quoted)).then_some(i)
}

/// The public key an armored SSH signature names (whether or not it verifies).
pub fn signature_key(armored: &[u8]) -> Option<PublicKey> {
    super::wire::decode(armored).map(|sig| PublicKey::new(sig.public_key().clone(), ""))
}

/// `ssh-ed25519 AAAA...` without a comment.
pub fn key_line(key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    k.to_openssh()
        .expect("a parsed public key encodes")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOuvGRj0ghh3wqFMwMvfVIMhj4N6ceJEPXffUc3y7xX7";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO0zWeOg5cPy+jxLncJJsKdWatn23uDPmli+5Ja/pfDp";
    const THIRD: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICQrd+tqra3Q3BqYYxx734KqRHKlZkDQTFbKqHvx/YZa";

    fn key() -> PublicKey {
        PublicKey::from_openssh(KEY).unwrap()
    }

    /// 2024-06-01T12:00:00Z
    const T: i64 = 1_717_243_200;

    fn names(a: &AllowedSigners) -> Vec<&str> {
        a.entries().iter().map(|e| e.principals.as_str()).collect()
    }

    #[test]
    fn parses_git_format() {
        let text = format!(
            "# comment\n\n   # indented comment\nalice namespaces=\"git\" {KEY} laptop\nbob {KEY}\ncarol namespaces=\"file\" {KEY}\nbroken line\n\t\"dave smith\" {KEY}\n"
        );
        let a = AllowedSigners::parse(&text);
        assert_eq!(names(&a), ["alice", "bob", "carol", "dave smith"]);
        assert_eq!(a.entries()[0].key.comment().as_str_lossy(), "laptop");
        assert_eq!(
            a.entries()[2].options.namespaces.as_deref(),
            Some("file"),
            "a line for another namespace is kept; judge decides"
        );
    }

    #[test]
    fn skips_the_lines_ssh_keygen_refuses() {
        for line in [
            format!("alice foo=\"bar\" {KEY}"),
            format!("alice namespaces=git {KEY}"),
            format!("alice namespaces=\"git {KEY}"),
            format!("alice valid-before=\"yesterday\" {KEY}"),
            format!("alice valid-after=\"20250101Z\",valid-before=\"20240101Z\" {KEY}"),
            format!("alice namespaces=\"git\" extra {KEY}"),
            format!("alice cert-authority,namespaces=\"git\", {KEY}"),
            format!("alice,{KEY}"),
            "alice".to_owned(),
            "alice ssh-ed25519".to_owned(),
            "alice ssh-ed25519 AAAAnotbase64".to_owned(),
            format!("\"alice {KEY}"),
        ] {
            assert_eq!(AllowedSigner::parse(&line), None, "{line}");
        }
    }

    #[test]
    fn to_text_round_trips_options() {
        let text = format!(
            "alice namespaces=\"git\" {KEY} laptop\nbob {OTHER}\ncarol,dan* cert-authority {OTHER}\nerin VALID-BEFORE=\"20240601Z\",namespaces=\"gi*,!x\",valid-after=\"202301011200\" {KEY}\n\"frank jones\" {KEY}\n"
        );
        let a = AllowedSigners::parse(&text);
        assert_eq!(a.entries().len(), 5);
        let again = AllowedSigners::parse(&a.to_text());
        assert_eq!(again.entries(), a.entries());
        assert_eq!(again.to_text(), a.to_text());
        assert!(
            a.to_text().contains(&format!(
                "erin namespaces=\"gi*,!x\",valid-after=\"202301011200\",valid-before=\"20240601Z\" {KEY}\n"
            )),
            "{}",
            a.to_text()
        );
    }

    /// `judge` for one file and one commit time: the principal when Good.
    fn verdict(text: &str, time: i64) -> Result<String, Refusal> {
        let a = AllowedSigners::parse(text);
        let check = a.judge(&key(), time);
        let refusal = a.refusal(&key(), time);
        match check.status {
            SignatureStatus::Good => {
                assert_eq!(refusal, None);
                Ok(check.signer.unwrap())
            }
            SignatureStatus::Untrusted => Err(refusal.expect("a reason")),
            other => panic!("judge said {other:?}"),
        }
    }

    #[test]
    fn judges_as_git_does() {
        let ok = |p: &str| Ok(p.to_owned());
        let rows: Vec<(String, Result<String, Refusal>)> = vec![
            (format!("alice {KEY}"), ok("alice")),
            (format!("alice namespaces=\"git\" {KEY}"), ok("alice")),
            (format!("alice namespaces=\"gi*\" {KEY}"), ok("alice")),
            (format!("alice namespaces=\"file,git\" {KEY}"), ok("alice")),
            (
                format!("alice namespaces=\"file\" {KEY}"),
                Err(Refusal::Namespace {
                    principals: "alice".into(),
                    namespaces: "file".into(),
                }),
            ),
            (
                format!("alice namespaces=\"*,!git\" {KEY}"),
                Err(Refusal::Namespace {
                    principals: "alice".into(),
                    namespaces: "*,!git".into(),
                }),
            ),
            (
                format!("alice valid-before=\"20240601120000Z\" {KEY}"),
                ok("alice"),
            ),
            (
                format!("alice valid-before=\"20240601115959Z\" {KEY}"),
                Err(Refusal::Expired {
                    principals: "alice".into(),
                    valid_before: "20240601115959Z".into(),
                }),
            ),
            (
                format!("alice valid-after=\"20240601120000Z\" {KEY}"),
                ok("alice"),
            ),
            (
                format!("alice valid-after=\"20240601120001Z\" {KEY}"),
                Err(Refusal::NotYetValid {
                    principals: "alice".into(),
                    valid_after: "20240601120001Z".into(),
                }),
            ),
            (
                format!("alice cert-authority {KEY}"),
                Err(Refusal::CertAuthority {
                    principals: "alice".into(),
                }),
            ),
            (format!("bob {OTHER}"), Err(Refusal::NotListed)),
            (format!("alice foo=\"bar\" {KEY}"), Err(Refusal::NotListed)),
            // Several lines: the first valid one names the principal.
            (
                format!("old valid-before=\"20240101Z\" {KEY}\nnew {KEY}"),
                ok("new"),
            ),
            (
                format!(
                    "alice valid-before=\"20240101Z\" {KEY}\nalice valid-after=\"20240101Z\" {KEY}"
                ),
                ok("alice"),
            ),
            // find-principals ignores namespaces; verify then wants a line
            // for *that* principal: another principal's line does not help.
            (
                format!("alice namespaces=\"file\" {KEY}\nbob {KEY}"),
                Err(Refusal::Namespace {
                    principals: "alice".into(),
                    namespaces: "file".into(),
                }),
            ),
            (
                format!("alice namespaces=\"file\" {KEY}\nalice {KEY}"),
                ok("alice"),
            ),
            // Principal patterns: each listed name is tried as a literal.
            (format!("* {KEY}"), ok("*")),
            (format!("ali* {KEY}"), ok("ali*")),
            (format!("alice,bob {KEY}"), ok("alice")),
            (
                format!("!x {KEY}"),
                Err(Refusal::Principal {
                    principals: "!x".into(),
                }),
            ),
            (format!("!x {KEY}\n* {KEY}"), ok("!x")),
            (format!("!x,alice {KEY}\nalice {KEY}"), ok("alice")),
        ];
        for (text, want) in rows {
            assert_eq!(verdict(&text, T), want, "{text}");
        }
    }

    #[test]
    fn free_names_skip_those_of_other_keys() {
        let other = PublicKey::from_openssh(OTHER).unwrap();
        let a = AllowedSigners::parse(&format!(
            "alice {KEY}\nbob,carol {OTHER}\nalice-2 {OTHER}\n"
        ));
        assert_eq!(a.free_name("alice", &key()), "alice");
        assert_eq!(
            a.free_name("alice", &other),
            "alice-2",
            "its own name already"
        );
        assert_eq!(
            a.free_name("alice", &PublicKey::from_openssh(THIRD).unwrap()),
            "alice-3"
        );
        assert_eq!(a.free_name("carol", &key()), "carol-2");
        assert_eq!(a.free_name("dave", &key()), "dave");
        assert!(a.name_taken("bob", &other).is_none());
    }

    #[test]
    fn the_committer_time_is_git_s() {
        let payload = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a@x> 1 +0000\ncommitter c <c@x> 1717243200 +0200\n\nmessage\ncommitter x <x> 5 +0000\n";
        assert_eq!(committer_time(payload), Some(T));
        assert_eq!(
            committer_time(b"tree x\n\ncommitter c <c@x> 5 +0000\n"),
            None
        );
    }
}
