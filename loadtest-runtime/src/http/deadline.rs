//! The per-request timeout without a timer per request.
//!
//! `tokio::time::timeout` registers a timer entry in the runtime's wheel when the request first
//! waits, and removes it when the request ends: two trips through the timer driver's lock per
//! request, for a timeout that almost never fires. A [`Deadline`] keeps one timer per virtual user
//! (in its `Ctx`) and leaves it armed: a request only needs the timer to fire at or before its own
//! deadline, and deadlines only grow (each is the request's start plus the timeout), so the timer
//! armed by an earlier request serves every later one until it fires. When it fires, the request
//! in flight checks its own deadline and re-arms the timer for it. One re-arming per timeout
//! period per user instead of two timer operations per request.
//!
//! Requests of one user sent at once (`batch`) share nothing: the first takes the user's timer,
//! the others make a timer of their own, and the user keeps one of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// A user's reusable timer.
#[derive(Default)]
pub(crate) struct UserTimer(Mutex<Option<Pin<Box<Sleep>>>>);

impl UserTimer {
    fn take(&self) -> Option<Pin<Box<Sleep>>> {
        match self.0.try_lock() {
            Ok(mut slot) => slot.take(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().take(),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    fn put(&self, sleep: Pin<Box<Sleep>>) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(sleep);
        }
    }
}

/// Runs `fut` (pinned where its caller keeps it, so it is never moved) until `timeout` has
/// passed since `start`; `None` when it timed out.
pub(crate) fn within<'a, F: Future>(
    timer: &'a UserTimer,
    start: Instant,
    timeout: Duration,
    fut: Pin<&'a mut F>,
) -> Within<'a, F> {
    let deadline = start + timeout;
    // The user's timer, or (its first request, or one sent beside another) a timer of its own,
    // which is kept for the user's next request.
    let sleep = timer
        .take()
        .unwrap_or_else(|| Box::pin(tokio::time::sleep_until(deadline)));
    Within {
        fut,
        sleep: Some(sleep),
        timer,
        deadline,
    }
}

/// The future of one request under a user's timer, which it gives back when it ends (or is
/// dropped).
pub(crate) struct Within<'a, F: Future> {
    fut: Pin<&'a mut F>,
    sleep: Option<Pin<Box<Sleep>>>,
    timer: &'a UserTimer,
    deadline: Instant,
}

impl<F: Future> Within<'_, F> {
    fn give_back(&mut self) {
        if let Some(s) = self.sleep.take() {
            self.timer.put(s);
        }
    }
}

impl<F: Future> Drop for Within<'_, F> {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl<F: Future> Future for Within<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(v) = this.fut.as_mut().poll(cx) {
            this.give_back();
            return Poll::Ready(Some(v));
        }
        let Some(sleep) = this.sleep.as_mut() else {
            return Poll::Ready(None); // polled after it timed out
        };
        // Armed later than this request's deadline (a timer made for a longer timeout): bring it
        // forward. Armed earlier: it serves as it is.
        if sleep.deadline() > this.deadline {
            sleep.as_mut().reset(this.deadline);
        }
        loop {
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if Instant::now() >= this.deadline => {
                    this.give_back();
                    return Poll::Ready(None);
                }
                // It fired for an earlier request's deadline: re-armed for this one.
                Poll::Ready(()) => sleep.as_mut().reset(this.deadline),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;

    #[tokio::test(start_paused = true)]
    async fn requests_finish_or_time_out_at_their_own_deadline() {
        let timer = UserTimer::default();
        let timeout = Duration::from_secs(30);
        // Quick requests one after another: each finishes, the timer stays with the user.
        for _ in 0..3 {
            let out = within(&timer, Instant::now(), timeout, pin!(async { 7 })).await;
            assert_eq!(out, Some(7));
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert!(timer.0.lock().unwrap().is_some(), "the timer is kept");
        // A request that never answers times out at its own deadline, not the timer's.
        let start = Instant::now();
        let out = within(&timer, start, timeout, pin!(std::future::pending::<()>())).await;
        assert_eq!(out, None);
        assert_eq!(Instant::now() - start, timeout);
        // A shorter timeout brings the armed timer forward.
        let start = Instant::now();
        let short = Duration::from_millis(5);
        let out = within(&timer, start, short, pin!(std::future::pending::<()>())).await;
        assert_eq!((out, Instant::now() - start), (None, short));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_each_keep_their_timeout() {
        let timer = UserTimer::default();
        let timeout = Duration::from_secs(1);
        let start = Instant::now();
        let mut pending = pin!(std::future::pending::<()>());
        let mut sleeping = pin!(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
        });
        let slow = within(&timer, start, timeout, pending.as_mut());
        let quick = within(&timer, start, timeout, sleeping.as_mut());
        let (slow, quick) = tokio::join!(slow, quick);
        assert_eq!((slow, quick), (None, Some(())));
        assert_eq!(Instant::now() - start, timeout);
    }
}
