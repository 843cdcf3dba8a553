//! The runtime's errors: why a test could not be run, or a harness could not start or stop.
//! Each message is lowercase, names what failed and carries its cause.

use crate::config::ConfigError;

/// Why the runtime could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// [`crate::run_registered`] was given a name no test has.
    #[error("no load test named {0:?} is registered")]
    UnknownTest(String),
    /// The test's options do not make a valid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `LOADTEST_WORKER_THREADS` is not a number the runtime accepts.
    #[error(transparent)]
    WorkerThreads(#[from] loadtest_grammar::WorkerThreadsError),
    /// The tokio runtime could not be started.
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// The TLS configuration of the per-connection transports could not be built.
    #[error("cannot configure TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// A task that generates the load ended abnormally.
    #[error("the load generator task of `{test}` failed: {source}")]
    Generator {
        /// The test's name.
        test: String,
        /// What the task ended with.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The OTLP export of a test's metrics could not start: its configuration (endpoint,
    /// `OTEL_*` variables) is invalid, or the harness was built without the `otlp` feature.
    #[error("{0}")]
    Otlp(String),
    /// The setup hook returned an error (or its value had the wrong type).
    #[error("setup hook `{hook}` failed: {message}")]
    Setup {
        /// The hook's name as written in `main!`.
        hook: &'static str,
        /// The hook's own error, displayed.
        message: String,
    },
    /// The teardown hook returned an error.
    #[error("teardown hook `{hook}` failed: {message}")]
    Teardown {
        /// The hook's name as written in `main!`.
        hook: &'static str,
        /// The hook's own error, displayed.
        message: String,
    },
}
