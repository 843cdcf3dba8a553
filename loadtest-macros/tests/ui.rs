//! Compile-time behaviour of `#[load_test]`: accepted attributes build (and their smoke runs pass),
//! rejected ones fail with the message and span recorded in the `.stderr` files.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p loadtest-macros --test ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
