//! Writing a whole archive: chunks are compressed by worker threads and
//! written strictly in order by the calling thread, with at most `window`
//! chunks in flight, so memory stays bounded whatever the array sizes.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::chunk::{plan, ChunkError, Compressed, Worker};
use crate::deflate::{crc32_combine, ChunkEncoder, Compression};
use crate::member::Member;
use crate::sink::Sink;
use crate::zip_record::{self, Entry, FLAG_DATA_DESCRIPTOR, FLAG_UTF8};

/// Uncompressed bytes per chunk. Large enough that the per-chunk sync flush
/// and cold dictionary cost well under 0.1%, small enough to balance
/// threads on arrays of a few MiB.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// Uncompressed bytes grouped into one job when members are small: enough to
/// make thread hand-offs rare, few enough to keep both cores busy to the end.
const JOB_BYTES: usize = 256 * 1024;

/// How to write.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stored or deflated, and at which level.
    pub compression: Compression,
    /// Worker threads (1 compresses on the calling thread).
    pub threads: usize,
    /// Uncompressed bytes per chunk.
    pub chunk_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compression: Compression::Deflated(6),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_size: DEFAULT_CHUNK,
        }
    }
}

/// Where the archive starts in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A seekable output at this absolute offset: local headers are
    /// rewritten in place once each member's CRC and sizes are known.
    Seekable(u64),
    /// An unseekable output whose offsets count from this value (0 when
    /// even `tell()` fails): each member is followed by a data descriptor.
    Unseekable(u64),
}

impl Start {
    /// The absolute offset the archive starts at.
    pub fn offset(self) -> u64 {
        match self {
            Start::Seekable(p) | Start::Unseekable(p) => p,
        }
    }
}

/// Why an archive could not be written.
#[derive(Debug)]
pub enum Error {
    /// The sink failed, or the caller's tick asked to stop.
    Io(io::Error),
    /// A chunk could not be compressed.
    Chunk(ChunkError),
    /// A worker panicked; the message is kept for the error report.
    Panic(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => e.fmt(f),
            Error::Chunk(e) => e.fmt(f),
            Error::Panic(m) => write!(f, "internal error in fastnpz worker: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Called from the writing thread between chunks, at least every 50 ms while
/// waiting, with (uncompressed bytes done, total). An error stops the write.
pub type Tick<'t> = &'t mut dyn FnMut(u64, u64) -> io::Result<()>;

/// Write `members` as a zip archive to `sink`. Returns the number of bytes
/// written. Nothing is written after a failure.
pub fn write_archive(
    members: &[Member<'_>],
    sink: &mut dyn Sink,
    start: Start,
    options: &Options,
    tick: Tick<'_>,
) -> Result<u64, Error> {
    let mut writer = ArchiveWriter::new(members, sink, start, options.compression);
    let chunks = plan(members, options.chunk_size.max(1));
    let jobs = group(members, &chunks, JOB_BYTES.min(options.chunk_size.max(1)));
    let wanted = options.threads.max(1).min(jobs.len().max(1));
    let grant = WorkerGrant::acquire(wanted);
    let threads = grant.threads;
    let total: u64 = members.iter().map(Member::len).sum();
    let done = Cell::new(0u64);
    {
        let work = |j: usize, w: &mut Worker| -> Result<Vec<Compressed>, ChunkError> {
            chunks[jobs[j].clone()]
                .iter()
                .map(|c| w.compress(&members[c.member], c))
                .collect()
        };
        let mut consume = |j: usize, r: Result<Vec<Compressed>, ChunkError>| -> Result<(), Error> {
            for (chunk, c) in chunks[jobs[j].clone()].iter().zip(r.map_err(Error::Chunk)?) {
                done.set(done.get() + c.len);
                writer.chunk(chunk, c)?;
            }
            Ok(())
        };
        let make = || Worker::new(ChunkEncoder::new(options.compression));
        let mut tick_between = |_: usize| tick(done.get(), total);
        ordered_map(
            jobs.len(),
            threads,
            make,
            work,
            &mut consume,
            &mut tick_between,
        )?;
    }
    tick(total, total)?;
    writer.finish()
}

/// Worker threads running across all concurrent calls in this process.
static ACTIVE_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// A share of the machine's cores for one call. Concurrent calls (say, 16
/// Python threads saving at once) split the cores between them instead of
/// each starting a full set of workers; every call gets at least one, so
/// none waits. Output does not depend on the thread count, only speed does.
struct WorkerGrant {
    threads: usize,
}

impl WorkerGrant {
    fn acquire(wanted: usize) -> Self {
        let cap = std::thread::available_parallelism().map_or(1, |n| n.get());
        let limit = cap.max(wanted);
        let mut current = ACTIVE_WORKERS.load(Ordering::Relaxed);
        loop {
            let free = limit.saturating_sub(current);
            let threads = wanted.min(free).max(1);
            match ACTIVE_WORKERS.compare_exchange_weak(
                current,
                current + threads,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return WorkerGrant { threads },
                Err(now) => current = now,
            }
        }
    }
}

impl Drop for WorkerGrant {
    fn drop(&mut self) {
        ACTIVE_WORKERS.fetch_sub(self.threads, Ordering::AcqRel);
    }
}

/// Group consecutive chunks into jobs of about `target` uncompressed bytes,
/// so thousands of small members cost tens of thread hand-offs, not
/// thousands. A chunk of `target` bytes or more is a job of its own.
fn group(
    members: &[Member<'_>],
    chunks: &[crate::chunk::Chunk],
    target: usize,
) -> Vec<Range<usize>> {
    let mut jobs = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, c) in chunks.iter().enumerate() {
        let header = if c.first {
            members[c.member].header.len() as u64
        } else {
            0
        };
        bytes += c.end - c.start + header;
        if bytes >= target as u64 {
            jobs.push(start..i + 1);
            start = i + 1;
            bytes = 0;
        }
    }
    if start < chunks.len() {
        jobs.push(start..chunks.len());
    }
    jobs
}

/// State of the in-order writer.
struct ArchiveWriter<'m, 's> {
    members: &'m [Member<'m>],
    sink: &'s mut dyn Sink,
    pos: u64,
    seekable: bool,
    current: Option<Entry>,
    entries: Vec<Entry>,
    /// The current member's last 32 KiB of data as written, which the next
    /// chunk must have been primed with.
    history: Vec<u8>,
    /// Recompresses a chunk on this thread when its priming was stale.
    fallback: Option<Worker>,
    compression: Compression,
}

impl<'m, 's> ArchiveWriter<'m, 's> {
    fn new(
        members: &'m [Member<'m>],
        sink: &'s mut dyn Sink,
        start: Start,
        c: Compression,
    ) -> Self {
        let (pos, seekable) = match start {
            Start::Seekable(p) => (p, true),
            Start::Unseekable(p) => (p, false),
        };
        ArchiveWriter {
            members,
            sink,
            pos,
            seekable,
            current: None,
            entries: Vec::with_capacity(members.len()),
            history: Vec::new(),
            fallback: None,
            compression: c,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sink.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn chunk(&mut self, chunk: &crate::chunk::Chunk, c: Compressed) -> Result<(), Error> {
        let c = self.consistent(chunk, c)?;
        if chunk.first {
            let m = &self.members[chunk.member];
            let mut flags = if m.utf8 { FLAG_UTF8 } else { 0 };
            if !self.seekable {
                flags |= FLAG_DATA_DESCRIPTOR;
            }
            let entry = Entry {
                name: m.name.clone(),
                flags,
                method: self.compression.method(),
                crc: 0,
                compressed: 0,
                uncompressed: 0,
                header_offset: self.pos,
            };
            // Placeholder sizes, as zipfile writes before it knows them.
            self.put(&zip_record::local_header(&entry))?;
            self.current = Some(entry);
        }
        let mut entry = self
            .current
            .take()
            .ok_or_else(|| io::Error::other("chunk out of order"))?;
        entry.crc = crc32_combine(entry.crc, c.crc, c.len);
        entry.uncompressed += c.len;
        entry.compressed += c.bytes.len() as u64;
        self.put(&c.bytes)?;
        if chunk.last {
            if self.seekable {
                self.sink
                    .patch(entry.header_offset, &zip_record::local_header(&entry))?;
            } else {
                self.put(&zip_record::data_descriptor(&entry))?;
            }
            self.entries.push(entry);
        } else {
            self.current = Some(entry);
        }
        Ok(())
    }

    /// A chunk primed with history other than what the decoder will have
    /// seen (the array changed between two reads of the same bytes) would
    /// decode to bytes its CRC does not match: compress it again, primed
    /// with the history actually written. Without concurrent writers this
    /// never happens.
    fn consistent(
        &mut self,
        chunk: &crate::chunk::Chunk,
        c: Compressed,
    ) -> Result<Compressed, Error> {
        if chunk.first {
            self.history.clear();
        }
        let c = if !chunk.first && c.dict != self.history {
            let compression = self.compression;
            let worker = self
                .fallback
                .get_or_insert_with(|| Worker::new(ChunkEncoder::new(compression)));
            worker
                .compress_after(&self.members[chunk.member], chunk, &self.history)
                .map_err(Error::Chunk)?
        } else {
            c
        };
        self.history.extend_from_slice(&c.tail);
        let excess = self.history.len().saturating_sub(crate::deflate::WINDOW);
        self.history.drain(..excess);
        Ok(c)
    }

    fn finish(mut self) -> Result<u64, Error> {
        let start = self.entries.first().map_or(self.pos, |e| e.header_offset);
        let cd_offset = self.pos;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            self.put(&zip_record::central_entry(e))?;
        }
        let end = zip_record::end_records(entries.len() as u64, cd_offset, self.pos);
        self.put(&end)?;
        self.sink.flush()?;
        Ok(self.pos - start)
    }
}

struct Queue<R> {
    next: usize,
    consumed: usize,
    ready: BTreeMap<usize, R>,
    stop: bool,
}

struct Shared<R> {
    queue: Mutex<Queue<R>>,
    work_cv: Condvar,
    done_cv: Condvar,
}

impl<R> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, Queue<R>> {
        // A poisoned lock only means a worker panicked while holding it; the
        // queue itself is still consistent, and the panic is reported anyway.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Run `work(i)` for `i in 0..n` on `threads` threads and hand the results to
/// `consume` in index order on the calling thread. Workers run at most
/// `4 * threads` jobs ahead of the consumer.
fn ordered_map<W, R>(
    n: usize,
    threads: usize,
    make: impl Fn() -> W + Sync,
    work: impl Fn(usize, &mut W) -> R + Sync,
    consume: &mut dyn FnMut(usize, R) -> Result<(), Error>,
    tick: &mut dyn FnMut(usize) -> io::Result<()>,
) -> Result<(), Error>
where
    R: Send,
{
    if threads <= 1 {
        let mut w = make();
        for i in 0..n {
            tick(i)?;
            let r = catch_unwind(AssertUnwindSafe(|| work(i, &mut w))).map_err(panic_message)?;
            consume(i, r)?;
        }
        return Ok(());
    }
    let window = 4 * threads;
    let shared = Shared {
        queue: Mutex::new(Queue {
            next: 0,
            consumed: 0,
            ready: BTreeMap::new(),
            stop: false,
        }),
        work_cv: Condvar::new(),
        done_cv: Condvar::new(),
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| worker_loop(&shared, n, window, &make, &work));
        }
        let result = drain_in_order(&shared, n, consume, tick);
        let mut q = shared.lock();
        q.stop = true;
        drop(q);
        shared.work_cv.notify_all();
        result
    })
}

fn worker_loop<W, R>(
    shared: &Shared<Result<R, Error>>,
    n: usize,
    window: usize,
    make: &(impl Fn() -> W + Sync),
    work: &(impl Fn(usize, &mut W) -> R + Sync),
) {
    let mut w = make();
    loop {
        let mut q = shared.lock();
        while !q.stop && q.next < n && q.next >= q.consumed + window {
            q = shared.work_cv.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        if q.stop || q.next >= n {
            return;
        }
        let i = q.next;
        q.next += 1;
        drop(q);
        let r = catch_unwind(AssertUnwindSafe(|| work(i, &mut w))).map_err(panic_message);
        let failed = r.is_err();
        let mut q = shared.lock();
        q.ready.insert(i, r);
        drop(q);
        shared.done_cv.notify_all();
        if failed {
            // The worker's state may be inconsistent after a panic.
            return;
        }
    }
}

fn drain_in_order<R>(
    shared: &Shared<Result<R, Error>>,
    n: usize,
    consume: &mut dyn FnMut(usize, R) -> Result<(), Error>,
    tick: &mut dyn FnMut(usize) -> io::Result<()>,
) -> Result<(), Error> {
    for i in 0..n {
        let r = loop {
            let mut q = shared.lock();
            if let Some(r) = q.ready.remove(&i) {
                q.consumed = i + 1;
                break r;
            }
            let (q, _) = shared
                .done_cv
                .wait_timeout(q, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner());
            drop(q);
            tick(i)?;
        };
        shared.work_cv.notify_all();
        tick(i)?;
        consume(i, r?)?;
    }
    Ok(())
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> Error {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    Error::Panic(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{Data, Strided};
    use crate::sink::VecSink;
    use std::io::{Cursor, Read};

    fn members<'a>(big: &'a [u8], span: &'a [u8]) -> Vec<Member<'a>> {
        vec![
            Member {
                name: b"big.npy".to_vec(),
                utf8: false,
                header: b"\x93NUMPY-ish header".to_vec(),
                data: Data::Contiguous(big),
            },
            Member {
                name: "\u{00e9}t\u{00e9}.npy".as_bytes().to_vec(),
                utf8: true,
                header: Vec::new(),
                data: Data::Contiguous(&[]),
            },
            Member {
                name: b"view.npy".to_vec(),
                utf8: false,
                header: b"h".to_vec(),
                data: Data::Strided(
                    Strided::new(span, span.len() - 24, &[500, 3], &[-40, 8], 8).unwrap(),
                ),
            },
        ]
    }

    fn expected(m: &Member<'_>) -> Vec<u8> {
        let mut v = m.header.clone();
        let mut d = vec![0u8; m.data.len() as usize];
        m.data.read_into(0, &mut d).unwrap();
        v.extend_from_slice(&d);
        v
    }

    fn write(ms: &[Member<'_>], start: Start, opts: Options, prefix: &[u8]) -> Vec<u8> {
        let mut sink = VecSink(prefix.to_vec());
        write_archive(ms, &mut sink, start, &opts, &mut |_, _| Ok(())).unwrap();
        sink.0
    }

    #[test]
    fn archives_read_back_with_the_zip_crate() {
        let big: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i % 251) as u8 ^ (i >> 13) as u8)
            .collect();
        let span: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
        let ms = members(&big, &span);
        for (compression, threads, start, prefix) in [
            (Compression::Deflated(6), 2, Start::Seekable(0), &b""[..]),
            (Compression::Deflated(1), 1, Start::Unseekable(0), &b""[..]),
            (Compression::Stored, 3, Start::Seekable(5), &b"PREFX"[..]),
        ] {
            let opts = Options {
                compression,
                threads,
                chunk_size: 100_000,
            };
            let bytes = write(&ms, start, opts, prefix);
            let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
            assert_eq!(zip.len(), ms.len());
            for (i, m) in ms.iter().enumerate() {
                let mut f = zip.by_index(i).unwrap();
                assert_eq!(f.name().unwrap().as_bytes(), &m.name[..]);
                let mut got = Vec::new();
                f.read_to_end(&mut got).unwrap();
                assert_eq!(got, expected(m));
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_thread_count() {
        let big: Vec<u8> = (0..2_500_000u32).map(|i| (i / 3) as u8).collect();
        let span = vec![1u8; 20_000];
        let ms = members(&big, &span);
        let opts = |threads| Options {
            compression: Compression::Deflated(6),
            threads,
            chunk_size: 300_000,
        };
        let one = write(&ms, Start::Seekable(0), opts(1), b"");
        assert_eq!(one, write(&ms, Start::Seekable(0), opts(2), b""));
        assert_eq!(one, write(&ms, Start::Seekable(0), opts(7), b""));
    }

    #[test]
    fn a_chunk_primed_with_stale_history_is_compressed_again() {
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i % 97) as u8 ^ (i >> 12) as u8)
            .collect();
        let ms = vec![Member {
            name: b"a.npy".to_vec(),
            utf8: false,
            header: b"H".to_vec(),
            data: Data::Contiguous(&data),
        }];
        let chunks = plan(&ms, 100_000);
        let mut sink = VecSink::default();
        let mut writer =
            ArchiveWriter::new(&ms, &mut sink, Start::Seekable(0), Compression::Deflated(6));
        let mut worker = Worker::new(ChunkEncoder::new(Compression::Deflated(6)));
        for c in &chunks {
            let mut out = worker.compress(&ms[0], c).unwrap();
            if !c.first {
                // As if the array changed between the previous chunk's read
                // of these bytes and this chunk's read of its history.
                let stale: Vec<u8> = out.dict.iter().map(|b| b ^ 0x5A).collect();
                out = worker.compress_after(&ms[0], c, &stale).unwrap();
            }
            writer.chunk(c, out).unwrap();
        }
        writer.finish().unwrap();
        let mut zip = zip::ZipArchive::new(Cursor::new(sink.0)).unwrap();
        let mut got = Vec::new();
        zip.by_index(0).unwrap().read_to_end(&mut got).unwrap();
        let mut want = b"H".to_vec();
        want.extend_from_slice(&data);
        assert_eq!(got, want);
    }

    #[test]
    fn empty_archive_is_one_end_record() {
        let bytes = write(&[], Start::Seekable(0), Options::default(), b"");
        assert_eq!(bytes.len(), 22);
        assert_eq!(&bytes[..4], b"PK\x05\x06");
    }

    #[test]
    fn a_failing_tick_stops_the_write() {
        let big = vec![7u8; 5_000_000];
        let span = vec![1u8; 20_000];
        let ms = members(&big, &span);
        let mut sink = VecSink::default();
        let opts = Options {
            threads: 2,
            chunk_size: 100_000,
            ..Options::default()
        };
        let mut calls = 0;
        let r = write_archive(&ms, &mut sink, Start::Seekable(0), &opts, &mut |_, _| {
            calls += 1;
            if calls > 3 {
                Err(io::Error::new(io::ErrorKind::Interrupted, "stop"))
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted));
        assert!(sink.0.len() < 1_000_000);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::member::{Data, Strided};
    use crate::sink::VecSink;
    use proptest::prelude::*;
    use std::io::{Cursor, Read};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any mix of members, chunk sizes, thread counts and levels reads
        /// back with an independent zip reader, member for member.
        #[test]
        fn every_archive_reads_back(
            sizes in proptest::collection::vec(0usize..200_000, 0..5),
            chunk in 1usize..70_000,
            threads in 1usize..4,
            level in 0u8..10,
            seekable in any::<bool>(),
            step in 1usize..4,
        ) {
            let datas: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(k, &n)| (0..n).map(|i| ((i * (k + 3)) / 5 % 251) as u8).collect())
                .collect();
            let members: Vec<Member<'_>> = datas
                .iter()
                .enumerate()
                .map(|(k, d)| {
                    let data = if k % 2 == 0 {
                        Data::Contiguous(d)
                    } else {
                        let items = d.len() / (4 * step);
                        let view = Strided::new(d, 0, &[items], &[(4 * step) as isize], 4).unwrap();
                        Data::Strided(view)
                    };
                    Member {
                        name: format!("m{k}.npy").into_bytes(),
                        utf8: false,
                        header: vec![b'h'; k * 7],
                        data,
                    }
                })
                .collect();
            let options = Options { compression: Compression::Deflated(level), threads, chunk_size: chunk };
            let start = if seekable { Start::Seekable(0) } else { Start::Unseekable(0) };
            let mut sink = VecSink::default();
            write_archive(&members, &mut sink, start, &options, &mut |_, _| Ok(())).unwrap();
            let mut zip = zip::ZipArchive::new(Cursor::new(sink.0)).unwrap();
            prop_assert_eq!(zip.len(), members.len());
            for (i, m) in members.iter().enumerate() {
                let mut want = m.header.clone();
                let mut body = vec![0u8; m.data.len() as usize];
                m.data.read_into(0, &mut body).unwrap();
                want.extend_from_slice(&body);
                let mut got = Vec::new();
                zip.by_index(i).unwrap().read_to_end(&mut got).unwrap();
                prop_assert_eq!(got, want);
            }
        }
    }
}
