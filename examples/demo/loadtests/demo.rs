//! The README's demo: three load tests against the demo server, which the setup hook starts on
//! loopback unless a target is given (`cargo loadtest --target URL`).

use loadtest_demo_server::DemoServer;
use loadtest_runtime::prelude::*;

/// Closed model: 20 virtual users browse with a think time between pages.
#[load_test(users = 20, duration = "5s", think_time = "50ms..150ms",
            thresholds = ["p95 < 200ms"], tags = ["smoke"])]
async fn browse(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/"))
        .name("home")
        .send()
        .await?
        .error_for_status()?;
    let items = ctx
        .http()
        .get(ctx.url("/items"))
        .name("items")
        .send()
        .await?
        .error_for_status()?;
    ctx.count("item_bytes", items.body_len());
    Ok(())
}

/// Open model: 200 iterations per second whatever the latency, at most 100 in flight.
#[load_test(rate = "200/s", duration = "5s", max_in_flight = 100,
            thresholds = ["p99 < 250ms", "dropped == 0"])]
async fn arrivals(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/delay/5"))
        .name("delayed")
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Retries plus thresholds: the checkout endpoint fails once per order, and the retry absorbs it.
#[load_test(users = 5, duration = "5s", think_time = "20ms",
            retries = 3, backoff = "10ms..200ms",
            thresholds = ["error_rate < 1%", "p95(checkout) < 500ms"])]
async fn checkout(ctx: &Ctx) -> Result<()> {
    let order = format!("{}-{}", ctx.user(), ctx.iteration());
    ctx.http()
        .post(ctx.url(&format!("/flaky/1/{order}")))
        .name("checkout")
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Starts the demo server unless the run was given a target.
async fn start_demo() -> Result<Option<DemoServer>> {
    if loadtest_runtime::configured_target().is_some() {
        return Ok(None);
    }
    let server = DemoServer::start().await?;
    loadtest_runtime::set_default_target(server.url());
    Ok(Some(server))
}

loadtest_runtime::main!(setup = start_demo);
