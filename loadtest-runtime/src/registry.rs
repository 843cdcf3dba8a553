//! Registration of load tests: the entries `#[load_test]` submits before `main`, collected with
//! `inventory`, and the glue types the expansion names.

use crate::Ctx;
use crate::config::OptionValue;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

/// The future of one iteration, boxed by the expansion.
pub type IterationFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), IterationError>> + Send + 'a>>;

/// A failed iteration's message (from the function's error's `Display`).
#[derive(Debug, Clone)]
pub struct IterationError(pub String);

/// Turns what a load test returns into an iteration outcome.
#[diagnostic::on_unimplemented(
    message = "a load test must return `Result<(), E>` where `E` implements `Display`, not `{Self}`",
    label = "expected `Result<(), E>`",
    note = "`anyhow::Result<()>`, `Result<(), Box<dyn std::error::Error + Send + Sync>>` and the prelude's `Result` all work"
)]
pub trait IntoOutcome {
    /// Converts the returned value.
    fn into_outcome(self) -> Result<(), IterationError>;
}

impl<E: Display> IntoOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), IterationError> {
        self.map_err(|e| IterationError(e.to_string()))
    }
}

/// One `#[load_test]` function, as registered by the macro.
pub struct LoadTestDef {
    /// The function's name.
    pub name: &'static str,
    /// `module_path!()` where it is defined.
    pub module_path: &'static str,
    /// `file!()` where it is defined.
    pub file: &'static str,
    /// `line!()` of the attribute.
    pub line: u32,
    /// The attribute's options, as written.
    pub options: &'static [(&'static str, OptionValue)],
    /// Runs one iteration.
    pub run: for<'a> fn(&'a Ctx) -> IterationFuture<'a>,
}

inventory::collect!(LoadTestDef);

impl LoadTestDef {
    /// The test's name as listed and filtered: the module path inside the target, then the
    /// function (`checkout`, or `api::checkout` for a function in module `api`).
    pub fn full_name(&self) -> String {
        match self.module_path.split_once("::") {
            Some((_, inner)) => format!("{inner}::{}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// Every registered load test of this binary, sorted by name.
pub fn all() -> Vec<&'static LoadTestDef> {
    let mut v: Vec<&'static LoadTestDef> = inventory::iter::<LoadTestDef>.into_iter().collect();
    v.sort_by_key(|d| d.full_name());
    v
}
