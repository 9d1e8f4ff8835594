//! Running a long piece of reading on another thread while the calling
//! thread stays free to ask, every 50 ms, whether to stop (Python's signal
//! handlers run only on the main thread, which is the calling one).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How often the calling thread asks whether to stop.
pub const TICK: Duration = Duration::from_millis(50);

/// What the worker threads and the calling thread share while reading.
#[derive(Debug, Default)]
pub struct Control {
    /// Set by the calling thread: stop as soon as possible.
    pub stop: AtomicBool,
    /// Bytes written so far (output of finished steps).
    pub done: AtomicU64,
}

/// The reading was stopped by its caller (Ctrl-C, for instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// Run `work` on a new thread, and `tick` on this one every `TICK` until
/// `work` returns. When `tick` fails, `stop` is set (the work checks it
/// between pieces of at most a few milliseconds) and its result is
/// `Interrupted`. Either way `work`'s thread has ended when this returns.
/// `None` when `work` panicked.
pub fn watched<R: Send>(
    work: impl FnOnce() -> R + Send,
    tick: &mut dyn FnMut() -> Result<(), Interrupted>,
    stop: &AtomicBool,
) -> Option<Result<R, Interrupted>> {
    let mut interrupted = false;
    let result = std::thread::scope(|scope| {
        let (done, finished) = mpsc::channel::<()>();
        let worker = scope.spawn(move || {
            let result = work();
            let _ = done.send(());
            result
        });
        // A closed channel (the worker panicked) ends the wait too.
        while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(TICK) {
            if !interrupted && tick().is_err() {
                interrupted = true;
                stop.store(true, Ordering::Relaxed);
            }
        }
        worker.join().ok()
    })?;
    Some(if interrupted {
        Err(Interrupted)
    } else {
        Ok(result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_failing_tick_stops_the_work_and_its_thread() {
        let stop = AtomicBool::new(false);
        let mut ticks = 0;
        let started = Instant::now();
        let outcome = watched(
            || {
                // Ten seconds of work, in 1 ms pieces that check `stop`.
                for _ in 0..10_000 {
                    if stop.load(Ordering::Relaxed) {
                        return "stopped";
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                "finished"
            },
            &mut || {
                ticks += 1;
                if ticks == 3 {
                    Err(Interrupted)
                } else {
                    Ok(())
                }
            },
            &stop,
        );
        assert_eq!(outcome, Some(Err(Interrupted)));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(ticks, 3);
    }

    #[test]
    fn quick_work_needs_no_tick_and_a_panic_is_none() {
        let stop = AtomicBool::new(false);
        let mut tick = || -> Result<(), Interrupted> { panic!("no tick expected") };
        assert_eq!(watched(|| 7, &mut tick, &stop), Some(Ok(7)));
        let mut tick = || Ok(());
        assert_eq!(watched(|| -> u8 { panic!("boom") }, &mut tick, &stop), None);
    }
}
