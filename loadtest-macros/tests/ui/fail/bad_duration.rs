use loadtest_runtime::prelude::*;

#[load_test(users = 5, duration = "30")]
async fn browse(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
