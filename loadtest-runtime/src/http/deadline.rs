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
//! the others use `tokio::time::timeout` as before.

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

/// Runs `fut` until `timeout` has passed since `start`; `None` when it timed out.
pub(crate) async fn within<F: Future>(
    timer: &UserTimer,
    start: Instant,
    timeout: Duration,
    fut: F,
) -> Option<F::Output> {
    let deadline = start + timeout;
    let Some(sleep) = timer.take() else {
        // The user's timer is busy with a concurrent request (or this is its first request and
        // it has none yet: make it, so the next request finds it).
        if timer.0.try_lock().is_ok_and(|slot| slot.is_none()) {
            let out = Within {
                fut: std::pin::pin!(fut),
                sleep: Some(Box::pin(tokio::time::sleep_until(deadline))),
                deadline,
            }
            .await;
            return finish(timer, out);
        }
        return tokio::time::timeout_at(deadline, fut).await.ok();
    };
    let out = Within {
        fut: std::pin::pin!(fut),
        sleep: Some(sleep),
        deadline,
    }
    .await;
    finish(timer, out)
}

fn finish<T>(timer: &UserTimer, (out, sleep): (Option<T>, Option<Pin<Box<Sleep>>>)) -> Option<T> {
    if let Some(s) = sleep {
        timer.put(s);
    }
    out
}

/// The future of one request under a shared timer: the output (or `None` on time-out) and the
/// timer, to give back.
struct Within<'f, F: Future> {
    fut: Pin<&'f mut F>,
    sleep: Option<Pin<Box<Sleep>>>,
    deadline: Instant,
}

impl<F: Future> Future for Within<'_, F> {
    type Output = (Option<F::Output>, Option<Pin<Box<Sleep>>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(v) = this.fut.as_mut().poll(cx) {
            return Poll::Ready((Some(v), this.sleep.take()));
        }
        let sleep = this.sleep.as_mut().expect("polled after it finished");
        // Armed later than this request's deadline (a timer made for a longer timeout): bring it
        // forward. Armed earlier: it serves as it is.
        if sleep.deadline() > this.deadline {
            sleep.as_mut().reset(this.deadline);
        }
        loop {
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if Instant::now() >= this.deadline => {
                    return Poll::Ready((None, this.sleep.take()));
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

    #[tokio::test(start_paused = true)]
    async fn requests_finish_or_time_out_at_their_own_deadline() {
        let timer = UserTimer::default();
        let timeout = Duration::from_secs(30);
        // Quick requests one after another: each finishes, the timer stays with the user.
        for _ in 0..3 {
            let out = within(&timer, Instant::now(), timeout, async { 7 }).await;
            assert_eq!(out, Some(7));
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert!(timer.0.lock().unwrap().is_some(), "the timer is kept");
        // A request that never answers times out at its own deadline, not the timer's.
        let start = Instant::now();
        let out = within(&timer, start, timeout, std::future::pending::<()>()).await;
        assert_eq!(out, None);
        assert_eq!(Instant::now() - start, timeout);
        // A shorter timeout brings the armed timer forward.
        let start = Instant::now();
        let short = Duration::from_millis(5);
        let out = within(&timer, start, short, std::future::pending::<()>()).await;
        assert_eq!((out, Instant::now() - start), (None, short));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_each_keep_their_timeout() {
        let timer = UserTimer::default();
        let timeout = Duration::from_secs(1);
        let start = Instant::now();
        let slow = within(&timer, start, timeout, std::future::pending::<()>());
        let quick = within(&timer, start, timeout, async {
            tokio::time::sleep(Duration::from_millis(10)).await;
        });
        let (slow, quick) = tokio::join!(slow, quick);
        assert_eq!((slow, quick), (None, Some(())));
        assert_eq!(Instant::now() - start, timeout);
    }
}
