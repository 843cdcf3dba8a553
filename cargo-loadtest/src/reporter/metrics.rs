//! `--metrics-listen`: feeds the live metrics endpoint from the run's events, and at the end
//! of the run gives a scraper the chance to read the final values.

use super::{Reporter, RunEvent};
use crate::errors::CliError;
use crate::live::MetricsServer;
use crate::signals::Interrupt;
use std::sync::PoisonError;

/// Keeps the endpoint's state in step with the run.
pub(crate) struct MetricsEndpoint {
    /// The listening endpoint (bound before the build).
    pub(crate) server: MetricsServer,
    /// Print nothing but errors.
    pub(crate) quiet: bool,
    /// Ctrl-C or SIGTERM: the end does not wait for a last scrape.
    pub(crate) interrupt: Interrupt,
}

impl Reporter for MetricsEndpoint {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        let mut state = self
            .server
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match event {
            RunEvent::RunStarted { .. }
            | RunEvent::Status(_)
            | RunEvent::Note(_)
            | RunEvent::SearchStarted { .. }
            | RunEvent::StepStarted { .. }
            | RunEvent::StepFinished { .. } => {}
            RunEvent::TestStarted { id, .. } => state.started(*id),
            RunEvent::Progress(p) => state.progress(p),
            RunEvent::TestFinished(t) => state.finished(t),
            RunEvent::RunFinished(_) => {
                drop(state);
                let interrupt = &self.interrupt;
                if let Some(waited) = self.server.wait_for_last_scrape(|| interrupt.is_set())
                    && !self.quiet
                    && waited.as_secs_f64() >= 0.5
                {
                    eprintln!(
                        "     Metrics kept http://{}/metrics up {:.1}s for a last scrape",
                        self.server.addr,
                        waited.as_secs_f64()
                    );
                }
            }
        }
        Ok(())
    }
}
