use loadtest_runtime::prelude::*;

#[load_test(users = 5, thresholds = ["p99 < 250ms", "latency < 1s"])]
async fn browse(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
