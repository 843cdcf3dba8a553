//! Returning a user-defined error enum that implements Display (and nothing else).
use loadtest_runtime::{Ctx, load_test};
use std::fmt;

enum CheckoutError {
    OutOfStock { sku: u32 },
    Rejected(String),
}

impl fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckoutError::OutOfStock { sku } => write!(f, "sku {sku} is out of stock"),
            CheckoutError::Rejected(why) => write!(f, "rejected: {why}"),
        }
    }
}

fn check(stock: u32, sku: u32) -> Result<(), CheckoutError> {
    match stock {
        0 => Err(CheckoutError::OutOfStock { sku }),
        s if s > 1_000 => Err(CheckoutError::Rejected("too many".into())),
        _ => Ok(()),
    }
}

#[load_test(rate = "5/s", iterations = 3)]
async fn checkout(ctx: &Ctx) -> Result<(), CheckoutError> {
    check(10, 7)?;
    ctx.count("checked_out", 1);
    Ok(())
}
