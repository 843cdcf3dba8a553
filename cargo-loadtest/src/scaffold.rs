//! `cargo loadtest init` and `cargo loadtest new`: set a package up for load tests, and write
//! load tests from what a team already has (a HAR recording, an OpenAPI document).
//!
//! Readers ([`har`], [`openapi`]) turn their input into a [`model::TestFile`]; [`codegen`] turns
//! that into formatted Rust; [`manifest`] adds the dev-dependency and the `[[test]]` target with
//! `toml_edit` and writes everything atomically, only after every check has passed.

mod codegen;
mod har;
mod init;
mod input;
mod manifest;
mod model;
mod names;
mod new;
mod openapi;

pub(crate) use init::init;
pub(crate) use new::new;
