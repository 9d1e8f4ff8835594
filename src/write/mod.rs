//! Writing a whole archive: chunks are compressed by worker threads
//! (`crate::pool`) and written strictly in order by the calling thread
//! (`zip_writer`), with a bounded number of jobs in flight, so memory stays
//! bounded whatever the array sizes.

mod zip_writer;

use std::cell::Cell;
use std::io;
use std::ops::Range;

use crate::chunk::{plan, Choices, Chunk, ChunkError, Compressed, Worker, CHUNK_SIZE};
use crate::encode::{ChunkEncoder, Compression};
use crate::member::{Data, Member, Span};
use crate::pool::{ordered_map, WorkerGrant};
pub use crate::pool::{usable_cores, Panicked};
use crate::sink::Sink;
pub use zip_writer::{Prior, ZipWriter, ALIGNMENT};

/// Uncompressed bytes grouped into one job when members are small: enough to
/// make thread hand-offs rare, few enough to keep every core busy to the end.
const JOB_BYTES: u64 = 256 * 1024;
/// Jobs a worker may run ahead of the writer, per worker.
const AHEAD_PER_WORKER: usize = 4;

/// How to write.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stored or deflated, and at which level.
    pub compression: Compression,
    /// Most worker threads to use (never more than the usable cores; 1
    /// compresses on the calling thread).
    pub threads: usize,
    /// Uncompressed bytes per chunk: `CHUNK_SIZE`, the format's constant,
    /// except in tests.
    pub chunk_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compression: Compression::Deflated(crate::encode::DEFAULT_LEVEL),
            threads: usable_cores(),
            chunk_size: CHUNK_SIZE,
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

/// The caller's tick asked the write to stop (a signal, or its progress
/// callback failed); the caller keeps the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// Why an archive could not be written.
#[derive(Debug)]
pub enum Error {
    /// The output failed.
    Sink(io::Error),
    /// The caller's tick asked to stop.
    Stopped,
    /// A chunk could not be read or compressed.
    Chunk(ChunkError),
    /// A worker panicked.
    Panic(String),
    /// An internal invariant broke (a bug in fastnpz, not in the input).
    Internal(&'static str),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Sink(e) => e.fmt(f),
            Error::Stopped => f.write_str("stopped by the caller"),
            Error::Chunk(e) => e.fmt(f),
            Error::Panic(m) => write!(f, "internal error in a fastnpz worker: {m}"),
            Error::Internal(m) => write!(f, "internal error in fastnpz: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Panicked> for Error {
    fn from(p: Panicked) -> Self {
        Error::Panic(p.0)
    }
}

impl From<Stop> for Error {
    fn from(_: Stop) -> Self {
        Error::Stopped
    }
}

/// Called from the writing thread between jobs, and at least every 50 ms
/// while it waits, with (uncompressed bytes done, total). `Err(Stop)` stops
/// the write.
pub type Tick<'t> = &'t mut dyn FnMut(u64, u64) -> Result<(), Stop>;

/// Write `members` as a zip archive to `sink`. Returns the number of bytes
/// written. Nothing more is written after a failure.
pub fn write_archive(
    members: &[Member<'_>],
    sink: &mut dyn Sink,
    start: Start,
    options: &Options,
    tick: Tick<'_>,
) -> Result<u64, Error> {
    let mut writer = ZipWriter::new(start, options.compression);
    write_members(&mut writer, members, sink, options, tick)?;
    writer.finish(sink)
}

/// Compress `members` and append them to the archive `writer` is building
/// in `sink`. When this returns, nothing reads the members' memory any
/// more. After a failure the writer is left inside a member and can only
/// be abandoned.
pub fn write_members(
    writer: &mut ZipWriter,
    members: &[Member<'_>],
    sink: &mut dyn Sink,
    options: &Options,
    tick: Tick<'_>,
) -> Result<(), Error> {
    let chunks = plan(members, options.chunk_size.max(1));
    let choices = Choices::new(members.len());
    write_planned(writer, members, &chunks, &choices, sink, options, tick)
}

/// Compress `chunks` of `members` in parallel and hand them to `writer` in
/// order.
fn write_planned(
    writer: &mut ZipWriter,
    members: &[Member<'_>],
    chunks: &[Chunk],
    choices: &Choices,
    sink: &mut dyn Sink,
    options: &Options,
    tick: Tick<'_>,
) -> Result<(), Error> {
    let chunk_size = options.chunk_size.max(1);
    let jobs = group(chunks, JOB_BYTES.min(chunk_size));
    let grant = WorkerGrant::acquire(options.threads.max(1).min(jobs.len().max(1)));
    let threads = grant.threads();
    let total: u64 = chunks.iter().map(Chunk::size).sum();
    let done = Cell::new(0u64);
    {
        let work = |j: usize, w: &mut Worker| -> Result<Vec<Compressed>, ChunkError> {
            chunks[jobs[j].clone()]
                .iter()
                .map(|c| w.compress(&members[c.member], c, choices))
                .collect()
        };
        let mut consume = |j: usize, r: Result<Vec<Compressed>, ChunkError>| -> Result<(), Error> {
            for (chunk, c) in chunks[jobs[j].clone()].iter().zip(r.map_err(Error::Chunk)?) {
                done.set(done.get() + c.len);
                writer.chunk(sink, members, chunk, c)?;
            }
            Ok(())
        };
        let make = || Worker::new(ChunkEncoder::new(options.compression));
        let mut tick_between = |_: usize| tick(done.get(), total).map_err(Error::from);
        ordered_map(
            jobs.len(),
            threads,
            AHEAD_PER_WORKER * threads,
            make,
            work,
            &mut consume,
            &mut tick_between,
        )?;
    }
    tick(total, total)?;
    Ok(())
}

/// One member whose `.npy` stream arrives in pieces of any size. Bytes are
/// copied into a buffer of `batch` bytes (a multiple of the chunk size),
/// which is compressed in parallel whenever it is full, so memory stays
/// bounded by the batch whatever the member's size. Chunks fall where
/// they would for the whole member: every chunk but the last holds exactly
/// the chunk size.
pub struct MemberStream {
    name: Vec<u8>,
    utf8: bool,
    buffer: Vec<u8>,
    batch: usize,
    /// The engine choice, made once for the member on its first batch.
    choices: Choices,
    /// The local header is written.
    opened: bool,
}

impl MemberStream {
    /// A member named `name` (encoded; `utf8` for flag bit 11) whose stream
    /// starts with `header`. `chunks_per_batch` chunks are buffered.
    pub fn new(
        name: Vec<u8>,
        utf8: bool,
        header: &[u8],
        chunks_per_batch: usize,
        options: &Options,
    ) -> Self {
        let chunk = usize::try_from(options.chunk_size.max(1)).unwrap_or(usize::MAX);
        let batch = chunk.saturating_mul(chunks_per_batch.max(1));
        let mut buffer = Vec::with_capacity(batch.min(header.len().max(1 << 20)));
        buffer.extend_from_slice(header);
        MemberStream {
            name,
            utf8,
            buffer,
            batch,
            choices: Choices::new(1),
            opened: false,
        }
    }

    /// Room left in the buffer before it must be compressed.
    pub fn room(&self) -> usize {
        self.batch.saturating_sub(self.buffer.len())
    }

    /// Append bytes (at most [`MemberStream::room`] of them are kept
    /// without growing the buffer past its batch).
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Compress and write the whole chunks buffered so far, or everything
    /// when `last` (which ends the member).
    pub fn flush(
        &mut self,
        writer: &mut ZipWriter,
        sink: &mut dyn Sink,
        options: &Options,
        tick: Tick<'_>,
        last: bool,
    ) -> Result<(), Error> {
        let chunk_size = options.chunk_size.max(1);
        let whole = (self.buffer.len() as u64 / chunk_size) * chunk_size;
        let n = if last {
            self.buffer.len()
        } else {
            usize::try_from(whole).map_err(|_| Error::Internal("batch larger than memory"))?
        };
        if n == 0 && !last {
            return Ok(());
        }
        let member = [Member {
            name: self.name.clone(),
            utf8: self.utf8,
            header: Vec::new(),
            data: Data::Contiguous(Span::from_slice(&self.buffer[..n])),
        }];
        let mut chunks = plan(&member, chunk_size);
        for c in &mut chunks {
            c.first &= !self.opened;
            c.last &= last;
        }
        write_planned(writer, &member, &chunks, &self.choices, sink, options, tick)?;
        self.opened = true;
        self.buffer.drain(..n);
        Ok(())
    }
}

/// Group consecutive chunks into jobs of about `target` uncompressed bytes,
/// so thousands of small members cost tens of thread hand-offs, not
/// thousands. A chunk of `target` bytes or more is a job of its own.
fn group(chunks: &[Chunk], target: u64) -> Vec<Range<usize>> {
    let mut jobs = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, c) in chunks.iter().enumerate() {
        bytes += c.size();
        if bytes >= target {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{Data, Span, Strided};
    use crate::sink::testing::VecSink;
    use std::io::{Cursor, Read};

    fn members<'a>(big: &'a [u8], span: &'a [u8]) -> Vec<Member<'a>> {
        vec![
            Member {
                name: b"big.npy".to_vec(),
                utf8: false,
                header: b"\x93NUMPY-ish header".to_vec(),
                data: Data::Contiguous(Span::from_slice(big)),
            },
            Member {
                name: "\u{00e9}t\u{00e9}.npy".as_bytes().to_vec(),
                utf8: true,
                header: Vec::new(),
                data: Data::Contiguous(Span::from_slice(&[])),
            },
            Member {
                name: b"view.npy".to_vec(),
                utf8: false,
                header: b"h".to_vec(),
                data: Data::Strided(
                    Strided::new(
                        Span::from_slice(span),
                        span.len() - 24,
                        &[500, 3],
                        &[-40, 8],
                        8,
                    )
                    .unwrap(),
                ),
            },
        ]
    }

    fn expected(m: &Member<'_>) -> Vec<u8> {
        let mut v = vec![0u8; m.stream_len() as usize];
        m.read_stream(0, &mut v).unwrap();
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
            (Compression::Deflated(0), 2, Start::Seekable(0), &b""[..]),
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
        for level in [1, 6, 9] {
            let opts = |threads| Options {
                compression: Compression::Deflated(level),
                threads,
                chunk_size: CHUNK_SIZE,
            };
            let one = write(&ms, Start::Seekable(0), opts(1), b"");
            assert_eq!(one, write(&ms, Start::Seekable(0), opts(2), b""));
            assert_eq!(one, write(&ms, Start::Seekable(0), opts(7), b""));
        }
    }

    #[test]
    fn non_final_chunks_hold_exactly_chunk_size_bytes() {
        let big: Vec<u8> = crate::encode::testing::smooth(3 * CHUNK_SIZE as usize + 999);
        let ms = vec![Member {
            name: b"a.npy".to_vec(),
            utf8: false,
            header: b"HEADER".to_vec(),
            data: Data::Contiguous(Span::from_slice(&big)),
        }];
        let bytes = write(&ms, Start::Seekable(0), Options::default(), b"");
        // Inflate the member's stream chunk by chunk, splitting at the
        // sync-flush markers: each non-final piece is exactly CHUNK_SIZE.
        let name = 30 + 5 + 20;
        let body = &bytes[name..];
        let cuts: Vec<usize> = body
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == crate::encode::bits::SYNC_MARKER)
            .map(|(i, _)| i + 4)
            .collect();
        assert_eq!(cuts.len(), 3);
        let mut starts = vec![0];
        starts.extend(&cuts);
        for (k, w) in starts.windows(2).enumerate() {
            let mut inf = zlib_rs::Inflate::new(false, 15);
            let mut out = vec![0u8; CHUNK_SIZE as usize + 10];
            inf.decompress(
                &body[w[0]..w[1]],
                &mut out,
                zlib_rs::InflateFlush::SyncFlush,
            )
            .unwrap();
            assert_eq!(inf.total_out(), CHUNK_SIZE, "chunk {k}");
        }
    }

    #[test]
    fn streamed_members_read_back_and_can_be_taken_back() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        for (compression, seekable) in [
            (Compression::Deflated(6), true),
            (Compression::Stored, true),
            (Compression::Deflated(1), false),
        ] {
            let opts = Options {
                compression,
                threads: 2,
                chunk_size: 70_000,
            };
            let start = if seekable {
                Start::Seekable(0)
            } else {
                Start::Unseekable(0)
            };
            let mut sink = VecSink::default();
            let mut writer = ZipWriter::new(start, compression);
            let mut ok = |_: u64, _: u64| Ok(());
            if seekable {
                // A stream that is taken back leaves nothing behind.
                let mut s = MemberStream::new(b"gone.npy".to_vec(), false, b"HDR", 2, &opts);
                s.push(&data[..300_000]);
                s.flush(&mut writer, &mut sink, &opts, &mut ok, false)
                    .unwrap();
                assert!(!sink.0.is_empty());
                writer.rewind(&mut sink).unwrap();
                assert!(sink.0.is_empty());
            }
            let mut s = MemberStream::new(b"s.npy".to_vec(), false, b"HEADER", 2, &opts);
            let mut rest = &data[..];
            for piece in [1usize, 99_999, 333_333, 7].iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let mut take = (*piece).min(rest.len());
                while take > 0 {
                    let n = take.min(s.room());
                    s.push(&rest[..n]);
                    rest = &rest[n..];
                    take -= n;
                    if s.room() == 0 {
                        s.flush(&mut writer, &mut sink, &opts, &mut ok, false)
                            .unwrap();
                    }
                }
            }
            s.flush(&mut writer, &mut sink, &opts, &mut ok, true)
                .unwrap();
            writer.finish(&mut sink).unwrap();
            let mut zip = zip::ZipArchive::new(Cursor::new(sink.0)).unwrap();
            assert_eq!(zip.len(), 1);
            let mut got = Vec::new();
            zip.by_index(0).unwrap().read_to_end(&mut got).unwrap();
            assert_eq!(&got[..6], b"HEADER");
            assert!(got[6..] == data[..]);
        }
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
                Err(Stop)
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(Error::Stopped)));
        assert!(sink.0.len() < 1_000_000);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::member::{Data, Span, Strided};
    use crate::sink::testing::VecSink;
    use proptest::prelude::*;
    use std::io::{Cursor, Read};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any mix of members, chunk sizes, thread counts and levels reads
        /// back with an independent zip reader, member for member.
        #[test]
        fn every_archive_reads_back(
            sizes in proptest::collection::vec(0usize..200_000, 0..5),
            chunk in 1u64..70_000,
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
                        Data::Contiguous(Span::from_slice(d))
                    } else {
                        let items = d.len() / (4 * step);
                        let view = Strided::new(Span::from_slice(d), 0, &[items], &[(4 * step) as isize], 4).unwrap();
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
                let mut want = vec![0u8; m.stream_len() as usize];
                m.read_stream(0, &mut want).unwrap();
                let mut got = Vec::new();
                zip.by_index(i).unwrap().read_to_end(&mut got).unwrap();
                prop_assert_eq!(got, want);
            }
        }
    }
}
