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
    /// The whole test's iteration budget: the first `iterations` arrivals of its schedule.
    pub(crate) iterations: Option<u64>,
    pub(crate) iteration_timeout: Option<Duration>,
    /// Under `--shard K/N`: `(K-1, N)`, this process starts every N-th arrival from `K-1`;
    /// `(0, 1)` otherwise.
    pub(crate) shard: (u64, u64),
}

/// Runs the open model until the schedule ends or `soft` is set, then waits for in-flight
/// iterations (until `hard` cancels them). The process's arrivals (all, or its shard's: every
/// N-th from K-1) are dealt to the workers the same way: with `W` workers, worker `w` starts the
/// arrivals `K-1 + N*w`, `K-1 + N*(w+W)`, ... of the whole schedule, each at its own intended
/// time, so the workers together start exactly the process's arrivals, through ramps too.
/// `max_in_flight` is divided among the workers.
pub(crate) async fn run(
    test: Arc<TestShared>,
    run: RunFn,
    plan: OpenPlan,
    soft: Arc<Stop>,
    hard: Arc<Stop>,
) {
    let n = super::workers::count() as u64;
    let start = Instant::now();
    let (offset, count) = plan.shard;
    let schedules_left = Arc::new(AtomicUsize::new(n as usize));
    if n == 1 {
        let share = Share {
            offset,
            stride: count,
            start,
            schedules_left,
        };
        return run_share(test, run, plan, share, soft, hard).await;
    }
    let mut shares = Vec::with_capacity(n as usize);
    for w in 0..n {
        let share = OpenPlan {
            rate: plan.rate.clone(),
            max_in_flight: plan.max_in_flight.div_ceil(n).max(1),
            on_saturation: plan.on_saturation,
            duration: plan.duration,
            iterations: plan.iterations,
            iteration_timeout: plan.iteration_timeout,
            shard: plan.shard,
        };
        let (test, soft, hard) = (test.clone(), soft.clone(), hard.clone());
        let share_of = Share {
            offset: offset + count * w,
            stride: count * n,
            start,
            schedules_left: schedules_left.clone(),
        };
        shares.push(super::workers::spawn(w as usize, async move {
            run_share(test, run, share, share_of, soft, hard).await
        }));
    }
    for s in shares {
        let _ = s.await;
    }
}

/// Which arrivals a schedule starts: arrival `offset + j * stride` of the whole schedule, for
/// `j = 0, 1, ...`, timed from `start`.
struct Share {
    offset: u64,
    stride: u64,
    start: Instant,
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
    // Touched by this schedule's worker thread only: the iterations run on it too.
    let in_flight = test.gauges.in_flight_counter();
    let mut arrivals = Arrivals::strided(
        plan.rate,
        plan.duration.map(|d| d.as_secs_f64()),
        share.offset,
        share.stride,
    );
    let timer = FineTimer::new();
    let start = share.start;
    let mut last_wake = start;
    loop {
        let global_k = arrivals.next_index();
        if soft.is_stopped() || plan.iterations.is_some_and(|limit| global_k >= limit) {
            break;
        }
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
        let in_flight = in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
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
            in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    if share.schedules_left.fetch_sub(1, Ordering::AcqRel) == 1 {
        soft.stop();
    }
    let n = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(n).await;
}
