//! Returning `Result<(), String>`, and string slices (borrowed from the context or static).
use loadtest_runtime::prelude::{Ctx, load_test};

#[load_test(users = 2, think_time = "1ms")]
async fn stringly(ctx: &Ctx) -> Result<(), String> {
    let n: u32 = "3".parse().map_err(|e| format!("not a number: {e}"))?;
    ctx.count("n", u64::from(n));
    Ok(())
}

#[load_test]
async fn borrowed(ctx: &Ctx) -> Result<(), &str> {
    if ctx.test_name().is_empty() {
        Err(ctx.test_name())
    } else {
        Ok(())
    }
}

#[load_test]
async fn static_str(_ctx: &Ctx) -> Result<(), &'static str> {
    Ok(())
}
