use loadtest_runtime::prelude::*;

#[load_test(users = 5)]
async fn browse(_ctx: &Ctx, _user: u64) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
