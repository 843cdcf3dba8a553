//! The HTML report: one self-contained page (inline SVG charts and styles; no script, no
//! network) rendered from a `RunReport`, by the run's reporter and by `cargo loadtest report`
//! alike. [`chart`] draws, [`page`] lays the report out, [`exemplars`] lists the slowest requests.

mod chart;
mod exemplars;
mod page;

pub use page::{render, render_with_traces};
