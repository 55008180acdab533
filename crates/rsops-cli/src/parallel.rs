//! The binary's executor: the one place that decides how many threads the
//! libraries' work may use, and starts them.
//!
//! The libraries cut large jobs (parsing a large YAML document, decrypting
//! a large tree) into tasks and hand them to a
//! [`rsops_format::Parallelism`]; this module provides the thread-backed
//! one. Commands pass [`threads()`] where they call such a library
//! function.
//!
//! Commands over many files run more files at once than there are cores,
//! so that files waiting for a remote key service overlap their waits; the
//! CPU work stays bounded by the cores: a file's work holds one of the
//! [`cpu_slot`]s, which [`waiting`] gives up for the time of a key call.

use std::cell::Cell;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

use rsops_format::parallel::{Parallelism, Task};
use rsops_keys::{KeyError, KeyKind, KeyService, MasterKey};
use zeroize::Zeroizing;

/// Runs tasks on scoped threads: the calling thread and up to
/// `workers() - 1` more, each taking the next task from a shared queue.
#[derive(Debug, Default)]
pub struct Threads {
    /// The machine's parallelism, found out on first use.
    workers: OnceLock<usize>,
}

/// The executor of this process.
pub fn threads() -> &'static Threads {
    static THREADS: Threads = Threads {
        workers: OnceLock::new(),
    };
    &THREADS
}

impl Parallelism for Threads {
    /// The cores this process may use (`available_parallelism`, which
    /// honours CPU affinity and cgroup quotas), asked once. Libraries ask
    /// only for large work: the query reads cgroup files, a noticeable part
    /// of a short run.
    fn workers(&self) -> usize {
        *self.workers.get_or_init(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }

    /// Runs `tasks` on this thread and up to `workers() - 1` helper
    /// threads (never more threads than tasks). If a thread cannot be
    /// started, the threads that run take its share. A panicking task
    /// panics here, once the other threads have finished.
    fn run(&self, tasks: Vec<Task<'_>>) {
        let helpers = self.workers().min(tasks.len()).saturating_sub(1);
        if helpers == 0 {
            tasks.into_iter().for_each(|task| task());
            return;
        }
        let queue = Mutex::new(tasks.into_iter());
        let drain = || loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some(task) = next else { break };
            task();
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..helpers)
                .map_while(|_| {
                    std::thread::Builder::new()
                        .name("rsops-worker".into())
                        .spawn_scoped(scope, drain)
                        .ok()
                })
                .collect();
            drain();
            for handle in handles {
                if let Err(panic) = handle.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }
}

/// How many files a command over many files works on at once at most: the
/// key calls of that many files overlap their network round trips, while
/// at most one file per core computes ([`cpu_slot`]).
pub const KEY_CALLS_IN_FLIGHT: usize = 32;

/// Runs `work` on every item, up to `width` items at once (each in a
/// [`cpu_slot`]), and hands each result to `done` on the calling thread in
/// item order, as soon as the items before it are done: output printed by
/// `done` is that of running the items one after the other.
pub fn in_order<T, R, W, D>(items: &[T], width: usize, work: W, mut done: D)
where
    T: Sync,
    R: Send,
    W: Fn(&T) -> R + Sync,
    D: FnMut(&T, R),
{
    let width = width.min(items.len());
    if width <= 1 {
        for item in items {
            let r = work(item);
            done(item, r);
        }
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, std::thread::Result<R>)>();
    std::thread::scope(|scope| {
        let run = |tx: std::sync::mpsc::Sender<(usize, std::thread::Result<R>)>| loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cpu_slot(|| work(item))));
            let panicked = r.is_err();
            if tx.send((i, r)).is_err() || panicked {
                break;
            }
        };
        let started = (0..width)
            .map_while(|_| {
                let tx = tx.clone();
                std::thread::Builder::new()
                    .name("rsops-file".into())
                    .spawn_scoped(scope, move || run(tx))
                    .ok()
            })
            .count();
        if started == 0 {
            run(tx.clone());
        }
        drop(tx);
        let mut ready: Vec<Option<R>> = items.iter().map(|_| None).collect();
        let mut shown = 0;
        for (i, r) in rx {
            match r {
                Ok(r) => ready[i] = Some(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
            while let Some(r) = ready.get_mut(shown).and_then(Option::take) {
                done(&items[shown], r);
                shown += 1;
            }
        }
    });
}

/// A counting semaphore: at most `limit` holders at once.
#[derive(Debug)]
pub struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Gate {
    /// A gate letting `limit` holders in at once (at least one).
    pub fn new(limit: usize) -> Gate {
        Gate {
            free: Mutex::new(limit.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free place and takes it.
    fn acquire(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
    }

    /// Gives a place back.
    fn release(&self) {
        *self.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.freed.notify_one();
    }
}

/// The gate of the CPU slots of this process: as many as cores.
fn cpu_gate() -> &'static Gate {
    static CPU: OnceLock<Gate> = OnceLock::new();
    CPU.get_or_init(|| Gate::new(threads().workers()))
}

thread_local! {
    /// Whether this thread holds a CPU slot (inside [`cpu_slot`], outside
    /// [`waiting`]).
    static HOLDS_SLOT: Cell<bool> = const { Cell::new(false) };
}

/// Gives the slot back on drop (also when the work panics).
struct Held<'g>(&'g Gate);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        HOLDS_SLOT.with(|h| h.set(false));
        self.0.release();
    }
}

/// Runs `work` holding one of the process's CPU slots (as many as cores):
/// however many threads run files, at most that many compute at once.
/// Nested calls on a thread that holds a slot just run `work`.
pub fn cpu_slot<R>(work: impl FnOnce() -> R) -> R {
    with_slot(cpu_gate(), work)
}

fn with_slot<R>(gate: &Gate, work: impl FnOnce() -> R) -> R {
    if HOLDS_SLOT.with(Cell::get) {
        return work();
    }
    gate.acquire();
    HOLDS_SLOT.with(|h| h.set(true));
    let held = Held(gate);
    let r = work();
    drop(held);
    r
}

/// Runs `wait` (a call that mostly waits: a network round trip, another
/// process) without this thread's CPU slot, if it holds one, so that
/// another file computes meanwhile; takes a slot again afterwards.
pub fn waiting<R>(wait: impl FnOnce() -> R) -> R {
    // A thread without a slot has nothing to give back: the gate (and the
    // core count behind it) is not needed.
    if !HOLDS_SLOT.with(Cell::get) {
        return wait();
    }
    waiting_on(cpu_gate(), wait)
}

fn waiting_on<R>(gate: &Gate, wait: impl FnOnce() -> R) -> R {
    if !HOLDS_SLOT.with(Cell::get) {
        return wait();
    }
    HOLDS_SLOT.with(|h| h.set(false));
    gate.release();
    /// Takes the slot back on drop (also when `wait` panics, so that the
    /// enclosing [`Held`] gives back a slot it holds).
    struct Retake<'g>(&'g Gate);
    impl Drop for Retake<'_> {
        fn drop(&mut self) {
            self.0.acquire();
            HOLDS_SLOT.with(|h| h.set(true));
        }
    }
    let _retake = Retake(gate);
    wait()
}

/// A key service whose calls for keys other than age keys (remote services,
/// `gpg`) run [`waiting`]: without the thread's CPU slot.
pub struct Overlapping(pub Box<dyn KeyService>);

impl Overlapping {
    fn call<R>(key: &MasterKey, call: impl FnOnce() -> R) -> R {
        if key.kind() == KeyKind::Age {
            call()
        } else {
            waiting(call)
        }
    }
}

impl KeyService for Overlapping {
    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
        Overlapping::call(key, || self.0.encrypt(key, plaintext))
    }

    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        Overlapping::call(key, || self.0.decrypt(key, enc))
    }

    fn resolve(&self, key: &MasterKey) -> Result<Option<MasterKey>, KeyError> {
        Overlapping::call(key, || self.0.resolve(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting_tasks(n: usize, count: &AtomicUsize) -> Vec<Task<'_>> {
        (0..n)
            .map(|_| {
                Box::new(move || {
                    count.fetch_add(1, Ordering::Relaxed);
                }) as Task<'_>
            })
            .collect()
    }

    #[test]
    fn every_task_runs_once_whatever_the_worker_count() {
        for workers in [1, 2, 3, 8] {
            let exec = Threads {
                workers: OnceLock::from(workers),
            };
            assert_eq!(exec.workers(), workers);
            for n in [0, 1, 2, 5, 40] {
                let count = AtomicUsize::new(0);
                exec.run(counting_tasks(n, &count));
                assert_eq!(count.load(Ordering::Relaxed), n);
            }
        }
    }

    #[test]
    fn tasks_run_at_the_same_time_with_several_workers() {
        // Two tasks that each wait for the other to start: this finishes
        // only when they run on two threads.
        let exec = Threads {
            workers: OnceLock::from(2),
        };
        let started = AtomicUsize::new(0);
        let meet = || {
            started.fetch_add(1, Ordering::SeqCst);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while started.load(Ordering::SeqCst) < 2 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "tasks ran one after the other"
                );
                std::thread::yield_now();
            }
        };
        exec.run(vec![Box::new(meet), Box::new(meet)]);
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_panicking_task_panics_run_after_the_others_finish() {
        let exec = Threads {
            workers: OnceLock::from(3),
        };
        let count = AtomicUsize::new(0);
        let mut tasks = counting_tasks(6, &count);
        tasks.insert(2, Box::new(|| panic!("task failed")));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exec.run(tasks)));
        assert!(r.is_err());
        assert_eq!(count.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn a_waiting_thread_lets_another_take_its_slot() {
        // One slot: the second thread can only compute while the first
        // waits without its slot.
        let gate = Gate::new(1);
        let other_done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            with_slot(&gate, || {
                s.spawn(|| with_slot(&gate, || other_done.store(1, Ordering::SeqCst)));
                waiting_on(&gate, || {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                    while other_done.load(Ordering::SeqCst) == 0 {
                        assert!(std::time::Instant::now() < deadline, "slot not given up");
                        std::thread::yield_now();
                    }
                });
                assert!(HOLDS_SLOT.with(Cell::get), "slot taken back");
            });
        });
        assert!(!HOLDS_SLOT.with(Cell::get));
        // Outside a slot, waiting just runs.
        assert_eq!(waiting_on(&gate, || 7), 7);
    }

    #[test]
    fn no_more_threads_compute_than_slots() {
        let gate = Gate::new(2);
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20 {
                        with_slot(&gate, || {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            // Nested: no second slot is taken.
                            with_slot(&gate, || ());
                            now.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert!(most.load(Ordering::SeqCst) >= 1);
    }

    #[test]
    fn in_order_hands_results_over_in_item_order_while_items_overlap() {
        let items: Vec<usize> = (0..40).collect();
        let started = AtomicUsize::new(0);
        let mut seen = Vec::new();
        in_order(
            &items,
            8,
            |&i| {
                started.fetch_add(1, Ordering::SeqCst);
                // The first item finishes only once others have started:
                // the later ones are done before it, yet handed over after.
                if i == 0 {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                    while started.load(Ordering::SeqCst) < 8 {
                        assert!(std::time::Instant::now() < deadline, "items ran one by one");
                        std::thread::yield_now();
                    }
                }
                i * 10
            },
            |&i, r| seen.push((i, r)),
        );
        let expected: Vec<(usize, usize)> = items.iter().map(|&i| (i, i * 10)).collect();
        assert_eq!(seen, expected);
        let mut one = Vec::new();
        in_order(&items[..3], 1, |&i| i, |_, r| one.push(r));
        assert_eq!(one, vec![0, 1, 2]);
    }

    #[test]
    fn overlapping_gives_up_the_slot_for_remote_keys_only() {
        struct Probe;
        impl KeyService for Probe {
            fn encrypt(&self, _: &MasterKey, _: &[u8]) -> Result<String, KeyError> {
                Ok(HOLDS_SLOT.with(Cell::get).to_string())
            }
            fn decrypt(&self, _: &MasterKey, _: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
                Ok(Zeroizing::new(vec![u8::from(HOLDS_SLOT.with(Cell::get))]))
            }
        }
        let service = Overlapping(Box::new(Probe));
        let age = MasterKey::Age(rsops_keys::age::AgeKey {
            recipient: "age1x".into(),
        });
        let kms = MasterKey::Kms(rsops_keys::kinds::kms::KmsKey {
            arn: "arn:aws:kms:us-east-1:1:key/k".into(),
            role: String::new(),
            context: Vec::new(),
            aws_profile: String::new(),
        });
        cpu_slot(|| {
            assert_eq!(service.encrypt(&age, b"").unwrap(), "true");
            assert_eq!(service.encrypt(&kms, b"").unwrap(), "false");
            assert_eq!(*service.decrypt(&age, "").unwrap(), vec![1]);
            assert_eq!(*service.decrypt(&kms, "").unwrap(), vec![0]);
            assert!(HOLDS_SLOT.with(Cell::get));
        });
    }

    #[test]
    fn the_process_executor_has_at_least_one_worker() {
        assert!(threads().workers() >= 1);
    }
}
