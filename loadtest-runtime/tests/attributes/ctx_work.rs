//! Trivial non-HTTP work through the context: counters, custom latencies, per-user state, retry.
use loadtest_runtime::prelude::*;

#[derive(Default)]
struct Visits(u64);

#[load_test(users = 1, iterations = 3, retries = 2, backoff = "1ms..2ms")]
async fn local_work(ctx: &Ctx) -> Result<()> {
    ctx.count("work_items", 2);
    ctx.record("local_step", Duration::from_micros(150));
    let visits = ctx.with_state(|v: &mut Visits| {
        v.0 += 1;
        v.0
    });
    if visits == 0 || visits > 3 {
        return Err(format!("per-user state went wrong: {visits}").into());
    }
    let value: u32 = ctx
        .retry(|attempt| async move {
            if attempt < 1 {
                Err("first attempt fails")
            } else {
                Ok(7)
            }
        })
        .await?;
    assert_eq!(value, 7);
    Ok(())
}
