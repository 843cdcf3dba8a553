//! The HTML report: one self-contained page (inline SVG charts and styles; no script, no
//! network) rendered from a `RunReport`, by the run's reporter and by `cargo loadtest report`
//! alike, and drawn live by the dashboard (`crate::live::dashboard`) with the same functions.
//! [`chart`] draws, [`page`] lays the report out.

mod chart;
mod page;

pub(crate) use chart::esc;
pub use page::render;
pub(crate) use page::{STYLE, Unfinished, render_body, title};
