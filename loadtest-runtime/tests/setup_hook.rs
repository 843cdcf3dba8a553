//! A setup hook whose value tests read with `ctx.setup::<T>()`.
use loadtest_runtime::prelude::*;

struct Session {
    token: String,
    started: std::time::Instant,
}

async fn log_in() -> Result<Session> {
    Ok(Session {
        token: "secret-token".to_string(),
        started: std::time::Instant::now(),
    })
}

#[load_test(users = 5, duration = "10s")]
async fn uses_session(ctx: &Ctx) -> Result<()> {
    let session = ctx
        .setup::<Session>()
        .ok_or("the setup hook's Session is missing")?;
    if session.token != "secret-token" {
        return Err("wrong token".into());
    }
    ctx.record("since_setup", session.started.elapsed());
    if ctx.setup::<String>().is_some() {
        return Err("setup value downcast to the wrong type".into());
    }
    Ok(())
}

loadtest_runtime::main!(setup = log_in);
