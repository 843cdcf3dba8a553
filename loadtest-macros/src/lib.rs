//! The `#[load_test]` attribute of cargo-loadtest.
//!
//! Use it through `loadtest-runtime`, which re-exports it and documents every option; this crate
//! only turns an annotated `async fn` into a registration entry, and rejects misuse at compile
//! time with an error at the offending span that lists what is accepted.
//!
//! Responsible for: turning the attribute into data (a registration entry); option values are
//! checked with `loadtest-grammar`. Must never depend on: the runtime (the expansion names it
//! through `loadtest_runtime::__private`), tokio or anything that does work at run time.

mod expand;
mod options;

use proc_macro::TokenStream;

/// Registers an `async fn(&Ctx) -> Result<(), E>` as a load test. See `loadtest_runtime::load_test`.
#[proc_macro_attribute]
pub fn load_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::load_test(attr.into(), item.into()).into()
}
