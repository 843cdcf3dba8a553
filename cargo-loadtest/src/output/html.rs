//! The HTML report: one self-contained page (inline SVG charts and styles; no script, no
//! network) rendered from a `RunReport`, by the run's reporter and by `cargo loadtest report`
//! alike, and drawn live by the dashboard (`crate::live::dashboard`) with the same functions.
//! [`chart`] draws, [`page`] lays the report out, [`exemplars`] lists the slowest requests.

mod chart;
mod exemplars;
mod page;

pub(crate) use chart::esc;
pub(crate) use page::{STYLE, Unfinished, render_body, title};
pub use page::{render, render_with_traces};
