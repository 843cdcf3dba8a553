use loadtest_runtime::prelude::*;

/// Not a function.
#[load_test(users = 5)]
#[derive(Debug)]
pub(crate) struct Browse {
    _users: u32,
}

loadtest_runtime::main!();
