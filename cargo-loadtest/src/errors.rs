//! The one expected-error type of the command, mapped to documented exit codes.

use crate::compare::store_error::StoreError;
use crate::exit_code;
use crate::scale::archive_error::ArchiveError;

/// An error that ends the command with a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flag, option value, config file or manifest (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A flag's value the option grammar refused (exit 2): which flag, and the grammar's
    /// error, which names the value, what is wrong with it and what is accepted.
    #[error("{flag}: {error}")]
    FlagValue {
        /// The flag, as written on the command line (`--tolerance`, `--max-rate`).
        flag: String,
        /// Why the grammar refused its value.
        #[source]
        error: GrammarError,
    },
    /// A flag's value that is not what the flag takes, for flags whose values are not the
    /// option grammar's kinds (exit 2): `--window: invalid window "3"; expected ...`.
    #[error("{flag}: invalid {what} {value:?}; expected {accepted}")]
    FlagInvalid {
        /// The flag, as written on the command line (`--window`).
        flag: String,
        /// What the value is to the flag (`window`, `p-value`, `share`).
        what: &'static str,
        /// The value as given.
        value: String,
        /// What the flag accepts, with an example.
        accepted: &'static str,
    },
    /// A stored result (a baseline, its manifest, a report read back) that could not be read
    /// or saved (exit 2): which file or value, and what is accepted.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The archive `--archive-file` names cannot be written or read (exit 2).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
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
            CliError::Usage(_)
            | CliError::FlagValue { .. }
            | CliError::FlagInvalid { .. }
            | CliError::Store(_)
            | CliError::Archive(_)
            | CliError::Io { .. } => exit_code::USAGE,
            CliError::NoTests(_) => exit_code::NO_TESTS,
            CliError::Build(_) => exit_code::BUILD_FAILED,
            CliError::Interrupted => exit_code::INTERRUPTED,
        }
    }

    /// A usage error with `e`'s message (a grammar error, a workspace file error).
    pub fn usage(e: impl std::fmt::Display) -> CliError {
        CliError::Usage(e.to_string())
    }

    /// The grammar refused `flag`'s value, for `map_err`:
    /// `parse_duration(v).map_err(CliError::flag("--max-skew"))`.
    pub fn flag<E: Into<GrammarError>>(flag: impl Into<String>) -> impl FnOnce(E) -> CliError {
        let flag = flag.into();
        move |error| CliError::FlagValue {
            flag,
            error: error.into(),
        }
    }

    /// `flag`'s `value`, which is not the `what` it takes: `accepted` says what is.
    pub fn invalid(
        flag: impl Into<String>,
        what: &'static str,
        value: &str,
        accepted: &'static str,
    ) -> CliError {
        CliError::FlagInvalid {
            flag: flag.into(),
            what,
            value: value.into(),
            accepted,
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

/// What the option grammar says about a value it refuses.
#[derive(Debug, thiserror::Error)]
pub enum GrammarError {
    /// A value of a kind (a duration, a rate, a tolerance): the value, the problem, what is
    /// accepted.
    #[error(transparent)]
    Value(#[from] loadtest_grammar::ValueError),
    /// A value of a named option (`--trace-sample` is the `trace_sample` option).
    #[error(transparent)]
    Option(#[from] loadtest_grammar::OptionError),
}
