//! The machine-readable contract of cargo-loadtest, shared by the harness runtime (which fills
//! it) and the `cargo loadtest` CLI (which reads, judges and writes it): the report types, the
//! harness's machine interface, histogram encoding, secret redaction, exit codes and the one
//! verdict.
//!
//! Responsible for: [`report`] (the JSON report's serde types, versioned by
//! [`report::SCHEMA_VERSION`]), [`class`] (how a request or an iteration ended), [`protocol`] (the harness's listing and event stream), [`hdr`]
//! (HdrHistogram encoding), [`exemplar`] (the slowest requests per name, with their trace ids), [`live`] (the fixed-bucket live metrics of progress events), [`redact`] (what never appears in a report), [`exit_code`] (the
//! documented exit codes) and [`verdict`] (the single owner of pass/fail).
//!
//! Must never depend on: tokio, an HTTP client, the runtime or the CLI. Installing
//! `cargo-loadtest` compiles this crate, so it stays small: serde, HdrHistogram, base64, flate2
//! (already in HdrHistogram's tree).

#![warn(missing_docs)]

pub mod class;
pub mod exemplar;
pub mod exit_code;
pub mod hdr;
pub mod live;
pub mod merge;
pub mod protocol;
pub mod redact;
pub mod report;
pub mod verdict;

pub use loadtest_grammar as grammar;
