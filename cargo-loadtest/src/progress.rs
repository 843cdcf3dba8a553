//! Live progress: one redrawn line on a terminal; a plain line every few seconds otherwise (CI
//! logs); nothing with `--quiet`. Everything goes to stderr, leaving stdout for the summary.

use loadtest_runtime::protocol::Progress;
use loadtest_runtime::report::{ConfigSummary, TestReport, TestStatus, human_us};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct ProgressView {
    tty: bool,
    quiet: bool,
    last_plain: Option<Instant>,
    drawn: bool,
}

impl ProgressView {
    pub(crate) fn new(quiet: bool) -> Self {
        ProgressView {
            tty: std::io::stderr().is_terminal(),
            quiet,
            last_plain: None,
            drawn: false,
        }
    }

    pub(crate) fn started(&mut self, qualified: &str, c: &ConfigSummary) {
        if self.quiet {
            return;
        }
        let model = match (c.users, c.rate_per_s) {
            (Some(u), _) => format!("closed, {u} users"),
            (_, Some(r)) => format!("open, {r}/s"),
            _ => c.model.clone(),
        };
        let span = match (c.duration_s, c.iterations) {
            (Some(d), Some(i)) => format!(", {d}s or {i} iterations"),
            (Some(d), None) => format!(", {d}s"),
            (None, Some(i)) => format!(", {i} iterations"),
            (None, None) => String::new(),
        };
        eprintln!("     Running {qualified} ({model}{span})");
        self.last_plain = Some(Instant::now());
    }

    pub(crate) fn progress(&mut self, p: &Progress) {
        if self.quiet {
            return;
        }
        let remaining = p.planned_s.map(|t| format!("/{t:.0}s")).unwrap_or_default();
        let line = format!(
            "{:>12} {:.0}s{remaining}  {} iterations  {:.0} iter/s  p99 {}  failed {}  req errors {}{}",
            "",
            p.elapsed_s,
            p.iterations,
            p.rate_per_s,
            human_us(p.p99_us as f64),
            p.failed,
            p.request_errors,
            if p.dropped > 0 {
                format!("  dropped {}", p.dropped)
            } else {
                String::new()
            }
        );
        if self.tty {
            eprint!("\r\x1b[2K{}", line.trim_start());
            let _ = std::io::stderr().flush();
            self.drawn = true;
        } else if self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            eprintln!("{line}");
            self.last_plain = Some(Instant::now());
        }
    }

    pub(crate) fn finished(&mut self, r: &TestReport) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
        if self.quiet && r.status == TestStatus::Passed {
            return;
        }
        let verdict = match r.status {
            TestStatus::Passed => "Passed",
            TestStatus::Failed => "FAILED",
            TestStatus::Errored => "ERROR",
            TestStatus::Interrupted => "Interrupted",
        };
        eprintln!("{verdict:>12} {}::{}", r.target, r.name);
        for f in &r.failures {
            eprintln!("{:>12} - {f}", "");
        }
    }
}
