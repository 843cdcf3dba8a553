//! The closed model: virtual users, each looping iteration -> think time, ramped by stages.
//!
//! A controller task follows the users ramp every 100 ms, spawning users as the target rises.
//! A user whose number is above the current target parks until the target rises again, so a ramp
//! down never cancels an iteration. Each idle user is one small task; nothing is allocated per
//! user beyond its future and its `Ctx`.

use super::Stop;
use super::iteration::{RunFn, record, run_once};
use crate::Ctx;
use crate::config::Ramp;
use crate::grammar::DurationRange;
use crate::shared::TestShared;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

/// What all users of a closed-model test share.
struct Users {
    test: Arc<TestShared>,
    run: RunFn,
    think: DurationRange,
    iteration_timeout: Option<Duration>,
    soft: Arc<Stop>,
    hard: Arc<Stop>,
    wanted: AtomicU64,
    wanted_changed: Notify,
    started: AtomicU64,
    limit: Option<u64>,
    exited: Semaphore,
    /// Wakes the controller when a user exits, so that a run bounded by `iterations` ends with
    /// its last iteration rather than at the controller's next tick.
    user_exited: Notify,
}

pub(crate) struct ClosedPlan {
    pub(crate) users: Ramp,
    pub(crate) think: DurationRange,
    pub(crate) duration: Option<Duration>,
    /// This process's iteration budget (its shard's, under `--shard`).
    pub(crate) iterations: Option<u64>,
    pub(crate) iteration_timeout: Option<Duration>,
    /// Under `--shard K/N`: `(K-1, N)`, this process runs the global users `K-1, K-1+N, ...`;
    /// `(0, 1)` otherwise.
    pub(crate) shard: (u64, u64),
    /// When the ramp starts: now, or (a shard joining in place, `join.rs`) the run's
    /// coordinated start: the users then are what the stages give at the join, and the test
    /// ends with the whole run's duration.
    pub(crate) origin: Instant,
}

/// Runs the closed model until the duration ends, the iteration budget is spent, or `soft` is
/// set; then waits for users to finish their iterations (until `hard` cancels them).
pub(crate) async fn run(
    test: Arc<TestShared>,
    run: RunFn,
    plan: ClosedPlan,
    soft: Arc<Stop>,
    hard: Arc<Stop>,
) {
    let users = Arc::new(Users {
        test,
        run,
        think: plan.think,
        iteration_timeout: plan.iteration_timeout,
        soft: soft.clone(),
        hard,
        wanted: AtomicU64::new(0),
        wanted_changed: Notify::new(),
        started: AtomicU64::new(0),
        limit: plan.iterations,
        exited: Semaphore::new(0),
        user_exited: Notify::new(),
    });
    let start = plan.origin;
    let end = plan.duration.map(|d| start + d);
    let mut spawned: u64 = 0;
    let constant = plan.users.end() == 0.0;
    loop {
        if soft.is_stopped() || end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        // This process's users among the global ones (all of them unless sharded), where the
        // ramp stands: from the origin, so a shard that joined late starts with the users of
        // the moment it joined.
        let want = super::join::users_at(&plan.users, plan.shard, start.elapsed().as_secs_f64());
        if users.wanted.swap(want, Ordering::AcqRel) != want {
            users.wanted_changed.notify_waiters();
        }
        while spawned < want {
            // Round-robin over the workers: each core runs its share of the users.
            let global_id = plan.shard.0 + spawned * plan.shard.1;
            super::workers::spawn(spawned as usize, user(users.clone(), spawned, global_id));
            spawned += 1;
        }
        let exited = users.exited.available_permits() as u64;
        users
            .test
            .gauges
            .set_users(want.min(spawned).saturating_sub(exited));
        if users.limit.is_some()
            && users.exited.available_permits() as u64 == spawned
            && spawned > 0
        {
            break; // every user has exited: the iteration budget is spent
        }
        let tick = if constant {
            Duration::from_millis(250)
        } else {
            Duration::from_millis(100)
        };
        let next = end.map_or(Instant::now() + tick, |e| e.min(Instant::now() + tick));
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = users.user_exited.notified() => {}
            _ = soft.wait() => break,
        }
    }
    soft.stop();
    users.test.gauges.set_users(0);
    users.wanted_changed.notify_waiters();
    let n = u32::try_from(spawned).unwrap_or(u32::MAX);
    let _ = users.exited.acquire_many(n).await;
}

/// User `id` of this process (global user `global_id`, what `ctx.user()` says).
async fn user(users: Arc<Users>, id: u64, global_id: u64) {
    let mut ctx = Ctx::new(users.test.clone(), global_id);
    let watcher = users.hard.watch();
    // When the next iteration starts: read from the clock after a wait, or the previous
    // iteration's end when it follows at once (one clock read per iteration instead of two).
    let mut next_start: Option<Instant> = None;
    loop {
        if users.soft.is_stopped() {
            break;
        }
        if id >= users.wanted.load(Ordering::Acquire) {
            let changed = users.wanted_changed.notified();
            if id >= users.wanted.load(Ordering::Acquire) && !users.soft.is_stopped() {
                changed.await;
            }
            next_start = None;
            continue;
        }
        if let Some(limit) = users.limit
            && users.started.fetch_add(1, Ordering::AcqRel) >= limit
        {
            break;
        }
        let start = next_start.take().unwrap_or_else(Instant::now);
        let outcome = run_once(users.run, &ctx, users.iteration_timeout, &watcher).await;
        let interrupted = matches!(outcome, super::iteration::Outcome::Interrupted);
        let end = record(
            &users.test.metrics,
            start,
            None,
            false,
            outcome,
            users.test.secrets,
        );
        if interrupted {
            break;
        }
        ctx.iteration += 1;
        ctx.trace = ctx.shared.trace.iteration();
        let pause = sample(users.think);
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = users.soft.wait() => break,
            }
        } else {
            // A test with no think time and no await point would starve the runtime. Spending
            // one unit of tokio's cooperative budget yields only when the budget runs out, so
            // a busy user gives way every 128 iterations instead of paying for a trip through
            // the scheduler (and the I/O driver's poll) after each one.
            let budget_left = tokio::task::coop::has_budget_remaining();
            tokio::task::coop::consume_budget().await;
            if budget_left {
                next_start = Some(end);
            }
        }
    }
    users.exited.add_permits(1);
    users.user_exited.notify_one();
}

fn sample(range: DurationRange) -> Duration {
    if range.max <= range.min {
        range.min
    } else {
        range.min + (range.max - range.min).mul_f64(fastrand::f64())
    }
}
