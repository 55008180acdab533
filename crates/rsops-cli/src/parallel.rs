//! The binary's executor: the one place that decides how many threads the
//! libraries' work may use, and starts them.
//!
//! The libraries cut large jobs (parsing a large YAML document, decrypting
//! a large tree) into tasks and hand them to a
//! [`rsops_format::Parallelism`]; this module provides the thread-backed
//! one. Commands pass [`threads()`] where they call such a library
//! function.

use std::sync::{Mutex, OnceLock, PoisonError};

use rsops_format::parallel::{Parallelism, Task};

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
    fn the_process_executor_has_at_least_one_worker() {
        assert!(threads().workers() >= 1);
    }
}
