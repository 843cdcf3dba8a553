//! The end-to-end and report tests of cargo-loadtest, as one test binary (as nextest keeps its
//! `integration-tests/tests/integration/main.rs`): the fixtures and the `cargo-loadtest` binary
//! are built once for all of them, and the linker runs once.
//!
//! Each module is one area, named as its file: `e2e*` drive the real `cargo loadtest` binary
//! over fixture workspaces ([`support`]); `schema`, `snapshots`, `junit_xml` and `html_report`
//! render the deterministic synthetic report ([`common`]); `scaffold` and `scale_examples`
//! check generated and shipped files; `calibration` holds the gate's ignored calibration runs.
//! Run one area with a filter: `cargo test -p loadtest-e2e --test integration -- e2e_gate::`.

mod common;
mod support;

mod calibration;
mod e2e;
mod e2e_ab;
mod e2e_capacity;
mod e2e_dashboard;
mod e2e_faults;
mod e2e_first_hour;
mod e2e_gate;
mod e2e_grpc;
mod e2e_history;
mod e2e_interchange;
mod e2e_measure;
mod e2e_otlp;
mod e2e_scale;
mod e2e_sse;
mod e2e_traces;
mod e2e_watch;
mod e2e_ws;
mod html_report;
mod junit_xml;
mod scaffold;
mod scale_examples;
mod schema;
mod snapshots;
