use loadtest_runtime::prelude::*;

#[load_test(users = 5)]
async fn browse(_ctx: &Ctx) -> u32 {
    200
}

loadtest_runtime::main!();
