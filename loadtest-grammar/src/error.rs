//! The grammar's errors: a value its grammar refuses ([`ValueError`]), an option or a set of
//! options that cannot be used ([`OptionError`]) and an option error in a named layer
//! ([`LayerError`]).
//!
//! Each carries what a caller needs to act on it (the value, the option, what is accepted, the
//! specific problem) and displays the message users see, which names the offending value and
//! says what is accepted. The texts are part of the interface: snapshot and end-to-end tests
//! assert on them.

use crate::GatedMetric;
use crate::options::{self as grammar, MAX_LOCAL_ADDRESSES, OptionInfo, THRESHOLD_GRAMMAR};
use std::fmt;

/// What a value had to be: the grammar that refused it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// A whole number of at least 1, for `option`.
    Count {
        /// The option (or flag) the number was given for.
        option: String,
    },
    /// A whole number of at least 0, for `option`.
    Number {
        /// The option (or flag) the number was given for.
        option: String,
    },
    /// `true` or `false`, for `option`.
    Bool {
        /// The option the value was given for.
        option: String,
    },
    /// A duration such as `"30s"`.
    Duration,
    /// A rate such as `"500/s"`.
    Rate,
    /// A duration or a range of durations, `"50ms..150ms"`.
    Range,
    /// `"queue"` or `"drop"` (`on_saturation`).
    Saturation,
    /// A transport name (`client`).
    Client,
    /// An IP address or a CIDR block (`local_addresses`).
    LocalAddress,
    /// A ramping stage, `"30s:50"` or `"30s:500/s"`.
    Stage,
    /// A `retry_on` entry.
    RetryOn,
    /// A tag.
    Tag,
    /// A base URL (`target`).
    Target,
    /// A regression tolerance, `"p99=20%"` or `"p50=250us"`.
    Tolerance,
    /// A threshold rule, `"p99 < 250ms"`.
    Threshold,
    /// A trace context mode (`trace`).
    Trace,
    /// A fraction, `"0.1"` or `"10%"` (`trace_sample`).
    Fraction,
}

impl Expected {
    /// What the grammar accepts, as the error message says it (`expected ...`).
    pub fn accepts(&self) -> String {
        match self {
            Expected::Count { .. } => "expected a whole number, at least 1".into(),
            Expected::Number { .. } => "expected a whole number, 0 or more".into(),
            Expected::Bool { .. } => "expected true or false".into(),
            Expected::Duration => grammar::DURATION_HELP.into(),
            Expected::Rate => "expected a positive number per time unit, e.g. \"500/s\", \"30000/m\", \"10/h\" (a bare number means per second)".into(),
            Expected::Range => "expected e.g. \"50ms..150ms\"".into(),
            Expected::Saturation => "expected \"queue\" or \"drop\"".into(),
            Expected::Client => {
                "expected \"native\" (the default), \"hyper\" or \"reqwest\"".into()
            }
            Expected::LocalAddress => "expected an IP address such as \"127.0.0.2\" or a CIDR block such as \"127.0.0.0/30\"".into(),
            Expected::Stage => "expected \"DURATION:TARGET\", e.g. \"30s:50\" (users) or \"30s:500/s\" (rate)".into(),
            Expected::RetryOn => "expected \"connect\", \"timeout\", \"closed\", \"5xx\", \"4xx\" or a status code from 100 to 599".into(),
            Expected::Tag => "expected letters, digits, '-', '_', '.' or ':'".into(),
            Expected::Target => "expected a base URL starting with http:// or https://, e.g. \"http://127.0.0.1:8080\"".into(),
            Expected::Tolerance => format!(
                "expected \"METRIC=PERCENT\" with METRIC one of {}, e.g. \"p99=20%\", or an absolute floor \"METRIC=DURATION\" for {}, e.g. \"p50=250us\"",
                GatedMetric::list(&GatedMetric::ALL),
                GatedMetric::list(&GatedMetric::LATENCIES)
            ),
            Expected::Threshold => THRESHOLD_GRAMMAR.into(),
            Expected::Trace => "expected \"on\" (the default), \"propagate\" or \"off\"".into(),
            Expected::Fraction => {
                "expected a fraction from 0 to 1 or a percentage from 0% to 100%, e.g. \"0.1\" or \"10%\"".into()
            }
        }
    }

    /// The word the message calls the value by (`duration`, `rate`, `stage`).
    fn noun(&self) -> &'static str {
        match self {
            Expected::Count { .. } | Expected::Number { .. } | Expected::Bool { .. } => "value",
            Expected::Duration => "duration",
            Expected::Rate => "rate",
            Expected::Range => "range",
            Expected::Saturation => "on_saturation",
            Expected::Client => "client",
            Expected::LocalAddress => "local address",
            Expected::Stage => "stage",
            Expected::RetryOn => "retry_on",
            Expected::Tag => "tag",
            Expected::Target => "target",
            Expected::Tolerance => "tolerance",
            Expected::Threshold => "threshold",
            Expected::Trace => "trace",
            Expected::Fraction => "trace_sample",
        }
    }

    /// The option a number or boolean was given for.
    fn option(&self) -> Option<&str> {
        match self {
            Expected::Count { option }
            | Expected::Number { option }
            | Expected::Bool { option } => Some(option),
            _ => None,
        }
    }
}

/// What exactly is wrong with a value, beyond not being of the accepted form.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The value is not of the accepted form.
    Malformed,
    /// A separator the form needs is missing: `:` in a stage, `=` in a tolerance.
    MissingSeparator(char),
    /// A threshold rule without a comparison operator.
    NoOperator,
    /// A threshold rule whose operator is none of `<`, `<=`, `>`, `>=`, `==`, `!=`.
    UnknownOperator,
    /// A threshold rule's `(NAME` without its `)`.
    UnclosedName,
    /// A threshold rule's `()`.
    EmptyName,
    /// A threshold rule without a metric before its operator.
    MissingMetric,
    /// A metric that the threshold or tolerance grammar does not know.
    UnknownMetric(String),
    /// A threshold rule's name prefix (`gaps:chat`) that is no stream measure.
    UnknownStreamMeasure(String),
    /// A stream measure (`gap:chat`) under a metric that is not a latency (`rps(gap:chat)`).
    StreamMeasureNotLatency(String),
    /// A threshold's limit or a tolerance's allowance that is not what its metric takes;
    /// `wants` says why (`is not a duration`).
    BadLimit {
        /// The limit as written.
        limit: String,
        /// What is wrong with it, as the message says it.
        wants: &'static str,
    },
    /// A tolerance gives a duration (an absolute floor) for a metric that takes a percentage.
    FloorNotAccepted {
        /// The metric.
        metric: GatedMetric,
        /// The duration given.
        value: String,
    },
    /// A stage's target is neither a rate nor a whole number of users.
    TargetNotWhole(String),
    /// A range's lower bound is above its upper bound.
    ReversedBounds,
    /// A part of the value is refused by its own grammar: a stage's duration or rate, a range's
    /// bound.
    Part(Box<ValueError>),
    /// A CIDR block of `local_addresses` holds more than [`MAX_LOCAL_ADDRESSES`] addresses.
    BlockTooLarge,
    /// `local_addresses` names more than [`MAX_LOCAL_ADDRESSES`] addresses; how many so far.
    TooManyAddresses(usize),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Malformed => f.write_str("malformed"),
            Problem::MissingSeparator(c) => write!(f, "missing `{c}`"),
            Problem::NoOperator => f.write_str("no comparison operator"),
            Problem::UnknownOperator => f.write_str("unknown operator"),
            Problem::UnclosedName => f.write_str("missing `)` after the name"),
            Problem::EmptyName => f.write_str("empty name in parentheses"),
            Problem::MissingMetric => f.write_str("missing metric"),
            Problem::UnknownMetric(m) => write!(f, "unknown metric `{m}`"),
            Problem::UnknownStreamMeasure(m) => write!(
                f,
                "unknown stream measure `{m}` before `:` (accepted: first_byte, first_event, gap, stream)"
            ),
            Problem::StreamMeasureNotLatency(m) => write!(
                f,
                "the stream measure `{m}` takes a latency metric (pNN, mean, min or max)"
            ),
            Problem::BadLimit { limit, wants } => write!(f, "{limit:?} {wants}"),
            Problem::FloorNotAccepted { metric, value } => {
                write!(f, "`{metric}` takes a percentage, not a duration {value:?}")
            }
            Problem::TargetNotWhole(t) => write!(f, "target {t:?} is not a whole number"),
            Problem::ReversedBounds => f.write_str("the lower bound is above the upper bound"),
            Problem::Part(e) => e.fmt(f),
            Problem::BlockTooLarge => write!(f, "at most {MAX_LOCAL_ADDRESSES} addresses"),
            Problem::TooManyAddresses(n) => write!(f, "{n} addresses or more"),
        }
    }
}

/// A value that its grammar refuses: which value, what it had to be, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    /// What the value had to be.
    pub expected: Expected,
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ValueError {
    /// A value that is not of the form `expected` accepts.
    pub fn malformed(expected: Expected, value: &str) -> ValueError {
        ValueError::new(expected, value, Problem::Malformed)
    }

    /// A value refused for `problem`.
    pub fn new(expected: Expected, value: &str, problem: Problem) -> ValueError {
        ValueError {
            expected,
            value: value.to_string(),
            problem,
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (e, value) = (&self.expected, &self.value);
        match &self.problem {
            // A bound of a range is a duration: its own message says it all.
            Problem::Part(part) if *e == Expected::Range => part.fmt(f),
            Problem::BlockTooLarge => write!(
                f,
                "local address block {value:?} is too large: at most {MAX_LOCAL_ADDRESSES} addresses"
            ),
            Problem::TooManyAddresses(n) => write!(
                f,
                "local_addresses names {n} addresses or more: at most {MAX_LOCAL_ADDRESSES}"
            ),
            problem => {
                write!(f, "invalid {} {value:?}", e.noun())?;
                if let Some(option) = e.option() {
                    write!(f, " for `{option}`")?;
                }
                match problem {
                    Problem::Malformed => write!(f, ": {}", e.accepts()),
                    why => write!(f, ": {why}; {}", e.accepts()),
                }
            }
        }
    }
}

impl std::error::Error for ValueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Part(part) => Some(&**part),
            _ => None,
        }
    }
}

/// Options that do not describe one load model together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// `users` (closed model) beside `rate` (open model).
    UsersAndRate,
    /// `think_time` in the open model.
    ThinkTimeInOpenModel,
    /// `max_in_flight` or `on_saturation` in the closed model.
    OpenOptionsInClosedModel,
    /// `duration` beside `stages`.
    DurationAndStages,
    /// `users` beside rate stages.
    UsersWithRateStages,
    /// `rate` beside user-count stages.
    RateWithUserStages,
}

impl Conflict {
    /// The options that conflict.
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Conflict::UsersAndRate => &["users", "rate"],
            Conflict::ThinkTimeInOpenModel => &["think_time", "rate"],
            Conflict::OpenOptionsInClosedModel => &["max_in_flight", "on_saturation"],
            Conflict::DurationAndStages => &["duration", "stages"],
            Conflict::UsersWithRateStages => &["users", "stages"],
            Conflict::RateWithUserStages => &["rate", "stages"],
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conflict::UsersAndRate => {
                "`users` (closed model) and `rate` (open model) cannot be combined; pick one"
            }
            Conflict::ThinkTimeInOpenModel => {
                "`think_time` belongs to the closed model (`users`); the open model (`rate`) starts iterations on a schedule"
            }
            Conflict::OpenOptionsInClosedModel => {
                "`max_in_flight` and `on_saturation` belong to the open model; add `rate = \"N/s\"` or rate stages"
            }
            Conflict::DurationAndStages => {
                "`duration` and `stages` cannot be combined: the stages' durations add up to the test's duration"
            }
            Conflict::UsersWithRateStages => {
                "`users` (closed model) cannot ramp through rate stages; use user counts such as \"30s:50\""
            }
            Conflict::RateWithUserStages => {
                "`rate` (open model) needs rate stages such as \"30s:500/s\""
            }
        })
    }
}

/// An option, or a set of options, that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionError {
    /// No option has this name; `suggestion` is the closest one, when it looks like a typo.
    Unknown {
        /// The name given.
        name: String,
        /// The option it probably meant.
        suggestion: Option<&'static str>,
    },
    /// A value of `option` that the option's grammar refuses.
    Value {
        /// The option.
        option: String,
        /// Why its value is refused (boxed: it is the largest part of an error).
        error: Box<ValueError>,
    },
    /// An option that no parser checks (what it accepts is all that can be said).
    Unchecked(&'static OptionInfo),
    /// Options that do not describe one load model together.
    Conflict(Conflict),
    /// A stage list that mixes user counts and rates.
    MixedStages {
        /// The stages as given.
        stages: Vec<String>,
    },
}

impl OptionError {
    /// The value error of `option`.
    pub fn value(option: &str, error: ValueError) -> OptionError {
        OptionError::Value {
            option: option.to_string(),
            error: Box::new(error),
        }
    }
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::Unknown { name, suggestion } => {
                write!(f, "unknown option `{name}`")?;
                if let Some(c) = suggestion {
                    write!(f, " (did you mean `{c}`?)")?;
                }
                write!(f, "; accepted options: {}", grammar::option_names())
            }
            OptionError::Value { error, .. } => error.fmt(f),
            OptionError::Unchecked(info) => {
                write!(f, "option `{}` accepts {}", info.name, info.accepts)
            }
            OptionError::Conflict(c) => c.fmt(f),
            OptionError::MixedStages { stages } => write!(
                f,
                "stages {stages:?} mix user counts and rates; use only \"30s:50\" (users) or only \"30s:500/s\" (rate)"
            ),
        }
    }
}

impl std::error::Error for OptionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OptionError::Value { error, .. } => Some(&**error),
            _ => None,
        }
    }
}

/// An option error in a layer of options: which layer (`the command line`,
/// `loadtest.toml [defaults]`), and the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerError {
    /// The layer's name ([`crate::OptionLayer::source`]).
    pub layer: String,
    /// What is wrong in it.
    pub error: OptionError,
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.layer, self.error)
    }
}

impl std::error::Error for LayerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
