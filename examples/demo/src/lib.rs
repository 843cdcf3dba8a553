//! The demo package has no library code; its load tests live in `loadtests/`.
