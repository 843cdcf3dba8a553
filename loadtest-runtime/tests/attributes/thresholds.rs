//! Thresholds of every rule kind, and abort_on_fail. (Smoke runs clear thresholds.)
use loadtest_runtime::prelude::*;

#[load_test(
    users = 10,
    duration = "1m",
    thresholds = [
        "p99 < 250ms",
        "p95(home) < 100ms",
        "p99.9 <= 1s",
        "p50 < 20ms",
        "mean < 50ms",
        "min >= 0ms",
        "max < 2s",
        "error_rate < 1%",
        "error_rate(checkout) <= 0.05",
        "rps > 400",
        "iterations >= 1000",
        "requests > 10_000",
        "dropped == 0",
        "late != 5",
        "failed < 3",
    ],
    abort_on_fail = true,
)]
async fn many_rules(ctx: &Ctx) -> Result<()> {
    ctx.record("home", Duration::from_millis(1));
    Ok(())
}

#[load_test(rate = "50/s", duration = "5s", thresholds = ["dropped == 0"], abort_on_fail = false)]
async fn open_model_rule(_ctx: &Ctx) -> Result<()> {
    Ok(())
}
