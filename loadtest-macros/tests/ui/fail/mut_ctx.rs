use loadtest_runtime::prelude::*;

#[load_test(users = 5)]
async fn browse(_ctx: &mut Ctx) -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
