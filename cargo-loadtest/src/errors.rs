//! The one expected-error type of the command, mapped to documented exit codes.

use crate::exit_code;

/// An error that ends the command with a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flag, option value, config file or manifest (exit 2).
    #[error("{0}")]
    Usage(String),
    /// No load test matched (exit 4).
    #[error("{0}")]
    NoTests(String),
    /// The build failed (exit 101).
    #[error("{0}")]
    Build(String),
    /// Interrupted before anything ran (exit 130).
    #[error("interrupted before any load test ran; no report was written")]
    Interrupted,
    /// An I/O error while writing reports or talking to a process (exit 2: the environment is
    /// not usable as configured).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Io { .. } => exit_code::USAGE,
            CliError::NoTests(_) => exit_code::NO_TESTS,
            CliError::Build(_) => exit_code::BUILD_FAILED,
            CliError::Interrupted => exit_code::INTERRUPTED,
        }
    }

    /// A usage error with `e`'s message (a grammar error, a workspace file error).
    pub fn usage(e: impl std::fmt::Display) -> CliError {
        CliError::Usage(e.to_string())
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}
