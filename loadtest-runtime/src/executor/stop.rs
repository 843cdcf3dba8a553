//! A one-way stop signal that any number of tasks can check cheaply or wait on.

use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// Set once; never reset.
#[derive(Default)]
pub(crate) struct Stop {
    flag: AtomicBool,
    notify: Notify,
}

impl Stop {
    pub(crate) fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    #[inline]
    pub(crate) fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Resolves once stopped.
    pub(crate) async fn wait(&self) {
        // `notified()` registers for `notify_waiters` as soon as it is created, so checking the
        // flag after creating it cannot miss a stop.
        let notified = self.notify.notified();
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
}
