use loadtest_runtime::prelude::*;

#[load_test(duration = "30s", users = 5, duration = "1m")]
async fn browse(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
