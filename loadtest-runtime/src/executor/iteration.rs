//! One iteration: run the function with panics caught and the iteration timeout applied, stop it
//! if the test is cut short, and record its latency and outcome.

use super::stop::Watcher;
use crate::Ctx;
use crate::metrics::{IterationClass, Metrics};
use crate::registry::IterationFuture;
use futures_util::FutureExt;
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

/// Iterations starting later than this after their intended start are counted as late.
pub(crate) const LATE_AFTER: Duration = Duration::from_millis(10);

pub(crate) type RunFn = for<'a> fn(&'a Ctx) -> IterationFuture<'a>;

/// How an iteration ended.
pub(crate) enum Outcome {
    Ok,
    Failed(IterationClass, String),
    Interrupted,
}

/// Runs one iteration to its end, its timeout, or the hard stop (`hard`: the calling task's
/// watcher of it).
pub(crate) async fn run_once(
    run: RunFn,
    ctx: &Ctx,
    timeout: Option<Duration>,
    hard: &Watcher,
) -> Outcome {
    let guarded = AssertUnwindSafe(run(ctx)).catch_unwind();
    let timed = async {
        match timeout {
            Some(t) => tokio::time::timeout(t, guarded).await.ok(),
            None => Some(guarded.await),
        }
    };
    let mut timed = std::pin::pin!(timed);
    let ended = std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = timed.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        hard.register(cx.waker());
        if hard.is_stopped() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await;
    match ended {
        None => Outcome::Interrupted,
        Some(None) => Outcome::Failed(
            IterationClass::Timeout,
            format!(
                "iteration exceeded iteration_timeout of {}",
                crate::grammar::format_duration(timeout.unwrap_or_default())
            ),
        ),
        Some(Some(Ok(Ok(())))) => Outcome::Ok,
        Some(Some(Ok(Err(e)))) => Outcome::Failed(IterationClass::User, e.0),
        Some(Some(Err(payload))) => Outcome::Failed(
            IterationClass::Panic,
            format!("panicked: {}", panic_message(&*payload)),
        ),
    }
}

/// Records an iteration that was meant to start at `intended` and ends now. In the open model
/// `actual` is when it really started: its uncorrected latency is recorded too, and its lag
/// unless `lag_judged` is false (an iteration meant to start during the health warm-up). A
/// closed-model iteration (`None`) starts when its user is ready, so it has neither.
///
/// Returns the end time it read, so a closed-model user with no think time can start its next
/// iteration at it without reading the clock again.
pub(crate) fn record(
    metrics: &Metrics,
    intended: Instant,
    actual: Option<Instant>,
    lag_judged: bool,
    outcome: Outcome,
    secrets: &crate::redact::Secrets,
) -> Instant {
    let end = Instant::now();
    let corrected = end.duration_since(intended).as_micros() as u64;
    let uncorrected = actual.map(|a| end.duration_since(a).as_micros() as u64);
    metrics.with(|s| {
        if let Some(actual) = actual.filter(|_| lag_judged) {
            let lag = actual.duration_since(intended);
            crate::metrics::hdr::record(&mut s.lag, lag.as_micros() as u64);
            crate::metrics::hdr::record(&mut s.interval.lag, lag.as_micros() as u64);
            if lag > LATE_AFTER {
                s.late += 1;
            }
        }
        match outcome {
            Outcome::Ok => s.iteration(corrected, uncorrected, None),
            Outcome::Failed(class, message) => {
                s.iteration(corrected, uncorrected, Some(class));
                s.error(class.as_str(), secrets.scrub(&message));
            }
            Outcome::Interrupted => s.interrupted += 1,
        }
    });
    end
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}
