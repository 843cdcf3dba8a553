//! The open model: iterations start on a schedule (a constant or ramping arrival rate) whatever
//! the latency, with at most `max_in_flight` at once, run by long-lived slots (`slots.rs`)
//! rather than a task per arrival.
//!
//! When an iteration cannot start on time (the cap is reached, or the generator lags), it either
//! starts late with its latency measured from its intended start (`queue`, as wrk2), or, if the
//! cap is reached, is dropped and counted (`drop`, as k6). The schedule is computed, never
//! queued: owed starts cost no memory. Late and dropped starts are always counted.

use super::Stop;
use super::fine_timer::{FineTimer, MIN_WAKE_SPACING};
use super::iteration::RunFn;
use super::slots::{Hub, Schedule, Step};
use crate::config::{Arrivals, Ramp};
use crate::grammar::Saturation;
use crate::shared::TestShared;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
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
    /// When the schedule starts: now, or (a shard joining in place, `join.rs`) the run's
    /// coordinated start, `join` seconds ago.
    pub(crate) origin: Instant,
    /// Seconds into the schedule at which this process joins it (0 unless it started late):
    /// the arrivals intended before then are missed, not started.
    pub(crate) join: f64,
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
    let start = plan.origin;
    let (offset, count) = plan.shard;
    // A late join starts every share at its first arrival not before the join (once, here).
    let first = if plan.join > 0.0 {
        super::join::first_arrival_at(
            &plan.rate,
            plan.duration.map(|d| d.as_secs_f64()),
            plan.join,
        )
    } else {
        0
    };
    let schedules_left = Arc::new(AtomicUsize::new(n as usize));
    if n == 1 {
        let share = Share {
            offset: super::join::share_from(first, offset, count),
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
            origin: plan.origin,
            join: plan.join,
        };
        let (test, soft, hard) = (test.clone(), soft.clone(), hard.clone());
        let share_of = Share {
            offset: super::join::share_from(first, offset + count * w, count * n),
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

/// The dispatcher of one schedule: sleeps on the fine timer until the next arrival is due and
/// starts it in a slot (see `slots.rs`), which then runs the arrivals it finds due by itself.
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
        .max(1);
    let arrivals = Arrivals::strided(
        plan.rate,
        plan.duration.map(|d| d.as_secs_f64()),
        share.offset,
        share.stride,
    );
    let start = share.start;
    let schedule = Schedule {
        arrivals,
        start,
        budget: plan.iterations,
    };
    let hub = Hub::new(
        test.clone(),
        run,
        schedule,
        plan.iteration_timeout,
        soft.clone(),
        hard,
    );
    let drop_when_busy = plan.on_saturation == Saturation::Drop;
    // Registered once: a `soft.wait()` per arrival took the stop's lock twice.
    let stopping = soft.watch();
    let timer = FineTimer::new();
    let mut last_wake = start;
    loop {
        match hub.step(Instant::now(), cap, drop_when_busy) {
            Step::Started => {}
            Step::Dropped => test.metrics.with(|s| s.dropped += 1),
            Step::Busy => {
                tokio::select! {
                    _ = hub.slot_freed() => {}
                    _ = stopping.stopped() => break,
                }
            }
            Step::At(intended) => {
                // Starts closer together than the spacing are made together, from one wake-up.
                let wake = intended.max(last_wake + MIN_WAKE_SPACING);
                tokio::select! {
                    _ = timer.sleep_until(wake) => {}
                    _ = stopping.stopped() => break,
                }
                last_wake = Instant::now();
            }
            Step::End => break,
        }
    }
    hub.end();
    if share.schedules_left.fetch_sub(1, Ordering::AcqRel) == 1 {
        soft.stop();
    }
    hub.all_ended().await;
}
