//! The terminal: live progress on stderr (one redrawn line on a terminal; a plain line every few
//! seconds otherwise, for CI logs; nothing with `--quiet`), then the summary table on stdout (on
//! stderr when a report is written to stdout with `-`).

use super::{Reporter, RunEvent};
use crate::errors::CliError;
use crate::output::summary;
use loadtest_report::protocol::Progress;
use loadtest_report::report::{
    CapacitySettings, CapacityStep, ConfigSummary, ShardPart, TestId, TestReport, TestStatus,
    human_rate, human_us,
};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// What a person watching the run sees.
pub(crate) struct Terminal {
    tty: bool,
    quiet: bool,
    last_plain: Option<Instant>,
    drawn: bool,
    /// Where the reports went, printed after the summary (unless quiet).
    reports_line: Option<String>,
    /// Tests selected, and tests started so far.
    tests: usize,
    started: usize,
    /// A report goes to standard output (`--json -`): the summary goes to stderr.
    summary_to_stderr: bool,
}

impl Reporter for Terminal {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        match event {
            RunEvent::RunStarted { tests } => self.tests = *tests,
            RunEvent::TestStarted { id, config } => self.started(*id, config),
            RunEvent::SearchStarted { id, settings } => self.search_started(*id, settings),
            RunEvent::StepStarted { number, rate_per_s } => self.step_started(*number, *rate_per_s),
            RunEvent::StepFinished { step } => self.step_finished(step),
            RunEvent::Progress(p) => self.progress(p),
            RunEvent::TestFinished(r) => self.finished(r),
            RunEvent::Status(line) => {
                if !self.quiet {
                    self.clear_line();
                    eprintln!("{line}");
                }
            }
            RunEvent::Note(text) => {
                self.clear_line();
                eprintln!("note: {text}");
            }
            RunEvent::RunFinished(report) => {
                if self.summary_to_stderr {
                    eprint!("{}", summary::table(report));
                } else {
                    print!("{}", summary::table(report));
                }
                if let (false, Some(line)) = (self.quiet, &self.reports_line) {
                    eprintln!("     Reports {line}");
                }
            }
        }
        Ok(())
    }
}

impl Terminal {
    /// A terminal display; `reports_line` says where the report files went;
    /// `summary_to_stderr` when a report takes standard output.
    pub(crate) fn new(quiet: bool, reports_line: Option<String>, summary_to_stderr: bool) -> Self {
        Terminal {
            tty: std::io::stderr().is_terminal(),
            quiet,
            last_plain: None,
            drawn: false,
            reports_line,
            tests: 0,
            started: 0,
            summary_to_stderr,
        }
    }

    fn started(&mut self, id: TestId<'_>, c: &ConfigSummary) {
        self.started += 1;
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
        eprintln!(
            "     Running {} ({model}{span}) [{}/{}]",
            id.qualified(),
            self.started,
            self.tests
        );
        if let Some(part) = &c.shard {
            eprintln!("{:>12} {}", "", shard_line(c, part));
        }
        self.last_plain = Some(Instant::now());
    }

    fn search_started(&mut self, id: TestId<'_>, c: &CapacitySettings) {
        self.started += 1;
        if self.quiet {
            return;
        }
        eprintln!(
            "   Searching {} for its capacity (from {} up to at most {}, steps of {}s after a {}s warm-up) [{}/{}]",
            id.qualified(),
            human_rate(c.start_rate_per_s),
            human_rate(c.max_rate_per_s),
            c.step_duration_s,
            c.warm_up_s,
            self.started,
            self.tests
        );
    }

    fn step_started(&mut self, number: usize, rate: f64) {
        if self.quiet {
            return;
        }
        eprintln!("{:>12} step {number} at {}", "", human_rate(rate));
        self.last_plain = Some(Instant::now());
    }

    /// Clears the redrawn progress line, if one is drawn, so that a line can be printed.
    fn clear_line(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }

    fn step_finished(&mut self, s: &CapacityStep) {
        self.clear_line();
        if self.quiet {
            return;
        }
        eprintln!(
            "{:>12} {}: {}  ({:.1}/s done, p50 {} p95 {} p99 {}, {:.2}% failed)",
            "",
            human_rate(s.rate_per_s),
            summary::step_word(s.verdict),
            s.achieved_per_s,
            human_us(s.p50_us as f64),
            human_us(s.p95_us as f64),
            human_us(s.p99_us as f64),
            s.error_rate * 100.0
        );
        for r in &s.reasons {
            eprintln!("{:>14} - {r}", "");
        }
    }

    fn progress(&mut self, p: &Progress) {
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

    fn finished(&mut self, r: &TestReport) {
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
        eprintln!("{verdict:>12} {}", r.id().qualified());
        for f in &r.failures {
            eprintln!("{:>12} - {f}", "");
        }
    }
}

/// What one shard runs of a test: `shard 3/4: 0 of 3 users: no load of its own, ends at once`.
pub(crate) fn shard_line(c: &ConfigSummary, part: &ShardPart) -> String {
    let load = match (part.users, part.rate_per_s) {
        (Some(u), _) => format!("{u} of {} users", c.users.unwrap_or(0)),
        (_, Some(r)) => format!(
            "{r:.2}/s of {:.2}/s (every {}th arrival from arrival {})",
            c.rate_per_s.unwrap_or(0.0),
            part.shard.count,
            part.shard.offset()
        ),
        _ => String::new(),
    };
    let budget = match (part.iterations, c.iterations) {
        (Some(mine), Some(all)) => format!(", {mine} of {all} iterations"),
        _ => String::new(),
    };
    let idle = if part.idle {
        ": no load of its own, ends at once"
    } else {
        ""
    };
    format!("shard {}: {load}{budget}{idle}", part.shard)
}

/// `cargo loadtest compare`'s terminal output: the comparison table alone, on stdout (on stderr
/// when a report is written to stdout with `-`).
pub(crate) struct ComparisonTable {
    /// A report goes to standard output: the table goes to stderr.
    pub(crate) to_stderr: bool,
}

impl Reporter for ComparisonTable {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        if let RunEvent::RunFinished(report) = event {
            if self.to_stderr {
                eprint!("{}", summary::comparison_table(report));
            } else {
                print!("{}", summary::comparison_table(report));
            }
        }
        Ok(())
    }
}
