//! What only the compiler can show about `#[load_test]`: misuse of the function's signature, and
//! where an error points (a bad value, the option that brought a conflict in), with the message
//! and span recorded in the `.stderr` files. Every accepted attribute form builds and smoke-runs
//! as `loadtest-runtime/tests/attributes`; the grammar's other failure messages are unit tests of
//! `loadtest-grammar` and of this crate's option parser.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p loadtest-macros --test ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
