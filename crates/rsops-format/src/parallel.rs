//! The executor seam: how library code shares work between cores without
//! starting threads itself.
//!
//! The libraries (this crate's YAML parser, the core crate's decryption
//! walk) only *cut* work into independent tasks; whoever calls them decides
//! whether and how those tasks run at the same time, by passing a
//! [`Parallelism`]. The binary passes one backed by threads, sized to the
//! machine; tests, benchmarks and callers that want one core pass
//! [`Sequential`]. The results never depend on the executor: the code that
//! cuts the work joins the task results in a fixed order.
//!
//! The trait lives here because this is the lowest crate that splits work;
//! the core crate re-uses it.

/// One unit of work handed to an executor. It may borrow from the caller
/// (`'s`): [`Parallelism::run`] returns only once every task has finished.
pub type Task<'s> = Box<dyn FnOnce() + Send + 's>;

/// Runs independent tasks, possibly at the same time.
///
/// Contract for implementations: [`run`](Parallelism::run) runs every task
/// exactly once and returns after the last one has finished; a task that
/// panics makes `run` panic (tasks not started by then may be skipped, and
/// none is still running when `run` unwinds). Contract for
/// callers: tasks must not wait for one another (any of them may run on the
/// calling thread, in any order, or one after the other), and the result
/// must not depend on which ran where or when.
pub trait Parallelism: Sync {
    /// How many tasks can usefully run at the same time, the calling thread
    /// included (at least 1). Library code asks only once it knows that the
    /// work is large enough to be worth sharing, so an implementation may
    /// find the number out lazily.
    fn workers(&self) -> usize;

    /// Runs `tasks` and returns when all have finished.
    fn run(&self, tasks: Vec<Task<'_>>);
}

/// Runs every task in order on the calling thread; one worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl Parallelism for Sequential {
    fn workers(&self) -> usize {
        1
    }

    fn run(&self, tasks: Vec<Task<'_>>) {
        for task in tasks {
            task();
        }
    }
}

/// Runs tasks on `.0` scoped threads (the calling one included), each
/// taking the next task from a shared queue, as the binary's executor does.
/// For tests of code that cuts work (this crate's and the core crate's, with
/// the `test-executor` feature); real callers bring their own executor.
#[cfg(any(test, feature = "test-executor"))]
#[derive(Debug, Clone, Copy)]
pub struct TestThreads(pub usize);

#[cfg(any(test, feature = "test-executor"))]
impl Parallelism for TestThreads {
    fn workers(&self) -> usize {
        self.0
    }

    fn run(&self, tasks: Vec<Task<'_>>) {
        let queue = std::sync::Mutex::new(tasks.into_iter());
        let drain = || loop {
            let next = queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next();
            let Some(task) = next else { break };
            task();
        };
        std::thread::scope(|scope| {
            for _ in 1..self.0 {
                scope.spawn(drain);
            }
            drain();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_runs_every_task_in_order_on_this_thread() {
        let order = std::sync::Mutex::new(Vec::new());
        let here = std::thread::current().id();
        let tasks: Vec<Task<'_>> = (0..4)
            .map(|i| {
                let order = &order;
                Box::new(move || {
                    assert_eq!(std::thread::current().id(), here);
                    order.lock().unwrap().push(i);
                }) as Task<'_>
            })
            .collect();
        Sequential.run(tasks);
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
        assert_eq!(Sequential.workers(), 1);
    }
}
