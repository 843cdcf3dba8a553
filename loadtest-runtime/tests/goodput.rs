//! Goodput (`slo`): successful iterations whose own latency met the objective, counted exactly on
//! tokio's paused clock (virtual time: an iteration that does not sleep takes no time, one that
//! sleeps 60 ms takes 60 ms), so no assertion depends on how fast the machine is.

mod common;

use common::{brief, run_layers};
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;

/// Iteration `i`: sleeps 60 ms when `i % 3 == 0` (slow, ok), fails at once when `i % 3 == 1`,
/// succeeds at once otherwise (fast, ok).
#[load_test(users = 1, iterations = 30, slo = "30ms", thresholds = ["failed == 10"])]
async fn mixed(ctx: &Ctx) -> Result<()> {
    match ctx.iteration() % 3 {
        0 => {
            ctx.think(Duration::from_millis(60)).await;
            Ok(())
        }
        1 => Err("failed on purpose".into()),
        _ => Ok(()),
    }
}

#[tokio::test(start_paused = true)]
async fn goodput_counts_the_successful_iterations_within_the_slo() {
    let r = run_layers(
        "mixed",
        &[OptionLayer::new("test")],
        Duration::from_secs(600),
    )
    .await;
    let b = brief(&r);
    assert_eq!(r.iterations.total, 30, "{b}");
    assert_eq!((r.iterations.ok, r.iterations.failed), (20, 10), "{b}");
    let g = r
        .iterations
        .goodput
        .expect("a test with an slo reports goodput");
    assert_eq!(g.slo_us, 30_000);
    assert_eq!(
        g.good, 10,
        "the fast successful iterations; the slow ones and the failed ones are not good; {b}"
    );
    assert!(
        (g.rate_per_s - g.good as f64 / r.elapsed_s).abs() < 1e-9,
        "{g:?} over {}s",
        r.elapsed_s
    );
}

/// The same iterations with an objective they all meet, set from an option layer (as
/// `loadtest.toml` or `LOADTEST_SLO` would): the slow ones are good too.
#[tokio::test(start_paused = true)]
async fn the_slo_is_an_option_like_any_other() {
    let mut layer = OptionLayer::new("test");
    layer.set_str("slo", "70ms");
    let r = run_layers("mixed", &[layer], Duration::from_secs(600)).await;
    let b = brief(&r);
    let g = r.iterations.goodput.expect("goodput");
    assert_eq!((g.slo_us, g.good), (70_000, 20), "{b}");
}

/// Without an `slo`, no goodput is reported.
#[load_test(users = 1, iterations = 3)]
async fn no_slo(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn without_an_slo_there_is_no_goodput() {
    let r = run_layers(
        "no_slo",
        &[OptionLayer::new("test")],
        Duration::from_secs(600),
    )
    .await;
    assert_eq!(r.iterations.ok, 3);
    assert_eq!(r.iterations.goodput, None);
}
