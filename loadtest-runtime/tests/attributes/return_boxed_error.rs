//! Returning `Result<(), Box<dyn std::error::Error + Send + Sync>>`, spelled out.
use loadtest_runtime::Ctx;
use loadtest_runtime::load_test;

#[load_test(users = 3, duration = "5s")]
async fn boxed(ctx: &Ctx) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let n: u64 = "42".parse()?;
    ctx.count("parsed", n);
    Ok(())
}

#[load_test]
async fn boxed_std_result(
    _ctx: &Ctx,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
    Ok(())
}
