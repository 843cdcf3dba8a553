//! Ramping stages: user counts (closed model) and rates (open model).
use loadtest_runtime::prelude::*;

#[load_test(stages = ["30s:50", "1m:50", "10s:0"])]
async fn user_stages(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(users = 10, stages = ["10s:10", "20s:100"], think_time = "10ms..20ms")]
async fn user_stages_with_users(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(stages = ["30s:500/s", "1m:500/s", "10s:0/s"], max_in_flight = 100, on_saturation = "drop")]
async fn rate_stages(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(rate = "100/s", stages = ["10s:100/s", "10s:6000/m"])]
async fn rate_stages_with_rate(_ctx: &Ctx) -> Result<()> {
    Ok(())
}
