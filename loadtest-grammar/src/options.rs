//! The option grammar of `#[load_test]`: every option's name, the values it accepts and the
//! parsers for durations, rates, ranges, stages and threshold rules.
//!
//! This module is the single source of truth for option values: the proc-macro crate uses it to
//! reject bad attribute values at compile time, `loadtest-runtime` to parse the same values when
//! they come from `loadtest.toml`, `LOADTEST_*` variables or the command line, and
//! `cargo-loadtest` to check flags before anything is built.
//!
//! Every error message names the offending value and says what is accepted.

use crate::GatedMetric;
use crate::error::{Conflict, Expected, OptionError, Problem, ValueError};
use std::fmt;
use std::time::Duration;

/// What kind of value an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A whole number of at least 1 (`users = 50`).
    Count,
    /// A whole number of at least 0 (`retries = 0`).
    Number,
    /// `true` or `false`.
    Bool,
    /// One string (`duration = "30s"`).
    Str,
    /// A list of strings (`thresholds = ["p99 < 250ms"]`).
    List,
}

/// One option of `#[load_test]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionInfo {
    /// The option's name as written in the attribute.
    pub name: &'static str,
    /// The shape of its value.
    pub kind: ValueKind,
    /// What it accepts, for error messages.
    pub accepts: &'static str,
}

/// Every option `#[load_test]` accepts, in documentation order.
pub const OPTIONS: &[OptionInfo] = &[
    OptionInfo {
        name: "users",
        kind: ValueKind::Count,
        accepts: "a whole number of virtual users, at least 1 (closed model), e.g. `users = 50`",
    },
    OptionInfo {
        name: "think_time",
        kind: ValueKind::Str,
        accepts: "a duration or a range, e.g. \"50ms\" or \"50ms..150ms\"",
    },
    OptionInfo {
        name: "rate",
        kind: ValueKind::Str,
        accepts: "iterations per time unit (open model), e.g. \"500/s\", \"30000/m\", \"10/h\"",
    },
    OptionInfo {
        name: "max_in_flight",
        kind: ValueKind::Count,
        accepts: "a whole number, at least 1: the open model's cap on concurrent iterations",
    },
    OptionInfo {
        name: "on_saturation",
        kind: ValueKind::Str,
        accepts: "\"queue\" (start late, measure from the intended start) or \"drop\" (skip and count)",
    },
    OptionInfo {
        name: "stages",
        kind: ValueKind::List,
        accepts: "a list of \"DURATION:TARGET\" steps, e.g. [\"30s:50\", \"1m:50\", \"10s:0\"] for users or [\"30s:500/s\"] for a rate",
    },
    OptionInfo {
        name: "duration",
        kind: ValueKind::Str,
        accepts: "a duration, e.g. \"30s\", \"1m30s\", \"500ms\"",
    },
    OptionInfo {
        name: "iterations",
        kind: ValueKind::Count,
        accepts: "a whole number of iterations in total, at least 1",
    },
    OptionInfo {
        name: "rate_limit",
        kind: ValueKind::Str,
        accepts: "HTTP requests per time unit across all users, e.g. \"1000/s\"",
    },
    OptionInfo {
        name: "retries",
        kind: ValueKind::Number,
        accepts: "a whole number of retries per request, 0 or more",
    },
    OptionInfo {
        name: "backoff",
        kind: ValueKind::Str,
        accepts: "the backoff bounds, e.g. \"100ms..5s\" (or one duration: the first delay)",
    },
    OptionInfo {
        name: "retry_on",
        kind: ValueKind::List,
        accepts: "a list of \"connect\", \"timeout\", \"5xx\", \"4xx\", \"429\" or a status code such as \"503\"",
    },
    OptionInfo {
        name: "timeout",
        kind: ValueKind::Str,
        accepts: "a per-request timeout, e.g. \"10s\"",
    },
    OptionInfo {
        name: "iteration_timeout",
        kind: ValueKind::Str,
        accepts: "a timeout for one whole iteration, e.g. \"30s\"",
    },
    OptionInfo {
        name: "slo",
        kind: ValueKind::Str,
        accepts: "an iteration latency objective, e.g. \"500ms\": goodput counts the successful iterations that met it",
    },
    OptionInfo {
        name: "thresholds",
        kind: ValueKind::List,
        accepts: "a list of rules, e.g. [\"p99 < 250ms\", \"error_rate < 1%\"]",
    },
    OptionInfo {
        name: "abort_on_fail",
        kind: ValueKind::Bool,
        accepts: "true or false: stop the test as soon as a threshold fails",
    },
    OptionInfo {
        name: "tags",
        kind: ValueKind::List,
        accepts: "a list of labels, e.g. [\"smoke\", \"api\"]",
    },
    OptionInfo {
        name: "target",
        kind: ValueKind::Str,
        accepts: "a base URL, e.g. \"http://127.0.0.1:8080\"",
    },
    OptionInfo {
        name: "danger_accept_invalid_certs",
        kind: ValueKind::Bool,
        accepts: "true or false: accept invalid TLS certificates (self-signed, expired, wrong host); certificates are verified unless this is true",
    },
    OptionInfo {
        name: "max_names",
        kind: ValueKind::Count,
        accepts: "a whole number, at least 1: the most distinct request names (and custom metric names) a test keeps; further ones are counted under \"(overflow)\"",
    },
    OptionInfo {
        name: "tolerance",
        kind: ValueKind::List,
        accepts: "a list of \"METRIC=PERCENT\" regression tolerances, METRIC one of p50, p95, p99, throughput, error_rate, e.g. [\"p99=20%\", \"error_rate=0.5%\"]",
    },
    OptionInfo {
        name: "min_capacity",
        kind: ValueKind::Str,
        accepts: "iterations per time unit, e.g. \"2000/s\": under `cargo loadtest --find-max`, the test passes only when its found capacity is at least this",
    },
    OptionInfo {
        name: "client",
        kind: ValueKind::Str,
        accepts: "\"hyper\" (the default: per-user connections) or \"reqwest\" (the full reqwest client: proxies, HTTP_PROXY/HTTPS_PROXY)",
    },
    OptionInfo {
        name: "cookies",
        kind: ValueKind::Bool,
        accepts: "true or false: keep a cookie jar per virtual user (default true)",
    },
    OptionInfo {
        name: "local_addresses",
        kind: ValueKind::List,
        accepts: "a list of source IP addresses or CIDR blocks that connections are opened from, round-robin (native and hyper transports), e.g. [\"127.0.0.2\", \"127.0.0.3\"] or [\"127.0.0.0/30\"]",
    },
    OptionInfo {
        name: "trace",
        kind: ValueKind::Str,
        accepts: "\"on\" (the default: a W3C `traceparent` on every request, a trace per iteration, sampled for `trace_sample` of the iterations), \"propagate\" (the ids only, the sampled flag never set) or \"off\" (no trace header)",
    },
    OptionInfo {
        name: "trace_sample",
        kind: ValueKind::Str,
        accepts: "a fraction from 0 to 1 or a percentage, e.g. \"1\" (the default), \"0.1\" or \"10%\": the share of iterations whose `traceparent` has the sampled flag set",
    },
];

/// The names of all options, comma-separated, for error messages.
pub fn option_names() -> String {
    OPTIONS
        .iter()
        .map(|o| o.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Looks an option up by name.
pub fn option(name: &str) -> Option<&'static OptionInfo> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a typo
/// (about a third of the longer name's characters differ, at most), for "did you mean" hints.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d > 0 && *d <= name.chars().count().max(c.chars().count()).div_ceil(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Checks one option's value(s); `values` has one element unless the option takes a list.
pub fn check_value(name: &str, values: &[&str]) -> Result<(), OptionError> {
    let info = option(name).ok_or_else(|| OptionError::Unknown {
        name: name.to_string(),
        suggestion: closest(name, OPTIONS.iter().map(|o| o.name)),
    })?;
    let one = || values.first().copied().unwrap_or("");
    let checked = match name {
        "users" | "max_in_flight" | "iterations" | "max_names" => {
            parse_count(name, one()).map(drop)
        }
        "retries" => parse_number(name, one()).map(drop),
        "abort_on_fail" | "danger_accept_invalid_certs" | "cookies" => {
            parse_bool(name, one()).map(drop)
        }
        "client" => parse_client(one()).map(drop),
        "trace" => parse_trace(one()).map(drop),
        "trace_sample" => parse_fraction(one()).map(drop),
        "local_addresses" => parse_local_addresses(values).map(drop),
        "think_time" => parse_range(one()).map(drop),
        "rate" | "rate_limit" | "min_capacity" => parse_rate(one()).map(drop),
        "on_saturation" => parse_saturation(one()).map(drop),
        "stages" => values.iter().try_for_each(|s| parse_stage(s).map(drop)),
        "duration" | "timeout" | "iteration_timeout" | "slo" => parse_duration(one()).map(drop),
        "backoff" => parse_range(one()).map(drop),
        "retry_on" => values.iter().try_for_each(|s| parse_retry_on(s).map(drop)),
        "thresholds" => values.iter().try_for_each(|s| parse_threshold(s).map(drop)),
        "tags" => values.iter().try_for_each(|s| parse_tag(s)),
        "target" => parse_target(one()),
        "tolerance" => values.iter().try_for_each(|s| parse_tolerance(s).map(drop)),
        _ => return Err(OptionError::Unchecked(info)),
    };
    checked.map_err(|e| OptionError::value(name, e))
}

/// Checks that a set of options (by name, with their stage lists) describes one load model.
pub fn check_combination(present: &[&str], stages: &[&str]) -> Result<(), OptionError> {
    let has = |n: &str| present.contains(&n);
    let conflict = |c| Err(OptionError::Conflict(c));
    if has("users") && has("rate") {
        return conflict(Conflict::UsersAndRate);
    }
    let open = has("rate") || stages_are_rates(stages)?;
    if open && has("think_time") {
        return conflict(Conflict::ThinkTimeInOpenModel);
    }
    if !open && (has("max_in_flight") || has("on_saturation")) {
        return conflict(Conflict::OpenOptionsInClosedModel);
    }
    if has("duration") && !stages.is_empty() {
        return conflict(Conflict::DurationAndStages);
    }
    if has("users") && stages_are_rates(stages)? {
        return conflict(Conflict::UsersWithRateStages);
    }
    if has("rate") && !stages.is_empty() && !stages_are_rates(stages)? {
        return conflict(Conflict::RateWithUserStages);
    }
    Ok(())
}

/// Whether a stage list ramps a rate (open model) rather than users; mixed lists are an error.
pub fn stages_are_rates(stages: &[&str]) -> Result<bool, OptionError> {
    let mut kinds = stages.iter().map(|s| {
        parse_stage(s)
            .map(|st| matches!(st.level, StageLevel::Rate(_)))
            .map_err(|e| OptionError::value("stages", e))
    });
    let Some(first) = kinds.next().transpose()? else {
        return Ok(false);
    };
    for k in kinds {
        if k? != first {
            return Err(OptionError::MixedStages {
                stages: stages.iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    Ok(first)
}

/// Parses a whole number of at least 1.
pub fn parse_count(name: &str, s: &str) -> Result<u64, ValueError> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ValueError::malformed(
            Expected::Count {
                option: name.to_string(),
            },
            s,
        )),
    }
}

/// Parses a whole number of at least 0.
pub fn parse_number(name: &str, s: &str) -> Result<u64, ValueError> {
    s.trim().replace('_', "").parse::<u64>().map_err(|_| {
        ValueError::malformed(
            Expected::Number {
                option: name.to_string(),
            },
            s,
        )
    })
}

/// Parses `true` or `false`.
pub fn parse_bool(name: &str, s: &str) -> Result<bool, ValueError> {
    match s.trim() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ValueError::malformed(
            Expected::Bool {
                option: name.to_string(),
            },
            s,
        )),
    }
}

pub(crate) const DURATION_HELP: &str = "expected a number followed by a unit (us, ms, s, m, h), e.g. \"500ms\", \"30s\", \"1m30s\", \"1.5s\"";

/// Parses a duration such as `"500ms"`, `"30s"`, `"1m30s"` or `"1.5s"`.
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    let err = || ValueError::malformed(Expected::Duration, s);
    let text = s.trim();
    if text.is_empty() {
        return Err(err());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| !(c.is_ascii_alphabetic() || c == 'µ'))
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if !total.is_finite() || total > 1e9 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way [`parse_duration`] reads it back (`1m30s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        return "0s".into();
    }
    if us.is_multiple_of(1_000_000) {
        let s = us / 1_000_000;
        let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
        let mut out = String::new();
        if h > 0 {
            out += &format!("{h}h");
        }
        if m > 0 {
            out += &format!("{m}m");
        }
        if s > 0 {
            out += &format!("{s}s");
        }
        out
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

/// A rate of events per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Events per second.
    pub per_second: f64,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", trim_float(self.per_second))
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Parses a rate such as `"500/s"`, `"30000/m"`, `"10/h"` or a bare number (per second).
pub fn parse_rate(s: &str) -> Result<Rate, ValueError> {
    let err = || ValueError::malformed(Expected::Rate, s);
    let text = s.trim();
    let (num, unit) = text.split_once('/').unwrap_or((text, "s"));
    let n: f64 = num.trim().replace('_', "").parse().map_err(|_| err())?;
    let per = match unit.trim() {
        "s" | "sec" | "1s" => 1.0,
        "m" | "min" | "1m" => 60.0,
        "h" | "1h" => 3600.0,
        "ms" => 0.001,
        _ => return Err(err()),
    };
    let per_second = n / per;
    if !per_second.is_finite() || !(0.0..=1e9).contains(&per_second) {
        return Err(err());
    }
    Ok(Rate { per_second })
}

/// A duration that is either fixed or drawn uniformly from a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DurationRange {
    /// The lower bound (the fixed value when `min == max`).
    pub min: Duration,
    /// The upper bound.
    pub max: Duration,
}

/// Parses `"50ms"` or `"50ms..150ms"`.
pub fn parse_range(s: &str) -> Result<DurationRange, ValueError> {
    let bound = |b: &str| {
        parse_duration(b)
            .map_err(|e| ValueError::new(Expected::Range, s, Problem::Part(Box::new(e))))
    };
    match s.split_once("..") {
        None => {
            let d = bound(s)?;
            Ok(DurationRange { min: d, max: d })
        }
        Some((a, b)) => {
            let (min, max) = (bound(a)?, bound(b)?);
            if min > max {
                return Err(ValueError::new(Expected::Range, s, Problem::ReversedBounds));
            }
            Ok(DurationRange { min, max })
        }
    }
}

/// What an open-model iteration does when it cannot start on time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saturation {
    /// Start late, measuring latency from the intended start (wrk2's correction).
    Queue,
    /// Skip the iteration and count it as dropped (k6's behaviour).
    Drop,
}

/// Parses `"queue"` or `"drop"`.
pub fn parse_saturation(s: &str) -> Result<Saturation, ValueError> {
    match s.trim() {
        "queue" => Ok(Saturation::Queue),
        "drop" => Ok(Saturation::Drop),
        _ => Err(ValueError::malformed(Expected::Saturation, s)),
    }
}

/// Which HTTP transport carries `ctx.http()`'s requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// The runtime's own HTTP/1.1 exchange, in the task that owns the connection (the default);
    /// HTTP/2, when negotiated, through hyper.
    Native,
    /// hyper's per-connection client: each virtual user owns its connections.
    Hyper,
    /// reqwest's pooled client: proxies and everything reqwest does.
    Reqwest,
}

impl ClientKind {
    /// The name as written in options and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Native => "native",
            ClientKind::Hyper => "hyper",
            ClientKind::Reqwest => "reqwest",
        }
    }
}

/// Parses `"native"`, `"hyper"` or `"reqwest"`.
pub fn parse_client(s: &str) -> Result<ClientKind, ValueError> {
    match s.trim() {
        "native" => Ok(ClientKind::Native),
        "hyper" => Ok(ClientKind::Hyper),
        "reqwest" => Ok(ClientKind::Reqwest),
        _ => Err(ValueError::malformed(Expected::Client, s)),
    }
}

/// Whether and how requests carry W3C trace context (`trace`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceMode {
    /// A `traceparent` on every request, a trace id per iteration, the sampled flag set for
    /// `trace_sample` of the iterations (the default).
    #[default]
    On,
    /// A `traceparent` on every request with the sampled flag never set: the ids reach the
    /// server's logs, and the load test asks for no trace to be recorded.
    Propagate,
    /// No trace header.
    Off,
}

impl TraceMode {
    /// The name as written in options and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceMode::On => "on",
            TraceMode::Propagate => "propagate",
            TraceMode::Off => "off",
        }
    }
}

/// Parses `"on"`, `"propagate"` or `"off"`.
pub fn parse_trace(s: &str) -> Result<TraceMode, ValueError> {
    match s.trim() {
        "on" => Ok(TraceMode::On),
        "propagate" => Ok(TraceMode::Propagate),
        "off" => Ok(TraceMode::Off),
        _ => Err(ValueError::malformed(Expected::Trace, s)),
    }
}

/// Parses a fraction from 0 to 1 (`"0.25"`) or a percentage from 0% to 100% (`"25%"`).
pub fn parse_fraction(s: &str) -> Result<f64, ValueError> {
    let t = s.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => t.parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(ValueError::malformed(Expected::Fraction, s)),
    }
}

/// The most source addresses `local_addresses` may name (after CIDR blocks are expanded).
pub const MAX_LOCAL_ADDRESSES: usize = 4096;

/// Parses `local_addresses`: IP addresses and CIDR blocks (`127.0.0.0/30`: the block's host
/// addresses, `127.0.0.1` and `127.0.0.2`; a /31 or /32, or an IPv6 block, gives every address).
pub fn parse_local_addresses(values: &[&str]) -> Result<Vec<std::net::IpAddr>, ValueError> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let mut out = Vec::new();
    for raw in values {
        let v = raw.trim();
        let bad = || ValueError::malformed(Expected::LocalAddress, raw);
        match v.split_once('/') {
            None => out.push(v.parse::<IpAddr>().map_err(|_| bad())?),
            Some((addr, len)) => {
                let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                let len: u32 = len.parse().map_err(|_| bad())?;
                let bits = if addr.is_ipv4() { 32 } else { 128 };
                if len > bits {
                    return Err(bad());
                }
                let host_bits = bits - len;
                if host_bits > 16 {
                    return Err(ValueError::new(
                        Expected::LocalAddress,
                        raw,
                        Problem::BlockTooLarge,
                    ));
                }
                let size = 1u128 << host_bits;
                let base = match addr {
                    IpAddr::V4(a) => u128::from(u32::from(a)),
                    IpAddr::V6(a) => u128::from(a),
                } & !(size - 1);
                // An IPv4 block of 4 or more leaves out its network and broadcast addresses.
                let (first, last) = if addr.is_ipv4() && size >= 4 {
                    (base + 1, base + size - 2)
                } else {
                    (base, base + size - 1)
                };
                for x in first..=last {
                    out.push(match addr {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(x as u32)),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(x)),
                    });
                }
            }
        }
        if out.len() > MAX_LOCAL_ADDRESSES {
            return Err(ValueError::new(
                Expected::LocalAddress,
                raw,
                Problem::TooManyAddresses(out.len()),
            ));
        }
    }
    Ok(out)
}

/// Where a ramping stage goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StageLevel {
    /// A number of virtual users (closed model).
    Users(u64),
    /// An arrival rate (open model).
    Rate(Rate),
}

/// One ramping stage: move linearly from the previous target to `target` over `duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    /// How long the ramp takes.
    pub duration: Duration,
    /// Where it ends.
    pub level: StageLevel,
}

/// Parses `"30s:50"` (users) or `"30s:500/s"` (rate).
pub fn parse_stage(s: &str) -> Result<Stage, ValueError> {
    let err = |problem| ValueError::new(Expected::Stage, s, problem);
    let part = |e| err(Problem::Part(Box::new(e)));
    let (d, t) = s
        .split_once(':')
        .ok_or_else(|| err(Problem::MissingSeparator(':')))?;
    let duration = parse_duration(d).map_err(part)?;
    let t = t.trim();
    let level = if t.contains('/') {
        StageLevel::Rate(parse_rate(t).map_err(part)?)
    } else {
        StageLevel::Users(
            t.replace('_', "")
                .parse()
                .map_err(|_| err(Problem::TargetNotWhole(t.to_string())))?,
        )
    };
    Ok(Stage { duration, level })
}

/// When a request is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryOn {
    /// The connection could not be made.
    Connect,
    /// The request timed out.
    Timeout,
    /// Any 5xx status.
    Status5xx,
    /// Any 4xx status.
    Status4xx,
    /// The connection closed before any byte of the response (class `closed`): retried only for
    /// idempotent methods, since the server may have seen the request.
    Closed,
    /// One status code.
    Status(u16),
}

/// Parses one `retry_on` entry.
pub fn parse_retry_on(s: &str) -> Result<RetryOn, ValueError> {
    match s.trim() {
        "connect" => Ok(RetryOn::Connect),
        "timeout" => Ok(RetryOn::Timeout),
        "5xx" => Ok(RetryOn::Status5xx),
        "4xx" => Ok(RetryOn::Status4xx),
        "closed" => Ok(RetryOn::Closed),
        code => match code.parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => Ok(RetryOn::Status(c)),
            _ => Err(ValueError::malformed(Expected::RetryOn, s)),
        },
    }
}

/// Checks a tag: letters, digits, `-`, `_`, `.` and `:`.
pub fn parse_tag(s: &str) -> Result<(), ValueError> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        Ok(())
    } else {
        Err(ValueError::malformed(Expected::Tag, s))
    }
}

/// Checks a target base URL: `http://` or `https://` followed by a host.
pub fn parse_target(s: &str) -> Result<(), ValueError> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => Ok(()),
        _ => Err(ValueError::malformed(Expected::Target, s)),
    }
}

/// How much a metric may move before the regression gate calls the move a change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Allowance {
    /// A relative change (`0.2` for `p99=20%`); for `error_rate`, a fraction in percentage
    /// points.
    Relative(f64),
    /// An absolute floor for a latency metric (`p50=250us`): a change smaller than this is never
    /// a regression nor an improvement, whatever its relative size.
    Floor(Duration),
}

/// One regression tolerance entry as written: `p99=20%` or `p50=250us`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerance {
    /// The gated metric.
    pub metric: GatedMetric,
    /// What it allows.
    pub allowance: Allowance,
}

/// Parses a regression tolerance: `"p99=20%"` (a relative change; for `error_rate`, percentage
/// points) or, for `p50`, `p95` and `p99`, an absolute floor such as `"p50=250us"`.
pub fn parse_tolerance(s: &str) -> Result<Tolerance, ValueError> {
    let err = |problem| ValueError::new(Expected::Tolerance, s, problem);
    let (metric, value) = s
        .split_once('=')
        .ok_or_else(|| err(Problem::MissingSeparator('=')))?;
    let name = metric.trim();
    let metric = GatedMetric::from_name(name)
        .ok_or_else(|| err(Problem::UnknownMetric(name.to_string())))?;
    let value = value.trim();
    let bad = |wants| {
        err(Problem::BadLimit {
            limit: value.to_string(),
            wants,
        })
    };
    let has_unit = value.ends_with(|c: char| c.is_ascii_alphabetic() || c == 'µ');
    let allowance = if has_unit {
        if !metric.is_latency() {
            return Err(err(Problem::FloorNotAccepted {
                metric,
                value: value.to_string(),
            }));
        }
        let floor = parse_duration(value).map_err(|_| bad("is not a duration such as 250us"))?;
        if floor > Duration::from_secs(3600) {
            return Err(bad("is longer than an hour"));
        }
        Allowance::Floor(floor)
    } else {
        let fraction = match value.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
            None => value.parse::<f64>(),
        }
        .ok()
        .filter(|v| v.is_finite() && (0.0..=10.0).contains(v))
        .ok_or_else(|| bad("is not a percentage such as 20%"))?;
        Allowance::Relative(fraction)
    };
    Ok(Tolerance { metric, allowance })
}

/// What a threshold rule measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A latency percentile, e.g. 99.0 for `p99`, 99.9 for `p99.9`.
    Percentile(f64),
    /// Mean latency.
    Mean,
    /// Smallest latency.
    Min,
    /// Largest latency.
    Max,
    /// Failed iterations (or failed requests of a name) over all of them, as a fraction.
    ErrorRate,
    /// Requests per second (of all requests, or of one name).
    Rps,
    /// Iterations completed, ok or failed.
    Iterations,
    /// Requests sent, counting each retry attempt.
    Requests,
    /// Open-model iterations dropped because the generator could not start them.
    Dropped,
    /// Iterations that started late.
    Late,
    /// Failed iterations.
    Failed,
}

impl Metric {
    /// Whether the metric is a latency (its value is a duration).
    pub fn is_latency(&self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::Mean | Metric::Min | Metric::Max
        )
    }
}

/// A measure of the streamed responses of a request name, read by a latency rule whose name is
/// prefixed with it: `p99(first_event:chat) < 300ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamMeasure {
    /// `first_byte:NAME`: from the request's start to the first byte of the body.
    FirstByte,
    /// `first_event:NAME`: from the request's start to the first complete event.
    FirstEvent,
    /// `gap:NAME`: the time between one event of a stream and the next.
    Gap,
    /// `stream:NAME`: a stream's total time, from the request's start to its end.
    Total,
}

impl StreamMeasure {
    /// Every measure, in report order.
    pub const ALL: [StreamMeasure; 4] = [
        StreamMeasure::FirstByte,
        StreamMeasure::FirstEvent,
        StreamMeasure::Gap,
        StreamMeasure::Total,
    ];

    /// The measure's prefix in threshold rules (`first_byte`, `first_event`, `gap`, `stream`).
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMeasure::FirstByte => "first_byte",
            StreamMeasure::FirstEvent => "first_event",
            StreamMeasure::Gap => "gap",
            StreamMeasure::Total => "stream",
        }
    }

    /// The measure of a prefix, if it is one.
    pub fn parse(prefix: &str) -> Option<StreamMeasure> {
        StreamMeasure::ALL
            .into_iter()
            .find(|m| m.as_str() == prefix)
    }
}

/// A comparison operator of a threshold rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// Applies the comparison `observed OP limit`.
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => (observed - limit).abs() < 1e-9,
            Op::Ne => (observed - limit).abs() >= 1e-9,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// A parsed threshold rule such as `p95(home) < 100ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The rule as written.
    pub source: String,
    /// What it measures.
    pub metric: Metric,
    /// A request name or custom metric; `None` means the iteration as a whole.
    pub scope: Option<String>,
    /// A latency rule on a measure of the scope's streamed responses (`p99(gap:chat)`: the
    /// scope is `chat`, the measure [`StreamMeasure::Gap`]).
    pub stream: Option<StreamMeasure>,
    /// The comparison.
    pub op: Op,
    /// The limit, in microseconds for latencies, as a fraction for `error_rate`, else a plain number.
    pub limit: f64,
}

/// The threshold grammar, shown with every threshold error.
pub const THRESHOLD_GRAMMAR: &str = "expected `METRIC[(NAME)] OP VALUE` where METRIC is p50, p90, p95, p99, p99.9 (any pNN), mean, min, max (VALUE a duration such as 250ms), error_rate (VALUE a percentage such as 1% or a fraction such as 0.01), rps, iterations, requests, dropped, late or failed (VALUE a number), and OP is <, <=, >, >=, == or !=; a latency rule reads a measure of NAME's streamed responses when NAME is prefixed with first_byte:, first_event:, gap: or stream: (its total time); e.g. \"p99 < 250ms\", \"p95(home) < 100ms\", \"error_rate < 1%\", \"rps > 400\", \"dropped == 0\", \"p99(gap:chat) < 50ms\"";

/// Parses a threshold rule.
pub fn parse_threshold(s: &str) -> Result<Threshold, ValueError> {
    let err = |problem| ValueError::new(Expected::Threshold, s, problem);
    let text = s.trim();
    let op_pos = text
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| err(Problem::NoOperator))?;
    let (lhs, rest) = text.split_at(op_pos);
    let (op, value) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(tok, op)| rest.strip_prefix(tok).map(|v| (*op, v.trim())))
    .ok_or_else(|| err(Problem::UnknownOperator))?;
    let lhs = lhs.trim();
    let (name, scope) = match lhs.split_once('(') {
        Some((n, sc)) => {
            let sc = sc
                .strip_suffix(')')
                .ok_or_else(|| err(Problem::UnclosedName))?
                .trim();
            if sc.is_empty() {
                return Err(err(Problem::EmptyName));
            }
            (n.trim(), Some(sc.to_string()))
        }
        None => (lhs, None),
    };
    let metric = match name {
        "mean" | "avg" => Metric::Mean,
        "min" => Metric::Min,
        "max" => Metric::Max,
        "error_rate" => Metric::ErrorRate,
        "rps" => Metric::Rps,
        "iterations" => Metric::Iterations,
        "requests" => Metric::Requests,
        "dropped" => Metric::Dropped,
        "late" => Metric::Late,
        "failed" => Metric::Failed,
        p if p.starts_with('p') => match p[1..].parse::<f64>() {
            Ok(q) if q > 0.0 && q <= 100.0 => Metric::Percentile(q),
            _ => return Err(err(Problem::UnknownMetric(name.to_string()))),
        },
        "" => return Err(err(Problem::MissingMetric)),
        _ => return Err(err(Problem::UnknownMetric(name.to_string()))),
    };
    let bad = |wants| {
        err(Problem::BadLimit {
            limit: value.to_string(),
            wants,
        })
    };
    let limit = if metric.is_latency() {
        parse_duration(value)
            .map_err(|_| bad("is not a duration"))?
            .as_secs_f64()
            * 1e6
    } else if metric == Metric::ErrorRate {
        match value.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
            None => value.parse::<f64>(),
        }
        .ok()
        .filter(|v| v.is_finite() && (0.0..=1.0).contains(v))
        .ok_or_else(|| bad("is not a percentage or a fraction between 0 and 1"))?
    } else {
        value
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad("is not a number"))?
    };
    // `first_event:chat`: a stream measure of `chat`. A prefix that is a lowercase word is read
    // as a measure (and refused when it is none); other names with a colon (`GET /a:b`) stay
    // names.
    let (scope, stream) = match scope {
        Some(sc) => match sc.split_once(':') {
            Some((prefix, rest))
                if !prefix.is_empty()
                    && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                let measure = StreamMeasure::parse(prefix)
                    .ok_or_else(|| err(Problem::UnknownStreamMeasure(prefix.to_string())))?;
                if !metric.is_latency() {
                    return Err(err(Problem::StreamMeasureNotLatency(prefix.to_string())));
                }
                let rest = rest.trim();
                if rest.is_empty() {
                    return Err(err(Problem::EmptyName));
                }
                (Some(rest.to_string()), Some(measure))
            }
            _ => (Some(sc), None),
        },
        None => (None, None),
    };
    Ok(Threshold {
        source: text.to_string(),
        metric,
        scope,
        stream,
        op,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses_take_addresses_and_cidr_blocks() {
        let got = parse_local_addresses(&["127.0.0.9", "127.0.0.2/30", "::1/127"]).unwrap();
        let want: Vec<std::net::IpAddr> = ["127.0.0.9", "127.0.0.1", "127.0.0.2", "::", "::1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert_eq!(parse_local_addresses(&["10.0.0.4/31"]).unwrap().len(), 2);
        assert_eq!(parse_local_addresses(&["10.0.0.4/32"]).unwrap().len(), 1);
        for bad in ["127.0.0.1/33", "localhost", "10.0.0.0/8", "1.2.3.4/x"] {
            let e = parse_local_addresses(&[bad]).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(parse_client(" reqwest "), Ok(ClientKind::Reqwest));
        assert!(
            parse_client("curl")
                .unwrap_err()
                .to_string()
                .contains("\"curl\"")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "30", "3x", "s", "-1s", "1..2s"] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{bad:?}")) && e.contains("500ms"),
                "{e}"
            );
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("500/s").unwrap().per_second, 500.0);
        assert_eq!(parse_rate("30000/m").unwrap().per_second, 500.0);
        assert_eq!(parse_rate("100").unwrap().per_second, 100.0);
        assert!(
            parse_rate("5/d")
                .unwrap_err()
                .to_string()
                .contains("\"5/d\"")
        );
        assert!(parse_rate("x/s").is_err());
    }

    #[test]
    fn stages_and_ranges() {
        assert_eq!(
            parse_stage("30s:50").unwrap(),
            Stage {
                duration: Duration::from_secs(30),
                level: StageLevel::Users(50)
            }
        );
        assert!(
            matches!(parse_stage("1m:500/s").unwrap().level, StageLevel::Rate(r) if r.per_second == 500.0)
        );
        assert!(parse_stage("30s").is_err());
        assert!(stages_are_rates(&["1s:5", "1s:5/s"]).is_err());
        assert_eq!(
            parse_range("50ms..150ms").unwrap().max,
            Duration::from_millis(150)
        );
        assert!(parse_range("2s..1s").is_err());
    }

    #[test]
    fn thresholds() {
        let t = parse_threshold("p95(home) < 100ms").unwrap();
        assert_eq!(
            (t.metric, t.scope.as_deref(), t.op, t.limit),
            (Metric::Percentile(95.0), Some("home"), Op::Lt, 100_000.0)
        );
        assert_eq!(parse_threshold("error_rate < 1%").unwrap().limit, 0.01);
        // A gRPC method path is a name like any other: slashes and dots inside the parentheses.
        let t = parse_threshold("p99(/shop.Cart/AddItem) < 50ms").unwrap();
        assert_eq!(
            (t.metric, t.scope.as_deref(), t.op, t.limit),
            (
                Metric::Percentile(99.0),
                Some("/shop.Cart/AddItem"),
                Op::Lt,
                50_000.0
            )
        );
        let t = parse_threshold("error_rate(/shop.v1.Cart/ListItems) < 1%").unwrap();
        assert_eq!(
            (t.metric, t.scope.as_deref(), t.limit),
            (Metric::ErrorRate, Some("/shop.v1.Cart/ListItems"), 0.01)
        );
        assert_eq!(parse_threshold("dropped == 0").unwrap().op, Op::Eq);
        assert_eq!(
            parse_threshold("p99.9 <= 1s").unwrap().metric,
            Metric::Percentile(99.9)
        );
        for bad in [
            "p99 250ms",
            "p99 < fast",
            "speed < 3",
            "error_rate < 150%",
            "p95(home < 1s",
        ] {
            assert!(
                parse_threshold(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("METRIC"),
                "{bad}"
            );
        }
    }

    #[test]
    fn stream_measures_prefix_a_latency_rules_name() {
        let t = parse_threshold("p99(first_event:chat) < 300ms").unwrap();
        assert_eq!(
            (t.metric, t.scope.as_deref(), t.stream, t.limit),
            (
                Metric::Percentile(99.0),
                Some("chat"),
                Some(StreamMeasure::FirstEvent),
                300_000.0
            )
        );
        for (rule, measure) in [
            ("p50(first_byte:chat) < 1s", StreamMeasure::FirstByte),
            ("max( gap: chat ) <= 50ms", StreamMeasure::Gap),
            ("mean(stream:chat) < 2s", StreamMeasure::Total),
        ] {
            let t = parse_threshold(rule).unwrap();
            assert_eq!(
                (t.scope.as_deref(), t.stream),
                (Some("chat"), Some(measure))
            );
        }
        // A name whose colon follows no lowercase word stays a name.
        let t = parse_threshold("p99(GET /a:b) < 1s").unwrap();
        assert_eq!((t.scope.as_deref(), t.stream), (Some("GET /a:b"), None));
        assert_eq!(parse_threshold("p99(chat) < 1s").unwrap().stream, None);
        let e = parse_threshold("p99(gaps:chat) < 50ms")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "invalid threshold \"p99(gaps:chat) < 50ms\": unknown stream measure `gaps` before `:` (accepted: first_byte, first_event, gap, stream); {THRESHOLD_GRAMMAR}"
            )
        );
        let e = parse_threshold("rps(gap:chat) > 5")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"rps(gap:chat) > 5\"") && e.contains("takes a latency metric"),
            "{e}"
        );
        assert!(
            parse_threshold("p99(gap:) < 1s")
                .unwrap_err()
                .to_string()
                .contains("empty name")
        );
    }

    #[test]
    fn tolerances() {
        let t = |metric: &str, allowance| Tolerance {
            metric: GatedMetric::from_name(metric).unwrap(),
            allowance,
        };
        assert_eq!(
            parse_tolerance("p99=20%").unwrap(),
            t("p99", Allowance::Relative(0.2))
        );
        assert_eq!(
            parse_tolerance(" error_rate = 0.005 ").unwrap(),
            t("error_rate", Allowance::Relative(0.005))
        );
        assert_eq!(
            parse_tolerance("p50=250us").unwrap(),
            t("p50", Allowance::Floor(Duration::from_micros(250)))
        );
        assert_eq!(
            parse_tolerance("p99 = 2ms").unwrap(),
            t("p99", Allowance::Floor(Duration::from_millis(2)))
        );
        for bad in [
            "p99",
            "p42=10%",
            "p99=lots",
            "p99=-5%",
            "throughput=5ms",
            "p50=5parsecs",
            "p50=2h",
        ] {
            assert!(
                parse_tolerance(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("METRIC=PERCENT"),
                "{bad}"
            );
        }
    }

    #[test]
    fn combinations() {
        assert!(check_combination(&["users", "rate"], &[]).is_err());
        assert!(check_combination(&["rate", "think_time"], &[]).is_err());
        assert!(check_combination(&["users", "max_in_flight"], &[]).is_err());
        assert!(check_combination(&["stages", "max_in_flight"], &["10s:5/s"]).is_ok());
        assert!(check_combination(&["users", "duration"], &[]).is_ok());
        assert!(
            check_value("nope", &["1"])
                .unwrap_err()
                .to_string()
                .contains("users")
        );
    }

    #[test]
    fn closest_suggests_typos_only() {
        let names = ["checkout", "browse", "users"];
        assert_eq!(closest("chekout", names), Some("checkout"));
        assert_eq!(closest("usres", names), Some("users"));
        assert_eq!(closest("zzz", names), None);
        assert_eq!(
            closest("checkout", names),
            None,
            "an exact match is no typo"
        );
        assert!(
            check_value("duraton", &["1s"])
                .unwrap_err()
                .to_string()
                .contains("did you mean `duration`?")
        );
    }

    /// Errors carry what was refused (the value, the option, what it had to be, the problem),
    /// not only a message.
    #[test]
    fn errors_name_value_option_and_problem() {
        let e = parse_count("users", "0").unwrap_err();
        assert_eq!(
            e.expected,
            Expected::Count {
                option: "users".into()
            }
        );
        assert_eq!((e.value.as_str(), &e.problem), ("0", &Problem::Malformed));
        assert_eq!(e.expected.accepts(), "expected a whole number, at least 1");

        let e = parse_threshold("latency < 1s").unwrap_err();
        assert_eq!(e.expected, Expected::Threshold);
        assert_eq!(e.problem, Problem::UnknownMetric("latency".into()));
        assert_eq!(
            parse_threshold("p99 < fast").unwrap_err().problem,
            Problem::BadLimit {
                limit: "fast".into(),
                wants: "is not a duration"
            }
        );
        assert_eq!(
            parse_threshold("p99 250ms").unwrap_err().problem,
            Problem::NoOperator
        );

        let e = parse_tolerance("throughput=5ms").unwrap_err();
        assert_eq!(
            e.problem,
            Problem::FloorNotAccepted {
                metric: GatedMetric::Throughput,
                value: "5ms".into()
            }
        );
        assert_eq!(
            parse_tolerance("p99").unwrap_err().problem,
            Problem::MissingSeparator('=')
        );

        // A stage's bad duration is the stage's part; a range's bad bound likewise, and the
        // range's message is the bound's own.
        let e = parse_stage("1x:5").unwrap_err();
        assert_eq!(e.expected, Expected::Stage);
        let Problem::Part(part) = &e.problem else {
            panic!("{e:?}")
        };
        assert_eq!(
            (&part.expected, part.value.as_str()),
            (&Expected::Duration, "1x")
        );
        assert!(std::error::Error::source(&e).is_some());
        let e = parse_range("5ms..1x").unwrap_err();
        let Problem::Part(part) = &e.problem else {
            panic!("{e:?}")
        };
        assert_eq!((e.value.as_str(), part.value.as_str()), ("5ms..1x", "1x"));
        assert_eq!(e.to_string(), part.to_string());
        assert_eq!(
            parse_range("2s..1s").unwrap_err().problem,
            Problem::ReversedBounds
        );

        assert_eq!(
            parse_local_addresses(&["10.0.0.0/8"]).unwrap_err().problem,
            Problem::BlockTooLarge
        );
        let many: Vec<String> = (0..17).map(|i| format!("10.{i}.0.0/20")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let e = parse_local_addresses(&refs).unwrap_err();
        assert!(
            matches!(e.problem, Problem::TooManyAddresses(n) if n > MAX_LOCAL_ADDRESSES),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "local_addresses names {} addresses or more: at most 4096",
                match e.problem {
                    Problem::TooManyAddresses(n) => n,
                    _ => unreachable!(),
                }
            )
        );
    }

    #[test]
    fn option_errors_name_the_option() {
        assert_eq!(
            check_value("duraton", &["1s"]).unwrap_err(),
            OptionError::Unknown {
                name: "duraton".into(),
                suggestion: Some("duration")
            }
        );
        match check_value("rate", &["500/day"]).unwrap_err() {
            OptionError::Value { option, error } => {
                assert_eq!((option.as_str(), error.expected), ("rate", Expected::Rate));
                assert_eq!(error.value, "500/day");
            }
            other => panic!("{other:?}"),
        }
        let e = check_combination(&["users", "rate"], &[]).unwrap_err();
        assert_eq!(e, OptionError::Conflict(Conflict::UsersAndRate));
        assert_eq!(Conflict::UsersAndRate.options(), ["users", "rate"]);
        assert_eq!(
            stages_are_rates(&["1s:5", "1s:5/s"]).unwrap_err(),
            OptionError::MixedStages {
                stages: vec!["1s:5".into(), "1s:5/s".into()]
            }
        );
        assert!(matches!(
            stages_are_rates(&["1s"]).unwrap_err(),
            OptionError::Value { option, error } if option == "stages" && error.expected == Expected::Stage
        ));
    }

    /// The messages the attribute shows for bad values and combinations (formerly trybuild
    /// cases; the span they point at is still checked there for one value and one conflict).
    #[test]
    fn attribute_error_messages() {
        assert_eq!(
            check_value("rate", &["500/day"]).unwrap_err().to_string(),
            "invalid rate \"500/day\": expected a positive number per time unit, e.g. \"500/s\", \"30000/m\", \"10/h\" (a bare number means per second)"
        );
        assert_eq!(
            check_value("thresholds", &["p99 < 250ms", "latency < 1s"])
                .unwrap_err()
                .to_string(),
            format!(
                "invalid threshold \"latency < 1s\": unknown metric `latency`; {THRESHOLD_GRAMMAR}"
            )
        );
        assert_eq!(
            check_value("stages", &["30s:50", "1m", "10s:0"])
                .unwrap_err()
                .to_string(),
            "invalid stage \"1m\": missing `:`; expected \"DURATION:TARGET\", e.g. \"30s:50\" (users) or \"30s:500/s\" (rate)"
        );
        assert_eq!(
            check_combination(&["users", "duration", "max_in_flight"], &[])
                .unwrap_err()
                .to_string(),
            "`max_in_flight` and `on_saturation` belong to the open model; add `rate = \"N/s\"` or rate stages"
        );
        assert_eq!(
            check_combination(&["users", "duration", "rate"], &[])
                .unwrap_err()
                .to_string(),
            "`users` (closed model) and `rate` (open model) cannot be combined; pick one"
        );
        assert_eq!(
            check_combination(&["stages"], &["30s:50", "1m:500/s"])
                .unwrap_err()
                .to_string(),
            "stages [\"30s:50\", \"1m:500/s\"] mix user counts and rates; use only \"30s:50\" (users) or only \"30s:500/s\" (rate)"
        );
    }

    #[test]
    fn trace_modes_and_sample_fractions() {
        assert_eq!(parse_trace("propagate").unwrap(), TraceMode::Propagate);
        assert_eq!(parse_trace(" off ").unwrap(), TraceMode::Off);
        assert_eq!(TraceMode::default(), TraceMode::On);
        assert_eq!(parse_fraction("0.25").unwrap(), 0.25);
        assert_eq!(parse_fraction("10%").unwrap(), 0.1);
        assert_eq!(parse_fraction("1").unwrap(), 1.0);
        for bad in ["1.5", "-0.1", "101%", "half", "NaN", ""] {
            let e = check_value("trace_sample", &[bad]).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{bad:?}")) && e.contains("fraction from 0 to 1"),
                "{e}"
            );
        }
        let e = check_value("trace", &["yes"]).unwrap_err().to_string();
        assert!(e.contains("\"yes\"") && e.contains("\"propagate\""), "{e}");
    }
}
