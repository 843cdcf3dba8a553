//! The open model: iterations start on a schedule (a constant or ramping arrival rate) whatever
//! the latency, with at most `max_in_flight` at once.
//!
//! When an iteration cannot start on time (the cap is reached, or the generator lags), it either
//! starts late with its latency measured from its intended start (`queue`, as wrk2), or, if the
//! cap is reached, is dropped and counted (`drop`, as k6). The schedule is computed, never
//! queued: owed starts cost no memory. Late and dropped starts are always counted.

use super::Stop;
use super::fine_timer::{FineTimer, MIN_WAKE_SPACING};
use super::iteration::{RunFn, record, run_once};
use crate::Ctx;
use crate::config::{Arrivals, Ramp};
use crate::ctx::TestShared;
use crate::grammar::Saturation;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub(crate) struct OpenPlan {
    pub(crate) rate: Ramp,
    pub(crate) max_in_flight: u64,
    pub(crate) on_saturation: Saturation,
    pub(crate) duration: Option<Duration>,
    pub(crate) iterations: Option<u64>,
    pub(crate) iteration_timeout: Option<Duration>,
}

/// Runs the open model until the schedule ends or `soft` is set, then waits for in-flight
/// iterations (until `hard` cancels them).
pub(crate) async fn run(
    test: Arc<TestShared>,
    run: RunFn,
    plan: OpenPlan,
    soft: Arc<Stop>,
    hard: Arc<Stop>,
) {
    let cap = usize::try_from(plan.max_in_flight)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
        .min(u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(cap));
    let mut arrivals = Arrivals::new(plan.rate, plan.duration.map(|d| d.as_secs_f64()));
    let timer = FineTimer::new();
    let start = Instant::now();
    let mut last_wake = start;
    let mut k: u64 = 0;
    while !soft.is_stopped() && plan.iterations.is_none_or(|limit| k < limit) {
        let Some(offset) = arrivals.next_offset() else {
            break;
        };
        let intended = start + Duration::from_secs_f64(offset);
        if intended > Instant::now() {
            // Starts closer together than the spacing are made together, from one wake-up.
            let wake = intended.max(last_wake + MIN_WAKE_SPACING);
            tokio::select! {
                _ = timer.sleep_until(wake) => {}
                _ = soft.wait() => break,
            }
            last_wake = Instant::now();
        }
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) if plan.on_saturation == Saturation::Drop => {
                test.metrics.with(|s| s.dropped += 1);
                k += 1;
                continue;
            }
            Err(_) => tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                _ = soft.wait() => break,
            },
        };
        let actual = Instant::now();
        let test = test.clone();
        let hard = hard.clone();
        let timeout = plan.iteration_timeout;
        tokio::spawn(async move {
            let ctx = Ctx::for_iteration(test.clone(), k);
            let outcome = run_once(run, &ctx, timeout, &hard).await;
            record(&test.metrics, intended, Some(actual), outcome, test.secrets);
            drop(permit);
        });
        k += 1;
    }
    soft.stop();
    let n = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(n).await;
}
