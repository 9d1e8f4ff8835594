//! Cutting members into chunks that threads compress independently, and
//! compressing one chunk.
//!
//! A member's uncompressed stream is its `.npy` header followed by its data.
//! Chunk `k` covers stream bytes `[k * CHUNK_SIZE, (k + 1) * CHUNK_SIZE)`, so
//! every chunk but a member's last holds exactly `CHUNK_SIZE` bytes. That
//! constant is part of the format: a reader that finds the sync-flush
//! markers between chunks knows where each one's output belongs.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::encode::policy::{self, Ladder};
use crate::encode::{crc32, read_samples, Choice, ChunkEncoder, EncodeError, Plan};
use crate::member::{LayoutError, Member};

/// Uncompressed bytes in every chunk but a member's last (4 MiB). Starting a
/// fresh stream per chunk costs deflate the history it would have had, a
/// roughly fixed number of bytes per chunk: on a real float32 retina image
/// (23 MiB) zlib in 1 MiB chunks came out 0.95% larger than in one stream,
/// in 2 MiB chunks 0.47%, in 4 MiB chunks 0.23%, in 8 MiB chunks 0.10%
/// (every other member measured lost less). 4 MiB keeps that well within
/// the size budget while still splitting large members across threads,
/// and bounds each thread's buffer.
pub const CHUNK_SIZE: u64 = 4 << 20;

/// One unit of parallel work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Index of the member in the archive.
    pub member: usize,
    /// First stream byte covered.
    pub start: u64,
    /// One past the last stream byte covered.
    pub end: u64,
    /// The first chunk opens the member (its local header goes first).
    pub first: bool,
    /// The last chunk finishes the member's deflate stream.
    pub last: bool,
}

impl Chunk {
    /// Uncompressed bytes covered.
    pub fn size(&self) -> u64 {
        self.end - self.start
    }
}

/// The compressed form of one chunk.
#[derive(Debug, Default)]
pub struct Compressed {
    /// Raw deflate (or stored) bytes.
    pub bytes: Vec<u8>,
    /// CRC-32 of the chunk's uncompressed bytes.
    pub crc: u32,
    /// Number of uncompressed bytes.
    pub len: u64,
}

/// Why a chunk could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// The array layout could not be read.
    Layout(LayoutError),
    /// The encoder failed.
    Encode(EncodeError),
}

impl From<EncodeError> for ChunkError {
    fn from(e: EncodeError) -> Self {
        ChunkError::Encode(e)
    }
}

impl From<LayoutError> for ChunkError {
    fn from(e: LayoutError) -> Self {
        ChunkError::Layout(e)
    }
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkError::Layout(e) => e.fmt(f),
            ChunkError::Encode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ChunkError {}

/// Split every member's stream into chunks of `chunk_size` bytes, in archive
/// order. Every member gets at least one chunk, even when empty.
pub fn plan(members: &[Member<'_>], chunk_size: u64) -> Vec<Chunk> {
    let step = chunk_size.max(1);
    let mut chunks = Vec::new();
    for (index, m) in members.iter().enumerate() {
        let len = m.stream_len();
        let mut start = 0u64;
        loop {
            let end = start.saturating_add(step).min(len);
            chunks.push(Chunk {
                member: index,
                start,
                end,
                first: start == 0,
                last: end == len,
            });
            if end == len {
                break;
            }
            start = end;
        }
    }
    chunks
}

/// How each member is compressed, decided once per member. A member that
/// is sampled is measured by every thread that reaches one of its chunks
/// before the decision is known: each takes the ladder's next probe, so on
/// a one-member archive both cores sample instead of one waiting. The
/// decision depends only on the measured sizes (`policy::Ladder`), never on
/// which thread measured what, so archives stay identical whatever the
/// thread count.
pub struct Choices {
    slots: Vec<OnceLock<Slot>>,
}

enum Slot {
    Decided(Result<Choice, ChunkError>),
    Sampling(Sampling),
}

/// A member's sample windows, read once, and its ladder.
struct Sampling {
    samples: Vec<Vec<u8>>,
    state: Mutex<SamplingState>,
    changed: Condvar,
}

struct SamplingState {
    ladder: Ladder,
    outcome: Option<Result<Choice, ChunkError>>,
}

impl Choices {
    /// Undecided, for `n` members.
    pub fn new(n: usize) -> Self {
        Choices {
            slots: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// How member `index` is compressed: decided now, or once this thread
    /// and any other that asks have measured enough of its samples.
    fn get(
        &self,
        index: usize,
        member: &Member<'_>,
        encoder: &mut ChunkEncoder,
    ) -> Result<Choice, ChunkError> {
        let slot = self
            .slots
            .get(index)
            .ok_or(ChunkError::Layout(LayoutError::OutOfBounds))?;
        let slot = slot.get_or_init(|| match encoder.plan(member.stream_len()) {
            Plan::Decided(choice) => Slot::Decided(Ok(choice)),
            Plan::Sample(windows) => match read_samples(&windows, |at, buf| {
                member.read_stream(at, buf).map_err(ChunkError::Layout)
            }) {
                Ok(samples) if policy::all_noise(&samples) => Slot::Decided(Ok(Choice::Literal)),
                Ok(samples) => Slot::Sampling(Sampling {
                    state: Mutex::new(SamplingState {
                        ladder: Ladder::for_samples(&samples),
                        outcome: None,
                    }),
                    samples,
                    changed: Condvar::new(),
                }),
                Err(e) => Slot::Decided(Err(e)),
            },
        });
        match slot {
            Slot::Decided(result) => *result,
            Slot::Sampling(sampling) => sampling.take_part(encoder),
        }
    }
}

impl Sampling {
    fn lock(&self) -> MutexGuard<'_, SamplingState> {
        // Nothing that can panic runs under the lock; a poisoned state is
        // still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Measure probes until the decision is known, waiting only when every
    /// probe is handed out and another thread is still measuring one.
    fn take_part(&self, encoder: &mut ChunkEncoder) -> Result<Choice, ChunkError> {
        let mut state = self.lock();
        loop {
            if let Some(outcome) = state.outcome {
                return outcome;
            }
            if let Some(choice) = state.ladder.decision() {
                state.outcome = Some(Ok(choice));
                self.changed.notify_all();
                continue;
            }
            let Some(probe) = state.ladder.next_probe() else {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            drop(state);
            // If measuring panics (the pool turns that into an error),
            // threads waiting for this probe must not wait forever.
            let mut abandoned = Abandoned(Some(self));
            let size = encoder.measure(probe, &self.samples);
            abandoned.0 = None;
            state = self.lock();
            match size {
                Ok(size) => state.ladder.record(probe, size),
                Err(e) => {
                    state.outcome.get_or_insert(Err(e.into()));
                }
            }
            self.changed.notify_all();
        }
    }
}

/// Ends a member's sampling with an error if dropped while armed: a
/// measuring thread unwinding.
struct Abandoned<'a>(Option<&'a Sampling>);

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if let Some(sampling) = self.0 {
            let mut state = sampling.lock();
            state
                .outcome
                .get_or_insert(Err(ChunkError::Encode(EncodeError::Engine(
                    "a thread sampling this member panicked",
                ))));
            sampling.changed.notify_all();
        }
    }
}

/// Per-thread scratch: the encoder and the buffer each chunk is read into.
pub struct Worker {
    encoder: ChunkEncoder,
    buffer: Vec<u8>,
}

impl Worker {
    /// A worker around one encoder.
    pub fn new(encoder: ChunkEncoder) -> Self {
        Worker {
            encoder,
            buffer: Vec::new(),
        }
    }

    /// Compress one chunk of `member`.
    pub fn compress(
        &mut self,
        member: &Member<'_>,
        chunk: &Chunk,
        choices: &Choices,
    ) -> Result<Compressed, ChunkError> {
        let choice = choices.get(chunk.member, member, &mut self.encoder)?;
        let len = usize::try_from(chunk.size()).map_err(|_| LayoutError::Overflow)?;
        // Read the chunk once, into this thread's buffer: the CRC and the
        // compressed bytes then see the same bytes even if another thread
        // is writing to the array.
        self.buffer.resize(len, 0);
        member.read_stream(chunk.start, &mut self.buffer)?;
        let mut out = Compressed {
            crc: crc32(0, &self.buffer),
            len: chunk.size(),
            bytes: Vec::new(),
        };
        self.encoder
            .encode(choice, &self.buffer, chunk.last, &mut out.bytes)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{Data, Span, Strided};

    fn member(data: Data<'_>) -> Member<'_> {
        Member {
            name: b"x.npy".to_vec(),
            utf8: false,
            header: b"HEADER".to_vec(),
            data,
        }
    }

    #[test]
    fn threads_sampling_together_decide_as_one_thread_alone() {
        use crate::encode::testing::{noise, smooth};
        use crate::encode::Compression;
        let datas = [
            smooth(3 << 20),
            noise(1 << 20, 256),
            noise(1 << 20, 16),
            (0..2_000_000u32).map(|i| (i / 3) as u8).collect(),
        ];
        let members: Vec<_> = datas
            .iter()
            .map(|d| member(Data::Contiguous(Span::from_slice(d))))
            .collect();
        let encoder = || ChunkEncoder::new(Compression::Deflated(6));
        let alone: Vec<Choice> = members
            .iter()
            .map(|m| {
                encoder()
                    .choose::<ChunkError>(m.stream_len(), |at, buf| Ok(m.read_stream(at, buf)?))
                    .unwrap()
            })
            .collect();
        for threads in [2, 3] {
            let choices = Choices::new(members.len());
            let together: Vec<Vec<Choice>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (choices, members) = (&choices, &members);
                        s.spawn(move || {
                            let mut enc = encoder();
                            // Each thread visits the members in another order.
                            (0..members.len())
                                .map(|k| (k + t) % members.len())
                                .map(|k| (k, choices.get(k, &members[k], &mut enc).unwrap()))
                                .fold(vec![Choice::Small; members.len()], |mut v, (k, c)| {
                                    v[k] = c;
                                    v
                                })
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for got in together {
                assert_eq!(got, alone, "{threads} threads");
            }
        }
    }

    #[test]
    fn plan_covers_each_member_once_in_equal_steps() {
        let bytes = vec![0u8; 1000];
        let span = vec![0u8; 4000];
        let strided = Strided::new(Span::from_slice(&span), 0, &[100], &[24], 12).unwrap();
        let members = vec![
            member(Data::Contiguous(Span::from_slice(&bytes))),
            member(Data::Contiguous(Span::from_slice(&[]))),
            member(Data::Strided(strided)),
        ];
        let chunks = plan(&members, 256);
        for (i, m) in members.iter().enumerate() {
            let mine: Vec<_> = chunks.iter().filter(|c| c.member == i).collect();
            assert!(mine[0].first && mine.last().unwrap().last);
            assert_eq!(mine.last().unwrap().end, m.stream_len());
            for w in mine.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[0].size(), 256);
            }
        }
        assert_eq!(chunks.iter().filter(|c| c.member == 1).count(), 1);
    }

    #[test]
    fn chunks_read_header_and_data_as_one_stream() {
        let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let m = member(Data::Contiguous(Span::from_slice(&data)));
        let mut want = m.header.clone();
        want.extend_from_slice(&data);
        for start in [0u64, 3, 6, 7, 4000] {
            let mut got = vec![0u8; 100];
            m.read_stream(start, &mut got).unwrap();
            assert_eq!(got, want[start as usize..start as usize + 100]);
        }
    }
}
