use loadtest_runtime::prelude::*;

#[load_test(users = 50, duration = "1m", rate = "500/s")]
async fn browse(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
