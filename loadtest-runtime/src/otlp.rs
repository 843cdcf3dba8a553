//! OpenTelemetry export of a test's metrics over OTLP/HTTP (protobuf), asked for by the run
//! request ([`crate::protocol::RunRequest::otlp`], `cargo loadtest --otlp ENDPOINT`).
//!
//! Compiled only with the `otlp` feature, which `cargo loadtest` turns on when it exports; a
//! harness built without it refuses an export request with [`missing_feature`].
//!
//! The hot path is untouched: requests and iterations are recorded into the shards' HdrHistograms
//! as always. Once a second the collector hands the second's interval histograms and the counts
//! so far to this module's thread, which records them into the OpenTelemetry SDK's instruments
//! (base-2 exponential histograms), and every export interval collects and POSTs them with the
//! async reqwest client, on a current-thread tokio runtime of its own: the load's runtimes never
//! wait for the collector. The test's end records the last slice, exports once more and waits
//! for that export, so the receiver has the final numbers.
//!
//! What is exported (`loadtest.test` on every point, `loadtest.shard` on a shard's):
//!
//! | name | kind | unit | attributes |
//! | --- | --- | --- | --- |
//! | `http.client.request.duration` | exponential histogram | `s` | `loadtest.request.name`, `http.request.method` |
//! | `loadtest.iteration.duration` | exponential histogram | `s` | |
//! | `loadtest.requests` | counter | `{request}` | `loadtest.request.name`, `http.request.method`, `loadtest.request.class` |
//! | `loadtest.iterations` | counter | `{iteration}` | `loadtest.iteration.outcome` (`ok`, `failed`) |
//! | `loadtest.iterations.dropped` | counter | `{iteration}` | |
//! | `loadtest.iterations.late` | counter | `{iteration}` | |

#[cfg(feature = "otlp")]
mod export;

#[cfg(feature = "otlp")]
pub(crate) use export::TestExport;

/// Whether this harness can export over OTLP (built with the `otlp` feature).
pub(crate) const BUILT: bool = cfg!(feature = "otlp");

/// Why a harness built without the `otlp` feature cannot export, and how to fix it.
pub(crate) fn missing_feature() -> String {
    "this harness was built without loadtest-runtime's `otlp` feature, so it cannot export over OTLP (--otlp, OTEL_EXPORTER_OTLP_ENDPOINT): `cargo loadtest` builds it with `--features loadtest-runtime/otlp` when it exports; a harness built otherwise (an archive made without --otlp, a renamed dependency) needs `features = [\"otlp\"]` on its loadtest-runtime dependency".to_string()
}

/// The stand-in without the `otlp` feature: never started, since the harness refuses export
/// requests before any test runs.
#[cfg(not(feature = "otlp"))]
pub(crate) enum TestExport {}

#[cfg(not(feature = "otlp"))]
impl TestExport {
    /// Always fails: this harness cannot export.
    pub(crate) fn start(
        _settings: &crate::protocol::OtlpExport,
        _test: &str,
        _shard: Option<u32>,
    ) -> Result<TestExport, String> {
        Err(missing_feature())
    }

    /// Unreachable: no value of this type exists.
    pub(crate) fn tick(
        &self,
        _interval: &crate::metrics::Interval,
        _metrics: &crate::metrics::Metrics,
    ) {
        match *self {}
    }

    /// Unreachable: no value of this type exists.
    pub(crate) async fn finish(
        self,
        _interval: &crate::metrics::Interval,
        _metrics: &crate::metrics::Metrics,
    ) -> Option<String> {
        match self {}
    }
}
