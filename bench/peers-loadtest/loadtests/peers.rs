//! The load tests of bench/peers.sh: a plain GET through `ctx.http()`, metrics on, against the
//! nginx the script starts on loopback (the target is given with --target).
use loadtest_runtime::prelude::*;

/// Full speed: 50 virtual users (50 keep-alive connections), no think time, as `wrk -c50`.
#[load_test(users = 50, duration = "10s")]
async fn full_speed(ctx: &Ctx) -> Result<()> {
    ctx.http().get(ctx.url("/")).send().await?.error_for_status()?;
    Ok(())
}

/// A fixed arrival rate (the script overrides it with --rate).
#[load_test(rate = "20000/s", duration = "10s", max_in_flight = 1000)]
async fn fixed_rate(ctx: &Ctx) -> Result<()> {
    ctx.http().get(ctx.url("/")).send().await?.error_for_status()?;
    Ok(())
}

loadtest_runtime::main!();
