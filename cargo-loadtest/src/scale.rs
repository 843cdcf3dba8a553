//! Scale-out: one load test run as N independent shards inside engines users already operate
//! (Kubernetes Indexed Jobs, CI matrices), then one exact result.
//!
//! - [`shard`]: which shard this process is (`--shard K/N`, `LOADTEST_SHARD`,
//!   `JOB_COMPLETION_INDEX` with a count); the split itself is the runtime's.
//! - [`start_at`]: the coordinated start time (`--start-at`, RFC 3339 or Unix seconds).
//! - [`identity`]: SHA-256 of binaries and options, so that `merge` knows the shards of one run.
//! - [`archive`]: `cargo loadtest archive` and running from an archive (`--archive-file`).
//! - [`merge`]: `cargo loadtest merge`, judged by the one verdict and written by the reporters.
//! - [`setup`]: `cargo loadtest setup` and `teardown`, the shared setup hooks run once for the
//!   whole run, and the setup file shards read (`--setup-file`).

pub mod archive;
pub mod archive_error;
pub mod identity;
pub(crate) mod merge;
pub mod setup;
pub mod shard;
pub mod start_at;
