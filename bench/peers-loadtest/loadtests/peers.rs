//! The load tests of bench/peers.sh, bench/soak.sh, bench/connections.sh and bench/names.sh: a
//! plain GET through `ctx.http()`, metrics on, against the nginx the scripts start on loopback
//! (the target is given with --target).
use loadtest_runtime::prelude::*;

/// Full speed: 50 virtual users (50 keep-alive connections), no think time, as `wrk -c50`.
#[load_test(users = 50, duration = "10s")]
async fn full_speed(ctx: &Ctx) -> Result<()> {
    get_root(ctx).await
}

/// A fixed arrival rate (the script overrides it with --rate), at most 50 requests in flight: the
/// same 50 connections as `oha -c 50 -q RATE`.
#[load_test(rate = "20000/s", duration = "10s", max_in_flight = 50)]
async fn fixed_rate(ctx: &Ctx) -> Result<()> {
    get_root(ctx).await
}

/// The soak of bench/soak.sh: 10,000 requests a second for 10 minutes, at most 50 in flight.
#[load_test(rate = "10000/s", duration = "10m", max_in_flight = 50)]
async fn soak(ctx: &Ctx) -> Result<()> {
    get_root(ctx).await
}

/// bench/connections.sh: users that each open their connection with one request and then hold
/// it, ramped up over 20 s (the script sets the number through LOADTEST_STAGES and the source
/// addresses through LOADTEST_LOCAL_ADDRESSES).
#[load_test(stages = ["20s:70000", "20s:70000"], think_time = "1h")]
async fn hold(ctx: &Ctx) -> Result<()> {
    get_root(ctx).await
}

/// bench/names.sh: 10,000 iterations a second for 10 s, each with its own id in the URL
/// (`/items/{n}`): 100,000 distinct URLs, grouped by the default name into `GET /items/{id}`.
#[load_test(rate = "10000/s", duration = "10s", max_in_flight = 50)]
async fn distinct_ids(ctx: &Ctx) -> Result<()> {
    get_ok(ctx, &format!("/items/{}", ctx.iteration())).await
}

/// bench/names.sh: the same with URLs no template groups (`/items/x{n}`: a short word with
/// digits is no id), so names stop at the cap and the rest is counted under `(overflow)`.
#[load_test(rate = "10000/s", duration = "10s", max_in_flight = 50)]
async fn distinct_words(ctx: &Ctx) -> Result<()> {
    get_ok(ctx, &format!("/items/x{}", ctx.iteration())).await
}

/// bench/names.sh: the reference, one fixed URL at the same rate.
#[load_test(rate = "10000/s", duration = "10s", max_in_flight = 50)]
async fn fixed_url(ctx: &Ctx) -> Result<()> {
    get_ok(ctx, "/items/1").await
}

/// bench/names.sh: 5,000 request names kept (`max_names = 5000`), for the memory one name costs.
#[load_test(rate = "10000/s", duration = "10s", max_in_flight = 50, max_names = 5000)]
async fn many_names(ctx: &Ctx) -> Result<()> {
    get_ok(ctx, &format!("/items/x{}", ctx.iteration() % 5000)).await
}

/// bench/names.sh: 1,000,000 distinct URLs in 100 s (the script samples RSS as it runs).
#[load_test(rate = "10000/s", duration = "100s", max_in_flight = 50)]
async fn million_urls(ctx: &Ctx) -> Result<()> {
    get_ok(ctx, &format!("/items/x{}", ctx.iteration())).await
}

/// One GET of `path`, which must answer with a success status.
async fn get_ok(ctx: &Ctx, path: &str) -> Result<()> {
    ctx.http()
        .get(ctx.url(path))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// What every test here does: one GET of `/`, which must answer with a success status.
async fn get_root(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/"))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

loadtest_runtime::main!();
