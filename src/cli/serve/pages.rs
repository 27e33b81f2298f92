//! The pages: the timeline, the trail graph, one atom, its provenance, the
//! token dashboard and the store's status. Each is rendered from the value
//! its `/api/` twin serializes (see [`api`]).

use std::collections::HashMap;

use atom::index::StatsBy;
use atom::signing::SignatureStatus;
use atom::{AtomView, Trail};

use super::api::{self, LogQuery};
use super::graph;
use super::html::{self, esc, fields, number, page};
use super::http::{encode, Request, Response};
use crate::cli::commands::{checkpoint, show};
use crate::cli::error::{CliError, EXIT_USAGE};

/// How many atoms the trail graph draws.
const GRAPH_ATOMS: usize = 200;
/// How many days the daily token chart shows.
const CHART_DAYS: usize = 90;

/// Answer one routed request.
pub fn route(req: &Request, trail: &Trail) -> Response {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let result = match seg.as_slice() {
        [] => timeline(req, trail),
        ["style.css"] => Ok(Response::new(200, "text/css; charset=utf-8", html::STYLE)),
        ["favicon.svg"] => Ok(Response::new(200, "image/svg+xml", html::ICON)),
        ["api", ..] => api::route(req, trail, &req.segments[1..]),
        ["graph"] => trail_graph(trail),
        ["atom", id] => atom_page(trail, id),
        ["atom", id, "attachments", name] => attachment(trail, id, name),
        ["trace", id] => trace_page(trail, id),
        ["tokens"] => tokens(trail),
        ["status"] => status(req, trail),
        _ => Err(api::not_found()),
    };
    result.unwrap_or_else(|e| error_response(req, e))
}

/// An error as the API's JSON or as a page, 404 for what is not there, 400
/// for a bad request, 500 for a store that cannot answer.
pub fn error_response(req: &Request, e: CliError) -> Response {
    let lower = e.message.to_ascii_lowercase();
    let status = if lower.contains("not found")
        || lower.contains("no such")
        || lower.contains("no atom")
        || lower.contains("has no attachment")
    {
        404
    } else if e.code == EXIT_USAGE {
        400
    } else {
        500
    };
    if req.segments.first().is_some_and(|s| s == "api") {
        return api::error(status, &e);
    }
    let mut body = format!("<p class=\"error\">error: {}</p>", esc(&e.message));
    if let Some(h) = &e.hint {
        body.push_str(&format!("<p class=\"hint\">hint: {}</p>", esc(h)));
    }
    let mut r = page("Error", "", &body);
    r.status = status;
    r
}

/// One atom as a table row.
fn atom_row(a: &AtomView) -> String {
    let r = &a.record;
    format!(
        "<tr><td><a class=\"id\" href=\"/atom/{c}\">{id}</a></td><td class=\"time\">{t}</td><td>{ty}</td>\
         <td>{agent}</td><td>{op}</td><td>{summary}</td><td class=\"num\">{tokens}</td></tr>",
        c = a.commit,
        id = esc(&r.atom_id.to_string()),
        t = esc(&r.timestamp),
        ty = esc(&r.atom_type),
        agent = esc(&r.agent),
        op = esc(&r.operation),
        summary = esc(&r.summary),
        tokens = r.token_cost.map(number).unwrap_or_default(),
    )
}

fn atom_table(rows: impl Iterator<Item = String>) -> String {
    let mut out = String::from(
        "<table class=\"atoms\"><thead><tr><th>atom</th><th>time</th><th>type</th><th>agent</th>\
         <th>operation</th><th>summary</th><th>tokens</th></tr></thead><tbody>",
    );
    for r in rows {
        out.push_str(&r);
    }
    out.push_str("</tbody></table>");
    out
}

/// `/`: `atom log` with its filters and keyset paging, or a full-text search (`q`).
fn timeline(req: &Request, trail: &Trail) -> Result<Response, CliError> {
    if let Some(q) = req.param("q") {
        let hits = trail.search(q, Some(api::page_size(req)?))?;
        let mut body = format!(
            "<p class=\"summary\">{} atom(s) match <q>{}</q>, best first.</p>",
            hits.len(),
            esc(q)
        );
        body.push_str(&atom_table(hits.iter().map(|(a, snippet)| {
            atom_row(a).replace(
                "</tr>",
                &format!(
                    "</tr><tr class=\"snippet\"><td></td><td colspan=\"6\">{}</td></tr>",
                    esc(snippet)
                ),
            )
        })));
        return Ok(page(&format!("Search: {q}"), "Timeline", &body));
    }
    let query = LogQuery::from(req)?;
    let (atoms, more) = query.run(trail)?;
    let scope = if query.all {
        "every trail and archive".to_owned()
    } else {
        match &query.rev {
            Some(r) => r.clone(),
            None => format!("trail {}", trail.current_trail()?),
        }
    };
    let mut body = filter_form(req);
    body.push_str(&format!(
        "<p class=\"summary\">Atoms of <strong>{}</strong>, newest first{}.</p>",
        esc(&scope),
        if req.param("after").is_some() {
            " (older page)"
        } else {
            ""
        }
    ));
    body.push_str(&atom_table(atoms.iter().map(atom_row)));
    body.push_str("<p class=\"pager\">");
    if req.param("after").is_some() {
        body.push_str(&format!(
            "<a href=\"/?{}\">⇤ newest</a> ",
            query_string(req, &[])
        ));
    }
    if let (true, Some(last)) = (more, atoms.last()) {
        body.push_str(&format!(
            "<a rel=\"next\" href=\"/?{}\">older →</a>",
            query_string(req, &[("after", &last.commit.to_string())])
        ));
    }
    body.push_str("</p>");
    Ok(page("Timeline", "Timeline", &body))
}

/// The request's log parameters, `after` replaced by `extra`, as a query string.
fn query_string(req: &Request, extra: &[(&str, &str)]) -> String {
    let mut keys: Vec<&String> = req
        .query
        .keys()
        .filter(|k| k.as_str() != "after" && k.as_str() != "token")
        .collect();
    keys.sort();
    let mut parts: Vec<String> = keys
        .into_iter()
        .filter_map(|k| req.param(k).map(|v| format!("{}={}", encode(k), encode(v))))
        .collect();
    parts.extend(extra.iter().map(|(k, v)| format!("{k}={}", encode(v))));
    parts.join("&")
}

fn filter_form(req: &Request) -> String {
    let input = |name: &str, label: &str| {
        format!(
            "<label>{label}<input name=\"{name}\" value=\"{}\"></label>",
            esc(req.param(name).unwrap_or_default())
        )
    };
    let all = if req.param("all").is_some_and(|v| v != "0") {
        " checked"
    } else {
        ""
    };
    format!(
        "<form class=\"filters\" action=\"/\" method=\"get\">{}{}{}{}{}{}{}{}{}\
         <label class=\"check\"><input type=\"checkbox\" name=\"all\" value=\"1\"{all}>all trails</label>\
         <button type=\"submit\">Filter</button></form>",
        input("trail", "trail"),
        input("type", "type"),
        input("agent", "agent"),
        input("operation", "operation"),
        input("project", "project"),
        input("path", "path"),
        input("since", "since"),
        input("until", "until"),
        input("grep", "text"),
    )
}

/// `/graph`: the newest atoms of every trail and archive, drawn.
fn trail_graph(trail: &Trail) -> Result<Response, CliError> {
    let filter = atom::index::Filter {
        limit: Some(GRAPH_ATOMS),
        ..Default::default()
    };
    let atoms = trail.log(None, true, &filter)?;
    let trails = trail.trails()?;
    let archives = api::archives(trail)?;
    let mut labels: HashMap<gix::ObjectId, Vec<(String, bool)>> = HashMap::new();
    for t in &trails {
        if let Some(c) = t
            .commit
            .as_deref()
            .and_then(|c| gix::ObjectId::from_hex(c.as_bytes()).ok())
        {
            labels.entry(c).or_default().push((t.name.clone(), false));
        }
    }
    for a in &archives {
        if let Ok(c) = gix::ObjectId::from_hex(a.commit.as_bytes()) {
            labels.entry(c).or_default().push((a.name.clone(), true));
        }
    }
    let mut body = String::from("<ul class=\"trails\">");
    for t in &trails {
        body.push_str(&format!(
            "<li><a class=\"trail{}\" href=\"/?trail={}\">{}</a> {} atom(s){}</li>",
            if t.current { " current" } else { "" },
            encode(&t.name),
            esc(&t.name),
            number(t.atoms as u64),
            if t.current { " (current)" } else { "" }
        ));
    }
    for a in &archives {
        body.push_str(&format!(
            "<li><a class=\"trail archived\" href=\"/?trail={}\">{}</a> archived tip</li>",
            encode(&a.name),
            esc(&a.name)
        ));
    }
    body.push_str("</ul>");
    body.push_str(&format!(
        "<p class=\"summary\">The newest {} atoms of every trail and archive; red dots are rollbacks, large dots merges.</p>",
        atoms.len()
    ));
    body.push_str(&graph::trail_graph(&atoms, &labels));
    Ok(page("Trails", "Trails", &body))
}

/// `/atom/ID`: the record, commit, signature, log status and links.
fn atom_page(trail: &Trail, id: &str) -> Result<Response, CliError> {
    let show::Shown {
        atom: a, links: l, ..
    } = show::shown(trail, id)?;
    let r = &a.record;
    let link = |id: &atom::AtomId| {
        format!(
            "<a class=\"id\" href=\"/atom/{}\">{}</a>",
            encode(&id.to_string()),
            esc(&id.to_string())
        )
    };
    let links = |ids: &[atom::AtomId]| ids.iter().map(link).collect::<Vec<_>>().join(" ");
    // An atom at the other end of a link, by its unique handle.
    let linked = |list: &[atom::index::Linked]| {
        list.iter()
            .map(|l| {
                format!(
                    "<a class=\"id\" href=\"/atom/{}\">{}</a>{}",
                    encode(&l.node.handle),
                    esc(&l.node.handle),
                    if l.ambiguous { " (ambiguous)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let sig = &a.signature;
    let (word, class) = match sig.status {
        SignatureStatus::Good => ("good", "good"),
        SignatureStatus::Untrusted => ("untrusted", "bad"),
        SignatureStatus::Bad => ("bad", "bad"),
        SignatureStatus::None => ("none", "bad"),
    };
    let leaf = trail.log_leaf(&a.commit)?;
    let mut rows: Vec<(&str, String)> = vec![
        ("atom", esc(&r.atom_id.to_string())),
        ("commit", format!("<code>{}</code>", a.commit)),
        ("type", esc(&r.atom_type)),
        ("operation", esc(&r.operation)),
        ("agent", esc(&r.agent)),
        ("time", esc(&r.timestamp)),
    ];
    if let Some(p) = &r.project {
        rows.push(("project", esc(p)));
    }
    rows.push(("summary", esc(&r.summary)));
    if let Some(t) = r.token_cost {
        rows.push(("tokens", number(t)));
    }
    rows.push((
        "signature",
        format!(
            "<span class=\"{class}\">{word}</span>{}",
            sig.signer
                .as_deref()
                .map(|s| format!(" ({})", esc(s)))
                .unwrap_or_default()
        ),
    ));
    rows.push((
        "log",
        match leaf {
            Some(n) => format!(
                "<span class=\"good\">leaf {}</span> of the transparency log",
                number(n)
            ),
            None => "<span class=\"bad\">not in the transparency log yet</span>".into(),
        },
    ));
    rows.push((
        "previous",
        r.previous_atom
            .as_ref()
            .map_or_else(|| "(first atom of its trail)".into(), link),
    ));
    let parents: Vec<String> = a
        .parents
        .iter()
        .map(|p| {
            format!(
                "<a href=\"/atom/{p}\"><code>{}</code></a>",
                p.to_hex_with_len(12)
            )
        })
        .collect();
    if !parents.is_empty() {
        rows.push(("parents", parents.join(" ")));
    }
    if let Some(m) = &r.merged {
        rows.push(("merged", links(m)));
    }
    rows.push((
        "built on",
        if r.influenced_by.is_empty() {
            "(nothing)".into()
        } else if l.built_on.is_empty() {
            links(&r.influenced_by)
        } else {
            linked(&l.built_on)
        },
    ));
    rows.push((
        "used by",
        if l.used_by.is_empty() {
            "(nothing yet)".into()
        } else {
            linked(&l.used_by)
        },
    ));
    rows.push(("digest", format!("<code>{}</code>", esc(&r.digest))));
    let mut body = fields(&rows);
    body.push_str(&format!(
        "<p><a class=\"trace\" href=\"/trace/{c}\">provenance graph</a> · <a href=\"/api/show/{c}\">JSON</a></p>",
        c = a.commit
    ));
    if !r.attachments.is_empty() {
        body.push_str("<h2>Attachments</h2><ul class=\"attachments\">");
        for att in &r.attachments {
            body.push_str(&format!(
                "<li><a download href=\"/atom/{}/attachments/{}\">{}</a> {} bytes, sha256 <code>{}</code></li>",
                a.commit,
                encode(&att.name),
                esc(&att.name),
                number(att.size),
                esc(&att.sha256)
            ));
        }
        body.push_str("</ul>");
    }
    if !r.metadata.is_empty() {
        let meta = serde_json::to_string_pretty(&r.metadata).unwrap_or_default();
        body.push_str(&format!("<h2>Metadata</h2><pre>{}</pre>", esc_block(&meta)));
    }
    Ok(page(&r.atom_id.to_string(), "", &body))
}

/// Escape a multi-line block, keeping its newlines.
fn esc_block(text: &str) -> String {
    text.lines().map(esc).collect::<Vec<_>>().join("\n")
}

/// `/atom/ID/attachments/NAME`: the bytes, checked against the record, as a download.
fn attachment(trail: &Trail, id: &str, name: &str) -> Result<Response, CliError> {
    let content = trail.attachment(id, Some(name))?;
    // The file name in the header: only characters that cannot break it.
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(
        Response::new(200, "application/octet-stream", content.bytes).with(
            "Content-Disposition",
            format!(
                "attachment; filename=\"{plain}\"; filename*=UTF-8''{}",
                encode(name)
            ),
        ),
    )
}

/// `/trace/ID`: what the atom built on and what built on it, drawn.
fn trace_page(trail: &Trail, id: &str) -> Result<Response, CliError> {
    let up = trail.trace(id, false)?;
    let down = trail.trace(id, true)?;
    let root = up.root.to_string();
    let mut body = format!(
        "<p class=\"summary\">Above: what <a class=\"id\" href=\"/atom/{}\">{}</a> built on ({} atoms); below: what built on it ({} atoms). \
         Click an atom to center the graph on it.</p>",
        encode(&root),
        esc(&root),
        up.nodes.len().saturating_sub(1),
        down.nodes.len().saturating_sub(1),
    );
    body.push_str(&format!(
        "<div class=\"scroll\">{}</div>",
        graph::provenance(&up, &down)
    ));
    body.push_str(&format!(
        "<p><a href=\"/api/trace/{r}\">JSON (up)</a> · <a href=\"/api/trace/{r}?down=1\">JSON (down)</a></p>",
        r = encode(&root)
    ));
    Ok(page(&format!("Provenance of {root}"), "", &body))
}

/// `/tokens`: token spend by agent, type, day and project.
fn tokens(trail: &Trail) -> Result<Response, CliError> {
    let by_agent = api::stats(trail, StatsBy::Agent)?;
    let total_tokens: u64 = by_agent.iter().map(|r| r.token_cost).sum();
    let total_atoms: u64 = by_agent.iter().map(|r| r.atoms).sum();
    let mut body = format!(
        "<div class=\"totals\"><div><span class=\"big\" id=\"total-tokens\">{}</span> tokens</div>\
         <div><span class=\"big\" id=\"total-atoms\">{}</span> atoms</div>\
         <div><span class=\"big\">{}</span> agents</div></div>",
        number(total_tokens),
        number(total_atoms),
        by_agent.len()
    );
    let by_tokens = |mut rows: Vec<atom::index::StatsRow>| {
        rows.sort_by(|a, b| b.token_cost.cmp(&a.token_cost).then(a.key.cmp(&b.key)));
        rows
    };
    let mut days = api::stats(trail, StatsBy::Day)?;
    let skip = days.len().saturating_sub(CHART_DAYS);
    let days = days.split_off(skip);
    body.push_str(&format!(
        "<h2>By day</h2><p class=\"summary\">The last {} days with atoms.</p>{}",
        days.len(),
        graph::columns(&days, |r| r.token_cost, "tokens by day")
    ));
    for (title, by) in [
        ("By agent", StatsBy::Agent),
        ("By type", StatsBy::Type),
        ("By project", StatsBy::Project),
    ] {
        let rows = if matches!(by, StatsBy::Agent) {
            by_tokens(by_agent.clone())
        } else {
            by_tokens(api::stats(trail, by)?)
        };
        body.push_str(&format!(
            "<h2>{title}</h2>{}",
            graph::bars(&rows, |r| r.token_cost, title)
        ));
    }
    body.push_str("<p>JSON: <a href=\"/api/stats?by=agent\">by agent</a> · <a href=\"/api/stats?by=type\">by type</a> · <a href=\"/api/stats?by=day\">by day</a> · <a href=\"/api/stats?by=project\">by project</a></p>");
    Ok(page("Token spend", "Tokens", &body))
}

/// `/status`: the transparency log's checkpoint, the trails, and (asked
/// for with `verify=1`, as long as `atom verify` takes) a verification.
fn status(req: &Request, trail: &Trail) -> Result<Response, CliError> {
    let mut body = String::from("<h2>Transparency log</h2>");
    match checkpoint::latest(trail) {
        Ok(c) => {
            body.push_str(&fields(&[
                ("origin", esc(&c.origin)),
                ("size", format!("{} leaves", number(c.size))),
                ("root", format!("<code>{}</code>", esc(&c.root))),
                ("log commit", format!("<code>{}</code>", esc(&c.commit))),
                ("cosignatures", c.cosignatures.len().to_string()),
            ]));
            body.push_str(&format!("<pre class=\"note\">{}</pre>", esc_block(&c.note)));
        }
        Err(e) => body.push_str(&format!("<p class=\"bad\">{}</p>", esc(&e.message))),
    }
    let trails = trail.trails()?;
    body.push_str("<h2>Trails</h2><ul class=\"trails\">");
    for t in &trails {
        body.push_str(&format!(
            "<li><a class=\"trail\" href=\"/?trail={}\">{}</a> {} atom(s), head {}{} · <a href=\"/status?verify=1&amp;trail={}\">verify</a></li>",
            encode(&t.name),
            esc(&t.name),
            number(t.atoms as u64),
            esc(t.head.as_deref().unwrap_or("(none)")),
            if t.current { " (current)" } else { "" },
            encode(&t.name),
        ));
    }
    body.push_str("</ul>");
    body.push_str("<h2>Verification</h2>");
    if req.param("verify").is_some() {
        let report = api::verify(trail, req)?;
        let class = if report.ok { "good" } else { "bad" };
        body.push_str(&format!(
            "<p id=\"verify\" class=\"{class}\">{}: {} atom(s) checked, {} failure(s), {} warning(s), {} log problem(s).</p>",
            esc(&report.scope),
            number(report.atoms as u64),
            report.failures.len(),
            report.warnings.len(),
            report.log.problems.len(),
        ));
        if !report.failures.is_empty() || !report.log.problems.is_empty() {
            let json = serde_json::to_string_pretty(&report).unwrap_or_default();
            body.push_str(&format!("<pre>{}</pre>", esc_block(&json)));
        }
    } else {
        body.push_str(
            "<p>Verification reads every atom (as long as <code>atom verify</code> takes): \
             <a id=\"run-verify\" href=\"/status?verify=1\">verify the current trail</a> · \
             <a href=\"/status?verify=1&amp;all=1\">verify every trail and archive</a></p>",
        );
    }
    Ok(page("Status", "Status", &body))
}
