//! How iterations end: panics and `iteration_timeout` fail the iteration, with their class, and
//! the run goes on to its planned end.

mod common;

use common::{brief, run, server};
use loadtest_runtime::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every other iteration (across both users) panics; the others make one request.
#[load_test(users = 2, iterations = 20)]
async fn half_panics(ctx: &Ctx) -> Result<()> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    if n.is_multiple_of(2) {
        panic!("deliberate panic in call {n}");
    }
    ctx.http()
        .get(ctx.url("/"))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_fail_iterations_and_the_run_goes_on() {
    let server = server().await;
    let r = run("half_panics", &server, &[]).await;
    let b = brief(&r);
    assert_eq!(
        r.iterations.total, 20,
        "the run completes its planned iterations; {b}"
    );
    assert_eq!(r.iterations.ok, 10, "{b}");
    assert_eq!(r.iterations.failed, 10, "{b}");
    assert_eq!(r.iterations.failed_by_class.get("panic"), Some(&10), "{b}");
    assert_eq!(server.requests(), 10, "{b}");
    assert!(
        r.errors
            .iter()
            .any(|e| e.class == "panic" && e.message.contains("deliberate panic")),
        "the panic message is reported; {b}"
    );
    assert!(!r.passed, "failed iterations spend the error budget; {b}");
    let budget = r
        .thresholds
        .iter()
        .find(|t| t.rule == "error budget")
        .expect("the implicit error budget is judged");
    assert!(!budget.passed);
    assert_eq!(budget.observed, Some(10.0));
}

#[load_test(users = 1, iterations = 3, iteration_timeout = "100ms")]
async fn too_slow(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/delay/1000"))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iteration_timeout_fails_the_iteration() {
    let server = server().await;
    let r = run("too_slow", &server, &[]).await;
    let b = brief(&r);
    let lat = r.iteration_latency.summary;
    assert_eq!(r.iterations.total, 3, "{b}");
    assert_eq!(r.iterations.ok, 0, "{b}");
    assert_eq!(r.iterations.failed_by_class.get("timeout"), Some(&3), "{b}");
    assert!(
        r.errors
            .iter()
            .any(|e| e.class == "timeout" && e.message.contains("iteration_timeout")),
        "{b}"
    );
    // Cut at 100 ms, well before the 1 s answer.
    assert!(lat.min_us >= 100_000, "{b}");
    assert!(lat.max_us < 900_000, "{b}");
    assert!(r.elapsed_s < 2.5, "three iterations of ~100 ms; {b}");
    assert!(!r.passed);
}

/// Iterations that take no time at all.
#[load_test(users = 2, iterations = 4)]
async fn instant(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

/// An iteration-bounded closed-model run ends when its last iteration does, so that its elapsed
/// time and rates describe the work. Under the paused clock the iterations take no time at all.
#[tokio::test(start_paused = true)]
async fn an_iteration_bounded_run_ends_with_its_last_iteration() {
    let r = common::run_layers("instant", &[], Duration::from_secs(60)).await;
    let b = brief(&r);
    assert_eq!(r.iterations.ok, 4, "{b}");
    assert!(
        r.elapsed_s < 0.05,
        "the run outlived its last iteration by {:.3}s of virtual time; {b}",
        r.elapsed_s
    );
}

/// Never ends: only the hard stop ends it.
#[load_test(users = 3, duration = "1s")]
async fn hangs(_ctx: &Ctx) -> Result<()> {
    std::future::pending::<()>().await;
    Ok(())
}

/// Never ends either, in the open model.
#[load_test(rate = "2/s", duration = "1s", max_in_flight = 10)]
async fn hangs_open(_ctx: &Ctx) -> Result<()> {
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_hard_stop_interrupts_iterations_that_never_end() {
    // The graceful stop lets in-flight iterations run 10 s past the planned end, then the hard
    // stop wakes each one through its task's watcher (virtual time: the clock is paused).
    let r = common::run_layers("hangs", &[], std::time::Duration::from_secs(120)).await;
    assert_eq!(r.iterations.interrupted, 3, "{}", brief(&r));
    assert!(
        (10.0..13.0).contains(&r.elapsed_s),
        "stopped at the end of the grace period: {}",
        brief(&r)
    );
    // The open model's slots too. Its sub-millisecond timer waits on the real clock, during
    // which the paused clock jumps ahead, so its virtual elapsed time is not its schedule's; what
    // holds is that both hung arrivals end interrupted after the grace period (without the
    // watchers' wake-up they would never end, and the 120 s bound would fail the test).
    let r = common::run_layers("hangs_open", &[], std::time::Duration::from_secs(120)).await;
    assert_eq!(r.iterations.interrupted, 2, "{}", brief(&r));
    assert!(r.elapsed_s >= 10.0, "{}", brief(&r));
}
