//! A one-way stop signal that any number of tasks can check cheaply or wait on.
//!
//! Two ways to wait: [`Stop::wait`], a future for a task that waits for little else; and a
//! [`Watcher`], for a task that runs many iterations and must stop any of them promptly: it
//! registers once (for the task's life), and each poll only updates its waker, where a new
//! `wait()` per iteration took the waiters' lock when polled and again when dropped.

use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::Waker;
use tokio::sync::Notify;

/// Waiters are spread over this many lists, one per worker thread (round robin), so that a
/// million users going to sleep on several threads at once do not all queue on one lock.
const SHARDS: usize = 8;

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// Set once; never reset.
pub(crate) struct Stop {
    flag: AtomicBool,
    notify: [Notify; SHARDS],
    /// The watchers to wake when stopped (those whose task has ended are dead references).
    watchers: Mutex<Vec<Weak<AtomicWaker>>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            flag: AtomicBool::new(false),
            notify: std::array::from_fn(|_| Notify::new()),
            watchers: Mutex::new(Vec::new()),
        }
    }
}

/// A task's registration with a [`Stop`], made the first time the task has to wait for it and
/// kept for the task's life (a task that never waits, such as an idle virtual user whose
/// iterations end at once, never registers and costs nothing).
pub(crate) struct Watcher {
    stop: Arc<Stop>,
    cell: std::sync::OnceLock<Arc<AtomicWaker>>,
}

impl Watcher {
    /// Resolves once the stop is set: for `select!`.
    pub(crate) async fn stopped(&self) {
        std::future::poll_fn(|cx| {
            self.register(cx.waker());
            if self.is_stopped() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await
    }

    /// Asks to be woken through `waker` when the stop comes. Cheap when it is the same waker as
    /// last time. Check [`Stop::is_stopped`] after it, not before, so a stop is never missed.
    #[inline]
    pub(crate) fn register(&self, waker: &Waker) {
        self.cell.get_or_init(|| self.stop.enlist()).register(waker);
    }

    /// Whether the stop this watcher watches is set.
    #[inline]
    pub(crate) fn is_stopped(&self) -> bool {
        self.stop.is_stopped()
    }
}

impl Stop {
    pub(crate) fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        for n in &self.notify {
            n.notify_waiters();
        }
        let watchers =
            std::mem::take(&mut *self.watchers.lock().unwrap_or_else(PoisonError::into_inner));
        for w in watchers.iter().filter_map(Weak::upgrade) {
            w.wake();
        }
    }

    /// A watcher of this stop, for one task.
    pub(crate) fn watch(self: &Arc<Self>) -> Watcher {
        Watcher {
            stop: self.clone(),
            cell: std::sync::OnceLock::new(),
        }
    }

    /// Adds a waker cell to the list the stop wakes.
    fn enlist(&self) -> Arc<AtomicWaker> {
        let cell = Arc::new(AtomicWaker::new());
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        // Dead references are dropped as the list grows, so it stays as long as the live tasks.
        if watchers.len() >= 64 && watchers.len().is_power_of_two() {
            watchers.retain(|w| w.strong_count() > 0);
        }
        watchers.push(Arc::downgrade(&cell));
        cell
    }

    #[inline]
    pub(crate) fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Resolves once stopped.
    pub(crate) async fn wait(&self) {
        // `notified()` registers for `notify_waiters` as soon as it is created, so checking the
        // flag after creating it cannot miss a stop.
        let notified = self.notify[SHARD.with(|s| *s)].notified();
        if self.is_stopped() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_and_late_waiters_return_at_once() {
        let stop = Arc::new(Stop::default());
        let s = stop.clone();
        let waiter = tokio::spawn(async move { s.wait().await });
        tokio::task::yield_now().await;
        stop.stop();
        waiter.await.unwrap();
        stop.wait().await;
        assert!(stop.is_stopped());
    }

    #[tokio::test]
    async fn a_watcher_is_woken_by_the_stop_and_sees_it() {
        let stop = Arc::new(Stop::default());
        let s = stop.clone();
        let watched = tokio::spawn(async move {
            let watcher = s.watch();
            // Waits the way run_once does: register, then check.
            std::future::poll_fn(|cx| {
                watcher.register(cx.waker());
                if s.is_stopped() {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            })
            .await
        });
        tokio::task::yield_now().await;
        stop.stop();
        tokio::time::timeout(std::time::Duration::from_secs(30), watched)
            .await
            .expect("the watcher was woken")
            .unwrap();
    }

    #[test]
    fn waiters_on_every_thread_and_shard_wake() {
        let stop = Arc::new(Stop::default());
        let waiters: Vec<_> = (0..2 * SHARDS)
            .map(|_| {
                let s = stop.clone();
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(async move {
                            tokio::time::timeout(std::time::Duration::from_secs(30), s.wait())
                                .await
                                .is_ok()
                        })
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(50));
        stop.stop();
        for w in waiters {
            assert!(w.join().unwrap(), "a waiter was not woken by stop()");
        }
    }
}
