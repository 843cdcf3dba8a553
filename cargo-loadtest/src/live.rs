//! Watching a run while it happens.
//!
//! `--metrics-listen ADDR`: a live OpenMetrics / Prometheus endpoint at `/metrics` for the
//! whole invocation, fed by the harness sessions' progress events and the tests' final results.
//! [`state`] holds what is shown, [`exposition`] encodes it with `prometheus-client`, [`server`]
//! answers scrapers. The reporter that feeds it is `crate::reporter::MetricsEndpoint`.
//!
//! `--dashboard [ADDR]`: the HTML report, drawn live in a browser ([`dashboard`]); fed by
//! `crate::reporter::LiveDashboard`.

pub(crate) mod dashboard;
mod exemplars;
pub(crate) mod exposition;
pub(crate) mod server;
pub(crate) mod state;

pub(crate) use server::{MetricsServer, parse_listen};
