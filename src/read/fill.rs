//! Filling a batch: each prepared member inflated into the memory given
//! for it, small ones copied, large ones as tasks (chunk by chunk when
//! they are fastnpz's), with a serial retry for chunks that do not line up.

use std::ops::Range;
use std::sync::atomic::Ordering;

use super::watch::{watched, Control, Interrupted};
use super::{Archive, NpyMember};
use crate::inflate::DecodeError;
use crate::pool::{Panicked, WorkerGrant};
use crate::source::Source;

/// A large member's place among the jobs, the member, and its body.
type Large<'m, 'b> = (usize, &'m NpyMember, &'b mut [u8]);

impl Archive {
    /// Inflate each prepared member into its `body` (which must be exactly
    /// `body_len()` bytes), in parallel. Returns one result per job; a
    /// member that fails leaves its body's contents unspecified. While
    /// large members are inflated, `tick(done, total)` (bytes of them
    /// inflated, and in all) is called on this thread every 50 ms, and
    /// once more when they are done; when it fails, the work stops within
    /// a few milliseconds and the whole call is `Interrupted`.
    pub fn fill(
        &self,
        source: &Source<'_>,
        jobs: Vec<(&NpyMember, &mut [u8])>,
        threads: usize,
        tick: &mut dyn FnMut(u64, u64) -> Result<(), Interrupted>,
    ) -> Result<Vec<Result<(), DecodeError>>, Interrupted> {
        let grant = WorkerGrant::acquire(threads.max(1));
        let threads = grant.threads();
        let mut results: Vec<Result<(), DecodeError>> = Vec::with_capacity(jobs.len());
        let mut large: Vec<(usize, &NpyMember, &mut [u8])> = Vec::new();
        for (j, (member, body)) in jobs.into_iter().enumerate() {
            if body.len() as u64 != member.body_len() {
                results.push(Err(DecodeError::Corrupt("output of the wrong size")));
                continue;
            }
            results.push(Ok(()));
            match &member.decoded {
                Some(whole) => body.copy_from_slice(&whole[member.header.len()..]),
                None => large.push((j, member, body)),
            }
        }
        if large.is_empty() {
            return Ok(results);
        }
        let places: Vec<usize> = large.iter().map(|(j, _, _)| *j).collect();
        let total = large.iter().map(|(_, m, _)| m.len).sum::<u64>();
        let control = Control::default();
        // A member inflated twice (chunks that did not line up) counts twice.
        let mut progress = || tick(control.done.load(Ordering::Relaxed).min(total), total);
        let outcome = watched(
            || self.fill_large(source, large, threads, &control),
            &mut progress,
            &control.stop,
        );
        match outcome {
            Some(Ok(Ok(outcome))) => {
                for (j, r) in places.into_iter().zip(outcome) {
                    results[j] = r;
                }
                tick(total, total)?;
            }
            Some(Err(Interrupted)) => return Err(Interrupted),
            // A worker thread that died outside its task, or a panic here:
            // the members are left to zipfile, as a corrupt one would be.
            Some(Ok(Err(Panicked(_)))) | None => {
                for j in places {
                    results[j] = Err(DecodeError::Corrupt("panic while inflating"));
                }
            }
        }
        Ok(results)
    }

    /// Inflate the large members: chunk by chunk where they are fastnpz's,
    /// whole otherwise, and serially again where chunks did not line up.
    /// One result per member, in order.
    fn fill_large(
        &self,
        source: &Source<'_>,
        mut large: Vec<Large<'_, '_>>,
        threads: usize,
        control: &Control,
    ) -> Result<Vec<Result<(), DecodeError>>, Panicked> {
        let splits = self.find_chunks(source, &large, threads, &control.stop)?;
        let mut heads: Vec<Vec<u8>> = large
            .iter()
            .map(|(_, m, _)| vec![0u8; m.header.len()])
            .collect();
        // First try: split members chunk by chunk, the others whole.
        let first = self.run_tasks(source, &mut large, &mut heads, &splits, threads, control)?;
        // Members whose chunks did not line up are inflated again, serially.
        let retry: Vec<Option<Vec<Range<u64>>>> = first
            .iter()
            .zip(&splits)
            .map(|(r, s)| {
                if r.is_err() && s.is_some() {
                    None
                } else {
                    Some(Vec::new())
                }
            })
            .collect();
        let again = if retry.iter().any(Option::is_none) {
            let serial_only: Vec<Option<Vec<Range<u64>>>> = retry.iter().map(|_| None).collect();
            let mut subset: Vec<(usize, &NpyMember, &mut [u8])> = Vec::new();
            let mut subset_heads = Vec::new();
            let mut which = Vec::new();
            for (i, ((j, m, body), head)) in large.iter_mut().zip(heads.iter_mut()).enumerate() {
                if retry[i].is_none() {
                    subset.push((*j, *m, &mut **body));
                    subset_heads.push(std::mem::take(head));
                    which.push(i);
                }
            }
            let outcome = self.run_tasks(
                source,
                &mut subset,
                &mut subset_heads,
                &serial_only[..which.len()],
                threads,
                control,
            )?;
            which.into_iter().zip(outcome).collect()
        } else {
            Vec::new()
        };
        let mut outcome = first;
        for (i, r) in again {
            outcome[i] = r;
        }
        Ok(outcome)
    }
}
