//! Open model: rates per second and per minute, max_in_flight, both saturation policies.
use loadtest_runtime::prelude::*;

#[load_test(
    rate = "500/s",
    duration = "1m",
    max_in_flight = 200,
    on_saturation = "queue"
)]
async fn per_second_queue(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(
    rate = "30000/m",
    duration = "30s",
    max_in_flight = 50,
    on_saturation = "drop"
)]
async fn per_minute_drop(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(rate = "10/h", iterations = 5)]
async fn per_hour_defaults(_ctx: &Ctx) -> Result<()> {
    Ok(())
}
