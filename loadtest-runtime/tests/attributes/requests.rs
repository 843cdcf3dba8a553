//! Request options: rate_limit, retries, backoff, retry_on, timeout, iteration_timeout.
use loadtest_runtime::prelude::*;

#[load_test(
    users = 20,
    duration = "10s",
    rate_limit = "1000/s",
    retries = 3,
    backoff = "100ms..5s",
    retry_on = ["connect", "timeout", "5xx", "429"],
    timeout = "10s",
    iteration_timeout = "30s",
)]
async fn all_request_options(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(retries = 0, backoff = "250ms", retry_on = ["4xx", "503"], rate_limit = "60/m")]
async fn single_backoff_and_codes(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

#[load_test(retry_on = [], timeout = "500ms", iteration_timeout = "1m")]
async fn no_retries_short_timeout(_ctx: &Ctx) -> Result<()> {
    Ok(())
}
