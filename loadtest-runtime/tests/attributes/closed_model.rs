//! Closed model: users, fixed and ranged think time, duration, iterations.
use loadtest_runtime::prelude::*;

#[load_test(users = 50, think_time = "50ms", duration = "30s")]
async fn fixed_think_time(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(users = 1_000, think_time = "50ms..150ms", duration = "1m30s")]
async fn ranged_think_time(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(users = 4, iterations = 200)]
async fn bounded_by_iterations(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(users = 2, iterations = 10, duration = "1.5s", think_time = "0s..1s")]
async fn iterations_and_duration(_ctx: &Ctx) -> Result<()> {
    Ok(())
}
