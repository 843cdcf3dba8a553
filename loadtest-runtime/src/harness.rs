//! The harness binary's `main`: libtest-compatible listing and smoke runs for `cargo test` and
//! nextest, and the machine interface (see [`crate::protocol`]) for `cargo loadtest`.

mod args;
mod hooks;
mod machine;
mod runtime;
mod smoke;

pub use hooks::Hooks;
pub use runtime::{WORKER_THREADS_VAR, worker_threads};

use crate::registry::{self, LoadTestDef};
use args::{Args, Mode};
use std::sync::{Mutex, OnceLock};

static CONFIGURED_BASE_URL: OnceLock<Option<String>> = OnceLock::new();
static DEFAULT_BASE_URL: Mutex<Option<String>> = Mutex::new(None);
static EXTRA_ARGS: OnceLock<Vec<String>> = OnceLock::new();

/// The arguments given after `--` (`cargo loadtest -- ARGS`), for tests that read their own.
pub fn harness_args() -> &'static [String] {
    EXTRA_ARGS.get().map_or(&[], Vec::as_slice)
}

/// The target given for the whole run (`--target` or `LOADTEST_TARGET`), as the setup hook sees it.
pub fn configured_target() -> Option<String> {
    CONFIGURED_BASE_URL.get().cloned().flatten()
}

/// Sets the target used by tests that configure none (for a setup hook that starts a server).
pub fn set_default_target(url: impl Into<String>) {
    *DEFAULT_BASE_URL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(url.into());
}

pub(crate) fn default_base_url() -> Option<String> {
    DEFAULT_BASE_URL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Runs the harness and exits the process with its exit code.
pub fn run_main(hooks: Hooks) -> ! {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("error: {msg}");
            std::process::exit(2);
        }
    };
    let _ = EXTRA_ARGS.set(args.extra.clone());
    let tests = registry::all();
    let code = match args.mode {
        Mode::List => {
            list_libtest(&args, &tests);
            0
        }
        Mode::ListJson => machine::list(&tests),
        Mode::Protocol => machine::run(hooks, &tests),
        Mode::Smoke => smoke::run(hooks, &args, &tests),
        Mode::Bench => 0,
    };
    std::process::exit(code)
}

fn list_libtest(args: &Args, tests: &[&'static LoadTestDef]) {
    // No load test is ignored, so listing the ignored ones lists nothing.
    if args.ignored {
        return;
    }
    let selected: Vec<String> = tests
        .iter()
        .map(|d| d.full_name())
        .filter(|n| args.selects(n))
        .collect();
    for name in &selected {
        println!("{name}: test");
    }
    if !args.terse {
        println!("\n{} tests, 0 benchmarks", selected.len());
    }
}
