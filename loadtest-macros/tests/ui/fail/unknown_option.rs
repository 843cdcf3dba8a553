use loadtest_runtime::prelude::*;

#[load_test(users = 5, vus = 10)]
async fn browse(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
