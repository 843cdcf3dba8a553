//! `cargo loadtest --find-max`: each selected open-model test runs as a series of steps, one
//! harness session per step with the arrival rate and duration overridden (a last option layer
//! above the command line), so every step gets the runtime's generator health checks and the
//! signals of an ordinary run. Each step is judged by `loadtest_report::verdict::judge_step`;
//! [`super::search`] picks the next rate; the test's status comes from the verdict too. A step
//! whose generator was saturated runs once more at the same rate (a passing disturbance from
//! another process is not the generator's limit); saturated again, it ends the search.

use super::Selected;
use super::search::{Next, Search, Stepping};
use crate::cli::{CapacityArgs, RunArgs};
use crate::errors::CliError;
use crate::reporter::{Reporters, RunEvent};
use crate::session::Session;
use crate::settings::Settings;
use crate::signals::Interrupt;
use loadtest_grammar::{OptionLayer, format_duration, parse_duration, parse_rate};
use loadtest_report::protocol::{self, PROTOCOL_VERSION, RunRequest, TestRequest};
use loadtest_report::report::{
    CapacityResult, CapacitySettings, CapacityStep, StepVerdict, TestResult,
};
use loadtest_report::verdict::{self, Cutoff};
use std::time::Duration;

/// The factor between one passing step's rate and the next while none failed.
pub(crate) const GROWTH: f64 = 1.5;

/// The search settings from the command line, checked before anything is built.
#[derive(Clone, Debug)]
pub(crate) struct SearchArgs {
    max_rate: f64,
    start_rate: Option<f64>,
    step: Duration,
    warm_up: Duration,
    resolution: f64,
    cutoff: Cutoff,
}

/// A share: `5%` or a fraction `0.05`, above 0 and at most 1.
fn parse_share(flag: &str, s: &str) -> Result<f64, CliError> {
    let v = s.trim();
    let value = match v.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => v.parse::<f64>(),
    };
    match value {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(CliError::invalid(
            flag,
            "share",
            s,
            "a percentage above 0 and at most 100%, such as \"5%\", or a fraction such as 0.05",
        )),
    }
}

impl SearchArgs {
    /// `None` without `--find-max`.
    pub(crate) fn parse(a: &CapacityArgs) -> Result<Option<SearchArgs>, CliError> {
        if !a.find_max {
            return Ok(None);
        }
        let rate = |flag: &str, v: &str| {
            parse_rate(v).map_err(CliError::flag(flag)).and_then(|r| {
                if r.per_second >= 0.01 {
                    Ok(r.per_second)
                } else {
                    Err(CliError::Usage(format!(
                        "{flag}: {v:?} is too low; a capacity search needs at least 0.01/s"
                    )))
                }
            })
        };
        let duration = |flag: &str, v: Option<&String>, default: Duration, min: Duration| {
            let Some(v) = v else { return Ok(default) };
            match parse_duration(v) {
                Ok(d) if d >= min => Ok(d),
                Ok(_) => Err(CliError::Usage(format!(
                    "{flag}: {v:?} is too short; expected at least {}",
                    format_duration(min)
                ))),
                Err(e) => Err(CliError::flag(flag)(e)),
            }
        };
        let max_rate = match &a.max_rate {
            Some(v) => rate("--max-rate", v)?,
            None => {
                return Err(CliError::Usage(
                    "--find-max needs --max-rate RATE, the ceiling no step may exceed (e.g. --max-rate 5000/s)".into(),
                ));
            }
        };
        let start_rate = a
            .start_rate
            .as_deref()
            .map(|v| rate("--start-rate", v))
            .transpose()?;
        let factor = match &a.cutoff_latency {
            None => 5.0,
            Some(v) => {
                let t = v.trim();
                match t.strip_suffix('x').unwrap_or(t).trim().parse::<f64>() {
                    Ok(f) if f > 1.0 && f.is_finite() => f,
                    _ => {
                        return Err(CliError::invalid(
                            "--cutoff-latency",
                            "factor",
                            v,
                            "a number above 1, such as 5 or 5x",
                        ));
                    }
                }
            }
        };
        Ok(Some(SearchArgs {
            max_rate,
            start_rate,
            step: duration(
                "--step-duration",
                a.step_duration.as_ref(),
                Duration::from_secs(5),
                Duration::from_secs(1),
            )?,
            warm_up: duration(
                "--warm-up",
                a.warm_up.as_ref(),
                Duration::from_secs(1),
                Duration::ZERO,
            )?,
            resolution: a
                .resolution
                .as_deref()
                .map_or(Ok(0.05), |v| parse_share("--resolution", v))?,
            cutoff: Cutoff {
                error_rate: a
                    .cutoff_errors
                    .as_deref()
                    .map_or(Ok(0.5), |v| parse_share("--cutoff-errors", v))?,
                latency_factor: factor,
            },
        }))
    }
}

/// One test's search, ready to run: its plan and settings.
pub(crate) struct Prepared {
    plan: Stepping,
    settings: CapacitySettings,
}

/// Checks that the test runs the open model under its layers and works out its plan; the
/// error names the test and says what is accepted.
pub(crate) fn prepare(
    s: &Selected,
    layers: &[OptionLayer],
    a: &SearchArgs,
) -> Result<Prepared, String> {
    let mut all: Vec<&OptionLayer> = vec![&s.test.options];
    all.extend(layers.iter());
    let merged = loadtest_grammar::merge(&all);
    let get = |n: &str| merged.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let own_rate = match get("rate") {
        Some(v) => v
            .first()
            .and_then(|r| parse_rate(r).ok())
            .map(|r| r.per_second),
        None => get("stages").and_then(|stages| {
            let refs: Vec<&str> = stages.iter().map(String::as_str).collect();
            match loadtest_grammar::stages_are_rates(&refs) {
                Ok(true) => stages
                    .iter()
                    .filter_map(|st| loadtest_grammar::parse_stage(st).ok())
                    .filter_map(|st| match st.level {
                        loadtest_grammar::StageLevel::Rate(r) => Some(r.per_second),
                        loadtest_grammar::StageLevel::Users(_) => None,
                    })
                    .reduce(f64::max),
                _ => None,
            }
        }),
    };
    let Some(own_rate) = own_rate else {
        return Err(format!(
            "--find-max: load test {} runs the closed model (virtual users); only open-model tests (an arrival rate: `rate = \"100/s\"` or rate stages) can be searched for their capacity. Give it a rate, or leave it out with --skip",
            s.id().qualified()
        ));
    };
    let start = a.start_rate.unwrap_or(own_rate).max(0.01);
    let min_capacity = match get("min_capacity") {
        Some(v) => Some(
            v.first()
                .map(|r| parse_rate(r))
                .transpose()
                .map_err(|e| format!("min_capacity of {}: {e}", s.id().qualified()))?
                .map_or(0.0, |r| r.per_second),
        ),
        None => None,
    };
    Ok(Prepared {
        plan: Stepping {
            start,
            max: a.max_rate,
            growth: GROWTH,
            resolution: a.resolution,
        },
        settings: CapacitySettings {
            start_rate_per_s: start.min(a.max_rate),
            max_rate_per_s: a.max_rate,
            growth: GROWTH,
            resolution: a.resolution,
            step_duration_s: a.step.as_secs_f64(),
            warm_up_s: a.warm_up.as_secs_f64(),
            cutoff_error_rate: a.cutoff.error_rate,
            cutoff_latency_factor: a.cutoff.latency_factor,
            min_capacity_per_s: min_capacity,
        },
    })
}

/// What a search leaves for the test's report.
pub(crate) struct Searched {
    pub(crate) capacity: CapacityResult,
    /// The step at the found capacity, or the last step that finished when none passed.
    pub(crate) result: Option<TestResult>,
    /// The harness's stderr tail when a step could not run.
    pub(crate) error: Option<String>,
}

/// Runs the search of one test, step by step, emitting step events to the reporters.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search(
    s: &Selected,
    prepared: Prepared,
    a: &SearchArgs,
    settings: &Settings,
    args: &RunArgs,
    interrupt: &Interrupt,
    reporters: &mut Reporters,
) -> Result<Searched, CliError> {
    reporters.emit(&RunEvent::SearchStarted {
        id: s.id(),
        settings: &prepared.settings,
    })?;
    let mut search = Search::new(prepared.plan);
    let mut steps: Vec<CapacityStep> = Vec::new();
    let mut kept: Option<TestResult> = None;
    let mut last: Option<TestResult> = None;
    let mut error = None;
    // The rate whose step was repeated because its generator was saturated.
    let mut repeated: Option<f64> = None;
    while let Next::Step(rate) = search.next() {
        if interrupt.is_set() {
            search.interrupt();
            break;
        }
        reporters.emit(&RunEvent::StepStarted {
            number: steps.len() + 1,
            rate_per_s: rate,
        })?;
        let mut layers = settings.layers_for(s.id());
        let mut step_layer = OptionLayer::new(format!("the --find-max step at {rate}/s"));
        step_layer.set_str("rate", &format!("{rate}/s"));
        step_layer.set_str("duration", &format_duration(a.warm_up + a.step));
        layers.push(step_layer);
        let step = match run_step(s, layers, a.warm_up, settings, args, interrupt, reporters)? {
            StepRun::Finished(result) => {
                let mut result = *result;
                let (step, outcomes) =
                    verdict::judge_step(&result, rate, a.warm_up.as_secs_f64(), &a.cutoff);
                // The kept result is judged as its step was: after the warm-up.
                verdict::set_thresholds(&mut result, outcomes);
                if step.verdict == StepVerdict::Passed {
                    kept = Some(result);
                } else {
                    last = Some(result);
                }
                step
            }
            StepRun::NotRun { reason, detail } => {
                let interrupted = interrupt.is_set();
                if !interrupted {
                    error = detail;
                }
                CapacityStep {
                    rate_per_s: rate,
                    verdict: if interrupted {
                        StepVerdict::Interrupted
                    } else {
                        StepVerdict::Errored
                    },
                    reasons: vec![if interrupted {
                        "interrupted before the step started".into()
                    } else {
                        reason
                    }],
                    ..CapacityStep::default()
                }
            }
        };
        let mut step = step;
        if step.verdict == StepVerdict::GeneratorLimited && repeated != Some(rate) {
            // Another process may have disturbed the generator for a moment: the step runs once
            // more before the generator is named as the limit.
            repeated = Some(rate);
            step.reasons
                .push("the step runs once more before the generator is named as the limit".into());
        } else {
            search.record(rate, step.verdict, &step.reasons);
        }
        reporters.emit(&RunEvent::StepFinished { step: &step })?;
        steps.push(step);
    }
    let capacity = search.conclude(steps, prepared.settings);
    Ok(Searched {
        capacity,
        result: kept.or(last),
        error,
    })
}

/// How one step's session ended.
enum StepRun {
    Finished(Box<TestResult>),
    /// No result: the harness could not start, refused the test, failed its setup, or died.
    NotRun {
        reason: String,
        detail: Option<String>,
    },
}

/// Runs one step: a harness session for this one test, its progress passed on.
fn run_step(
    s: &Selected,
    layers: Vec<OptionLayer>,
    warm_up: Duration,
    settings: &Settings,
    args: &RunArgs,
    interrupt: &Interrupt,
    reporters: &mut Reporters,
) -> Result<StepRun, CliError> {
    let request = RunRequest {
        protocol: PROTOCOL_VERSION,
        tests: vec![TestRequest {
            name: s.test.name.clone(),
            overrides: layers,
            health_warm_up_s: Some(warm_up.as_secs_f64()),
        }],
        base_url: settings.run_base_url(),
        // The judged seconds' per-name latencies come from the series.
        request_series: true,
        live_metrics: args.metrics_listen.is_some() || args.dashboard.is_some(),
        // A capacity search is one generator's: it runs the whole load, unsharded.
        shard: None,
        start_at_unix: None,
        otlp: settings.otlp().cloned(),
        mode: protocol::RunMode::Run,
        setup_value: None,
    };
    let mut session = match Session::spawn(&s.harness, &request, &args.harness_args, args.quiet) {
        Ok(session) => session,
        Err(e) => {
            return Ok(StepRun::NotRun {
                reason: format!("cannot start the harness: {e}"),
                detail: Some(e.to_string()),
            });
        }
    };
    let mut result = None;
    let mut refused = None;
    while let Some(event) = session.next_event(interrupt) {
        match event {
            protocol::Event::Progress(p) => reporters.emit(&RunEvent::Progress(&p))?,
            protocol::Event::Finished { result: r, .. } => result = Some(r),
            protocol::Event::TestError { message, .. }
            | protocol::Event::SetupFailed { message }
            | protocol::Event::Refused { message } => refused = Some(message),
            protocol::Event::Hello { .. }
            | protocol::Event::Started { .. }
            | protocol::Event::SetupValue { .. }
            | protocol::Event::TeardownDone { .. }
            | protocol::Event::TeardownFailed { .. }
            | protocol::Event::Done { .. } => {}
        }
    }
    let (status, tail) = session.wait();
    Ok(match (result, refused) {
        (Some(r), _) => StepRun::Finished(r),
        (None, Some(message)) => StepRun::NotRun {
            reason: message,
            detail: Some(tail),
        },
        (None, None) => StepRun::NotRun {
            reason: format!(
                "the harness process exited unexpectedly ({})",
                status.map_or_else(|e| format!("unknown status: {e}"), |s| s.to_string())
            ),
            detail: Some(tail),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::GrammarError;

    fn args(extra: &[(&str, &str)]) -> CapacityArgs {
        let mut a = CapacityArgs {
            find_max: true,
            max_rate: Some("500/s".into()),
            ..CapacityArgs::default()
        };
        for (k, v) in extra {
            let v = Some(v.to_string());
            match *k {
                "start" => a.start_rate = v,
                "step" => a.step_duration = v,
                "warm_up" => a.warm_up = v,
                "resolution" => a.resolution = v,
                "errors" => a.cutoff_errors = v,
                "latency" => a.cutoff_latency = v,
                _ => unreachable!("{k}"),
            }
        }
        a
    }

    #[test]
    fn search_flags_have_defaults_and_are_checked() {
        assert!(
            SearchArgs::parse(&CapacityArgs::default())
                .unwrap()
                .is_none()
        );
        let d = SearchArgs::parse(&args(&[])).unwrap().unwrap();
        assert_eq!((d.max_rate, d.start_rate), (500.0, None));
        assert_eq!(
            (d.step, d.warm_up),
            (Duration::from_secs(5), Duration::from_secs(1))
        );
        assert_eq!(d.resolution, 0.05);
        assert_eq!(
            d.cutoff,
            Cutoff {
                error_rate: 0.5,
                latency_factor: 5.0
            }
        );
        let a = SearchArgs::parse(&args(&[
            ("start", "30000/m"),
            ("step", "2s"),
            ("warm_up", "0s"),
            ("resolution", "0.02"),
            ("errors", "20%"),
            ("latency", "3x"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(a.start_rate, Some(500.0));
        assert_eq!(
            (a.step, a.warm_up),
            (Duration::from_secs(2), Duration::ZERO)
        );
        assert_eq!(
            (a.resolution, a.cutoff.error_rate, a.cutoff.latency_factor),
            (0.02, 0.2, 3.0)
        );
        for (bad, says) in [
            (("resolution", "0%"), "--resolution: invalid share \"0%\""),
            (("errors", "1.5"), "--cutoff-errors: invalid share \"1.5\""),
            (("latency", "1"), "--cutoff-latency: invalid factor \"1\""),
            (("step", "500ms"), "--step-duration: \"500ms\" is too short"),
            (("warm_up", "soon"), "--warm-up: invalid duration \"soon\""),
            (("start", "0/s"), "--start-rate: \"0/s\" is too low"),
        ] {
            let e = SearchArgs::parse(&args(&[bad])).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            let e = e.to_string();
            assert!(e.starts_with(says), "{e}");
        }
        // A value the flag does not take names the flag, the value and what it takes.
        let e = SearchArgs::parse(&args(&[("resolution", "0%")])).unwrap_err();
        assert!(
            matches!(&e, CliError::FlagInvalid { flag, what: "share", value, accepted } if flag == "--resolution" && value == "0%" && accepted.contains("at most 100%")),
            "{e:?}"
        );
        // What the grammar refuses names the flag and keeps the grammar's error.
        let e = SearchArgs::parse(&args(&[("warm_up", "soon")])).unwrap_err();
        assert!(
            matches!(&e, CliError::FlagValue { flag, error: GrammarError::Value(v) } if flag == "--warm-up" && v.value == "soon"),
            "{e:?}"
        );
        let mut no_ceiling = args(&[]);
        no_ceiling.max_rate = None;
        let e = SearchArgs::parse(&no_ceiling).unwrap_err().to_string();
        assert!(e.contains("--find-max needs --max-rate"), "{e}");
    }
}
