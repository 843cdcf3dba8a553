//! A one-way stop signal that any number of tasks can check cheaply or wait on.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            flag: AtomicBool::new(false),
            notify: std::array::from_fn(|_| Notify::new()),
        }
    }
}

impl Stop {
    pub(crate) fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        for n in &self.notify {
            n.notify_waiters();
        }
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
    use std::sync::Arc;

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
