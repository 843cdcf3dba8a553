//! No options; visibility, doc comments, other attributes and modules are kept.
use loadtest_runtime::prelude::*;

/// The defaults: one user for ten seconds.
#[load_test]
pub async fn defaults(ctx: &Ctx) -> Result<()> {
    assert_eq!(ctx.test_name(), "no_options::defaults");
    Ok(())
}

#[load_test()]
#[allow(clippy::unused_async)]
async fn empty_parentheses(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

mod api {
    use loadtest_runtime::prelude::*;

    #[load_test(users = 2)]
    pub(crate) async fn checkout(ctx: &Ctx) -> Result<()> {
        assert_eq!(ctx.test_name(), "no_options::api::checkout");
        Ok(())
    }
}
