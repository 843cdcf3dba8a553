use loadtest_runtime::prelude::*;

#[load_test(stages = ["30s:50", "1m", "10s:0"])]
async fn browse(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
