//! One shard of a 10-minute open-model test with 11 request names: the report that
//! `bench/scale.sh merge` copies into 100, 1,000 and 10,000 synthetic shards. The setup hook
//! starts the demo server on loopback; every request goes there.

use loadtest_demo_server::DemoServer;
use loadtest_runtime::prelude::*;

/// The request names, as a shop's API might have them.
const NAMES: [&str; 11] = [
    "home", "items", "item", "search", "cart", "add", "remove", "checkout", "pay", "profile",
    "logout",
];

/// 30 arrivals a second for 10 minutes, each one request under one of the 11 names in turn.
#[load_test(rate = "30/s", duration = "10m", max_in_flight = 50, thresholds = ["p99 < 1s"])]
async fn shop(ctx: &Ctx) -> Result<()> {
    let name = NAMES[(ctx.iteration() % NAMES.len() as u64) as usize];
    ctx.http().get(ctx.url("/")).name(name).send().await?.error_for_status()?;
    Ok(())
}

/// Starts the demo server.
async fn start() -> Result<Option<DemoServer>> {
    let server = DemoServer::start().await?;
    loadtest_runtime::set_default_target(server.url());
    Ok(Some(server))
}

loadtest_runtime::main!(setup = start);
