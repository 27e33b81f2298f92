//! Per-day sequence counters: the NNN of `ATOM-<TYPE>-<YYYYMMDD>-<NNN>`.
//!
//! One counter per UTC day, shared by all types and trails of a store, kept in
//! `trail.git/atom-seq` (lines `YYYYMMDD N`: the highest number taken that
//! day). It is read and written only under the store lock, written before the
//! ref moves (a crash then leaves a gap, never a reused number), and rebuilt
//! from every atom reachable in git when missing or unreadable.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::Path;

use chrono::NaiveDate;

use super::durable;

/// Highest sequence number taken, per day.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    days: BTreeMap<NaiveDate, u32>,
}

impl Counters {
    /// Read the file; `None` when it is missing or not in the expected form.
    pub fn load(path: &Path) -> io::Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut days = BTreeMap::new();
        for line in text.lines() {
            let Some((d, n)) = line.split_once(' ') else {
                return Ok(None);
            };
            let (Ok(d), Ok(n)) = (NaiveDate::parse_from_str(d, "%Y%m%d"), n.parse::<u32>()) else {
                return Ok(None);
            };
            days.insert(d, n);
        }
        Ok(Some(Counters { days }))
    }

    /// Write the file atomically and durably (temp file, fsync, rename, fsync dir).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut text = String::with_capacity(self.days.len() * 16);
        for (d, n) in &self.days {
            text.push_str(&format!("{} {n}\n", d.format("%Y%m%d")));
        }
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        durable::sync_dir(path.parent().unwrap_or(Path::new(".")))
    }

    /// Note that `seq` was taken on `day` (keeps the maximum).
    pub fn observe(&mut self, day: NaiveDate, seq: u32) {
        let e = self.days.entry(day).or_insert(0);
        *e = (*e).max(seq);
    }

    /// The highest number taken on `day` (0 when none).
    pub fn last(&self, day: NaiveDate) -> u32 {
        self.days.get(&day).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atom-seq");
        assert_eq!(Counters::load(&path).unwrap(), None);
        let mut c = Counters::default();
        let d = NaiveDate::from_ymd_opt(2024, 11, 27).unwrap();
        c.observe(d, 3);
        c.observe(d, 2);
        c.save(&path).unwrap();
        let back = Counters::load(&path).unwrap().unwrap();
        assert_eq!(back.last(d), 3);
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(Counters::load(&path).unwrap(), None);
    }
}
