//! Tags and target; no HTTP is sent, the test only reads its configured target.
use loadtest_runtime::prelude::*;

#[load_test(tags = ["smoke", "api", "v1.2", "team:core", "read-only_path"], target = "http://127.0.0.1:8080")]
async fn tagged(ctx: &Ctx) -> Result<()> {
    if std::env::var_os("LOADTEST_TARGET").is_none()
        && ctx.target() != Some("http://127.0.0.1:8080")
    {
        return Err(format!("unexpected target {:?}", ctx.target()).into());
    }
    if ctx.url("/users") != format!("{}/users", ctx.target().unwrap_or_default()) {
        return Err("url() did not join onto the target".into());
    }
    Ok(())
}

#[load_test(tags = [], target = "https://example.invalid/base/")]
async fn https_target(_ctx: &Ctx) -> Result<()> {
    Ok(())
}
