//! Helpers shared by the report tests (schema, snapshots, JUnit XML).

pub mod synthetic;
