//! The `#[load_test]` attribute of cargo-loadtest.
//!
//! Use it through `loadtest-runtime`, which re-exports it and documents every option; this crate
//! only turns an annotated `async fn` into a registration entry, and rejects misuse at compile
//! time with an error at the offending span that lists what is accepted.

mod expand;
mod options;

use proc_macro::TokenStream;

/// Registers an `async fn(&Ctx) -> Result<(), E>` as a load test. See `loadtest_runtime::load_test`.
#[proc_macro_attribute]
pub fn load_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::load_test(attr.into(), item.into()).into()
}
