//! Ordered work over the pieces of a file on the caller's executor.
//!
//! The pieces are taken in order by a few tasks of the caller's
//! [`Parallelism`] (as many as it has workers, at most [`MAX_WORKERS`]);
//! each result is handed to one consumer strictly in piece order, by
//! whichever task finds the consumer free after finishing a piece (the
//! rest by the calling thread at the end). No task ever waits for another,
//! as the executor's contract requires: with one worker everything runs in
//! order on the calling thread. A result waits for its predecessors only
//! as long as they take; what waits is what the consumer will hold anyway
//! (output bytes, MAC input), never a whole document.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use rsops_format::parallel::{Parallelism, Task};

/// Most tasks used, whatever the executor offers.
pub(crate) const MAX_WORKERS: usize = 4;

/// The consuming side: how far it got, and whether it refused a result.
struct Consumer<'c, R> {
    upto: usize,
    ok: bool,
    consume: &'c mut (dyn FnMut(usize, R) -> bool + Send),
}

/// Runs `work` on pieces `0..count` and hands every result to `consume` in
/// piece order. `work` returning `None`, or `consume` returning false,
/// stops the run (pieces not started are skipped). Returns whether every
/// piece was worked on and consumed.
pub(crate) fn run_ordered<R: Send>(
    count: usize,
    par: &dyn Parallelism,
    work: &(dyn Fn(usize) -> Option<R> + Sync),
    consume: &mut (dyn FnMut(usize, R) -> bool + Send),
) -> bool {
    run_ordered_within(count, usize::MAX, par, work, consume)
}

/// [`run_ordered`] where no piece is started more than `ahead` pieces
/// after the first one not consumed yet: what waits for the consumer
/// stays bounded even when consuming is slow (a slow output). A task that
/// would run too far ahead takes the consumer's turn, or, while another
/// task holds it or the next result is still being made, sleeps until a
/// result is ready. It only ever waits for a piece another running task is
/// making, so no task waits for one that has not started.
pub(crate) fn run_ordered_within<R: Send>(
    count: usize,
    ahead: usize,
    par: &dyn Parallelism,
    work: &(dyn Fn(usize) -> Option<R> + Sync),
    consume: &mut (dyn FnMut(usize, R) -> bool + Send),
) -> bool {
    if count == 0 {
        return true;
    }
    let ahead = ahead.max(1);
    let slots: Vec<Mutex<Option<R>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results were consumed (read without the consumer's lock).
    let consumed = AtomicUsize::new(0);
    let ready = Condvar::new();
    let consumer = Mutex::new(Consumer {
        upto: 0,
        ok: true,
        consume,
    });
    let drain = |c: &mut Consumer<'_, R>| {
        while c.ok {
            let Some(slot) = slots.get(c.upto) else {
                return;
            };
            let Some(result) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() else {
                return;
            };
            let at = c.upto;
            c.upto += 1;
            if !(c.consume)(at, result) {
                c.ok = false;
                stop.store(true, Ordering::Relaxed);
            }
            consumed.store(c.upto, Ordering::Release);
        }
    };
    let worker = || loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let upcoming = next.load(Ordering::Relaxed);
        if upcoming >= count {
            break;
        }
        if upcoming >= consumed.load(Ordering::Acquire).saturating_add(ahead) {
            // Too far ahead: consume, or wait for the next result.
            let mut c = consumer.lock().unwrap_or_else(PoisonError::into_inner);
            drain(&mut c);
            if c.ok && next.load(Ordering::Relaxed) >= c.upto.saturating_add(ahead) {
                // The timeout covers a result stored between the drain
                // and the wait.
                let _ = ready
                    .wait_timeout(c, std::time::Duration::from_millis(1))
                    .unwrap_or_else(PoisonError::into_inner);
            }
            continue;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.get(i) else {
            break;
        };
        match work(i) {
            Some(r) => *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(r),
            None => {
                stop.store(true, Ordering::Relaxed);
                ready.notify_all();
                break;
            }
        }
        ready.notify_all();
        // Whoever finds the consumer free feeds it what is ready.
        if let Ok(mut c) = consumer.try_lock() {
            drain(&mut c);
        }
    };
    // Asked only now: the work is known to be large.
    let workers = par.workers().clamp(1, MAX_WORKERS).min(count);
    let tasks: Vec<Task<'_>> = (0..workers).map(|_| Box::new(worker) as Task<'_>).collect();
    par.run(tasks);
    let mut c = consumer
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    drain(&mut c);
    c.ok && c.upto == count
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsops_format::parallel::Sequential;

    use rsops_format::parallel::TestThreads as Threads;

    /// Claims several workers but runs the tasks one after the other, last
    /// first.
    struct Backwards;

    impl Parallelism for Backwards {
        fn workers(&self) -> usize {
            3
        }

        fn run(&self, tasks: Vec<Task<'_>>) {
            for task in tasks.into_iter().rev() {
                task();
            }
        }
    }

    #[test]
    fn results_are_consumed_in_order_whatever_the_executor() {
        let executors: [&dyn Parallelism; 5] = [
            &Sequential,
            &Threads(2),
            &Threads(3),
            &Threads(8),
            &Backwards,
        ];
        for par in executors {
            for count in [0, 1, 2, 7, 200] {
                let mut seen = Vec::new();
                let work = |i: usize| {
                    // Uneven work, so that results finish out of order.
                    if i.is_multiple_of(3) {
                        std::thread::yield_now();
                    }
                    Some(i * 10)
                };
                let ok = run_ordered(count, par, &work, &mut |at, r| {
                    assert_eq!(r, at * 10);
                    seen.push(at);
                    true
                });
                assert!(ok);
                assert_eq!(seen, (0..count).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn no_piece_starts_far_ahead_of_a_slow_consumer() {
        let executors: [&dyn Parallelism; 4] = [&Sequential, &Threads(2), &Threads(4), &Backwards];
        for par in executors {
            let consumed = AtomicUsize::new(0);
            let furthest = AtomicUsize::new(0);
            let work = |i: usize| {
                let lead = i.saturating_sub(consumed.load(Ordering::SeqCst));
                furthest.fetch_max(lead, Ordering::SeqCst);
                Some(i)
            };
            let mut seen = Vec::new();
            let ok = run_ordered_within(60, 3, par, &work, &mut |at, r| {
                assert_eq!(at, r);
                std::thread::sleep(std::time::Duration::from_micros(300));
                seen.push(at);
                consumed.store(at + 1, Ordering::SeqCst);
                true
            });
            assert!(ok);
            assert_eq!(seen, (0..60).collect::<Vec<_>>());
            // At most `ahead` past the consumer, plus one per other task
            // that passed the check at the same moment.
            let lead = furthest.load(Ordering::SeqCst);
            assert!(lead <= 3 + 4, "a piece started {lead} ahead");
        }
        // Without a bound the workers run ahead of a slow consumer.
        let consumed = AtomicUsize::new(0);
        let furthest = AtomicUsize::new(0);
        let work = |i: usize| {
            furthest.fetch_max(
                i.saturating_sub(consumed.load(Ordering::SeqCst)),
                Ordering::SeqCst,
            );
            Some(i)
        };
        run_ordered(60, &Threads(2), &work, &mut |at, _| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            consumed.store(at + 1, Ordering::SeqCst);
            true
        });
        assert!(furthest.load(Ordering::SeqCst) > 7);
    }

    #[test]
    fn a_failure_stops_the_run_and_nothing_after_it_is_consumed() {
        for par in [&Sequential as &dyn Parallelism, &Threads(2), &Backwards] {
            let mut seen = Vec::new();
            let work = |i: usize| (i != 5).then_some(i);
            let ok = run_ordered(50, par, &work, &mut |_, r| {
                seen.push(r);
                true
            });
            assert!(!ok);
            assert_eq!(seen, (0..5).collect::<Vec<_>>());

            let mut seen = Vec::new();
            let ok = run_ordered(50, par, &|i: usize| Some(i), &mut |_, r| {
                seen.push(r);
                r < 9
            });
            assert!(!ok);
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
        }
    }
}
