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
use std::sync::atomic::{AtomicUsize, Ordering};
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
/// iterations (until `hard` cancels them). With several workers, each runs a schedule of its own
/// with its share of the rate, of `max_in_flight` and of `iterations`, shifted so that the
/// workers' starts interleave.
pub(crate) async fn run(
    test: Arc<TestShared>,
    run: RunFn,
    plan: OpenPlan,
    soft: Arc<Stop>,
    hard: Arc<Stop>,
) {
    let n = super::workers::count();
    if n == 1 {
        let share = Share {
            index: 0,
            of: 1,
            schedules_left: Arc::new(AtomicUsize::new(1)),
        };
        return run_share(test, run, plan, share, soft, hard).await;
    }
    let start = Instant::now();
    let peak = plan.rate.peak();
    let schedules_left = Arc::new(AtomicUsize::new(n));
    let mut shares = Vec::with_capacity(n);
    for index in 0..n {
        let of = n as u64;
        let i = index as u64;
        let share = OpenPlan {
            rate: plan.rate.scaled(1.0 / n as f64),
            max_in_flight: plan.max_in_flight.div_ceil(of).max(1),
            on_saturation: plan.on_saturation,
            duration: plan.duration,
            iterations: plan.iterations.map(|k| k / of + u64::from(i < k % of)),
            iteration_timeout: plan.iteration_timeout,
        };
        let (test, soft, hard) = (test.clone(), soft.clone(), hard.clone());
        let share_of = Share {
            index,
            of: n,
            schedules_left: schedules_left.clone(),
        };
        let shift = if peak > 0.0 { i as f64 / peak } else { 0.0 };
        shares.push(super::workers::spawn(index, async move {
            tokio::time::sleep_until(start + Duration::from_secs_f64(shift)).await;
            run_share(test, run, share, share_of, soft, hard).await
        }));
    }
    for s in shares {
        let _ = s.await;
    }
}

/// Which share of the arrivals a schedule runs: iteration `k` of share `index` is the test's
/// iteration `k * of + index`.
struct Share {
    index: usize,
    of: usize,
    /// Schedules still starting iterations: the last to end sets the soft stop, which starts
    /// the grace period of the iterations still in flight.
    schedules_left: Arc<AtomicUsize>,
}

async fn run_share(
    test: Arc<TestShared>,
    run: RunFn,
    plan: OpenPlan,
    share: Share,
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
        let lag_judged = intended >= start + test.health_warm_up;
        let global_k = k * share.of as u64 + share.index as u64;
        tokio::spawn(async move {
            let ctx = Ctx::for_iteration(test.clone(), global_k);
            let outcome = run_once(run, &ctx, timeout, &hard).await;
            record(
                &test.metrics,
                intended,
                Some(actual),
                lag_judged,
                outcome,
                test.secrets,
            );
            drop(permit);
        });
        k += 1;
    }
    if share.schedules_left.fetch_sub(1, Ordering::AcqRel) == 1 {
        soft.stop();
    }
    let n = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(n).await;
}
