//! `/api/...`: the CLI's `--json` shapes over HTTP, and the queries behind
//! them, which the pages render too.
//!
//! | path | shape of |
//! |---|---|
//! | `/api/log?trail=&all=1&type=&agent=&operation=&path=&project=&since=&until=&grep=&n=&after=` | `log --json` |
//! | `/api/search?q=&n=` | `search --json` |
//! | `/api/show/ID` | `show --json` |
//! | `/api/trace/ID?down=1` | `trace --json` |
//! | `/api/stats?by=agent\|type\|day\|project` | `stats --json` |
//! | `/api/trails` | `trails --json` |
//! | `/api/archives` | `[{name, commit}]`, the archived tips |
//! | `/api/checkpoint` | `checkpoint --json` |
//! | `/api/verify?trail=\|all=1` | `verify --json` |
//!
//! Paging is keyset: `after` is the commit of the last atom of the previous
//! page (its `commit` field), never an offset.

use atom::index::{Filter, StatsBy, StatsRow};
use atom::verify::{VerifyReport, VerifyScope};
use atom::{AtomView, Trail};
use serde::Serialize;

use super::http::{Request, Response};
use crate::cli::commands::{checkpoint, search, show, trails};
use crate::cli::dates;
use crate::cli::error::CliError;

/// Atoms per page unless `n` says otherwise.
pub const PAGE: usize = 50;
/// The most atoms one request lists.
pub const MAX_PAGE: usize = 500;

/// `log`'s arguments from a request: the revision, `--all`, the filters.
pub struct LogQuery {
    /// A trail, atom id or commit (`trail=`).
    pub rev: Option<String>,
    /// Every trail and archive (`all=1`).
    pub all: bool,
    /// The filters, `limit` one more than a page to know whether one follows.
    pub filter: Filter,
    /// Atoms per page.
    pub page: usize,
}

impl LogQuery {
    /// Read the log's parameters from `req`.
    pub fn from(req: &Request) -> Result<Self, CliError> {
        let text = |k: &str| req.param(k).map(str::to_owned);
        let date = |k: &str, flag: &'static str| {
            req.param(k)
                .map(|d| dates::parse_timestamp(flag, d))
                .transpose()
        };
        let page = page_size(req)?;
        let after = match req.param("after") {
            None => None,
            Some(hex) => Some(gix::ObjectId::from_hex(hex.as_bytes()).map_err(|_| {
                CliError::usage(
                    format!("after={hex:?} is not a commit id"),
                    "`after` is the `commit` (40 hex digits) of the last atom of the previous page",
                )
            })?),
        };
        Ok(LogQuery {
            rev: text("trail"),
            all: req.param("all").is_some_and(|v| v != "0"),
            filter: Filter {
                atom_type: text("type"),
                agent: text("agent"),
                operation: text("operation"),
                path: text("path"),
                project: text("project"),
                since: date("since", "since")?,
                until: date("until", "until")?,
                grep: text("grep"),
                limit: Some(page + 1),
                after,
            },
            page,
        })
    }

    /// One page of atoms, and whether more follow.
    pub fn run(&self, trail: &Trail) -> Result<(Vec<AtomView>, bool), CliError> {
        let rev = if self.all { None } else { self.rev.as_deref() };
        let mut atoms = trail.log(rev, self.all, &self.filter)?;
        let more = atoms.len() > self.page;
        atoms.truncate(self.page);
        Ok((atoms, more))
    }
}

/// `n`, 1 to [`MAX_PAGE`], default [`PAGE`].
pub fn page_size(req: &Request) -> Result<usize, CliError> {
    match req.param("n") {
        None => Ok(PAGE),
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                CliError::usage(
                    format!("n={n:?} is not a page size"),
                    format!("give a number from 1 to {MAX_PAGE}"),
                )
            }),
    }
}

/// `by=agent|type|day|project` (default agent).
pub fn stats_by(req: &Request) -> Result<StatsBy, CliError> {
    match req.param("by").unwrap_or("agent") {
        "agent" => Ok(StatsBy::Agent),
        "type" => Ok(StatsBy::Type),
        "day" => Ok(StatsBy::Day),
        "project" => Ok(StatsBy::Project),
        other => Err(CliError::usage(
            format!("by={other:?} is not a grouping"),
            "give by=agent, by=type, by=day or by=project",
        )),
    }
}

/// Counts and tokens grouped as `by`.
pub fn stats(trail: &Trail, by: StatsBy) -> Result<Vec<StatsRow>, CliError> {
    Ok(trail.stats(by)?)
}

/// What `verify=`/`trail=`/`all=1` ask to verify.
pub fn verify(trail: &Trail, req: &Request) -> Result<VerifyReport, CliError> {
    let scope = match (req.param("all"), req.param("trail")) {
        (Some(v), _) if v != "0" => VerifyScope::All,
        (_, Some(rev)) => VerifyScope::Rev(rev),
        _ => VerifyScope::Current,
    };
    Ok(trail.verify(scope)?)
}

/// An archived tip.
#[derive(Serialize)]
pub struct Archive {
    /// `archive/<trail>/<tip>`, as `log` takes it.
    pub name: String,
    /// Its commit (hex).
    pub commit: String,
}

/// The archived tips.
pub fn archives(trail: &Trail) -> Result<Vec<Archive>, CliError> {
    Ok(trail
        .archives()?
        .into_iter()
        .map(|(name, commit)| Archive {
            name,
            commit: commit.to_string(),
        })
        .collect())
}

/// Answer `/api/<rest>`.
pub fn route(req: &Request, trail: &Trail, rest: &[String]) -> Result<Response, CliError> {
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match rest.as_slice() {
        ["log"] => json(&LogQuery::from(req)?.run(trail)?.0),
        ["search"] => {
            let q = req.param("q").unwrap_or_default();
            let hits = trail.search(q, Some(page_size(req)?))?;
            let items: Vec<search::Hit<'_>> = hits
                .iter()
                .map(|(atom, snippet)| search::Hit { atom, snippet })
                .collect();
            json(&items)
        }
        ["show", id] => json(&show::shown(trail, id)?),
        ["trace", id] => json(&trail.trace(id, req.param("down").is_some_and(|v| v != "0"))?),
        ["stats"] => json(&stats(trail, stats_by(req)?)?),
        ["trails"] => {
            let list = trail.trails()?;
            json(&trails::TrailsOut::of(&list))
        }
        ["archives"] => json(&archives(trail)?),
        ["checkpoint"] => json(&checkpoint::latest(trail)?),
        ["verify"] => json(&verify(trail, req)?),
        _ => Err(not_found()),
    }
}

/// No such page or API path.
pub fn not_found() -> CliError {
    CliError::usage(
        "no such page",
        "the pages are /, /graph, /tokens, /status, /atom/ID and /trace/ID; the API is under /api/",
    )
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<Response, CliError> {
    let body = serde_json::to_vec_pretty(value)
        .map_err(|e| CliError::problem(format!("cannot serialize the answer: {e}"), None))?;
    Ok(Response::new(200, "application/json", body))
}

/// An error as JSON: `{"error": ..., "hint": ...}`.
pub fn error(status: u16, e: &CliError) -> Response {
    let body = serde_json::json!({ "error": e.message, "hint": e.hint });
    Response::new(
        status,
        "application/json",
        serde_json::to_vec_pretty(&body).unwrap_or_default(),
    )
}
