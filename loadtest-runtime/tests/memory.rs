//! Resident memory per idle virtual user, and how long it takes to start them all.
//!
//! Each test runs the closed-model load test `idle` with N users whose think time is an hour:
//! every user runs one (empty) iteration, then sleeps until the test ends. While they all sleep,
//! the process's resident memory is sampled; the growth over the resident memory before the run,
//! divided by N, is what one idle user costs (its task, its `Ctx`, its timer entry, and its share
//! of whatever the allocator keeps).
//!
//! These are measurements, not checks: they only assert that every user started. They are
//! `#[ignore]`d, and numbers are only meaningful for one test per process (a fresh RSS), in
//! release mode:
//!
//! ```text
//! cargo test --release -p loadtest-runtime --test memory -- --ignored --exact --nocapture idle_users_10k
//! bench/memory.sh    # each N in its own process, as a table
//! ```

use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::metrics::current_rss;
use loadtest_runtime::prelude::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Users that have finished their first iteration.
static STARTED: AtomicU64 = AtomicU64::new(0);
/// The number of users of the current measurement.
static USERS: AtomicU64 = AtomicU64::new(0);
/// When the current measurement called `run_registered`, as nanoseconds since [`epoch`].
static RUN_START_NS: AtomicU64 = AtomicU64::new(0);
/// When the last user finished its first iteration, as nanoseconds since [`epoch`].
static ALL_STARTED_NS: AtomicU64 = AtomicU64::new(0);

/// One measurement at a time (libtest runs tests on parallel threads), and a note when one has
/// already run in this process (its freed memory makes the next one's figure smaller).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
static MEASURED_BEFORE: AtomicBool = AtomicBool::new(false);

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Every user runs one empty iteration, notes that it started, then thinks for an hour (the
/// test's duration ends long before).
#[load_test(users = 1, think_time = "1h", duration = "5s")]
async fn idle(ctx: &Ctx) -> Result<()> {
    if ctx.iteration() == 0 {
        let n = STARTED.fetch_add(1, Ordering::AcqRel) + 1;
        if n == USERS.load(Ordering::Acquire) {
            ALL_STARTED_NS.store(now_ns(), Ordering::Release);
        }
    }
    Ok(())
}

/// What one measurement found.
struct Measurement {
    users: u64,
    rss_before: u64,
    rss_idle: u64,
    all_started_s: Option<f64>,
}

impl Measurement {
    fn bytes_per_user(&self) -> f64 {
        self.rss_idle.saturating_sub(self.rss_before) as f64 / self.users as f64
    }
}

/// Polls RSS every 100 ms once every user has started, until two readings 500 ms apart differ
/// by less than 1%, and returns the larger one. Gives up waiting for the users after `wait_s`.
async fn sample_idle_rss(users: u64, wait_s: f64) -> u64 {
    let give_up = Instant::now() + std::time::Duration::from_secs_f64(wait_s);
    while STARTED.load(Ordering::Acquire) < users && Instant::now() < give_up {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let rss = || current_rss().expect("RSS is readable from /proc on Linux");
    let mut last = rss();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = rss();
        let stable = now.abs_diff(last) * 100 < last;
        last = last.max(now);
        if stable || Instant::now() > give_up {
            return last;
        }
    }
}

/// Runs `idle` with `users` users for `duration` and measures.
fn measure(users: u64, duration: &str) -> Measurement {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if MEASURED_BEFORE.swap(true, Ordering::AcqRel) {
        eprintln!(
            "note: another measurement ran earlier in this process; run one test per process \
             (bench/memory.sh) for a clean figure"
        );
    }
    STARTED.store(0, Ordering::Release);
    USERS.store(users, Ordering::Release);
    ALL_STARTED_NS.store(0, Ordering::Release);

    // As the harness's `main!` builds it: multi-threaded, one worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let mut layer = OptionLayer::new("memory");
    layer.set_str("users", &users.to_string());
    layer.set_str("duration", duration);
    let layers = [layer];
    let duration_s = loadtest_runtime::grammar::parse_duration(duration)
        .expect("a valid duration")
        .as_secs_f64();

    let (result, rss_before, rss_idle) = rt.block_on(async {
        let rss_before = current_rss().expect("RSS is readable from /proc on Linux");
        // Sample while the users sleep, before the test's duration ends and wakes them.
        let sampler = tokio::spawn(sample_idle_rss(users, duration_s - 1.0));
        RUN_START_NS.store(now_ns(), Ordering::Release);
        let result = loadtest_runtime::run_registered("idle", &layers).await;
        let rss_idle = sampler.await.expect("the sampler does not panic");
        (result, rss_before, rss_idle)
    });
    let result = result.expect("the idle load test runs");
    drop(rt);

    let started = STARTED.load(Ordering::Acquire);
    assert_eq!(started, users, "every user runs its first iteration");
    assert_eq!(
        result.iterations.total, users,
        "every user runs exactly one iteration"
    );
    assert_eq!(result.iterations.failed, 0);
    let all = ALL_STARTED_NS.load(Ordering::Acquire);
    let begun = RUN_START_NS.load(Ordering::Acquire);
    let m = Measurement {
        users,
        rss_before,
        rss_idle,
        all_started_s: (all > 0).then(|| all.saturating_sub(begun) as f64 / 1e9),
    };
    report(&m);
    m
}

fn report(m: &Measurement) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{} idle users: RSS {:.1} MiB before, {:.1} MiB idle (+{:.1} MiB): {:.0} bytes/user; \
         all started after {}",
        m.users,
        mib(m.rss_before),
        mib(m.rss_idle),
        mib(m.rss_idle.saturating_sub(m.rss_before)),
        m.bytes_per_user(),
        m.all_started_s
            .map_or("(not measured)".to_string(), |s| format!("{s:.3} s")),
    );
    // One machine-readable line for bench/memory.sh.
    eprintln!(
        "MEMORY users={} rss_before={} rss_idle={} bytes_per_user={:.0} all_started_s={}",
        m.users,
        m.rss_before,
        m.rss_idle,
        m.bytes_per_user(),
        m.all_started_s
            .map_or("-".to_string(), |s| format!("{s:.3}")),
    );
}

#[test]
#[ignore = "a measurement: run in release, one test per process (bench/memory.sh)"]
fn idle_users_10k() {
    measure(10_000, "4s");
}

#[test]
#[ignore = "a measurement: run in release, one test per process (bench/memory.sh)"]
fn idle_users_100k() {
    measure(100_000, "6s");
}

#[test]
#[ignore = "a measurement: run in release, one test per process (bench/memory.sh)"]
fn idle_users_1m() {
    measure(1_000_000, "10s");
}
