use loadtest_runtime::prelude::*;

#[load_test(rate = "500/day", duration = "1m")]
async fn browse(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
