//! An ordered worker pool: jobs run on several threads, results are handed
//! over in job order on the calling thread, with a bounded number of jobs
//! ahead of the consumer so memory stays bounded.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How often the consumer wakes up to call its tick while it waits.
const TICK: Duration = Duration::from_millis(50);

/// A worker thread panicked; the panic message is kept for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked(pub String);

/// Worker threads running across all concurrent calls in this process.
static ACTIVE_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// The cores this process may use, as found on first use. The standard
/// library reads the cgroup quota files on every call: about 30 us, which
/// was 40% of saving one small array (profiled with perf), so it is asked
/// once per process, as thread pools (rayon's, Go's runtime) do.
pub fn usable_cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A share of the machine's cores for one call. Concurrent calls (say, 16
/// Python threads saving at once) split the cores between them instead of
/// each starting a full set of workers, and no call runs more workers than
/// there are cores; every call gets at least one, so none waits.
pub struct WorkerGrant {
    threads: usize,
}

impl WorkerGrant {
    /// Up to `wanted` workers, fewer if the cores are taken.
    pub fn acquire(wanted: usize) -> Self {
        let cap = usable_cores();
        let mut current = ACTIVE_WORKERS.load(Ordering::Relaxed);
        loop {
            let free = cap.saturating_sub(current);
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

    /// Workers granted.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

impl Drop for WorkerGrant {
    fn drop(&mut self) {
        ACTIVE_WORKERS.fetch_sub(self.threads, Ordering::AcqRel);
    }
}

struct Queue<R> {
    next: usize,
    consumed: usize,
    ready: BTreeMap<usize, R>,
    stop: bool,
    /// A worker died outside a job (its state could not be made, or the
    /// pool's own code unwound): a job it took may never be ready.
    failed: Option<Panicked>,
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

    /// Record that a worker died, and wake the consumer so it does not wait
    /// for a result that will never come.
    fn fail(&self, p: Panicked) {
        self.lock().failed.get_or_insert(p);
        self.done_cv.notify_all();
    }
}

/// Stops the workers when the consumer leaves `ordered_map`, by returning
/// or by unwinding: workers waiting for room ahead would otherwise wait
/// forever, and `thread::scope` would wait for them.
struct StopOnDrop<'a, R>(&'a Shared<R>);

impl<R> Drop for StopOnDrop<'_, R> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.work_cv.notify_all();
    }
}

/// Reports a worker that unwinds outside a job's `catch_unwind` (say, a
/// panic payload whose drop panics), so the consumer is not left waiting
/// for the job the worker had taken.
struct FailOnUnwind<'a, R>(&'a Shared<Result<R, Panicked>>);

impl<R> Drop for FailOnUnwind<'_, R> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .fail(Panicked("a worker thread panicked outside its job".into()));
        }
    }
}

/// Run `work(i)` for `i in 0..n` on `threads` threads (each with its own
/// state from `make`) and hand the results to `consume` in index order on
/// the calling thread. Workers run at most `ahead` jobs past the consumer.
/// `tick(i)` is called between results and at least every 50 ms while the
/// consumer waits; an error from it, from `consume` or a worker's panic
/// stops the pool. A panic in `consume` or `tick` stops the workers too,
/// then goes on unwinding into the caller.
pub fn ordered_map<W, R, E>(
    n: usize,
    threads: usize,
    ahead: usize,
    make: impl Fn() -> W + Sync,
    work: impl Fn(usize, &mut W) -> R + Sync,
    consume: &mut dyn FnMut(usize, R) -> Result<(), E>,
    tick: &mut dyn FnMut(usize) -> Result<(), E>,
) -> Result<(), E>
where
    R: Send,
    E: From<Panicked>,
{
    if threads <= 1 || n <= 1 {
        let mut w = catch_unwind(AssertUnwindSafe(&make)).map_err(panic_message)?;
        for i in 0..n {
            tick(i)?;
            let r = catch_unwind(AssertUnwindSafe(|| work(i, &mut w))).map_err(panic_message)?;
            consume(i, r)?;
        }
        return Ok(());
    }
    let shared = Shared {
        queue: Mutex::new(Queue {
            next: 0,
            consumed: 0,
            ready: BTreeMap::new(),
            stop: false,
            failed: None,
        }),
        work_cv: Condvar::new(),
        done_cv: Condvar::new(),
    };
    let ahead = ahead.max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(n))
            .map(|_| scope.spawn(|| worker_loop(&shared, n, ahead, &make, &work)))
            .collect();
        let result = {
            let _stop = StopOnDrop(&shared);
            drain_in_order(&shared, n, consume, tick)
        };
        // Joined here: a worker left for the scope to join would turn its
        // panic into a panic of the scope's own.
        let mut died = None;
        for w in workers {
            if let Err(payload) = w.join() {
                died.get_or_insert(panic_message(payload));
            }
        }
        match (result, died) {
            (Ok(()), Some(p)) => Err(p.into()),
            (result, _) => result,
        }
    })
}

fn worker_loop<W, R>(
    shared: &Shared<Result<R, Panicked>>,
    n: usize,
    ahead: usize,
    make: &(impl Fn() -> W + Sync),
    work: &(impl Fn(usize, &mut W) -> R + Sync),
) {
    let _report = FailOnUnwind(shared);
    let mut w = match catch_unwind(AssertUnwindSafe(make)) {
        Ok(w) => w,
        Err(payload) => return shared.fail(panic_message(payload)),
    };
    loop {
        let mut q = shared.lock();
        while !q.stop && q.next < n && q.next >= q.consumed + ahead {
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
        shared.lock().ready.insert(i, r);
        shared.done_cv.notify_all();
        if failed {
            // The worker's state may be inconsistent after a panic.
            return;
        }
    }
}

fn drain_in_order<R, E: From<Panicked>>(
    shared: &Shared<Result<R, Panicked>>,
    n: usize,
    consume: &mut dyn FnMut(usize, R) -> Result<(), E>,
    tick: &mut dyn FnMut(usize) -> Result<(), E>,
) -> Result<(), E> {
    for i in 0..n {
        let r = loop {
            let mut q = shared.lock();
            if let Some(r) = q.ready.remove(&i) {
                q.consumed = i + 1;
                break r;
            }
            if let Some(p) = q.failed.take() {
                return Err(p.into());
            }
            let (q, _) = shared
                .done_cv
                .wait_timeout(q, TICK)
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

/// Run `work(i)` for `i in 0..n` on up to `threads` threads (each with its
/// own state from `make`), in no particular order, and return the results
/// in index order. A panicking job gives `Err(Panicked)` for that index; a
/// thread that dies otherwise (its `make` panics, say) loses the results it
/// held, so the whole map is then `Err(Panicked)`.
pub fn parallel_map<W, R>(
    n: usize,
    threads: usize,
    make: impl Fn() -> W + Sync,
    work: impl Fn(usize, &mut W) -> R + Sync,
) -> Result<Vec<Result<R, Panicked>>, Panicked>
where
    R: Send,
{
    let run =
        |i: usize, w: &mut W| catch_unwind(AssertUnwindSafe(|| work(i, w))).map_err(panic_message);
    if threads <= 1 || n <= 1 {
        let mut w = catch_unwind(AssertUnwindSafe(&make)).map_err(panic_message)?;
        return Ok((0..n).map(|i| run(i, &mut w)).collect());
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<R, Panicked>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.min(n))
            .map(|_| {
                scope.spawn(|| {
                    let mut w = make();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return mine;
                        }
                        mine.push((i, run(i, &mut w)));
                    }
                })
            })
            .collect();
        // Every handle is joined, even after a failure: one left for the
        // scope to join would turn its panic into a panic of the scope's own.
        let mut all = Vec::with_capacity(n);
        let mut died = None;
        for h in handles {
            match h.join() {
                Ok(mine) => all.extend(mine),
                Err(payload) => {
                    died.get_or_insert(panic_message(payload));
                }
            }
        }
        died.map_or(Ok(all), Err)
    })?;
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> Panicked {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    Panicked(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum E {
        Panicked(String),
        Stop,
    }

    impl From<Panicked> for E {
        fn from(p: Panicked) -> Self {
            E::Panicked(p.0)
        }
    }

    #[test]
    fn results_arrive_in_order_whatever_the_threads() {
        for threads in [1, 2, 5] {
            let mut seen = Vec::new();
            ordered_map(
                200,
                threads,
                3,
                || 0u64,
                |i, state| {
                    *state += 1;
                    std::thread::sleep(Duration::from_micros((i % 7) as u64 * 50));
                    i * 2
                },
                &mut |i, r| {
                    assert_eq!(r, i * 2);
                    seen.push(i);
                    Ok::<(), E>(())
                },
                &mut |_| Ok(()),
            )
            .unwrap();
            assert_eq!(seen, (0..200).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_worker_panic_becomes_an_error() {
        let r = ordered_map(
            50,
            2,
            4,
            || (),
            |i, _| {
                if i == 17 {
                    panic!("boom at {i}");
                }
                i
            },
            &mut |_, _| Ok::<(), E>(()),
            &mut |_| Ok(()),
        );
        assert_eq!(r, Err(E::Panicked("boom at 17".into())));
    }

    #[test]
    fn a_failing_tick_stops_the_pool() {
        let mut calls = 0;
        let r = ordered_map(1000, 2, 4, || (), |i, _| i, &mut |_, _| Ok(()), &mut |_| {
            calls += 1;
            if calls > 10 {
                Err(E::Stop)
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err(E::Stop));
    }

    #[test]
    fn parallel_map_returns_every_result_in_order() {
        for threads in [1, 2, 4] {
            let out = parallel_map(
                100,
                threads,
                || (),
                |i, _| {
                    if i == 42 {
                        panic!("no");
                    }
                    i * 3
                },
            )
            .unwrap();
            assert_eq!(out.len(), 100);
            for (i, r) in out.iter().enumerate() {
                match r {
                    Ok(v) => assert_eq!(*v, i * 3),
                    Err(p) => assert!(i == 42 && p.0 == "no"),
                }
            }
        }
    }

    /// `f`'s result (or its panic) on a thread of its own, or None if it has
    /// not finished within 20 s: a hung pool fails the test instead of
    /// hanging the suite (the stuck thread is left behind).
    fn finishes<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<Result<T, Panicked>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)).map_err(panic_message));
        });
        rx.recv_timeout(Duration::from_secs(20)).ok()
    }

    /// A panic payload that panics again when dropped: the pool's own code
    /// (not the job) then unwinds, on whichever thread dropped it.
    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("payload dropped");
        }
    }

    #[test]
    fn a_panicking_consume_reaches_the_caller_without_hanging() {
        let r = finishes(|| {
            ordered_map(
                1000,
                2,
                4,
                || (),
                |i, _| i,
                &mut |i, _| {
                    if i == 5 {
                        panic!("consume failed");
                    }
                    Ok::<(), E>(())
                },
                &mut |_| Ok(()),
            )
        });
        assert_eq!(r, Some(Err(Panicked("consume failed".into()))));
    }

    #[test]
    fn a_panicking_tick_reaches_the_caller_without_hanging() {
        let r = finishes(|| {
            ordered_map(
                1000,
                2,
                4,
                || (),
                |i, _| i,
                &mut |_, _| Ok::<(), E>(()),
                &mut |i| {
                    if i == 5 {
                        panic!("tick failed");
                    }
                    Ok(())
                },
            )
        });
        assert_eq!(r, Some(Err(Panicked("tick failed".into()))));
    }

    #[test]
    fn workers_that_cannot_start_are_an_error_not_a_hang() {
        let r = finishes(|| {
            ordered_map(
                100,
                2,
                4,
                || -> u8 { panic!("no state") },
                |i, _| i,
                &mut |_, _| Ok::<(), E>(()),
                &mut |_| Ok(()),
            )
        });
        assert!(matches!(r, Some(Ok(Err(E::Panicked(_))))), "{r:?}");
    }

    #[test]
    fn a_worker_dying_outside_its_job_is_an_error_not_a_hang() {
        let r = finishes(|| {
            ordered_map(
                100,
                2,
                4,
                || (),
                |i, _| {
                    if i == 7 {
                        std::panic::panic_any(PanicsOnDrop);
                    }
                    i
                },
                &mut |_, _| Ok::<(), E>(()),
                &mut |_| Ok(()),
            )
        });
        assert!(matches!(r, Some(Ok(Err(E::Panicked(_))))), "{r:?}");
    }

    #[test]
    fn parallel_map_reports_a_dead_thread_instead_of_a_short_list() {
        let out = parallel_map(
            100,
            2,
            || (),
            |i, _| {
                if i == 7 {
                    std::panic::panic_any(PanicsOnDrop);
                }
                i
            },
        );
        assert!(out.is_err(), "{:?}", out.map(|v| v.len()));
    }

    #[test]
    fn parallel_map_reports_state_that_cannot_be_made() {
        for threads in [1, 2] {
            let out = parallel_map(10, threads, || -> u8 { panic!("no state") }, |i, _| i);
            assert_eq!(out, Err(Panicked("no state".into())), "threads={threads}");
        }
    }

    #[test]
    fn grants_never_exceed_the_cores() {
        let a = WorkerGrant::acquire(10_000);
        assert!(a.threads() <= usable_cores());
        let b = WorkerGrant::acquire(10_000);
        assert!(b.threads() >= 1);
    }
}
