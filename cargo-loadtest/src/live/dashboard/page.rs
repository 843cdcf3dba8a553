//! The dashboard's page: the HTML report's own head and body (`crate::output::html`, one
//! renderer), inside a bar with the run's status line and the Stop control, and a small inline
//! script that swaps the body for each new [`Frame`] the server streams. No file, font or script
//! comes from anywhere else, and the page never holds the token (the script reads it from the
//! page's own address).

use super::provisional::ProvisionalRun;
use crate::output::html::{self, Unfinished, esc};
use crate::output::trace_url::TraceUrl;
use loadtest_report::report::RunReport;
use std::fmt::Write as _;

/// The bar's style, after the report's.
const BAR_STYLE: &str = "
.status.running { color: #2166ac; }
#live-bar { position: sticky; top: 0; z-index: 1; display: flex; gap: 14px; align-items: center;
  background: #f3f6fa; border-bottom: 1px solid #c9d3df; margin: 0 -24px 8px; padding: 6px 24px; }
#live-bar p { margin: 0; } #live-status { flex: 1; font-variant-numeric: tabular-nums; }
#live-connection { color: #555; font-size: 12px; }
#stop { font: inherit; font-weight: 600; color: #fff; background: #b2182b; border: 0; border-radius: 4px;
  padding: 4px 12px; cursor: pointer; } #stop:disabled { background: #999; cursor: default; }
@media print { #live-bar { display: none; } }
";

/// Applies each frame; the Stop control posts to `stop`. Relative addresses only, and the
/// token (when the page was opened with one) is taken from `location`, never written in.
const SCRIPT: &str = r#"
(function () {
  var token = new URLSearchParams(location.search).get("token");
  var withToken = function (path) { return token ? path + "?token=" + encodeURIComponent(token) : path; };
  var report = document.getElementById("report");
  var status = document.getElementById("live-status");
  var connection = document.getElementById("live-connection");
  var stop = document.getElementById("stop");
  var events = new EventSource(withToken("events"));
  events.addEventListener("frame", function (e) {
    var f = JSON.parse(e.data);
    report.innerHTML = f.body;
    document.title = f.title;
    status.textContent = f.status.text;
    status.dataset.test = f.status.test;
    status.dataset.elapsed = f.status.elapsed;
    status.dataset.iterations = f.status.iterations;
    status.dataset.finished = f.finished;
    if (f.finished) {
      events.close();
      connection.textContent = "run ended";
      if (stop) { stop.remove(); stop = null; }
    }
  });
  events.onopen = function () { connection.textContent = "live"; };
  events.onerror = function () {
    if (status.dataset.finished !== "true") { connection.textContent = "connection lost: retrying"; }
  };
  if (stop) {
    stop.addEventListener("click", function () {
      stop.disabled = true;
      stop.textContent = "Stopping...";
      fetch(withToken("stop"), { method: "POST", headers: { "X-Loadtest-Stop": "1" } }).then(function (r) {
        if (!r.ok) { stop.textContent = "Stop refused (" + r.status + ")"; }
      });
    });
  }
})();
"#;

/// What the page's status line says: the running test and its last progress event, or the
/// run's end.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub(crate) struct StatusLine {
    /// The line's text.
    pub(crate) text: String,
    /// The running test (`target::name`), empty when none runs.
    pub(crate) test: String,
    /// Seconds since it started, by its last progress event.
    pub(crate) elapsed: f64,
    /// Iterations by its last progress event.
    pub(crate) iterations: u64,
}

/// One state of the page: what the server streams once a second and at the end.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Frame {
    /// The document's title.
    pub(crate) title: String,
    /// The status line.
    pub(crate) status: StatusLine,
    /// The report's body, as `report.html` has it once the run ended.
    pub(crate) body: String,
    /// The run has ended: this is the final report, and no frame follows.
    pub(crate) finished: bool,
}

impl Frame {
    /// The run as it stands, drawn by the HTML report's renderer (with `baseline`'s curves, as
    /// `report.html` draws them).
    pub(crate) fn of(
        run: &ProvisionalRun,
        baseline: Option<&RunReport>,
        trace_url: Option<&TraceUrl>,
    ) -> Frame {
        let (report, running) = run.view();
        let finished = run.is_finished();
        let unfinished = (!finished).then_some(Unfinished { running: &running });
        let status = match (finished, run.now_running()) {
            (true, _) => StatusLine {
                text: format!(
                    "The run has ended (exit code {}): this is its final report, as report.html has it.",
                    report.exit_code
                ),
                ..StatusLine::default()
            },
            (false, Some((test, elapsed, iterations))) => StatusLine {
                text: format!("{test}: {elapsed:.0}s, {iterations} iterations"),
                test,
                elapsed,
                iterations,
            },
            (false, None) => StatusLine {
                text: if report.tests.is_empty() {
                    "Building and starting the tests...".into()
                } else {
                    "Starting the next test...".into()
                },
                ..StatusLine::default()
            },
        };
        Frame {
            title: html::title(&report, unfinished),
            status,
            body: html::render_body(&report, baseline, unfinished, trace_url),
            finished,
        }
    }

    /// The frame as one server-sent event (`event: frame`, its JSON on one `data:` line).
    pub(crate) fn event(&self) -> String {
        let json = serde_json::to_string(self).expect("a frame always serializes");
        format!("event: frame\ndata: {json}\n\n")
    }

    /// The whole page showing this frame; `stop` adds the Stop control.
    pub(crate) fn document(&self, stop: bool) -> String {
        let mut s = String::with_capacity(self.body.len() + 8 * 1024);
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{}{BAR_STYLE}</style>\n</head>\n<body>\n",
            esc(&self.title),
            html::STYLE
        );
        let _ = write!(
            s,
            "<div id=\"live-bar\"><p id=\"live-status\" data-test=\"{}\" data-elapsed=\"{}\" data-iterations=\"{}\" data-finished=\"{}\">{}</p><p id=\"live-connection\">connecting</p>{}</div>\n<div id=\"report\">{}</div>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
            esc(&self.status.test),
            self.status.elapsed,
            self.status.iterations,
            self.finished,
            esc(&self.status.text),
            if stop && !self.finished {
                "<button id=\"stop\" type=\"button\" title=\"Ends the run as Ctrl-C does: exit 130, every report written\">Stop the run</button>"
            } else {
                ""
            },
            self.body
        );
        s
    }
}
