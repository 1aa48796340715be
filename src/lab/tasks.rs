//! Stop signals and the count of live tasks, shared by the generators, the lossy link and the
//! [`Lab`](super::Lab).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A cancellation signal: fires when its sender says `true` or is dropped.
#[derive(Clone, Debug)]
pub struct Cancel(watch::Receiver<bool>);

impl Cancel {
    pub fn new() -> (watch::Sender<bool>, Cancel) {
        let (tx, rx) = watch::channel(false);
        (tx, Cancel(rx))
    }

    /// Resolves once cancelled (at once if it already is).
    pub async fn cancelled(&mut self) {
        let _ = self.0.wait_for(|c| *c).await;
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

/// Counts live tasks: one is counted from the moment it is wrapped by
/// [`tracked`](TaskCounter::tracked) until its future completes or is dropped (aborted, or its
/// runtime shut down).
#[derive(Clone, Debug, Default)]
pub struct TaskCounter(Arc<AtomicUsize>);

struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TaskCounter {
    pub fn live(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Wraps `f` so that it counts as live until it ends or is dropped.
    pub fn tracked<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.0.fetch_add(1, Ordering::SeqCst);
        let guard = LiveGuard(self.0.clone());
        async move {
            let _guard = guard;
            f.await
        }
    }

    /// Spawns `f` on `rt`, counted.
    pub fn spawn<F>(&self, rt: &Handle, f: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        rt.spawn(self.tracked(f))
    }
}
