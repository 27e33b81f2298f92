//! `atom import` and `atom export`: trails as JSON lines (SPEC §5).
//!
//! Export prints each record's stored canonical bytes, oldest first along
//! first parents, so an export is itself a verifiable `previous_digest` chain
//! and a round trip is byte-identical.
//!
//! Import is all-or-nothing per input: under the store lock every line is
//! parsed, completed (missing ids, times and links are computed as `record`
//! computes them) and checked (present ids, digests and links must agree with
//! the chain being built), and its objects are signed and streamed into one
//! new pack. Only after the last line checked out is the pack fsynced and
//! moved into place and the trail's ref moved once, by compare-and-swap; the
//! index then catches up in one transaction. A bad line stops the import with
//! its number and leaves the trail, the index and the object store as they
//! were (the temporary pack is deleted).
//!
//! Lines of the seed system's `atom_trail` table (`{atom_id, operation,
//! agent, timestamp, signature, previous_atom, metadata}`) are recognised by
//! their `signature` field; see [`legacy_signature_matches`] for what is
//! checked.

use std::io::{BufRead, Write};

use chrono::{DateTime, NaiveDateTime, Utc};
use gix::ObjectId;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::append::{next_seq, Transaction};
use crate::canonical;
use crate::model::{self, Atom, AtomId};
use crate::secrets::{Located, Scanner};
use crate::store::{StoreError, HEADS_PREFIX};
use crate::trail::{Trail, TrailError};

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line of the input does not check out; nothing was written.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number in the input.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A row of another tool's data does not check out; nothing was written.
    #[error("{row}: {reason}")]
    Row {
        /// Which row: its table and key.
        row: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The input could not be read.
    #[error("reading the input: {0}")]
    Read(std::io::Error),
    /// The input file could not be opened.
    #[error("{0}")]
    Open(String),
    /// Another tool's data could not be opened or is not of its shape.
    #[error("{0}")]
    Source(String),
    /// The store failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Trail(e.into())
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The trail the atoms were appended to.
    pub trail: String,
    /// How many atoms were imported.
    pub imported: usize,
    /// How many of them came in the seed system's format.
    pub legacy: usize,
    /// How many records were left out because an atom of the store already
    /// came from the same source (`metadata.source`).
    pub skipped: usize,
    /// The first imported atom's id.
    pub first: Option<AtomId>,
    /// The last imported atom's id (the trail's new head).
    pub last: Option<AtomId>,
    /// The trail's new head commit.
    pub head: Option<String>,
}

/// How an import treats what the records refer to.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Where the attachments' files are, each named by its sha256 (as
    /// `atom export --attachments DIR` writes them); without it, records
    /// with attachments are refused.
    pub attachments: Option<std::path::PathBuf>,
    /// Give each record the next free number of its day in this store
    /// instead of its own id (which is then checked no more than its
    /// digest): for an export from another store whose ids this one has
    /// taken. Links to renumbered atoms (`influenced_by`) follow.
    pub renumber: bool,
}

/// Progress of an import, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum ImportProgress {
    /// This many lines were checked, signed and packed.
    Lines(usize),
    /// The pack is written and the ref moved; the index is catching up.
    Indexing(usize),
}

/// Where a record of an import came from, for error messages.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A line of a JSON-lines input (1-based).
    Line(usize),
    /// A row of another tool's data, named by table and key.
    Row(String),
}

impl Origin {
    fn error(&self, reason: String) -> ImportError {
        match self {
            Origin::Line(line) => ImportError::Line {
                line: *line,
                reason,
            },
            Origin::Row(row) => ImportError::Row {
                row: row.clone(),
                reason,
            },
        }
    }
}

/// The next record of an import: where it came from and its JSON text, or
/// `None` at the end.
pub type NextRecord<'a> = dyn FnMut() -> Result<Option<(Origin, String)>, ImportError> + 'a;

/// The non-blank lines of `input` as records, numbered from 1, each turned
/// into a record's JSON by `convert` (`Ok` for atom records); a line
/// `convert` refuses stops the import with its number and the reason.
pub fn lines<'a>(
    input: &'a mut dyn BufRead,
    mut convert: impl FnMut(String) -> Result<String, String> + 'a,
) -> impl FnMut() -> Result<Option<(Origin, String)>, ImportError> + 'a {
    let mut number = 0;
    move || loop {
        let mut line = String::new();
        number += 1;
        if input.read_line(&mut line).map_err(ImportError::Read)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            let origin = Origin::Line(number);
            return match convert(line) {
                Ok(record) => Ok(Some((origin, record))),
                Err(reason) => Err(origin.error(reason)),
            };
        }
    }
}

/// The last atom of the chain being built.
struct Link {
    id: AtomId,
    digest: String,
    commit: ObjectId,
}

impl Trail {
    /// Print the records of `rev` (default: the current trail; a range
    /// `A..B` stops at what A reaches) as JSON lines, oldest first along
    /// first parents; returns how many.
    pub fn export(&self, rev: Option<&str>, out: &mut dyn Write) -> Result<usize, TrailError> {
        self.export_with(rev, out, None)
    }

    /// [`Trail::export`], also writing each attachment of the exported
    /// atoms into `attachments` (made if missing), named by its sha256, as
    /// `import --attachments` reads them. A file already there with the
    /// right content is left as it is.
    pub fn export_with(
        &self,
        rev: Option<&str>,
        out: &mut dyn Write,
        attachments: Option<&std::path::Path>,
    ) -> Result<usize, TrailError> {
        let chain = self.chain(rev)?;
        for stored in &chain {
            if let Some(dir) = attachments {
                for a in &stored.record.attachments {
                    self.export_attachment(stored.commit, a, dir)?;
                }
            }
            write_line(out, &stored.record_bytes)?;
        }
        Ok(chain.len())
    }

    /// Print the Agent Trace records of `rev`'s atoms that name files (see
    /// [`agent_trace`]), oldest first, one JSON object a line; returns how many.
    pub fn export_agent_trace(
        &self,
        rev: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<usize, TrailError> {
        let mut n = 0;
        for stored in self.chain(rev)? {
            if let Some(trace) = agent_trace::to_trace(&stored.record) {
                write_line(out, trace.to_string().as_bytes())?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The atoms of `rev` (default: the current trail; a range `A..B` stops
    /// at what A reaches), oldest first along first parents.
    fn chain(&self, rev: Option<&str>) -> Result<Vec<crate::store::StoredAtom>, TrailError> {
        let (tip, stop) = match rev {
            Some(rev) => match self.range(rev)? {
                Some((exclude, include)) => (Some(include), Some(exclude)),
                None => (Some(self.resolve(rev)?), None),
            },
            None => {
                let trail = self.current_trail()?;
                (
                    self.git().ref_target(&format!("{HEADS_PREFIX}{trail}"))?,
                    None,
                )
            }
        };
        let mut chain = Vec::new();
        let mut next = tip;
        while let Some(c) = next {
            if let Some(stop) = &stop {
                if self.with_index(|ix| ix.is_ancestor(&c, stop))? {
                    break;
                }
            }
            let stored = self.git().read_atom(c)?;
            next = stored.parents.first().copied();
            chain.push(stored);
        }
        chain.reverse();
        Ok(chain)
    }

    /// Write attachment `a` of the atom in `commit` to `dir/<sha256>`.
    fn export_attachment(
        &self,
        commit: ObjectId,
        a: &crate::Attachment,
        dir: &std::path::Path,
    ) -> Result<(), TrailError> {
        let io =
            |context: String| move |source| TrailError::Store(StoreError::Io { context, source });
        if a.sha256.len() != 64 || !canonical::is_lower_hex(&a.sha256) {
            return Err(TrailError::NotFound {
                what: format!("a well-formed sha256 for attachment {}", a.name),
            });
        }
        let path = dir.join(&a.sha256);
        if std::fs::read(&path).is_ok_and(|b| canonical::sha256_hex(&b) == a.sha256) {
            return Ok(());
        }
        let bytes = self
            .git()
            .read_attachment(commit, &a.name)?
            .filter(|b| canonical::sha256_hex(b) == a.sha256)
            .ok_or_else(|| TrailError::NotFound {
                what: format!(
                    "attachment {} of commit {commit} as its record lists it (run `atom verify`)",
                    a.name
                ),
            })?;
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let tmp = dir.join(format!(".{}.tmp", a.sha256));
        std::fs::write(&tmp, &bytes).map_err(io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(io(format!("writing {}", path.display())))?;
        Ok(())
    }

    /// Append the JSON-lines records of `input` to the current trail, all or
    /// nothing (see the module documentation).
    pub fn import(
        &self,
        input: &mut dyn BufRead,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport, ImportError> {
        self.import_with(input, &ImportOptions::default(), progress)
    }

    /// [`Trail::import`] with [`ImportOptions`].
    pub fn import_with(
        &self,
        input: &mut dyn BufRead,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport, ImportError> {
        self.import_records(&mut lines(input, Ok), options, progress)
    }

    /// Append the records `next` yields to the current trail, all or nothing:
    /// the engine behind [`Trail::import`] and the imports from other tools.
    /// A record whose `metadata.source` an atom of the store already has is
    /// skipped; an `influenced_by` entry may name an atom by its source
    /// (`{"tool", "table"?, "id"}`) instead of its id.
    pub fn import_records(
        &self,
        next: &mut NextRecord<'_>,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport, ImportError> {
        let default_agent = self.default_agent();
        let scanner = self.secret_scanner();
        let mut tx = Transaction::begin(self)?;
        let trail = self.current_trail()?;
        let ref_name = format!("{HEADS_PREFIX}{trail}");
        let tip = tx.tip(&ref_name)?;
        let mut parent = match tip {
            Some(c) => {
                let record = tx.record_of(&c)?;
                Some(Link {
                    id: record.atom_id,
                    digest: record.digest,
                    commit: c,
                })
            }
            None => None,
        };
        let mut report = ImportReport {
            trail: trail.clone(),
            imported: 0,
            legacy: 0,
            skipped: 0,
            first: None,
            last: None,
            head: None,
        };
        let now = Utc::now();
        // The highest number of each day on the trail being built, beyond
        // what the trail already had: ids of one day must increase along it.
        let mut floors = DayFloors {
            trail: trail.clone(),
            imported: std::collections::HashMap::new(),
        };
        let mut renamed = std::collections::HashMap::new();
        while let Some((origin, line)) = next()? {
            let completed = complete(
                &tx,
                scanner,
                &line,
                parent.as_ref(),
                &mut floors,
                &default_agent,
                now,
                options,
                &mut renamed,
            )
            .map_err(|reason| origin.error(reason))?;
            let Some((record, legacy, files)) = completed else {
                report.skipped += 1;
                continue;
            };
            let parents: Vec<ObjectId> = parent.as_ref().map(|p| p.commit).into_iter().collect();
            let commit = tx.write(&record, &parents, &files)?;
            report.imported += 1;
            report.legacy += usize::from(legacy);
            if report.first.is_none() {
                report.first = Some(record.atom_id.clone());
            }
            parent = Some(Link {
                id: record.atom_id,
                digest: record.digest,
                commit,
            });
            if report.imported.is_multiple_of(1000) {
                progress(ImportProgress::Lines(report.imported));
            }
        }
        let Some(last) = parent.filter(|_| report.imported > 0) else {
            return Ok(report);
        };
        tx.move_ref(&ref_name, tip, last.commit);
        progress(ImportProgress::Indexing(report.imported));
        tx.commit()?;
        report.last = Some(last.id);
        report.head = Some(last.commit.to_string());
        Ok(report)
    }
}

/// Write `bytes` and a newline to an export's output.
fn write_line(out: &mut dyn Write, bytes: &[u8]) -> Result<(), TrailError> {
    out.write_all(bytes)
        .and_then(|_| out.write_all(b"\n"))
        .map_err(|e| {
            TrailError::Store(StoreError::Io {
                context: "writing the export".into(),
                source: e,
            })
        })
}

/// The highest id number of each day along the trail an import builds.
struct DayFloors {
    trail: String,
    imported: std::collections::HashMap<chrono::NaiveDate, u32>,
}

impl DayFloors {
    /// The highest number of `day` on the trail so far.
    fn of(&self, tx: &Transaction<'_>, day: chrono::NaiveDate) -> Result<u32, String> {
        let before = tx
            .ix()
            .trail_day_max(&self.trail, &day.format("%Y%m%d").to_string())
            .map_err(|e| e.to_string())?;
        Ok(before.max(self.imported.get(&day).copied().unwrap_or(0)))
    }
}

/// A record, whether it came in the seed format, and its attachments.
type Completed = (Atom, bool, Vec<(String, Vec<u8>)>);

/// Turn one input line into a checked record following `parent`.
/// Returns the record, whether the line was in the seed format, and the
/// attachments' contents, or `None` when an atom of the store already came
/// from the record's source. `renamed` maps the ids renumbering replaced.
#[allow(clippy::too_many_arguments)]
fn complete(
    tx: &Transaction<'_>,
    scanner: &Scanner,
    line: &str,
    parent: Option<&Link>,
    floors: &mut DayFloors,
    default_agent: &str,
    now: DateTime<Utc>,
    options: &ImportOptions,
    renamed: &mut std::collections::HashMap<AtomId, AtomId>,
) -> Result<Option<Completed>, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON record: {e}"))?;
    canonical::check_numbers(line, "").map_err(|e| e.to_string())?;
    let Value::Object(mut map) = value else {
        return Err("not a JSON object".into());
    };
    // Before anything else, so that no other message can echo a secret.
    let refuse = |located: Located, id: Option<&str>| {
        let id = id.filter(|id| id.parse::<AtomId>().is_ok());
        format!(
            "{}refusing to import a secret: {located}; a trail keeps everything for good: remove it from the file",
            id.map_or(String::new(), |id| format!("{id}: "))
        )
    };
    if let Some(located) = scanner.locate_json("", &map) {
        return Err(refuse(located, map.get("atom_id").and_then(Value::as_str)));
    }
    let legacy = map.contains_key("signature") && !map.contains_key("digest");
    // Before the seed format's chain check: a row imported before is skipped
    // whatever it names as its previous atom. A seed line's extra `source`
    // column becomes its `metadata.source`.
    let key = match (legacy, map.get("source")) {
        (true, Some(v)) if !v.is_null() => Some(source::SourceKey::from_json(v)?),
        (true, _) => None,
        (false, _) => source::key_of(&map)?,
    };
    if let Some(key) = key {
        if key.find(tx.ix())?.is_some() {
            return Ok(None);
        }
    }
    if legacy {
        map = from_legacy(map, parent)?;
    }
    source::resolve_links(tx.ix(), &mut map)?;
    let str_field = |map: &Map<String, Value>, key: &str| -> Result<Option<String>, String> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("{key} must be a string, not {other}")),
        }
    };
    let renumbered_from = if options.renumber {
        renumber(&mut map, renamed)?
    } else {
        None
    };
    let given_id = match str_field(&map, "atom_id")? {
        Some(s) => Some(s.parse::<AtomId>().map_err(|e| e.to_string())?),
        None => None,
    };
    let atom_type = match (str_field(&map, "type")?, &given_id) {
        (Some(t), _) => t,
        (None, Some(id)) => id.atom_type().to_owned(),
        (None, None) => {
            return Err("type is missing (and there is no atom_id to take it from)".into())
        }
    };
    model::validate_type(&atom_type).map_err(|e| e.to_string())?;
    if str_field(&map, "operation")?.is_none() {
        return Err("operation is missing".into());
    }
    let time = match str_field(&map, "timestamp")? {
        Some(t) => {
            let t = model::parse_timestamp(&t).map_err(|e| e.to_string())?;
            model::validate_new_time(t, now).map_err(|e| e.to_string())?;
            t
        }
        None => now,
    };
    let atom_id = match given_id {
        Some(id) => {
            if tx.contains(&id).map_err(|e| e.to_string())? {
                return Err(format!("{id} is already an atom of this store"));
            }
            let day: i64 = id.date().format("%Y%m%d").to_string().parse().unwrap_or(0);
            if tx
                .ix()
                .logged_number(day, i64::from(id.seq()))
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{id}: this store's transparency log already holds an atom of that day and number (ids are never issued twice, even for atoms no trail reaches any more)"
                ));
            }
            let floor = floors.of(tx, id.date())?;
            if id.seq() <= floor {
                return Err(format!(
                    "{id} does not follow number {floor} of that day earlier on the trail: ids of one day must increase along a trail"
                ));
            }
            id
        }
        None => {
            let day = time.date_naive();
            let stored = tx.last_seq(day).map_err(|e| e.to_string())?;
            let on_trail = parent
                .filter(|p| p.id.date() == day)
                .map_or(0, |p| p.id.seq());
            let seq = next_seq(stored.max(on_trail))
                .ok_or_else(|| TrailError::DayFull { day }.to_string())?;
            AtomId::new(&atom_type, day, seq).map_err(|e| e.to_string())?
        }
    };
    let floor = floors.imported.entry(atom_id.date()).or_insert(0);
    *floor = (*floor).max(atom_id.seq());
    if let Some(old) = renumbered_from {
        renamed.insert(old, atom_id.clone());
    }
    for (key, want) in [
        ("previous_atom", parent.map(|p| p.id.to_string())),
        ("previous_digest", parent.map(|p| p.digest.clone())),
    ] {
        if let Some(given) = map.get(key) {
            let given = match given {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => return Err(format!("{key} must be a string or null, not {other}")),
            };
            if given != want {
                return Err(format!(
                    "{key} is {} but the atom before it on this trail is {}",
                    given.as_deref().unwrap_or("null"),
                    match (key, parent) {
                        (_, None) => "none (the trail is empty)".to_owned(),
                        ("previous_atom", Some(p)) => p.id.to_string(),
                        (_, Some(p)) => format!("{} with digest {}", p.id, p.digest),
                    }
                ));
            }
        }
    }
    if map.get("merged").is_some_and(|m| !m.is_null()) {
        return Err("MERGE atoms cannot be imported: their extra parents are not part of a JSON-lines trail".into());
    }
    if options.attachments.is_none()
        && map
            .get("attachments")
            .is_some_and(|a| a.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Err(
            "this atom has attachments and an export carries no file contents: export with --attachments DIR and import with --attachments DIR".into(),
        );
    }
    let given_digest = str_field(&map, "digest")?;
    let defaults = [
        ("atom_id", Value::String(atom_id.to_string())),
        ("type", Value::String(atom_type)),
        ("agent", Value::String(default_agent.to_owned())),
        ("timestamp", Value::String(model::format_timestamp(time))),
        (
            "previous_atom",
            parent.map_or(Value::Null, |p| p.id.to_string().into()),
        ),
        (
            "previous_digest",
            parent.map_or(Value::Null, |p| p.digest.clone().into()),
        ),
        ("influenced_by", Value::Array(Vec::new())),
        ("project", Value::Null),
        ("summary", Value::String(String::new())),
        ("metadata", Value::Object(Map::new())),
        ("token_cost", Value::Null),
        ("attachments", Value::Array(Vec::new())),
    ];
    for (key, value) in defaults {
        if map.get(key).is_none_or(Value::is_null) {
            map.insert(key.to_owned(), value);
        }
    }
    map.insert("digest".into(), Value::String(String::new()));
    let mut record: Atom = serde_json::from_value(Value::Object(map))
        .map_err(|e| format!("not an atom record: {e}"))?;
    for id in &record.influenced_by {
        if !tx.contains(id).map_err(|e| e.to_string())? {
            return Err(format!(
                "influenced_by: {id} is neither an atom of this store nor an earlier line"
            ));
        }
    }
    record.digest = record.compute_digest();
    if let Some(given) = given_digest {
        if given != record.digest {
            return Err(format!(
                "digest {given} does not match the record's content ({})",
                record.digest
            ));
        }
    }
    if let Some(located) = crate::screen::find_in_record(scanner, &record) {
        return Err(refuse(located, Some(&record.atom_id.to_string())));
    }
    record.validate_fields().map_err(|e| e.to_string())?;
    let files = match &options.attachments {
        Some(dir) => attachment_files(scanner, &record, dir)?,
        None => Vec::new(),
    };
    Ok(Some((record, legacy, files)))
}

/// For `--renumber`: check the line as given (its digest, when it has one),
/// then drop its id, links and digest so that they are computed here, and
/// point `influenced_by` at the new ids of atoms renumbered before it.
/// Returns the id it had.
fn renumber(
    map: &mut Map<String, Value>,
    renamed: &std::collections::HashMap<AtomId, AtomId>,
) -> Result<Option<AtomId>, String> {
    if let Some(Value::String(given)) = map.get("digest") {
        let mut as_given = map.clone();
        as_given.insert("digest".into(), Value::String(String::new()));
        let record: Atom = serde_json::from_value(Value::Object(as_given))
            .map_err(|e| format!("not an atom record: {e}"))?;
        let digest = record.compute_digest();
        if *given != digest {
            return Err(format!(
                "digest {given} does not match the record's content ({digest})"
            ));
        }
    }
    let old = match map.remove("atom_id") {
        Some(Value::String(s)) => Some(s.parse::<AtomId>().map_err(|e| e.to_string())?),
        _ => None,
    };
    if let Some(old) = &old {
        map.entry("type")
            .or_insert_with(|| Value::String(old.atom_type().to_owned()));
    }
    for key in ["previous_atom", "previous_digest", "digest"] {
        map.remove(key);
    }
    if let Some(Value::Array(links)) = map.get_mut("influenced_by") {
        for link in links {
            let new = link
                .as_str()
                .and_then(|s| s.parse::<AtomId>().ok())
                .and_then(|id| renamed.get(&id));
            if let Some(new) = new {
                *link = Value::String(new.to_string());
            }
        }
    }
    Ok(old)
}

/// The contents of `record`'s attachments from `dir`, where each is the
/// file named by its sha256; checked against the record's sha256 and size,
/// and for secrets as `record --attach` checks them.
fn attachment_files(
    scanner: &Scanner,
    record: &Atom,
    dir: &std::path::Path,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::with_capacity(record.attachments.len());
    for a in &record.attachments {
        model::validate_attachment_name(&a.name).map_err(|e| e.to_string())?;
        if a.sha256.len() != 64 || !canonical::is_lower_hex(&a.sha256) {
            return Err(format!(
                "attachment {}: sha256 must be 64 lowercase hex digits",
                a.name
            ));
        }
        let path = dir.join(&a.sha256);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("attachment {}: cannot read {}: {e}", a.name, path.display()))?;
        if canonical::sha256_hex(&bytes) != a.sha256 || bytes.len() as u64 != a.size {
            return Err(format!(
                "attachment {}: {} does not hold what the record lists (sha256 and size)",
                a.name,
                path.display()
            ));
        }
        if let Some(located) = scanner.locate(
            &format!("attachment {}", a.name),
            &String::from_utf8_lossy(&bytes),
        ) {
            return Err(format!(
                "{}: refusing to import a secret: {located}; a trail keeps everything for good",
                record.atom_id
            ));
        }
        out.push((a.name.clone(), bytes));
    }
    Ok(out)
}

/// Map a line of the seed system's `atom_trail` table to a record.
///
/// `type` comes from the id; `timestamp` may also be SQLite's
/// `YYYY-MM-DD HH:MM:SS` (UTC); `metadata` may be an object or its JSON text;
/// `previous_atom` must name the previous line's atom (on the first line:
/// null or the trail's head) and is then replaced by the chain link;
/// `signature` must pass [`legacy_signature_matches`] and is kept as
/// `metadata.legacy_signature`; any other column goes into `metadata` under
/// its own name.
fn from_legacy(
    map: Map<String, Value>,
    parent: Option<&Link>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let mut extra = Map::new();
    let mut metadata = None;
    let mut signature = None;
    for (key, value) in map {
        match key.as_str() {
            "atom_id" | "operation" | "agent" => {
                out.insert(key, value);
            }
            "timestamp" => {
                let s = value.as_str().ok_or("timestamp must be a string")?;
                out.insert(key, Value::String(legacy_timestamp(s)?));
            }
            "signature" => {
                signature = Some(
                    value
                        .as_str()
                        .ok_or("signature must be a string")?
                        .to_owned(),
                );
            }
            "metadata" => metadata = Some(value),
            "previous_atom" => match (&value, parent) {
                (Value::Null, _) => {}
                (Value::String(s), Some(p)) if *s == p.id.to_string() => {}
                _ => {
                    return Err(format!(
                        "previous_atom is {value} but the atom before it is {}",
                        parent.map_or("none".to_owned(), |p| p.id.to_string())
                    ))
                }
            },
            _ => {
                extra.insert(key, value);
            }
        }
    }
    let id = out
        .get("atom_id")
        .and_then(Value::as_str)
        .ok_or("atom_id is missing (the seed format always has one)")?
        .to_owned();
    let (mut meta, text) = match metadata {
        None | Some(Value::Null) => (Map::new(), None),
        Some(Value::String(text)) => match serde_json::from_str(&text) {
            Ok(Value::Object(m)) => {
                canonical::check_numbers(&text, "metadata").map_err(|e| e.to_string())?;
                (m, Some(text))
            }
            _ => return Err("metadata is a string but not a JSON object's text".into()),
        },
        Some(Value::Object(m)) => (m, None),
        Some(other) => return Err(format!("metadata must be an object, not {other}")),
    };
    let signature = signature.expect("legacy lines have a signature");
    if !legacy_signature_matches(&signature, &id, &meta, text.as_deref()) {
        return Err(format!(
            "signature {signature} is not sha256(atom_id + metadata) of this line: the record was changed after it was signed"
        ));
    }
    if meta.contains_key("legacy_signature") {
        return Err("metadata already has a legacy_signature".into());
    }
    meta.insert("legacy_signature".into(), Value::String(signature));
    for (key, value) in extra {
        meta.entry(key).or_insert(value);
    }
    out.insert("metadata".into(), Value::Object(meta));
    Ok(out)
}

/// The seed system signed each atom as `sha256:` + hex SHA-256 of the atom
/// id immediately followed by its metadata's JSON text. The text is the
/// column's own bytes when `metadata` came as a string; for an object it is
/// its compact JSON in the order given (what `JSON.stringify` writes); for
/// no metadata, the empty string or `null`. The `sha256:` prefix is optional
/// and hex digits may be of either case.
pub fn legacy_signature_matches(
    signature: &str,
    atom_id: &str,
    metadata: &Map<String, Value>,
    text: Option<&str>,
) -> bool {
    let hex = signature
        .strip_prefix("sha256:")
        .unwrap_or(signature)
        .to_ascii_lowercase();
    if hex.len() != 64 || !canonical::is_lower_hex(&hex) {
        return false;
    }
    let candidates: Vec<String> = match text {
        Some(t) => vec![t.to_owned()],
        None if metadata.is_empty() => vec![String::new(), "null".into(), "{}".into()],
        None => vec![serde_json::to_string(metadata).expect("a JSON map serializes")],
    };
    candidates
        .iter()
        .any(|t| canonical::sha256_hex(format!("{atom_id}{t}").as_bytes()) == hex)
}

/// A seed timestamp as a record timestamp: RFC 3339 (any offset) or
/// SQLite's `YYYY-MM-DD HH:MM:SS`, taken as UTC.
fn legacy_timestamp(s: &str) -> Result<String, String> {
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Ok(model::format_timestamp(t.and_utc()));
    }
    model::parse_rfc3339("timestamp", s)
        .map(model::format_timestamp)
        .map_err(|e| e.to_string())
}

pub mod agent_trace;
pub mod context_sync;
pub mod d1;
pub mod entire;
#[cfg(test)]
mod fuzz;
pub mod source;
