//! The pieces of OpenSSH that give an allowed_signers line its meaning,
//! ported from `ssh-keygen` so that atom's verdicts are `ssh-keygen -Y
//! verify`'s, hence `git verify-commit`'s: wildcard pattern lists
//! (`match.c`), the options of a line (`sshsig.c`) and absolute times
//! (`misc.c`).
//!
//! The design decision a reader must know: the C code's behaviour is
//! followed, quirks included. An option ssh-keygen refuses makes the whole
//! line invalid there, so it does here; and a time without `Z` is local time
//! read as `mktime` reads it (standard time, whatever the season), on both
//! sides of the comparison, as git and ssh-keygen do.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};

/// What `match_pattern_list` says about a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternMatch {
    /// A pattern of the list matches and no negated one does.
    Positive,
    /// A negated pattern (`!pattern`) matches.
    Negated,
    /// Nothing matches.
    None,
}

/// `match_pattern`: `*` matches any run of characters, `?` any one.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    matches_bytes(s.as_bytes(), pattern.as_bytes())
}

fn matches_bytes(mut s: &[u8], mut p: &[u8]) -> bool {
    loop {
        let Some((&c, rest)) = p.split_first() else {
            return s.is_empty();
        };
        if c == b'*' {
            let rest = {
                let mut r = rest;
                while r.first() == Some(&b'*') {
                    r = &r[1..];
                }
                r
            };
            if rest.is_empty() {
                return true;
            }
            return (0..s.len()).any(|i| matches_bytes(&s[i..], rest));
        }
        let Some((&sc, srest)) = s.split_first() else {
            return false;
        };
        if c != b'?' && c != sc {
            return false;
        }
        s = srest;
        p = rest;
    }
}

/// `match_pattern_list`: `list` is comma-separated patterns, each possibly
/// negated with a leading `!`; a matching negated pattern wins.
pub fn match_pattern_list(s: &str, list: &str) -> PatternMatch {
    // ssh copies each pattern into a 1024-byte buffer; a longer one fails
    // the whole list.
    const MAX_PATTERN: usize = 1023;
    let mut positive = false;
    let mut rest = list;
    while !rest.is_empty() {
        let (negated, body) = match rest.strip_prefix('!') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let (pattern, next) = body.split_once(',').unwrap_or((body, ""));
        if pattern.len() >= MAX_PATTERN {
            return PatternMatch::None;
        }
        if match_pattern(s, pattern) {
            if negated {
                return PatternMatch::Negated;
            }
            positive = true;
        }
        rest = next;
    }
    if positive {
        PatternMatch::Positive
    } else {
        PatternMatch::None
    }
}

/// A `valid-after`/`valid-before` time as written (`YYYYMMDD[HHMM[SS]]`,
/// optionally `Z` or `UTC` for UTC), and the instant ssh-keygen reads it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTime {
    text: String,
    seconds: i64,
}

impl SshTime {
    /// `parse_absolute_time`; `None` where ssh-keygen refuses the time
    /// (including 1970-01-01 00:00:00, which it takes for "unset").
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let (digits, utc) = if b.len() > 1 && b[b.len() - 1].eq_ignore_ascii_case(&b'z') {
            (&b[..b.len() - 1], true)
        } else if b.len() > 3 && b[b.len() - 3..].eq_ignore_ascii_case(b"utc") {
            (&b[..b.len() - 3], true)
        } else {
            (b, false)
        };
        if !matches!(digits.len(), 8 | 12 | 14) || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let field = |at: usize, width: usize| -> i64 {
            digits
                .get(at..at + width)
                .map_or(0, |d| d.iter().fold(0, |n, c| n * 10 + i64::from(c - b'0')))
        };
        let (year, month, day) = (field(0, 4), field(4, 2), field(6, 2));
        let (hour, minute, second) = (field(8, 2), field(10, 2), field(12, 2));
        // strptime's ranges; timegm/mktime then carry overflows (31 February
        // is 2 or 3 March), which adding durations does too.
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 61
        {
            return None;
        }
        let wall = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month as u32, 1)?
            .and_hms_opt(0, 0, 0)?
            + TimeDelta::days(day - 1)
            + TimeDelta::seconds(hour * 3600 + minute * 60 + second);
        let seconds = if utc {
            wall.and_utc().timestamp()
        } else {
            mktime(wall)
        };
        (seconds > 0).then(|| SshTime {
            text: text.to_owned(),
            seconds,
        })
    }

    /// `YYYYMMDDHHMMSSZ`: the instant `time`, in UTC.
    pub fn utc(time: DateTime<Utc>) -> Self {
        SshTime {
            text: time.format("%Y%m%d%H%M%SZ").to_string(),
            seconds: time.timestamp(),
        }
    }

    /// The time as written in the file.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant ssh-keygen compares, in Unix seconds.
    pub fn seconds(&self) -> i64 {
        self.seconds
    }
}

/// The instant ssh-keygen compares with `valid-after`/`valid-before` when
/// git asks it about a commit made at `time` (Unix seconds): git passes the
/// commit's time as local `YYYYMMDDHHMMSS` (`-Overify-time=`) and
/// ssh-keygen reads that back with `mktime`.
pub fn verify_time(time: i64) -> i64 {
    match Local.timestamp_opt(time, 0).single() {
        Some(t) => mktime(t.naive_local()),
        None => time,
    }
}

/// `mktime` of a zeroed `struct tm` (so `tm_isdst` = 0): the wall-clock
/// time read in the zone's standard time, even when daylight saving time
/// is in effect then.
fn mktime(wall: NaiveDateTime) -> i64 {
    wall.and_utc().timestamp() - i64::from(standard_offset(wall))
}

/// The local zone's standard offset from UTC (seconds east) around `wall`:
/// the smaller of the offsets in January and in July of that year
/// (daylight saving time adds to it, in either hemisphere).
fn standard_offset(wall: NaiveDateTime) -> i32 {
    let year = chrono::Datelike::year(&wall);
    [1, 7]
        .iter()
        .filter_map(|&m| NaiveDate::from_ymd_opt(year, m, 1)?.and_hms_opt(12, 0, 0))
        .map(|t| Local.offset_from_utc_datetime(&t).fix().local_minus_utc())
        .min()
        .unwrap_or(0)
}

/// The options of an allowed_signers line (`sshsigopt_parse`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignerOptions {
    /// `cert-authority`: the key is a CA; it vouches for certificates it
    /// signed, and its own signatures are not trusted through this line.
    pub cert_authority: bool,
    /// `namespaces="..."`: the signature namespaces (patterns) allowed.
    pub namespaces: Option<String>,
    /// `valid-after="..."`: signatures made before it are not trusted.
    pub valid_after: Option<SshTime>,
    /// `valid-before="..."`: signatures made after it are not trusted.
    pub valid_before: Option<SshTime>,
}

impl SignerOptions {
    /// Parse the options field (one token: no unquoted whitespace), as
    /// ssh-keygen does; the error is its reason for refusing the line.
    pub fn parse(field: &str) -> Result<Self, &'static str> {
        let mut out = SignerOptions::default();
        let mut s = field;
        while !s.is_empty() && !s.starts_with([' ', '\t']) {
            if let Some(rest) = strip_prefix_ignore_case(s, "cert-authority") {
                out.cert_authority = true;
                s = rest;
            } else if let Some(rest) = strip_option(s, "namespaces") {
                if out.namespaces.is_some() {
                    return Err("multiple \"namespaces\" clauses");
                }
                let (value, rest) = dequote(rest)?;
                out.namespaces = Some(value);
                s = rest;
            } else if let Some(rest) = strip_option(s, "valid-after") {
                if out.valid_after.is_some() {
                    return Err("multiple \"valid-after\" clauses");
                }
                let (value, rest) = dequote(rest)?;
                out.valid_after =
                    Some(SshTime::parse(&value).ok_or("invalid \"valid-after\" time")?);
                s = rest;
            } else if let Some(rest) = strip_option(s, "valid-before") {
                if out.valid_before.is_some() {
                    return Err("multiple \"valid-before\" clauses");
                }
                let (value, rest) = dequote(rest)?;
                out.valid_before =
                    Some(SshTime::parse(&value).ok_or("invalid \"valid-before\" time")?);
                s = rest;
            }
            if s.is_empty() || s.starts_with([' ', '\t']) {
                break;
            }
            let Some(rest) = s.strip_prefix(',') else {
                return Err("unknown key option");
            };
            if rest.is_empty() {
                return Err("unexpected end-of-options");
            }
            s = rest;
        }
        if let (Some(after), Some(before)) = (&out.valid_after, &out.valid_before) {
            if before.seconds <= after.seconds {
                return Err("\"valid-before\" time is before \"valid-after\"");
            }
        }
        Ok(out)
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == SignerOptions::default()
    }

    /// The options field as atom writes it (empty when there are none).
    pub fn to_field(&self) -> String {
        let quote = |v: &str| format!("\"{}\"", v.replace('"', "\\\""));
        let mut parts = Vec::new();
        if self.cert_authority {
            parts.push("cert-authority".to_owned());
        }
        if let Some(n) = &self.namespaces {
            parts.push(format!("namespaces={}", quote(n)));
        }
        if let Some(t) = &self.valid_after {
            parts.push(format!("valid-after={}", quote(t.as_str())));
        }
        if let Some(t) = &self.valid_before {
            parts.push(format!("valid-before={}", quote(t.as_str())));
        }
        parts.join(",")
    }

    /// Whether signatures in `namespace` may be made with the key.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.namespaces
            .as_deref()
            .is_none_or(|n| match_pattern_list(namespace, n) == PatternMatch::Positive)
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `opt_match`: `name=` in any case.
fn strip_option<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    strip_prefix_ignore_case(s, name)?.strip_prefix('=')
}

/// `opt_dequote`: a `"`-quoted value in which `\"` stands for `"`.
fn dequote(s: &str) -> Result<(String, &str), &'static str> {
    let body = s.strip_prefix('"').ok_or("missing start quote")?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &body[i + 1..])),
            '\\' if body[i + 1..].starts_with('"') => {
                chars.next();
                value.push('"');
            }
            c => value.push(c),
        }
    }
    Err("missing end quote")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_as_match_c() {
        assert!(match_pattern("git", "git"));
        assert!(match_pattern("git", "gi*"));
        assert!(match_pattern("git", "*"));
        assert!(match_pattern("git", "g?t"));
        assert!(match_pattern("git", "**t"));
        assert!(!match_pattern("git", "gi"));
        assert!(!match_pattern("git", "?"));
        assert!(match_pattern("", "*"));
        assert!(!match_pattern("", "?"));
        let list = |l| match_pattern_list("git", l);
        assert_eq!(list("file,git"), PatternMatch::Positive);
        assert_eq!(list("*,!git"), PatternMatch::Negated);
        assert_eq!(list("!file"), PatternMatch::None);
        assert_eq!(list("file"), PatternMatch::None);
        assert_eq!(list(""), PatternMatch::None);
        assert_eq!(list("file,,gi?"), PatternMatch::Positive);
    }

    #[test]
    fn times_as_parse_absolute_time() {
        let utc = |t: &str| SshTime::parse(t).map(|t| t.seconds());
        assert_eq!(utc("20240102Z"), Some(1_704_153_600));
        assert_eq!(utc("202401021030z"), Some(1_704_191_400));
        assert_eq!(utc("20240102103005UTC"), Some(1_704_191_405));
        assert_eq!(utc("20240231Z"), utc("20240302Z"), "mktime carries days");
        for bad in [
            "2024010Z",
            "20241301Z",
            "20240100Z",
            "2024-1-01",
            "19700101Z",
            "1969123Z",
            "",
            "Z",
            "20240101T1200Z",
            "20240101246000Z",
        ] {
            assert_eq!(utc(bad), None, "{bad}");
        }
        let t = SshTime::utc(DateTime::from_timestamp(1_704_191_405, 0).unwrap());
        assert_eq!(t.as_str(), "20240102103005Z");
        assert_eq!(t.seconds(), 1_704_191_405);
    }

    #[test]
    fn options_as_sshsigopt_parse() {
        let o =
            SignerOptions::parse("namespaces=\"git,fi\\\"le\",Valid-Before=\"20300101Z\"").unwrap();
        assert_eq!(o.namespaces.as_deref(), Some("git,fi\"le"));
        assert_eq!(o.valid_before.as_ref().unwrap().as_str(), "20300101Z");
        assert_eq!(SignerOptions::parse(&o.to_field()).unwrap(), o);
        assert!(
            SignerOptions::parse("cert-authority")
                .unwrap()
                .cert_authority
        );
        for bad in [
            "namespaces=git",
            "namespaces=\"git",
            "foo=\"bar\"",
            "cert-authority,",
            "cert-authorityx",
            "namespaces=\"a\",namespaces=\"b\"",
            "valid-before=\"tomorrow\"",
            "valid-after=\"20300101Z\",valid-before=\"20200101Z\"",
            "valid-after=\"20300101Z\",valid-before=\"20300101Z\"",
            "no-touch-required",
        ] {
            assert!(SignerOptions::parse(bad).is_err(), "{bad}");
        }
        let ns = |n: &str| SignerOptions {
            namespaces: Some(n.into()),
            ..Default::default()
        };
        assert!(SignerOptions::default().allows_namespace("git"));
        assert!(ns("gi*").allows_namespace("git"));
        assert!(!ns("file").allows_namespace("git"));
        assert!(!ns("*,!git").allows_namespace("git"));
        assert!(!ns("").allows_namespace("git"));
    }
}
