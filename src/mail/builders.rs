//! The threads that build and sign copies. An RSA-2048 signature is a third of a millisecond of one core, and
//! every copy needs its own; so copies are built on a fixed set of threads, one per core, fed by all the
//! delivery workers. Each worker's SMTP dialogue then overlaps the signing of other copies, and the number
//! of threads (and of allocator heaps) stays bounded however many workers are configured, unlike tokio's
//! blocking pool, which would start one thread per waiting copy.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A handle on the build threads; the threads end when the last handle is dropped.
#[derive(Clone)]
pub struct CopyBuilders {
    jobs: Sender<Job>,
}

impl CopyBuilders {
    /// One thread per core the process may use.
    pub fn start() -> CopyBuilders {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        CopyBuilders::with_threads(threads)
    }

    pub fn with_threads(threads: usize) -> CopyBuilders {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("relais-build-{n}"))
                .spawn(move || run_jobs(&queue))
                .expect("a build thread starts");
        }
        CopyBuilders { jobs }
    }

    /// Queues `build` at once; its result is awaited later (`None` if it panicked).
    pub fn submit<T: Send + 'static>(
        &self,
        build: impl FnOnce() -> T + Send + 'static,
    ) -> Built<T> {
        let (result, receive) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic drops `result`, which the waiting worker sees; the thread goes on.
            if let Ok(value) = std::panic::catch_unwind(AssertUnwindSafe(build)) {
                let _ = result.send(value);
            }
        });
        // If the threads are gone, `result` is dropped with the job and the waiter sees `None`.
        let _ = self.jobs.send(job);
        Built { receive }
    }
}

/// The result of a queued build, to await.
pub struct Built<T> {
    receive: tokio::sync::oneshot::Receiver<T>,
}

impl<T> Built<T> {
    pub async fn wait(self) -> Option<T> {
        self.receive.await.ok()
    }
}

fn run_jobs(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_build_threads_and_a_panic_is_reported_not_fatal() {
        let builders = CopyBuilders::with_threads(2);
        let name = builders
            .submit(|| std::thread::current().name().map(str::to_owned))
            .wait()
            .await;
        assert!(name.flatten().unwrap().starts_with("relais-build-"));
        let panicked: Option<()> = builders.submit(|| panic!("boom")).wait().await;
        assert!(panicked.is_none());
        let results =
            futures::future::join_all((0..20).map(|n| builders.submit(move || n * 2).wait())).await;
        assert_eq!(results.into_iter().flatten().sum::<i32>(), 380);
    }
}
