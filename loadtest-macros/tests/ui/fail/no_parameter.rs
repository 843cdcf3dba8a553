use loadtest_runtime::prelude::*;

#[load_test(users = 5)]
async fn browse() -> Result<()> {
    Ok(())
}

loadtest_runtime::main!();
