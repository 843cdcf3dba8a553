//! `--dashboard`: keeps the live page in step with the run. Every event updates the provisional
//! report and the page is drawn again; at the end of the run the final report (the one
//! `report.html` was just written from) is pushed to every open page before the command exits.

use super::{Reporter, RunEvent};
use crate::errors::CliError;
use crate::live::dashboard::{DashboardServer, Frame, LINGER, ProvisionalRun};
use crate::output::trace_url::TraceUrl;
use loadtest_report::report::RunReport;

/// Feeds the dashboard.
pub(crate) struct LiveDashboard {
    /// The listening dashboard (bound before the build).
    server: DashboardServer,
    /// The run as it stands.
    run: ProvisionalRun,
    /// The baseline whose curves `report.html` draws under the run's, so the page draws them too.
    baseline: Option<RunReport>,
    /// Where the slowest requests' trace ids link to (`--trace-url`), as in `report.html`.
    trace_url: Option<TraceUrl>,
    /// Print nothing but errors.
    quiet: bool,
}

impl LiveDashboard {
    /// Starts showing `run` (no test yet) on `server`.
    pub(crate) fn new(
        server: DashboardServer,
        run: ProvisionalRun,
        baseline: Option<RunReport>,
        trace_url: Option<TraceUrl>,
        quiet: bool,
    ) -> LiveDashboard {
        server.publish(Frame::of(&run, baseline.as_ref(), trace_url.as_ref()));
        LiveDashboard {
            server,
            run,
            baseline,
            trace_url,
            quiet,
        }
    }
}

impl Reporter for LiveDashboard {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        let run = &mut self.run;
        match event {
            // Lines for the terminal; the page shows the tests' events.
            RunEvent::Status(_) | RunEvent::Note(_) => return Ok(()),
            RunEvent::RunStarted { .. } => {}
            RunEvent::TestStarted { id, config } => run.test_started(*id, config),
            RunEvent::SearchStarted { id, settings } => run.search_started(*id, settings),
            RunEvent::StepStarted { rate_per_s, .. } => run.step_started(*rate_per_s),
            RunEvent::StepFinished { step } => run.step_finished(step),
            RunEvent::Progress(p) => run.progress(p),
            RunEvent::TestFinished(t) => run.test_finished(t),
            RunEvent::RunFinished(report) => run.run_finished(report),
        }
        self.server.publish(Frame::of(
            &self.run,
            self.baseline.as_ref(),
            self.trace_url.as_ref(),
        ));
        if let RunEvent::RunFinished(_) = event {
            let (open, delivered) = self.server.wait_for_viewers(LINGER);
            if !self.quiet && open > 0 {
                eprintln!(
                    "   Dashboard {} the final report to {open} open page{}",
                    if delivered { "sent" } else { "could not send" },
                    if open == 1 { "" } else { "s" }
                );
            }
        }
        Ok(())
    }
}
