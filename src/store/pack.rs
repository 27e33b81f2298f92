//! Writing many objects as one pack file and its index (`.pack` + `.idx`,
//! version 2, as `git index-pack` writes them).
//!
//! Loose objects cost one file create each, and creating a file is the slowest
//! thing this storage does; a bulk write (import) therefore streams its
//! objects, zlib-compressed and undeltified, into one temporary pack. Nothing
//! is visible to git until [`PackWriter::finish`] has fsynced both files and
//! renamed them into `objects/pack/` (the `.idx` last: git finds packs by
//! their index). A writer dropped before `finish` deletes its temporary file.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gix::objs::Kind;
use gix::ObjectId;
use gix_zlib::stream::deflate::{Compress, FlushCompress};
use gix_zlib::{Compression, Status};

use super::durable;

/// A pack being written.
pub struct PackWriter {
    pack_dir: PathBuf,
    tmp_pack: PathBuf,
    sink: Option<Sink>,
    worker: Option<Worker>,
    seen: HashSet<ObjectId>,
    hash: gix::hash::Kind,
    finished: bool,
}

/// How many objects a pack takes on the caller's thread before compression
/// moves to a thread of its own: one atom's few objects never pay for a
/// thread, a bulk write compresses on the other core while the caller signs.
const OBJECTS_BEFORE_WORKER: usize = 256;

/// Where entries are compressed and written, in order.
struct Sink {
    out: BufWriter<File>,
    offset: u64,
    entries: Vec<(ObjectId, u32, u64)>,
    compress: Compress,
    entry: Vec<u8>,
    scratch: Vec<u8>,
}

/// One object for the sink: raw content, or a ready entry with its CRC.
enum Job {
    Object(ObjectId, Kind, Vec<u8>),
    Entry(ObjectId, Vec<u8>, u32),
}

/// The sink on a thread of its own.
struct Worker {
    jobs: std::sync::mpsc::SyncSender<Job>,
    done: std::thread::JoinHandle<io::Result<Sink>>,
}

impl Sink {
    fn run(&mut self, job: Job) -> io::Result<()> {
        match job {
            Job::Object(id, kind, data) => self.object(id, kind, &data),
            Job::Entry(id, entry, crc) => self.raw_entry(id, &entry, crc),
        }
    }

    fn object(&mut self, id: ObjectId, kind: Kind, data: &[u8]) -> io::Result<()> {
        self.entry.clear();
        let type_bits: u8 = match kind {
            Kind::Commit => 1,
            Kind::Tree => 2,
            Kind::Blob => 3,
            Kind::Tag => 4,
        };
        let mut size = data.len() as u64;
        let mut byte = (type_bits << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size != 0 {
            self.entry.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        self.entry.push(byte);
        deflate(&mut self.compress, data, &mut self.entry, &mut self.scratch)?;
        let crc = crc32fast::hash(&self.entry);
        self.out.write_all(&self.entry)?;
        self.entries.push((id, crc, self.offset));
        self.offset += self.entry.len() as u64;
        Ok(())
    }

    fn raw_entry(&mut self, id: ObjectId, entry: &[u8], crc: u32) -> io::Result<()> {
        self.out.write_all(entry)?;
        self.entries.push((id, crc, self.offset));
        self.offset += entry.len() as u64;
        Ok(())
    }
}

impl PackWriter {
    /// Start a pack in `objects_dir/pack/` for objects hashed with `hash`.
    pub fn new(objects_dir: &Path, hash: gix::hash::Kind) -> io::Result<Self> {
        let pack_dir = objects_dir.join("pack");
        if !pack_dir.is_dir() {
            match std::fs::create_dir(&pack_dir) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                // The new entry in `objects/` must be on disk before the
                // pack is: a crash could otherwise lose the whole directory.
                _ => durable::sync_dir(objects_dir)?,
            }
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp_pack = pack_dir.join(format!("tmp_pack_atom_{}_{stamp}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp_pack)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        // The object count is filled in by `finish`.
        out.write_all(b"PACK\0\0\0\x02\0\0\0\0")?;
        Ok(PackWriter {
            pack_dir,
            tmp_pack,
            sink: Some(Sink {
                out,
                offset: 12,
                entries: Vec::new(),
                compress: Compress::new(Compression::DEFAULT),
                entry: Vec::with_capacity(4096),
                scratch: vec![0; 64 * 1024],
            }),
            worker: None,
            seen: HashSet::new(),
            hash,
            finished: false,
        })
    }

    /// Add one object (its bytes without the loose-object header) and return
    /// its id. An object already in this pack is not written twice.
    pub fn add(&mut self, kind: Kind, data: &[u8]) -> io::Result<ObjectId> {
        let id = gix::objs::compute_hash(self.hash, kind, data).map_err(io::Error::other)?;
        if !self.seen.insert(id) {
            return Ok(id);
        }
        match &mut self.sink {
            Some(sink) if self.seen.len() <= OBJECTS_BEFORE_WORKER => {
                sink.object(id, kind, data)?
            }
            _ => self.send(Job::Object(id, kind, data.to_vec()))?,
        }
        Ok(id)
    }

    /// Add the entry of object `id` exactly as another pack holds it (type
    /// and size header, then the zlib stream; not a delta), whose CRC-32 is
    /// `crc`. An object already in this pack is not written twice.
    pub fn add_entry(&mut self, id: ObjectId, entry: &[u8], crc: u32) -> io::Result<()> {
        if self.seen.insert(id) {
            match &mut self.sink {
                Some(sink) if self.seen.len() <= OBJECTS_BEFORE_WORKER => {
                    sink.raw_entry(id, entry, crc)?
                }
                _ => self.send(Job::Entry(id, entry.to_vec(), crc))?,
            }
        }
        Ok(())
    }

    /// Hand a job to the worker thread, starting it on first use.
    fn send(&mut self, job: Job) -> io::Result<()> {
        if self.worker.is_none() {
            let mut sink = self
                .sink
                .take()
                .expect("the sink is here until the worker starts");
            let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(1024);
            let done = std::thread::Builder::new()
                .name("atom-pack".into())
                .spawn(move || {
                    for job in queue {
                        sink.run(job)?;
                    }
                    Ok(sink)
                })?;
            self.worker = Some(Worker { jobs, done });
        }
        let worker = self.worker.as_ref().expect("started above");
        if worker.jobs.send(job).is_err() {
            // The worker stopped on an error: collect it.
            return Err(self
                .join_worker()
                .err()
                .unwrap_or_else(|| io::Error::other("the pack writer thread stopped")));
        }
        Ok(())
    }

    /// Wait for the worker to write everything sent, and take the sink back.
    fn join_worker(&mut self) -> io::Result<()> {
        if let Some(Worker { jobs, done }) = self.worker.take() {
            drop(jobs);
            let sink = done
                .join()
                .map_err(|_| io::Error::other("the pack writer thread panicked"))??;
            self.sink = Some(sink);
        }
        Ok(())
    }

    /// How many distinct objects were added.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Complete the pack and its index and make them durable, in this order:
    /// fsync the pack, fsync the index, rename the pack, rename the index
    /// (git finds packs by their index), fsync `objects/pack/`.
    /// Returns the path of the `.pack` (`None` when no object was added, in
    /// which case nothing is left behind).
    pub fn finish(mut self) -> io::Result<Option<PathBuf>> {
        self.join_worker()?;
        let sink = self.sink.as_mut().expect("the sink is back");
        if sink.entries.is_empty() {
            return Ok(None);
        }
        let count = u32::try_from(sink.entries.len())
            .map_err(|_| io::Error::other("too many objects for one pack"))?;
        sink.out.flush()?;
        let file = sink.out.get_mut();
        file.seek(SeekFrom::Start(8))?;
        file.write_all(&count.to_be_bytes())?;
        file.seek(SeekFrom::Start(0))?;
        let mut hasher = gix::hash::hasher(self.hash);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let checksum = hasher.try_finalize().map_err(io::Error::other)?;
        file.seek(SeekFrom::End(0))?;
        file.write_all(checksum.as_bytes())?;
        file.sync_all()?;

        let idx = build_index(&mut sink.entries, &checksum, self.hash)?;
        // Not `*.idx`: readers scanning the directory must not see it.
        let tmp_idx = self.tmp_pack.with_file_name(format!(
            "tmp_idx_atom_{}",
            self.tmp_pack
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("tmp_pack_atom_"))
                .unwrap_or("x")
        ));
        let written = (|| {
            let mut f = File::create(&tmp_idx)?;
            f.write_all(&idx)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp_idx);
            return Err(e);
        }
        let name = format!("pack-{}", checksum.to_hex());
        let pack_path = self.pack_dir.join(format!("{name}.pack"));
        std::fs::rename(&self.tmp_pack, &pack_path)?;
        self.finished = true;
        std::fs::rename(&tmp_idx, self.pack_dir.join(format!("{name}.idx")))?;
        durable::sync_dir(&self.pack_dir)?;
        Ok(Some(pack_path))
    }
}

impl Drop for PackWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp_pack);
        }
    }
}

/// Append the zlib stream of `data` to `out`.
fn deflate(c: &mut Compress, data: &[u8], out: &mut Vec<u8>, scratch: &mut [u8]) -> io::Result<()> {
    c.reset();
    let mut input = data;
    loop {
        let (in0, out0) = (c.total_in(), c.total_out());
        let status = c
            .compress(input, scratch, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        let produced = (c.total_out() - out0) as usize;
        out.extend_from_slice(&scratch[..produced]);
        let consumed = (c.total_in() - in0) as usize;
        input = &input[consumed..];
        if status == Status::StreamEnd {
            return Ok(());
        }
        if produced == 0 && consumed == 0 {
            return Err(io::Error::other("zlib made no progress"));
        }
    }
}

/// The version 2 pack index of `entries` (id, crc32, offset).
fn build_index(
    entries: &mut [(ObjectId, u32, u64)],
    pack_checksum: &ObjectId,
    hash: gix::hash::Kind,
) -> io::Result<Vec<u8>> {
    entries.sort_by_key(|e| e.0);
    let mut idx = Vec::with_capacity(8 + 1024 + entries.len() * 32 + 40);
    idx.extend_from_slice(b"\xfftOc\0\0\0\x02");
    let mut fanout = [0u32; 256];
    for (id, _, _) in entries.iter() {
        fanout[id.as_bytes()[0] as usize] += 1;
    }
    let mut total = 0u32;
    for n in fanout {
        total += n;
        idx.extend_from_slice(&total.to_be_bytes());
    }
    for (id, _, _) in entries.iter() {
        idx.extend_from_slice(id.as_bytes());
    }
    for (_, crc, _) in entries.iter() {
        idx.extend_from_slice(&crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for (_, _, offset) in entries.iter() {
        if *offset < 0x8000_0000 {
            idx.extend_from_slice(&(*offset as u32).to_be_bytes());
        } else {
            let n = 0x8000_0000u32 | large.len() as u32;
            idx.extend_from_slice(&n.to_be_bytes());
            large.push(*offset);
        }
    }
    for offset in large {
        idx.extend_from_slice(&offset.to_be_bytes());
    }
    idx.extend_from_slice(pack_checksum.as_bytes());
    let mut hasher = gix::hash::hasher(hash);
    hasher.update(&idx);
    let own = hasher.try_finalize().map_err(io::Error::other)?;
    idx.extend_from_slice(own.as_bytes());
    Ok(idx)
}
