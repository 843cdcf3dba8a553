//! Property tests over hostile input: the option grammar's parsers, the histogram encoding, the
//! harness protocol messages and the JSON report reader.
//!
//! Inputs come from seeded `fastrand` generators that mix grammar tokens (numbers, units, `/`,
//! `:`, `..`, `%`, operators, metric names, parentheses, whitespace) with arbitrary Unicode and
//! bytes, and mutate valid inputs, so that both the accept and the reject paths run.
//!
//! - `LOADTEST_PROPERTY_CASES`: cases per property (default 5000, fewer for the slow histogram,
//!   event and report properties: about ten seconds in all, unoptimized).
//! - `LOADTEST_PROPERTY_SECONDS`: optional time budget per property; it stops early and prints
//!   the number of cases it ran.
//! - `LOADTEST_PROPERTY_SEED`: the base seed (default fixed). Case `i` uses seed `base + i`; a
//!   failure prints the case's seed, and `LOADTEST_PROPERTY_SEED=<that> LOADTEST_PROPERTY_CASES=1`
//!   replays it.
//!
//! Long run: `LOADTEST_PROPERTY_CASES=1000000 cargo test --release -p loadtest-runtime --test
//! properties -- --nocapture`.

use fastrand::Rng;
use loadtest_runtime::class::{IterationClass, RequestClass};
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::grammar::{self, Metric, Op, StageLevel};
use loadtest_runtime::metrics::hdr::{self, Hist, MAX_US};
use loadtest_runtime::protocol::{
    EVENT_PREFIX, Event, ListedTest, Listing, PROTOCOL_VERSION, Progress, RunRequest, TestRequest,
};
use loadtest_runtime::report::{
    BaselineInfo, Comparison, ConfigSummary, ErrorSample, GateSummary, GeneratorHealth,
    IntervalPoint, IterationCounts, LatencySummary, MetricComparison, MetricVerdict,
    RequestMetrics, RequestTotals, RunInfo, RunReport, RunStatus, SCHEMA_VERSION, TestReport,
    TestResult, TestStatus, ThresholdOutcome,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

// ------------------------------------------------------------------------------------------------
// Allocation tracking: the largest single allocation each thread asked for, so that hostile
// histogram encodings can be shown not to make the decoder allocate absurd amounts.

struct Tracking;

thread_local! {
    static LARGEST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    let _ = LARGEST_ALLOCATION.try_with(|c| {
        if size > c.get() {
            c.set(size);
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST_ALLOCATION.with(|c| c.set(0));
    let out = f();
    (out, LARGEST_ALLOCATION.with(Cell::get))
}

/// What "not absurd" means for one histogram decode: the largest legal V2 histogram (5
/// significant figures up to `u64::MAX`) has about 6.3 million counters, 50 MB.
const DECODE_ALLOCATION_LIMIT: usize = 128 << 20;

// ------------------------------------------------------------------------------------------------
// The runner.

const DEFAULT_CASES: u64 = 5_000;
const DEFAULT_SEED: u64 = 0x10AD_7E57_5EED_0005;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim().replace('_', "");
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name} must be a whole number, got {v:?}"))
        }
        Err(_) => default,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

/// Runs `prop` on `LOADTEST_PROPERTY_CASES` seeded cases; fails with the case's seed.
fn property(name: &str, prop: impl FnMut(&mut Rng) -> Result<(), String>) {
    property_with(name, DEFAULT_CASES, prop)
}

/// [`property`] with its own default number of cases, for the slower properties.
fn property_with(
    name: &str,
    default_cases: u64,
    mut prop: impl FnMut(&mut Rng) -> Result<(), String>,
) {
    let cases = env_u64("LOADTEST_PROPERTY_CASES", default_cases);
    let base = env_u64("LOADTEST_PROPERTY_SEED", DEFAULT_SEED);
    let budget = std::env::var("LOADTEST_PROPERTY_SECONDS")
        .ok()
        .map(|_| Duration::from_secs(env_u64("LOADTEST_PROPERTY_SECONDS", 0)));
    let start = Instant::now();
    let mut ran = 0;
    for i in 0..cases {
        if budget.is_some_and(|b| start.elapsed() >= b) {
            break;
        }
        ran += 1;
        let seed = base.wrapping_add(i);
        let mut rng = Rng::with_seed(seed);
        let outcome = catch_unwind(AssertUnwindSafe(|| prop(&mut rng)))
            .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))));
        if let Err(why) = outcome {
            panic!(
                "property `{name}` failed at case {i}: {why}\nreplay with LOADTEST_PROPERTY_SEED={seed} LOADTEST_PROPERTY_CASES=1 cargo test -p loadtest-runtime --test properties {name}"
            );
        }
    }
    eprintln!(
        "property {name}: {ran} cases passed (seed {base}) in {:.1?}",
        start.elapsed()
    );
}

/// Calls `f`, turning a panic into an error that shows `input`.
fn no_panic<T>(
    what: &str,
    input: &dyn std::fmt::Debug,
    f: impl FnOnce() -> T,
) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|p| format!("{what} panicked on {input:?}: {}", panic_message(&*p)))
}

fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}

// ------------------------------------------------------------------------------------------------
// Generators.

fn pick<'a, T>(rng: &mut Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.usize(..xs.len())]
}

/// Pieces of the option grammar, and pieces that look like them.
const TOKENS: &[&str] = &[
    "0",
    "1",
    "2",
    "5",
    "9",
    "10",
    "30",
    "42",
    "50",
    "99",
    "100",
    "250",
    "500",
    "999",
    "1000",
    "1_000",
    "30000",
    "4294967296",
    "18446744073709551616",
    "1e3",
    "1e400",
    "-1",
    "-0",
    "+1",
    ".",
    ".5",
    "1.",
    "1.5",
    "0.001",
    "99.9",
    "..",
    "...",
    "/",
    ":",
    "%",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "!",
    "=<",
    "=>",
    "<>",
    "us",
    "µs",
    "ns",
    "ms",
    "s",
    "m",
    "min",
    "h",
    "d",
    "sec",
    "1s",
    "1m",
    "1h",
    "inf",
    "NaN",
    "infinity",
    "e",
    "E",
    "_",
    "p",
    "p50",
    "p90",
    "p95",
    "p99",
    "p99.9",
    "p0",
    "p100",
    "p100.1",
    "p1e1",
    "pNaN",
    "error_rate",
    "rps",
    "mean",
    "avg",
    "min",
    "max",
    "iterations",
    "requests",
    "dropped",
    "late",
    "failed",
    "throughput",
    "(",
    ")",
    "()",
    "(home)",
    "(GET /search)",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\u{0}",
    "\u{7f}",
    "\u{a0}",
    "\u{2003}",
    "\u{feff}",
    "queue",
    "drop",
    "connect",
    "timeout",
    "5xx",
    "4xx",
    "429",
    "503",
    "true",
    "false",
    "yes",
    "no",
    "http://",
    "https://",
    "127.0.0.1:8080",
    "\\",
    ",",
    "\"",
    "'",
    "#",
    "-",
    "+",
    "٣",
    "１",
    "𝟗",
    "é",
    "😀",
    "\u{200b}",
    "\u{301}",
];

fn any_char(rng: &mut Rng) -> char {
    match rng.u8(..4) {
        0 => rng.char('\0'..='\u{1f}'),
        1 => rng.char(' '..='~'),
        2 => rng.char('\u{80}'..='\u{7ff}'),
        _ => rng.char(..),
    }
}

fn random_text(rng: &mut Rng) -> String {
    let n = rng.usize(..24);
    (0..n).map(|_| any_char(rng)).collect()
}

fn token_soup(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.usize(1..9) {
        if rng.u8(..8) == 0 {
            s.push(any_char(rng));
        } else {
            s += *pick(rng, TOKENS);
        }
    }
    s
}

/// Applies 1 to 4 random edits: deletions, insertions of tokens or characters, replacements,
/// duplications, swaps and truncations.
fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut cs: Vec<char> = s.chars().collect();
    for _ in 0..rng.usize(1..5) {
        let at = rng.usize(..=cs.len());
        match rng.u8(..7) {
            0 if at < cs.len() => {
                cs.remove(at);
            }
            1 => {
                let t: Vec<char> = pick(rng, TOKENS).chars().collect();
                cs.splice(at..at, t);
            }
            2 if at < cs.len() => cs[at] = any_char(rng),
            3 if at < cs.len() => {
                let end = rng.usize(at..=cs.len());
                let dup: Vec<char> = cs[at..end].to_vec();
                cs.splice(at..at, dup);
            }
            4 if cs.len() >= 2 => {
                let other = rng.usize(..cs.len());
                let at = at.min(cs.len() - 1);
                cs.swap(at, other);
            }
            5 => cs.truncate(at),
            _ => cs.insert(at, any_char(rng)),
        }
    }
    cs.into_iter().collect()
}

/// Optional surrounding whitespace, which every parser trims.
fn pad(rng: &mut Rng, s: String) -> String {
    let ws = [" ", "\t", "  ", ""];
    match rng.u8(..4) {
        0 => format!("{}{s}{}", pick(rng, &ws), pick(rng, &ws)),
        _ => s,
    }
}

/// A valid duration and its value in nanoseconds (as f64: "ns" parts may be fractional).
fn valid_duration(rng: &mut Rng) -> (String, f64) {
    let units: [(&str, f64); 9] = [
        ("ns", 1.0),
        ("us", 1e3),
        ("µs", 1e3),
        ("ms", 1e6),
        ("s", 1e9),
        ("m", 60e9),
        ("min", 60e9),
        ("h", 3600e9),
        ("s", 1e9),
    ];
    let mut s = String::new();
    let mut ns = 0f64;
    for _ in 0..rng.usize(1..4) {
        let whole = match rng.u8(..4) {
            0 => rng.u64(..10),
            1 => rng.u64(..1_000),
            _ => rng.u64(..10_000),
        };
        let (text, value) = if rng.bool() {
            let digits = rng.u32(1..4);
            let frac = rng.u64(..10u64.pow(digits));
            let text = format!("{whole}.{frac:0width$}", width = digits as usize);
            let value = whole as f64 + frac as f64 / 10f64.powi(digits as i32);
            (text, value)
        } else {
            (whole.to_string(), whole as f64)
        };
        let (unit, scale) = *pick(rng, &units);
        s += &text;
        s += unit;
        ns += value * scale;
    }
    (pad(rng, s), ns)
}

/// A valid rate and its value per second.
fn valid_rate(rng: &mut Rng) -> (String, f64) {
    let units: [(&str, f64); 9] = [
        ("s", 1.0),
        ("sec", 1.0),
        ("1s", 1.0),
        ("m", 60.0),
        ("min", 60.0),
        ("1m", 60.0),
        ("h", 3600.0),
        ("1h", 3600.0),
        ("ms", 0.001),
    ];
    let whole = rng.u64(..1_000_000);
    let (text, n) = match rng.u8(..3) {
        0 => {
            let frac = rng.u64(..1000);
            (
                format!("{whole}.{frac:03}"),
                whole as f64 + frac as f64 / 1000.0,
            )
        }
        1 if whole >= 1000 => (
            format!("{}_{:03}", whole / 1000, whole % 1000),
            whole as f64,
        ),
        _ => (whole.to_string(), whole as f64),
    };
    let ws = |rng: &mut Rng| if rng.u8(..4) == 0 { " " } else { "" };
    if rng.u8(..5) == 0 {
        return (pad(rng, text), n);
    }
    let (unit, per) = *pick(rng, &units);
    let s = format!("{text}{}/{}{unit}", ws(rng), ws(rng));
    (pad(rng, s), n / per)
}

fn valid_stage(rng: &mut Rng) -> (String, f64, Result<u64, f64>) {
    let (d, ns) = valid_duration(rng);
    if rng.bool() {
        let (r, per_s) = valid_rate(rng);
        let r = if r.contains('/') {
            r
        } else {
            format!("{}/s", r.trim())
        };
        (format!("{d}:{r}"), ns, Err(per_s))
    } else {
        let users = rng.u64(..100_000);
        (
            format!("{d}:{}", pad(rng, users.to_string())),
            ns,
            Ok(users),
        )
    }
}

fn valid_range(rng: &mut Rng) -> String {
    let (a, an) = valid_duration(rng);
    if rng.bool() {
        return a;
    }
    let (b, bn) = valid_duration(rng);
    if an <= bn {
        format!("{a}..{b}")
    } else {
        format!("{b}..{a}")
    }
}

const OPS: [(&str, Op); 6] = [
    ("<", Op::Lt),
    ("<=", Op::Le),
    (">", Op::Gt),
    (">=", Op::Ge),
    ("==", Op::Eq),
    ("!=", Op::Ne),
];

/// A valid threshold rule with what it should parse to.
fn valid_threshold(rng: &mut Rng) -> (String, Metric, Option<String>, Op, f64) {
    let ws = |rng: &mut Rng| *pick(rng, &["", " ", "  ", "\t"]);
    let (name, metric) = match rng.u8(..8) {
        0 => ("mean".to_string(), Metric::Mean),
        1 => ("avg".to_string(), Metric::Mean),
        2 => (pick(rng, &["min", "max"]).to_string(), Metric::Min),
        3 => ("error_rate".to_string(), Metric::ErrorRate),
        4 => {
            let (n, m) = *pick(
                rng,
                &[
                    ("rps", Metric::Rps),
                    ("iterations", Metric::Iterations),
                    ("requests", Metric::Requests),
                    ("dropped", Metric::Dropped),
                    ("late", Metric::Late),
                    ("failed", Metric::Failed),
                ],
            );
            (n.to_string(), m)
        }
        _ => {
            let q = match rng.u8(..3) {
                0 => rng.u32(1..=100).to_string(),
                1 => format!("{}.{}", rng.u32(..100), rng.u32(1..10)),
                _ => pick(rng, &["50", "90", "95", "99", "99.9", "99.99"]).to_string(),
            };
            let value: f64 = q.parse().unwrap();
            (format!("p{q}"), Metric::Percentile(value))
        }
    };
    let metric = match (metric, name.as_str()) {
        (Metric::Min, "max") => Metric::Max,
        (m, _) => m,
    };
    let scope = rng.bool().then(|| {
        let mut sc: String = (0..rng.usize(1..12))
            .map(|_| {
                loop {
                    let c = any_char(rng);
                    if !"<>=!".contains(c) {
                        break c;
                    }
                }
            })
            .collect();
        if sc.trim().is_empty() {
            sc.push('x');
        }
        sc
    });
    let (op_text, op) = *pick(rng, &OPS);
    let (value, limit) = if metric.is_latency() {
        let (d, ns) = valid_duration(rng);
        (d, ns / 1e3)
    } else if metric == Metric::ErrorRate {
        if rng.bool() {
            let p = rng.u32(..=100);
            (format!("{p}{}%", ws(rng)), p as f64 / 100.0)
        } else {
            let f = rng.u32(..=1000);
            (format!("{}", f as f64 / 1000.0), f as f64 / 1000.0)
        }
    } else {
        let n = rng.i64(-1_000_000..1_000_000);
        (n.to_string(), n as f64)
    };
    let lhs = match &scope {
        Some(sc) => format!("{name}{}({sc})", ws(rng)),
        None => name,
    };
    let rule = format!("{lhs}{}{op_text}{}{}", ws(rng), ws(rng), value.trim());
    let scope = scope.map(|s| s.trim().to_string());
    (pad(rng, rule), metric, scope, op, limit)
}

fn valid_tolerance(rng: &mut Rng) -> (String, grammar::GatedMetric, f64) {
    let metric = *pick(rng, &grammar::GatedMetric::ALL);
    let (v, f) = if rng.bool() {
        let p = rng.u32(..=1000);
        (format!("{p}%"), p as f64 / 100.0)
    } else {
        let p = rng.u32(..=10_000);
        (format!("{}", p as f64 / 1000.0), p as f64 / 1000.0)
    };
    (pad(rng, format!("{metric}={v}")), metric, f)
}

fn valid_retry_on(rng: &mut Rng) -> String {
    match rng.u8(..5) {
        0 => "connect".into(),
        1 => "timeout".into(),
        2 => "5xx".into(),
        3 => "4xx".into(),
        _ => rng.u16(100..=599).to_string(),
    }
}

/// A valid value of some option.
fn valid_any(rng: &mut Rng) -> String {
    match rng.u8(..9) {
        0 => valid_duration(rng).0,
        1 => valid_rate(rng).0,
        2 => valid_stage(rng).0,
        3 => valid_range(rng),
        4 => valid_threshold(rng).0,
        5 => valid_tolerance(rng).0,
        6 => valid_retry_on(rng),
        7 => rng.u64(..).to_string(),
        _ => pick(
            rng,
            &["queue", "drop", "true", "false", "http://h", "smoke"],
        )
        .to_string(),
    }
}

/// An option value: valid, mutated, token soup or arbitrary text.
fn option_text(rng: &mut Rng) -> String {
    match rng.u8(..10) {
        0..=3 => token_soup(rng),
        4 | 5 => valid_any(rng),
        6..=8 => {
            let v = valid_any(rng);
            mutate(rng, &v)
        }
        _ => random_text(rng),
    }
}

// ------------------------------------------------------------------------------------------------
// Grammar properties.

/// Whether an error message names the input and says what is accepted.
fn explains(err: &str, input: &str, parts: &[&str]) -> Result<(), String> {
    let named = err.contains(&format!("{input:?}"))
        || parts.iter().any(|p| err.contains(&format!("{p:?}")));
    let says_accepted = ["expected", "e.g.", "accepted"]
        .iter()
        .any(|w| err.contains(w));
    ensure(named && says_accepted, || {
        format!("the error for {input:?} does not name it or say what is accepted: {err}")
    })
}

fn checked<T: std::fmt::Debug, E: std::fmt::Display>(
    what: &str,
    input: &str,
    parts: &[&str],
    f: impl FnOnce() -> Result<T, E>,
) -> Result<Option<T>, String> {
    match no_panic(what, &input, f)? {
        Ok(v) => Ok(Some(v)),
        Err(e) => explains(&e.to_string(), input, parts).map(|()| None),
    }
}

#[test]
fn parsers_never_panic_and_their_errors_explain() {
    property("parsers_never_panic_and_their_errors_explain", |rng| {
        let s = option_text(rng);
        let s = s.as_str();
        if let Some(d) = checked("parse_duration", s, &[], || grammar::parse_duration(s))? {
            ensure(d <= Duration::from_secs(1_000_000_000), || {
                format!("parse_duration({s:?}) = {d:?}, above the 1e9 s cap")
            })?;
        }
        if let Some(r) = checked("parse_rate", s, &[], || grammar::parse_rate(s))? {
            ensure(
                r.per_second.is_finite() && (0.0..=1e9).contains(&r.per_second),
                || format!("parse_rate({s:?}) = {r:?}"),
            )?;
        }
        let halves: Vec<&str> = s
            .split_once("..")
            .map(|(a, b)| vec![a, b])
            .unwrap_or_default();
        if let Some(r) = checked("parse_range", s, &halves, || grammar::parse_range(s))? {
            ensure(r.min <= r.max, || format!("parse_range({s:?}) = {r:?}"))?;
        }
        checked("parse_stage", s, &[], || grammar::parse_stage(s))?;
        if let Some(t) = checked("parse_threshold", s, &[], || grammar::parse_threshold(s))? {
            ensure(t.limit.is_finite(), || {
                format!("parse_threshold({s:?}) = {t:?}")
            })?;
            ensure(t.source == s.trim(), || {
                format!("parse_threshold({s:?}) = {t:?}")
            })?;
        }
        if let Some(t) = checked("parse_tolerance", s, &[], || grammar::parse_tolerance(s))? {
            let sane = match t.allowance {
                grammar::Allowance::Relative(f) => (0.0..=10.0).contains(&f),
                grammar::Allowance::Floor(d) => {
                    t.metric.is_latency() && d <= std::time::Duration::from_secs(3600)
                }
            };
            ensure(sane, || format!("parse_tolerance({s:?}) = {t:?}"))?;
        }
        checked("parse_retry_on", s, &[], || grammar::parse_retry_on(s))?;
        checked("parse_count", s, &[], || grammar::parse_count("users", s))?;
        checked("parse_number", s, &[], || {
            grammar::parse_number("retries", s)
        })?;
        checked("parse_bool", s, &[], || {
            grammar::parse_bool("abort_on_fail", s)
        })?;
        checked("parse_saturation", s, &[], || grammar::parse_saturation(s))?;
        checked("parse_tag", s, &[], || grammar::parse_tag(s))?;
        checked("parse_target", s, &[], || grammar::parse_target(s))?;
        // Every option, with this value and with a list around it.
        let list: Vec<String> = (0..rng.usize(..4)).map(|_| option_text(rng)).collect();
        let mut refs: Vec<&str> = list.iter().map(String::as_str).collect();
        refs.insert(rng.usize(..=refs.len()), s);
        for opt in grammar::OPTIONS {
            for values in [&[s][..], &refs[..]] {
                let r = no_panic("check_value", &(opt.name, values), || {
                    grammar::check_value(opt.name, values)
                })?;
                if let Err(e) = r {
                    let mut parts: Vec<&str> = values.to_vec();
                    parts.extend(
                        values
                            .iter()
                            .filter_map(|v| v.split_once(".."))
                            .flat_map(|(a, b)| [a, b]),
                    );
                    if values.is_empty() {
                        parts.push("");
                    }
                    explains(&e.to_string(), s, &parts)?;
                }
            }
        }
        // An unknown option names itself and the accepted options.
        let name = token_soup(rng);
        if grammar::option(&name).is_none() {
            let e = no_panic("check_value", &name, || grammar::check_value(&name, &[s]))?
                .expect_err("unknown options are refused")
                .to_string();
            ensure(e.contains(&name) && e.contains("accepted options"), || {
                e.clone()
            })?;
        }
        Ok(())
    });
}

#[test]
fn check_combination_never_panics_and_refuses_mixed_models() {
    property(
        "check_combination_never_panics_and_refuses_mixed_models",
        |rng| {
            let names: Vec<&str> = grammar::OPTIONS.iter().map(|o| o.name).collect();
            let mut present: Vec<String> = (0..rng.usize(..6))
                .map(|_| pick(rng, &names).to_string())
                .collect();
            if rng.u8(..4) == 0 {
                present.push(token_soup(rng));
            }
            let stages: Vec<String> = (0..rng.usize(..4))
                .map(|_| match rng.u8(..3) {
                    0 => valid_stage(rng).0,
                    1 => {
                        let v = valid_stage(rng).0;
                        mutate(rng, &v)
                    }
                    _ => option_text(rng),
                })
                .collect();
            let p: Vec<&str> = present.iter().map(String::as_str).collect();
            let st: Vec<&str> = stages.iter().map(String::as_str).collect();
            let r = no_panic("check_combination", &(&p, &st), || {
                grammar::check_combination(&p, &st)
            })?;
            let rates = no_panic("stages_are_rates", &st, || grammar::stages_are_rates(&st))?;
            let r = r.map_err(|e| e.to_string());
            let has = |n: &str| p.contains(&n);
            match r {
                Ok(()) => {
                    ensure(!(has("users") && has("rate")), || format!("{p:?} accepted"))?;
                    ensure(!has("duration") || st.is_empty(), || {
                        format!("{p:?} with stages {st:?} accepted")
                    })?;
                    ensure(rates.is_ok(), || {
                        format!("stages {st:?} accepted: {rates:?}")
                    })?;
                }
                Err(e) => ensure(
                    p.iter()
                        .chain(&st)
                        .any(|x| e.contains(&format!("{x:?}")) || (!x.is_empty() && e.contains(x))),
                    || format!("the error for {p:?} / {st:?} names none of them: {e}"),
                )?,
            }
            Ok(())
        },
    );
}

/// Below this, durations survive `format_duration` and `parse_duration` exactly.
const EXACT_DURATION_SECS: u64 = 1 << 22;

/// A duration with up to nanosecond precision, up to the grammar's 1e9 s cap.
fn random_duration(rng: &mut Rng) -> Duration {
    let secs = match rng.u8(..5) {
        0 => rng.u64(..60),
        1 => rng.u64(..100_000),
        2 => rng.u64(..1_000_000_000),
        3 => rng.u64(EXACT_DURATION_SECS - 100_000..EXACT_DURATION_SECS),
        _ => 0,
    };
    let nanos = match rng.u8(..5) {
        0 => 0,
        1 => rng.u32(..1000) * 1_000_000,
        2 => rng.u32(..1_000_000) * 1000,
        _ => rng.u32(..1_000_000_000),
    };
    Duration::new(secs, nanos)
}

#[test]
fn durations_round_trip_through_format_duration() {
    property("durations_round_trip_through_format_duration", |rng| {
        let d = random_duration(rng);
        let text = grammar::format_duration(d);
        // format_duration truncates to whole microseconds.
        let want = Duration::from_micros(d.as_micros() as u64);
        let back = grammar::parse_duration(&text)
            .map_err(|e| format!("format_duration({d:?}) = {text:?} does not parse: {e}"))?;
        let nearest_us = (back.as_nanos() + 500) / 1000;
        ensure(nearest_us == want.as_micros(), || {
            format!("format_duration({d:?}) = {text:?} parses back as {back:?}, not {want:?}")
        })?;
        // parse_duration sums f64 seconds: exact to the nanosecond while a double's rounding
        // error stays below half a nanosecond, about 2^22 s (48 days).
        if d < Duration::from_secs(EXACT_DURATION_SECS) {
            ensure(back == want, || {
                format!("format_duration({d:?}) = {text:?} parses back as {back:?}, not {want:?}")
            })?;
            ensure(grammar::format_duration(back) == text, || {
                format!(
                    "{text:?} -> {back:?} formats as {:?}",
                    grammar::format_duration(back)
                )
            })?;
        }
        Ok(())
    });
}

fn close(got_ns: f64, want_ns: f64) -> bool {
    // Microsecond precision, or 1e-12 relative for very long durations.
    (got_ns - want_ns).abs() <= 1000.0_f64.max(want_ns * 1e-12)
}

#[test]
fn generated_durations_and_ranges_parse_to_their_value() {
    property(
        "generated_durations_and_ranges_parse_to_their_value",
        |rng| {
            let (s, ns) = valid_duration(rng);
            let d = grammar::parse_duration(&s).map_err(|e| format!("{s:?} refused: {e}"))?;
            ensure(close(d.as_nanos() as f64, ns), || {
                format!("{s:?} parsed as {d:?}, expected {ns} ns")
            })?;
            let r = valid_range(rng);
            let range = grammar::parse_range(&r).map_err(|e| format!("{r:?} refused: {e}"))?;
            let (a, b) = r.split_once("..").unwrap_or((&r, &r));
            let (a, b) = (
                grammar::parse_duration(a).unwrap(),
                grammar::parse_duration(b).unwrap(),
            );
            ensure(range.min == a && range.max == b, || {
                format!("{r:?} parsed as {range:?}")
            })?;
            // Bounds the wrong way round are refused, naming the input.
            if a < b {
                let (lo, hi) = r.split_once("..").unwrap();
                let swapped = format!("{hi}..{lo}");
                let e = grammar::parse_range(&swapped).expect_err("reversed bounds are refused");
                explains(&e.to_string(), &swapped, &[])?;
            }
            Ok(())
        },
    );
}

#[test]
fn generated_rates_parse_to_their_per_second_value() {
    property("generated_rates_parse_to_their_per_second_value", |rng| {
        let (s, per_s) = valid_rate(rng);
        let r = grammar::parse_rate(&s).map_err(|e| format!("{s:?} refused: {e}"))?;
        ensure((r.per_second - per_s).abs() <= per_s.abs() * 1e-12, || {
            format!("{s:?} parsed as {r:?}, expected {per_s}/s")
        })?;
        // Negative rates are refused.
        if per_s > 0.0 {
            let neg = format!("-{}", s.trim());
            ensure(grammar::parse_rate(&neg).is_err(), || {
                format!("{neg:?} accepted")
            })?;
        }
        Ok(())
    });
}

#[test]
fn generated_stages_parse_to_their_duration_and_target() {
    property(
        "generated_stages_parse_to_their_duration_and_target",
        |rng| {
            let (s, ns, target) = valid_stage(rng);
            let st = grammar::parse_stage(&s).map_err(|e| format!("{s:?} refused: {e}"))?;
            ensure(close(st.duration.as_nanos() as f64, ns), || {
                format!("{s:?} parsed as {st:?}, expected {ns} ns")
            })?;
            let ok = match (st.level, target) {
                (StageLevel::Users(u), Ok(want)) => u == want,
                (StageLevel::Rate(r), Err(want)) => (r.per_second - want).abs() <= want * 1e-12,
                _ => false,
            };
            ensure(ok, || {
                format!("{s:?} parsed as {st:?}, expected target {target:?}")
            })
        },
    );
}

#[test]
fn generated_thresholds_parse_to_their_metric_op_and_limit() {
    property(
        "generated_thresholds_parse_to_their_metric_op_and_limit",
        |rng| {
            let (s, metric, scope, op, limit) = valid_threshold(rng);
            let t = grammar::parse_threshold(&s).map_err(|e| format!("{s:?} refused: {e}"))?;
            let limit_ok = if metric.is_latency() {
                close(t.limit * 1e3, limit * 1e3)
            } else {
                (t.limit - limit).abs() <= limit.abs() * 1e-12
            };
            ensure(
                t.metric == metric
                    && t.scope == scope
                    && t.op == op
                    && limit_ok
                    && t.source == s.trim(),
                || format!("{s:?} parsed as {t:?}, expected {metric:?} {scope:?} {op:?} {limit}"),
            )
        },
    );
}

#[test]
fn generated_tolerances_and_retry_on_entries_parse() {
    property("generated_tolerances_and_retry_on_entries_parse", |rng| {
        let (s, metric, f) = valid_tolerance(rng);
        let t = grammar::parse_tolerance(&s).map_err(|e| format!("{s:?} refused: {e}"))?;
        let got = match t.allowance {
            grammar::Allowance::Relative(f) => f,
            grammar::Allowance::Floor(d) => return Err(format!("{s:?} parsed as a floor {d:?}")),
        };
        ensure(t.metric == metric && (got - f).abs() <= 1e-12, || {
            format!(
                "{s:?} parsed as ({}, {got}), expected ({metric}, {f})",
                t.metric
            )
        })?;
        let r = valid_retry_on(rng);
        grammar::parse_retry_on(&r).map_err(|e| format!("{r:?} refused: {e}"))?;
        Ok(())
    });
}

#[test]
fn check_value_accepts_what_the_parsers_accept() {
    property("check_value_accepts_what_the_parsers_accept", |rng| {
        let values: Vec<String> = (0..rng.usize(1..4))
            .map(|_| {
                if rng.bool() {
                    valid_any(rng)
                } else {
                    option_text(rng)
                }
            })
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let one = refs[0];
        for opt in grammar::OPTIONS {
            let each = |f: &dyn Fn(&str) -> Result<(), grammar::ValueError>| {
                refs.iter().try_for_each(|v| f(v))
            };
            let want: Result<(), grammar::ValueError> = match opt.name {
                "users" | "max_in_flight" | "iterations" | "max_names" => {
                    grammar::parse_count(opt.name, one).map(drop)
                }
                "retries" => grammar::parse_number(opt.name, one).map(drop),
                "abort_on_fail" => grammar::parse_bool(opt.name, one).map(drop),
                "think_time" | "backoff" => grammar::parse_range(one).map(drop),
                "rate" | "rate_limit" | "min_capacity" => grammar::parse_rate(one).map(drop),
                "on_saturation" => grammar::parse_saturation(one).map(drop),
                "client" => grammar::parse_client(one).map(drop),
                "trace" => grammar::parse_trace(one).map(drop),
                "trace_sample" => grammar::parse_fraction(one).map(drop),
                "local_addresses" => grammar::parse_local_addresses(&refs).map(drop),
                "duration" | "timeout" | "iteration_timeout" | "slo" => {
                    grammar::parse_duration(one).map(drop)
                }
                "stages" => each(&|v| grammar::parse_stage(v).map(drop)),
                "retry_on" => each(&|v| grammar::parse_retry_on(v).map(drop)),
                "thresholds" => each(&|v| grammar::parse_threshold(v).map(drop)),
                "tolerance" => each(&|v| grammar::parse_tolerance(v).map(drop)),
                "tags" => each(&grammar::parse_tag),
                "target" => grammar::parse_target(one),
                _ if opt.kind == grammar::ValueKind::Bool => {
                    grammar::parse_bool(opt.name, one).map(drop)
                }
                other => return Err(format!("option `{other}` has no parser in this test")),
            };
            // The option's check refuses what its parser refuses, for the same reason (and so in
            // the same words), naming the option.
            let want = want.map_err(|e| grammar::OptionError::value(opt.name, e));
            let got = grammar::check_value(opt.name, &refs);
            ensure(got == want, || {
                format!(
                    "check_value({:?}, {refs:?}) = {got:?}, the parser says {want:?}",
                    opt.name
                )
            })?;
        }
        Ok(())
    });
}

// ------------------------------------------------------------------------------------------------
// Histogram properties.

fn random_value(rng: &mut Rng) -> u64 {
    match rng.u8(..6) {
        0 => rng.u64(..1_000),
        1 => rng.u64(..100_000),
        2 => 1u64 << rng.u32(..42),
        3 => rng.u64(..=MAX_US * 2),
        4 => MAX_US,
        _ => rng.u64(..10_000_000),
    }
}

/// A histogram of random values, and the values with their counts.
fn random_hist(rng: &mut Rng) -> (Hist, Vec<(u64, u64)>) {
    let mut h = hdr::new_hist();
    let mut values = Vec::new();
    let max = if rng.bool() { 8 } else { 200 };
    for _ in 0..rng.usize(..max) {
        let v = random_value(rng);
        let n = match rng.u8(..10) {
            0 => rng.u64(1..1_000_000_000_000),
            1 => rng.u64(1..100),
            _ => 1,
        };
        h.record_n(v.min(MAX_US), n)
            .expect("auto-resizing histograms take any value");
        values.push((v, n));
    }
    (h, values)
}

/// Decodes `s`; the outer error is a broken property (an absurd allocation), the inner one the
/// decoder's answer.
fn decode_bounded(s: &str) -> Result<Result<Hist, hdr::HdrError>, String> {
    let (h, largest) = largest_allocation_of(|| hdr::decode(s));
    ensure(largest <= DECODE_ALLOCATION_LIMIT, || {
        format!(
            "decoding {} base64 characters allocated {largest} bytes at once",
            s.len()
        )
    })?;
    Ok(h)
}

/// Decodes an encoding that must be valid.
fn decoded(s: &str) -> Result<Hist, String> {
    decode_bounded(s)?.map_err(|e| e.to_string())
}

#[test]
fn histograms_round_trip_through_the_encoding() {
    property_with("histograms_round_trip_through_the_encoding", 50, |rng| {
        let (h, values) = random_hist(rng);
        let text = hdr::encode(&h);
        let back = decoded(&text).map_err(|e| format!("{values:?}: {e}"))?;
        // hdrhistogram's equality compares the left side's counters only: check both ways.
        ensure(PartialEq::eq(&back, &h) && PartialEq::eq(&h, &back), || {
            format!("{values:?} did not round trip")
        })?;
        ensure(hdr::summary(&back) == hdr::summary(&h), || {
            format!("{values:?}: summaries differ after the round trip")
        })?;
        ensure(hdr::encode(&back) == text, || {
            format!("{values:?}: re-encoding differs")
        })?;
        // The report form carries the same encoding and summary.
        let report = hdr::to_report(&h);
        ensure(
            report.hdr_v2_base64 == text && report.summary == hdr::summary(&h),
            || format!("{values:?}: to_report differs"),
        )
    });
}

#[test]
fn decoded_histograms_merge_to_the_histogram_of_the_union() {
    property_with(
        "decoded_histograms_merge_to_the_histogram_of_the_union",
        50,
        |rng| {
            let (a, va) = random_hist(rng);
            let (b, vb) = random_hist(rng);
            let mut union = hdr::new_hist();
            for &(v, n) in va.iter().chain(&vb) {
                union.record_n(v.min(MAX_US), n).unwrap();
            }
            let mut merged = decoded(&hdr::encode(&a))?;
            merged
                .add(decoded(&hdr::encode(&b))?)
                .map_err(|e| format!("{va:?} + {vb:?}: {e:?}"))?;
            ensure(merged.len() == union.len(), || {
                format!("{va:?} + {vb:?}: counts differ")
            })?;
            let pairs = |h: &Hist| -> Vec<(u64, u64)> {
                h.iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect()
            };
            ensure(pairs(&merged) == pairs(&union), || {
                format!("{va:?} + {vb:?}: merged values differ from the union's")
            })?;
            ensure(hdr::summary(&merged) == hdr::summary(&union), || {
                format!("{va:?} + {vb:?}: merged summary differs from the union's")
            })?;
            // Merged histograms encode like the union.
            let again = decoded(&hdr::encode(&merged))?;
            ensure(pairs(&again) == pairs(&union), || {
                format!("{va:?} + {vb:?}: re-encoding differs")
            })
        },
    );
}

const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;

/// Bytes that look like an uncompressed V2 encoding (the form of schema-1 reports): a valid one,
/// damaged in ways that reach every check.
fn hostile_encoding(rng: &mut Rng) -> Vec<u8> {
    use base64::Engine as _;
    let (h, _) = random_hist(rng);
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(hdr::encode_uncompressed(&h))
        .unwrap();
    for _ in 0..rng.usize(1..4) {
        let len = bytes.len();
        match rng.u8(..10) {
            // Bit flips anywhere, or in the header.
            0 if len > 0 => {
                let at = rng.usize(..len);
                bytes[at] ^= 1 << rng.u32(..8);
            }
            1 => {
                let at = rng.usize(..40.min(len).max(1));
                if at < len {
                    bytes[at] ^= 1 << rng.u32(..8);
                }
            }
            // Truncation and extension.
            2 => bytes.truncate(rng.usize(..=len)),
            3 => {
                let mut more = vec![0u8; rng.usize(..40)];
                rng.fill(&mut more);
                bytes.extend(more);
            }
            // Header fields set to hostile values.
            4 if len >= 40 => {
                let any = rng.u32(..);
                let v = *pick(rng, &[u32::MAX, u32::MAX - 39, 1 << 30, 1 << 20, any]);
                bytes[4..8].copy_from_slice(&v.to_be_bytes());
            }
            5 if len >= 40 => {
                let any = rng.u32(..);
                let v = *pick(rng, &[0, 1, 2, 5, 6, 255, 256, any]);
                bytes[12..16].copy_from_slice(&v.to_be_bytes());
            }
            6 if len >= 40 => {
                let (any_low, any_high) = (rng.u64(..), rng.u64(..));
                let low = *pick(rng, &[0, 1, 2, u64::MAX / 2, 1 << 40, any_low]);
                let high = *pick(rng, &[0, 2, u64::MAX, u64::MAX / 2, 1 << 62, any_high]);
                bytes[16..24].copy_from_slice(&low.to_be_bytes());
                bytes[24..32].copy_from_slice(&high.to_be_bytes());
            }
            7 if len >= 40 => {
                let any = rng.f64();
                let ratio = *pick(rng, &[f64::NAN, 0.5, 1.0, f64::INFINITY, any]);
                bytes[32..40].copy_from_slice(&ratio.to_be_bytes());
            }
            // Payload words that decode to extreme counts or zero runs.
            8 => {
                let words: [&[u8]; 6] = [
                    &[0xff; 9],
                    &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                    &[0xff, 0xff, 0xff, 0xff, 0x0f],
                    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
                    &[0x01],
                    &[0x02],
                ];
                let w = *pick(rng, &words);
                let at = rng.usize(40.min(len)..=len);
                bytes.splice(at..at, w.iter().copied());
                if len >= 8 && rng.bool() {
                    let payload = (bytes.len() - 40.min(bytes.len())) as u32;
                    bytes[4..8].copy_from_slice(&payload.to_be_bytes());
                }
            }
            // The compressed cookie, or any cookie.
            _ if len >= 4 => {
                let any = rng.u32(..);
                let c = *pick(rng, &[V2_DEFLATE_COOKIE, V2_COOKIE, any]);
                bytes[..4].copy_from_slice(&c.to_be_bytes());
            }
            _ => {}
        }
    }
    bytes
}

/// A V2 header (40 bytes): cookie, payload length, normalizing offset, significant figures,
/// lowest and highest trackable values, integer-to-double ratio.
fn v2_header(payload_len: u32, sigfig: u32, low: u64, high: u64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(V2_COOKIE.to_be_bytes());
    b.extend(payload_len.to_be_bytes());
    b.extend(0u32.to_be_bytes());
    b.extend(sigfig.to_be_bytes());
    b.extend(low.to_be_bytes());
    b.extend(high.to_be_bytes());
    b.extend(1f64.to_be_bytes());
    b
}

/// `data` as a zlib stream of one stored (uncompressed) deflate block.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let len = data.len() as u16;
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend(len.to_le_bytes());
    z.extend((!len).to_le_bytes());
    z.extend(data);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend(((b << 16) | a).to_be_bytes());
    z
}

/// Hand-made hostile encodings: each must be refused without a panic or a huge allocation.
#[test]
fn hostile_histogram_headers_are_refused_cheaply() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // The header claims a 4 GiB payload; 40 bytes follow.
    let lying_length = v2_header(u32::MAX, 3, 1, 2);
    // The same header inside a V2-deflate envelope (a tiny zlib stream).
    let inner = zlib_stored(&v2_header(u32::MAX, 3, 1, 2));
    let mut deflated = Vec::new();
    deflated.extend(V2_DEFLATE_COOKIE.to_be_bytes());
    deflated.extend((inner.len() as u32).to_be_bytes());
    deflated.extend(&inner);
    // A count word of nine 0xff bytes: zig-zag decodes to i64::MIN, whose negation overflows.
    let mut min_count = v2_header(9, 3, 1, 2);
    min_count.extend([0xff; 9]);
    // 4 MiB of zeros compressed to a few kilobytes behind a header that declares 16 bytes, and
    // one that declares the 4 MiB but for a histogram of two counters.
    let mut bomb = v2_header(16, 3, 1, 2);
    bomb.resize(40 + (4 << 20), 0);
    let small_bomb = deflate_envelope(&zlib(&bomb));
    bomb[4..8].copy_from_slice(&(4u32 << 20).to_be_bytes());
    let truthful_bomb = deflate_envelope(&zlib(&bomb));
    // A compressed length beyond the data.
    let mut lying_outer = deflate_envelope(&zlib(&v2_header(0, 3, 1, 2)));
    lying_outer[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    for (what, bytes) in [
        ("a payload length beyond the data", lying_length),
        ("a V2-deflate encoding with a lying inner header", deflated),
        ("a count of i64::MIN", min_count),
        ("an inflation bomb declaring 16 bytes", small_bomb),
        (
            "an inflation bomb beyond its histogram's counters",
            truthful_bomb,
        ),
        ("a compressed length beyond the data", lying_outer),
    ] {
        let text = b64.encode(&bytes);
        let (result, largest) = no_panic("decode", &what, || {
            largest_allocation_of(|| hdr::decode(&text))
        })
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(result.is_err(), "{what}: decoded as {result:?}");
        // Refused from the headers: nothing near the claimed sizes is allocated.
        assert!(
            largest <= (256 << 10) + 2 * text.len(),
            "{what}: {} input bytes allocated {largest} bytes at once",
            bytes.len()
        );
    }
}

/// `data` compressed as a zlib stream, as HdrHistogram's V2-deflate encoder does.
fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).expect("compressing into memory");
    z.finish().expect("compressing into memory")
}

/// A V2-deflate envelope (cookie, compressed length) around a zlib stream.
fn deflate_envelope(stream: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(V2_DEFLATE_COOKIE.to_be_bytes());
    b.extend((stream.len() as u32).to_be_bytes());
    b.extend(stream);
    b
}

/// Bytes that look like a compressed (V2-deflate) encoding: hostile uncompressed V2 wrapped
/// properly (so that its lies reach the inflated-header checks), inflation bombs with lying or
/// truthful headers, and valid compressed encodings damaged outside and inside the zlib stream.
fn hostile_compressed_encoding(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = match rng.u8(..4) {
        0 => deflate_envelope(&zlib(&hostile_encoding(rng))),
        1 => {
            // A header over a long run of zero bytes (each a count-0 word): a few hundred
            // compressed bytes that inflate to megabytes. Compressed once per shape.
            type Bombs = Mutex<HashMap<(usize, u32, u32, u64), Vec<u8>>>;
            static BOMBS: OnceLock<Bombs> = OnceLock::new();
            let zeros = *pick(rng, &[1usize << 10, 1 << 16, 1 << 20, 4 << 20]);
            let declared = *pick(rng, &[0, 1, 16, zeros as u32 - 1, zeros as u32, u32::MAX]);
            let sigfig = *pick(rng, &[0, 3, 5]);
            let high = *pick(rng, &[2, 3_600_000_000, u64::MAX]);
            BOMBS
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((zeros, declared, sigfig, high))
                .or_insert_with(|| {
                    let mut v2 = v2_header(declared, sigfig, 1, high);
                    v2.resize(40 + zeros, 0);
                    deflate_envelope(&zlib(&v2))
                })
                .clone()
        }
        2 => {
            // The same inflated bytes as a stored (uncompressed) zlib block.
            let stored = zlib_stored(&hostile_encoding(rng)[..]);
            deflate_envelope(&stored)
        }
        _ => {
            use base64::Engine as _;
            let (h, _) = random_hist(rng);
            base64::engine::general_purpose::STANDARD
                .decode(hdr::encode(&h))
                .unwrap()
        }
    };
    for _ in 0..rng.usize(..3) {
        let len = bytes.len();
        match rng.u8(..5) {
            // The compressed length: beyond the data, short of it, zero.
            0 if len >= 8 => {
                let any = rng.u32(..);
                let real = (len - 8) as u32;
                let v = *pick(rng, &[u32::MAX, real + 1, real.saturating_sub(1), 0, any]);
                bytes[4..8].copy_from_slice(&v.to_be_bytes());
            }
            // Bit flips inside the zlib stream (header, blocks, checksum).
            1 if len > 8 => {
                let at = rng.usize(8..len);
                bytes[at] ^= 1 << rng.u32(..8);
            }
            2 => bytes.truncate(rng.usize(..=len)),
            3 => {
                let mut more = vec![0u8; rng.usize(..40)];
                rng.fill(&mut more);
                bytes.extend(more);
            }
            _ => {}
        }
    }
    bytes
}

/// What decoding `bytes` may allocate at most, by what its headers declare: the counts of the
/// histogram the (inflated) V2 header describes and its payload as far as the decoder accepts
/// it (9 bytes a counter, 1032 inflated bytes a compressed byte), plus the base64 text, the
/// bytes, and the inflater's fixed state. Read here with flate2 and hdrhistogram directly, not
/// with the decoder under test.
fn declared_decode_bound(text_len: usize, bytes: &[u8]) -> usize {
    use std::io::Read as _;
    // The inflater's state (window and tables), and slack for the small allocations.
    const FIXED: usize = 128 << 10;
    let overhead = FIXED + text_len + bytes.len();
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    let (header, compressed_len) = if word(bytes, 0) == Some(V2_DEFLATE_COOKIE) {
        let Some(len) = word(bytes, 4) else {
            return overhead;
        };
        let stream = &bytes[8..bytes.len().min(8 + len as usize)];
        let mut header = [0u8; 40];
        if flate2::bufread::ZlibDecoder::new(stream)
            .read_exact(&mut header)
            .is_err()
        {
            return overhead;
        }
        (header.to_vec(), Some(len as usize))
    } else {
        match bytes.get(..40) {
            Some(h) => (h.to_vec(), None),
            None => return overhead,
        }
    };
    let payload = word(&header, 4).unwrap() as usize;
    let sigfig = word(&header, 12).unwrap();
    let low = u64::from_be_bytes(header[16..24].try_into().unwrap());
    let high = u64::from_be_bytes(header[24..32].try_into().unwrap());
    let counters = u8::try_from(sigfig)
        .ok()
        .and_then(|s| Hist::new_with_bounds(low, high, s).ok())
        .map_or(0, |h| h.distinct_values());
    let inflated = match compressed_len {
        Some(len) => 40 + payload.min(9 * counters).min(len * 1032),
        None => 0, // Uncompressed: the payload is already in `bytes`.
    };
    overhead + inflated.max(counters * 8)
}

/// The compressed form's bound, as the issue states it: decoding never allocates more than
/// the headers declare, within the decoder's limits, however few the bytes.
#[test]
fn compressed_decode_allocates_no_more_than_its_headers_declare() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (decoded_ok, refused) = (Cell::new(0u64), Cell::new(0u64));
    property_with(
        "compressed_decode_allocates_no_more_than_its_headers_declare",
        300,
        |rng| {
            let bytes = hostile_compressed_encoding(rng);
            let text = b64.encode(&bytes);
            let bound = declared_decode_bound(text.len(), &bytes);
            let (result, largest) = no_panic("decode", &text, || {
                largest_allocation_of(|| hdr::decode(&text))
            })?;
            ensure(largest <= bound, || {
                format!(
                    "decoding {} bytes allocated {largest} bytes at once; the headers declare at most {bound}",
                    bytes.len()
                )
            })?;
            ensure(largest <= DECODE_ALLOCATION_LIMIT, || {
                format!(
                    "decoding {} bytes allocated {largest} bytes at once",
                    bytes.len()
                )
            })?;
            match result {
                Ok(h) => {
                    decoded_ok.set(decoded_ok.get() + 1);
                    // What decodes is a histogram that encodes back to itself.
                    let back = decoded(&hdr::encode(&h))?;
                    ensure(back == h, || {
                        format!("{text:?} does not re-encode to itself")
                    })?;
                }
                Err(_) => refused.set(refused.get() + 1),
            }
            Ok(())
        },
    );
    eprintln!(
        "compressed decode: {} decoded, {} refused",
        decoded_ok.get(),
        refused.get()
    );
    assert!(decoded_ok.get() > 0 && refused.get() > 0);
}

/// Valid compressed encodings decode to the histogram, and to the same one as the uncompressed
/// encoding of schema-1 reports.
#[test]
fn compressed_and_uncompressed_encodings_decode_alike() {
    property_with(
        "compressed_and_uncompressed_encodings_decode_alike",
        50,
        |rng| {
            let (h, values) = random_hist(rng);
            let compressed = decoded(&hdr::encode(&h))?;
            let uncompressed = decoded(&hdr::encode_uncompressed(&h))?;
            ensure(
                compressed == h && uncompressed == h && PartialEq::eq(&h, &compressed),
                || format!("{values:?}: the two forms decode differently"),
            )
        },
    );
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let max = if rng.bool() { 16 } else { 120 };
    let mut b = vec![0u8; rng.usize(..max)];
    rng.fill(&mut b);
    if b.len() >= 4 && rng.bool() {
        let c = if rng.bool() {
            V2_COOKIE
        } else {
            V2_DEFLATE_COOKIE
        };
        b[..4].copy_from_slice(&c.to_be_bytes());
    }
    b
}

#[test]
fn decode_never_panics_or_allocates_absurdly_on_hostile_input() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    property_with(
        "decode_never_panics_or_allocates_absurdly_on_hostile_input",
        300,
        |rng| {
            let text = match rng.u8(..7) {
                0 => {
                    const ALPHABET: &[u8] =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
                    let mut s: String = (0..rng.usize(..80))
                        .map(|_| *pick(rng, ALPHABET) as char)
                        .collect();
                    if rng.bool() {
                        s = mutate(rng, &s);
                    }
                    s
                }
                1 => b64.encode(random_bytes(rng)),
                2 => {
                    let (h, _) = random_hist(rng);
                    let s = if rng.bool() {
                        hdr::encode(&h)
                    } else {
                        hdr::encode_uncompressed(&h)
                    };
                    mutate(rng, &s)
                }
                3 => option_text(rng),
                4 => b64.encode(hostile_compressed_encoding(rng)),
                _ => b64.encode(hostile_encoding(rng)),
            };
            let result = no_panic("decode", &text, || decode_bounded(&text))?;
            let Ok(h) = result? else { return Ok(()) };
            // Whatever decodes can be summarised, re-encoded and merged without a panic.
            no_panic("summary of a decoded histogram", &text, || hdr::summary(&h))?;
            let again = no_panic("encode of a decoded histogram", &text, || hdr::encode(&h))?;
            let back = decoded(&again)?;
            ensure(back == h, || {
                format!("{text:?} decodes, but does not re-encode to itself")
            })?;
            let (mut target, _) = random_hist(rng);
            target.auto(true);
            let _ = no_panic("merging a decoded histogram", &text, || target.add(&h))?;
            Ok(())
        },
    );
}

// ------------------------------------------------------------------------------------------------
// Values for protocol messages and reports.

fn any_string(rng: &mut Rng) -> String {
    match rng.u8(..4) {
        0 => token_soup(rng),
        1 => random_text(rng),
        2 => String::new(),
        _ => pick(
            rng,
            &[
                "browse",
                "checkout",
                "GET /",
                "api::home_page",
                "p99 < 250ms",
            ],
        )
        .to_string(),
    }
}

/// A finite float: whole numbers, short decimals, or arbitrary bits.
fn any_f64(rng: &mut Rng) -> f64 {
    match rng.u8(..5) {
        0 => rng.u32(..) as f64,
        1 => rng.i32(..) as f64 / 1000.0,
        2 => rng.f64(),
        3 => 0.0,
        _ => loop {
            let f = f64::from_bits(rng.u64(..));
            if f.is_finite() {
                break f;
            }
        },
    }
}

fn any_u64(rng: &mut Rng) -> u64 {
    if rng.bool() {
        rng.u64(..1000)
    } else {
        rng.u64(..)
    }
}

fn opt<T>(rng: &mut Rng, f: impl FnOnce(&mut Rng) -> T) -> Option<T> {
    if rng.bool() { Some(f(rng)) } else { None }
}

fn strings(rng: &mut Rng) -> Vec<String> {
    (0..rng.usize(..3)).map(|_| any_string(rng)).collect()
}

fn counts(rng: &mut Rng) -> BTreeMap<String, u64> {
    (0..rng.usize(..3))
        .map(|_| (any_string(rng), any_u64(rng)))
        .collect()
}

/// Counts of a few of `classes` (a report's `by_class`, `failed_by_class`).
fn class_counts<C: Ord + Copy>(rng: &mut Rng, classes: &[C]) -> BTreeMap<C, u64> {
    (0..rng.usize(..3))
        .map(|_| (*pick(rng, classes), any_u64(rng)))
        .collect()
}

fn any_config(rng: &mut Rng) -> ConfigSummary {
    ConfigSummary {
        model: pick(rng, &["closed", "open"]).to_string(),
        users: opt(rng, any_u64),
        rate_per_s: opt(rng, any_f64),
        stages: strings(rng),
        duration_s: opt(rng, any_f64),
        iterations: opt(rng, any_u64),
        think_time: opt(rng, any_string),
        max_in_flight: opt(rng, any_u64),
        on_saturation: opt(rng, any_string),
        rate_limit_per_s: opt(rng, any_f64),
        retries: any_u64(rng),
        backoff: any_string(rng),
        retry_on: strings(rng),
        timeout: opt(rng, any_string),
        iteration_timeout: opt(rng, any_string),
        thresholds: strings(rng),
        abort_on_fail: rng.bool(),
        tags: strings(rng),
        base_url: opt(rng, any_string),
        tolerance: strings(rng),
        smoke: rng.bool(),
        danger_accept_invalid_certs: rng.bool(),
        client: if rng.bool() { "hyper" } else { "reqwest" }.to_string(),
        cookies: rng.bool(),
        shard: None,
    }
}

/// Up to seven offered (at most five kept), with or without trace ids, statuses and shards.
fn any_exemplars(rng: &mut Rng) -> loadtest_runtime::exemplar::Exemplars {
    use loadtest_runtime::exemplar::{Exemplar, Exemplars, SpanId, TraceId};
    let mut out = Exemplars::default();
    for _ in 0..rng.usize(..8) {
        let latency_us = any_u64(rng);
        let e = Exemplar {
            trace_id: rng.bool().then(|| TraceId(rng.u128(1..).to_be_bytes())),
            span_id: rng.bool().then(|| SpanId(rng.u64(1..).to_be_bytes())),
            sampled: rng.bool(),
            started_at_unix: rng.f64() * 2e9,
            latency_us,
            status: rng.bool().then(|| rng.u16(100..600)),
            shard: rng.bool().then(|| rng.u32(1..100)),
        };
        out.offer(latency_us, || e);
    }
    out
}

fn any_hist(rng: &mut Rng) -> loadtest_runtime::report::Histogram {
    let mut h = hdr::new_hist();
    for _ in 0..rng.usize(..20) {
        hdr::record(&mut h, random_value(rng));
    }
    hdr::to_report(&h)
}

fn any_summary(rng: &mut Rng) -> LatencySummary {
    LatencySummary {
        count: any_u64(rng),
        min_us: any_u64(rng),
        max_us: any_u64(rng),
        mean_us: any_f64(rng),
        stdev_us: any_f64(rng),
        p50_us: any_u64(rng),
        p90_us: any_u64(rng),
        p95_us: any_u64(rng),
        p99_us: any_u64(rng),
        p999_us: any_u64(rng),
    }
}

fn any_result(rng: &mut Rng) -> TestResult {
    TestResult {
        name: any_string(rng),
        started_at_unix: opt(rng, any_f64),
        config: any_config(rng),
        elapsed_s: any_f64(rng),
        interrupted: rng.bool(),
        aborted_by: opt(rng, any_string),
        iterations: IterationCounts {
            total: any_u64(rng),
            ok: any_u64(rng),
            failed: any_u64(rng),
            failed_by_class: class_counts(rng, &IterationClass::ALL),
            dropped: any_u64(rng),
            late: any_u64(rng),
            interrupted: any_u64(rng),
            missed: any_u64(rng),
            rate_per_s: any_f64(rng),
            goodput: opt(rng, |rng| loadtest_runtime::report::Goodput {
                slo_us: any_u64(rng),
                good: any_u64(rng),
                rate_per_s: any_f64(rng),
            }),
        },
        iteration_latency: any_hist(rng),
        iteration_latency_uncorrected: opt(rng, any_hist),
        requests: RequestTotals {
            total: any_u64(rng),
            rate_per_s: any_f64(rng),
            by_class: class_counts(rng, &RequestClass::ALL),
            by_status: counts(rng),
            bytes_sent: any_u64(rng),
            bytes_received: any_u64(rng),
            retries_attempted: any_u64(rng),
            retries_exhausted: any_u64(rng),
        },
        request_names: (0..rng.usize(..3))
            .map(|_| {
                let m = RequestMetrics {
                    count: any_u64(rng),
                    by_class: class_counts(rng, &RequestClass::ALL),
                    by_status: counts(rng),
                    bytes_sent: any_u64(rng),
                    bytes_received: any_u64(rng),
                    latency: any_hist(rng),
                    exemplars: any_exemplars(rng),
                    stream: None,
                };
                (any_string(rng), m)
            })
            .collect(),
        custom_latencies: (0..rng.usize(..2))
            .map(|_| (any_string(rng), any_hist(rng)))
            .collect(),
        custom_counters: counts(rng),
        series: (0..rng.usize(..4))
            .map(|_| IntervalPoint {
                t_s: any_f64(rng),
                iterations: any_u64(rng),
                failed: any_u64(rng),
                requests: any_u64(rng),
                request_errors: any_u64(rng),
                missed: any_u64(rng),
                p50_us: any_u64(rng),
                p95_us: any_u64(rng),
                p99_us: any_u64(rng),
                iteration_latency: opt(rng, |rng| any_hist(rng).hdr_v2_base64),
                iteration_latency_uncorrected: opt(rng, |rng| any_hist(rng).hdr_v2_base64),
                request_latency: (0..rng.usize(..2))
                    .map(|_| (any_string(rng), any_hist(rng).hdr_v2_base64))
                    .collect(),
                stream_gap: (0..rng.usize(..2))
                    .map(|_| (any_string(rng), any_hist(rng).hdr_v2_base64))
                    .collect(),
            })
            .collect(),
        thresholds: (0..rng.usize(..3))
            .map(|_| ThresholdOutcome {
                rule: any_string(rng),
                observed: opt(rng, any_f64),
                passed: rng.bool(),
                message: any_string(rng),
            })
            .collect(),
        generator: GeneratorHealth {
            cpu_seconds: any_f64(rng),
            cpu_percent: any_f64(rng),
            cpus: rng.usize(..),
            peak_rss_bytes: any_u64(rng),
            scheduling_lag: any_summary(rng),
            dropped: any_u64(rng),
            late: any_u64(rng),
            saturated: rng.bool(),
            warnings: strings(rng),
            cpu_wait_seconds: any_f64(rng),
            cpu_wait_percent: any_f64(rng),
            steal_percent: any_f64(rng),
            disturbed: rng.bool(),
        },
        errors: (0..rng.usize(..3))
            .map(|_| ErrorSample {
                class: any_string(rng),
                message: any_string(rng),
                count: any_u64(rng),
            })
            .collect(),
        passed: rng.bool(),
        connections: loadtest_runtime::report::ConnectionCounts {
            opened: any_u64(rng),
            reused: any_u64(rng),
            reopened: any_u64(rng),
        },
        phases: (0..rng.usize(..3))
            .map(|i| {
                (
                    ["dns", "connect", "first_byte"][i].to_string(),
                    any_hist(rng),
                )
            })
            .collect(),
        warnings: strings(rng),
        shards: Vec::new(),
        missing_shards: Vec::new(),
        start_skew: None,
        joined_at_s: opt(rng, any_f64),
    }
}

fn any_event(rng: &mut Rng) -> Event {
    match rng.u8(..11) {
        7 => Event::SetupValue {
            hook: opt(rng, any_string),
            value: opt(rng, any_setup_value),
        },
        8 => Event::TeardownDone {
            hook: opt(rng, any_string),
        },
        9 => Event::TeardownFailed {
            message: any_string(rng),
        },
        10 => Event::Refused {
            message: any_string(rng),
        },
        0 => Event::Hello {
            protocol: rng.u32(..),
            runtime_version: any_string(rng),
        },
        1 => Event::SetupFailed {
            message: any_string(rng),
        },
        2 => Event::Started {
            test: any_string(rng),
            config: Box::new(any_config(rng)),
        },
        3 => Event::Progress(Progress {
            test: any_string(rng),
            elapsed_s: any_f64(rng),
            planned_s: opt(rng, any_f64),
            iterations: any_u64(rng),
            failed: any_u64(rng),
            requests: any_u64(rng),
            request_errors: any_u64(rng),
            rate_per_s: any_f64(rng),
            p99_us: any_u64(rng),
            dropped: any_u64(rng),
            live: rng.bool().then(|| Box::new(any_live(rng))),
        }),
        4 => Event::Finished {
            test: any_string(rng),
            result: Box::new(any_result(rng)),
        },
        5 => Event::TestError {
            test: any_string(rng),
            message: any_string(rng),
        },
        _ => Event::Done {
            interrupted: rng.bool(),
        },
    }
}

fn any_layer(rng: &mut Rng) -> OptionLayer {
    let mut layer = OptionLayer::new(any_string(rng));
    for _ in 0..rng.usize(..3) {
        let name = if rng.bool() {
            pick(rng, grammar::OPTIONS).name.to_string()
        } else {
            any_string(rng)
        };
        layer.values.push((name, strings(rng)));
    }
    layer
}

fn any_request(rng: &mut Rng) -> RunRequest {
    RunRequest {
        protocol: if rng.bool() {
            PROTOCOL_VERSION
        } else {
            rng.u32(..)
        },
        tests: (0..rng.usize(..3))
            .map(|_| TestRequest {
                name: any_string(rng),
                overrides: (0..rng.usize(..3)).map(|_| any_layer(rng)).collect(),
                health_warm_up_s: opt(rng, any_f64),
            })
            .collect(),
        base_url: opt(rng, any_string),
        request_series: rng.bool(),
        shard: rng.bool().then(|| loadtest_runtime::report::ShardSpec {
            index: 1,
            count: rng.u32(1..9),
        }),
        start_at_unix: opt(rng, any_f64),
        live_metrics: rng.bool(),
        otlp: opt(rng, |rng| loadtest_runtime::protocol::OtlpExport {
            endpoint: any_string(rng),
        }),
        mode: match rng.u8(..3) {
            0 => loadtest_runtime::protocol::RunMode::Run,
            1 => loadtest_runtime::protocol::RunMode::Setup,
            _ => loadtest_runtime::protocol::RunMode::Teardown,
        },
        setup_value: opt(rng, any_setup_value),
    }
}

/// A shared setup value as a hook's serde would write it: strings and whole numbers.
fn any_setup_value(rng: &mut Rng) -> serde_json::Value {
    serde_json::json!({
        "token": any_string(rng),
        "accounts": (0..rng.usize(..3)).map(|_| any_u64(rng)).collect::<Vec<_>>(),
    })
}

fn any_buckets(rng: &mut Rng) -> loadtest_runtime::live::Buckets {
    loadtest_runtime::live::Buckets {
        counts: (0..rng.usize(..26)).map(|_| any_u64(rng)).collect(),
        sum_us: any_u64(rng),
    }
}

fn any_live(rng: &mut Rng) -> loadtest_runtime::live::LiveDetail {
    use loadtest_runtime::live::{LiveDetail, LiveRequest, LiveStream};
    LiveDetail {
        ok: any_u64(rng),
        late: any_u64(rng),
        interrupted: any_u64(rng),
        users: opt(rng, any_u64),
        in_flight: opt(rng, any_u64),
        cpu_seconds: any_f64(rng),
        rss_bytes: any_u64(rng),
        iteration_latency: any_buckets(rng),
        scheduling_lag: any_buckets(rng),
        requests: (0..rng.usize(..3))
            .map(|_| {
                let r = LiveRequest {
                    by_class: class_counts(rng, &RequestClass::ALL),
                    by_status: (0..rng.usize(..3))
                        .map(|_| (any_string(rng), any_u64(rng)))
                        .collect(),
                    bytes_sent: any_u64(rng),
                    bytes_received: any_u64(rng),
                    latency: any_buckets(rng),
                    exemplars: any_exemplars(rng),
                    stream: rng.bool().then(|| LiveStream {
                        streams: any_u64(rng),
                        broken: any_u64(rng),
                        chunks: any_u64(rng),
                        events: any_u64(rng),
                        first_byte: any_buckets(rng),
                        first_event: any_buckets(rng),
                        gap: any_buckets(rng),
                        duration: any_buckets(rng),
                    }),
                };
                (any_string(rng), r)
            })
            .collect(),
        good: opt(rng, any_u64),
        custom_counters: (0..rng.usize(..3))
            .map(|_| (any_string(rng), any_u64(rng)))
            .collect(),
        custom_latencies: (0..rng.usize(..3))
            .map(|_| (any_string(rng), any_buckets(rng)))
            .collect(),
    }
}

fn any_listing(rng: &mut Rng) -> Listing {
    Listing {
        protocol: PROTOCOL_VERSION,
        tests: (0..rng.usize(..3))
            .map(|_| ListedTest {
                name: any_string(rng),
                file: any_string(rng),
                line: rng.u32(..),
                options: any_layer(rng),
                config: any_config(rng),
            })
            .collect(),
    }
}

fn any_report(rng: &mut Rng) -> RunReport {
    let statuses = [
        TestStatus::Passed,
        TestStatus::Failed,
        TestStatus::Errored,
        TestStatus::Interrupted,
    ];
    let verdicts = [
        MetricVerdict::Regressed,
        MetricVerdict::Improved,
        MetricVerdict::Unchanged,
        MetricVerdict::InsufficientData,
        MetricVerdict::Inconclusive,
    ];
    RunReport {
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            tool_version: any_string(rng),
            started_at_unix: any_f64(rng),
            duration_s: any_f64(rng),
            git_commit: opt(rng, any_string),
            host: any_string(rng),
            cpus: rng.usize(..),
            command_line: strings(rng),
            fail_on_saturation: rng.bool(),
            shard: None,
            merge: None,
        },
        status: *pick(
            rng,
            &[RunStatus::Passed, RunStatus::Failed, RunStatus::Interrupted],
        ),
        exit_code: rng.i32(..),
        tests: (0..rng.usize(..3))
            .map(|_| TestReport {
                package: any_string(rng),
                target: any_string(rng),
                name: any_string(rng),
                status: *pick(rng, &statuses),
                failures: strings(rng),
                result: opt(rng, any_result),
                error: opt(rng, any_string),
                comparison: opt(rng, |rng| Comparison {
                    baseline: BaselineInfo {
                        source: any_string(rng),
                        git_commit: opt(rng, any_string),
                        host: any_string(rng),
                        started_at_unix: any_f64(rng),
                        runs: opt(rng, |rng| rng.u32(..)),
                    },
                    metrics: (0..rng.usize(..3))
                        .map(|_| MetricComparison {
                            metric: *pick(rng, &grammar::GatedMetric::ALL),
                            old: any_f64(rng),
                            new: any_f64(rng),
                            change: opt(rng, any_f64),
                            ci_low: opt(rng, any_f64),
                            ci_high: opt(rng, any_f64),
                            confidence: any_f64(rng),
                            tolerance: any_f64(rng),
                            verdict: *pick(rng, &verdicts),
                            note: opt(rng, any_string),
                            spread: opt(rng, any_f64),
                            floor_us: opt(rng, any_f64),
                        })
                        .collect(),
                    regressed: rng.bool(),
                    note: opt(rng, any_string),
                    rounds: opt(rng, |rng| rng.u32(..)),
                }),
                capacity: None,
            })
            .collect(),
        gate: opt(rng, |rng| GateSummary {
            base_rev: any_string(rng),
            base_commit: any_string(rng),
            rounds: rng.u32(..),
            completed_rounds: rng.u32(..),
            round_duration_s: opt(rng, any_f64),
            duration_s: any_f64(rng),
            new_tests: strings(rng),
            removed_tests: strings(rng),
        }),
    }
}

/// JSON-ish noise: structural characters, keys and values of the protocol and reports.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\"event\"",
    "\"hello\"",
    "\"progress\"",
    "\"finished\"",
    "\"done\"",
    "\"started\"",
    "\"test_error\"",
    "\"setup_failed\"",
    "\"protocol\"",
    "\"tests\"",
    "\"test\"",
    "\"result\"",
    "\"config\"",
    "\"name\"",
    "\"overrides\"",
    "\"values\"",
    "\"source\"",
    "\"target\"",
    "\"schema_version\"",
    "\"interrupted\"",
    "\"message\"",
    "1",
    "0",
    "-1",
    "1e999",
    "-0.0",
    "18446744073709551616",
    "1.5",
    "true",
    "false",
    "null",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\u00e9\"",
    "\\",
    " ",
    "\n",
    "NaN",
    "Infinity",
];

/// A hostile JSON text: noise, a valid document (`valid`) mutated or truncated, or deep nesting.
fn hostile_json(rng: &mut Rng, valid: &str) -> String {
    match rng.u8(..8) {
        0 => (0..rng.usize(..20))
            .map(|_| *pick(rng, JSON_TOKENS))
            .collect::<String>(),
        1 => {
            let depth = rng.usize(..20_000);
            let (open, close) = *pick(rng, &[("[", "]"), ("{\"a\":", "}"), ("{\"event\":", "}")]);
            let mut s = open.repeat(depth);
            if rng.bool() {
                s += &close.repeat(depth);
            }
            s
        }
        2 => {
            let mut end = rng.usize(..=valid.len());
            while !valid.is_char_boundary(end) {
                end -= 1;
            }
            valid[..end].to_string()
        }
        3 => random_text(rng),
        _ => {
            let mut s = valid.to_string();
            // Structural edits at JSON token granularity, then character edits.
            for _ in 0..rng.usize(..3) {
                let mut at = rng.usize(..=s.len());
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                let token = pick::<&str>(rng, JSON_TOKENS);
                s.insert_str(at, token);
            }
            if rng.bool() { mutate(rng, &s) } else { s }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Protocol properties.

#[test]
fn event_lines_never_panic_the_reader() {
    property_with("event_lines_never_panic_the_reader", 300, |rng| {
        let event = any_event(rng);
        let json = serde_json::to_string(&event).unwrap();
        let line = match rng.u8(..6) {
            0 => option_text(rng),
            1 => mutate(rng, &event.to_line()),
            2 => format!("{EVENT_PREFIX}{}", random_text(rng)),
            _ => format!("{EVENT_PREFIX}{}", hostile_json(rng, &json)),
        };
        let parsed = no_panic("Event::from_line", &line, || Event::from_line(&line))?;
        ensure(parsed.is_some() == line.starts_with(EVENT_PREFIX), || {
            format!("{line:?}: from_line returned {parsed:?}")
        })
    });
}

#[test]
fn events_round_trip_through_lines() {
    property_with("events_round_trip_through_lines", 300, |rng| {
        let event = any_event(rng);
        let line = event.to_line();
        ensure(!line.contains('\n') && !line.contains('\r'), || {
            format!("{event:?} spans more than one line: {line:?}")
        })?;
        let back = Event::from_line(&line)
            .ok_or_else(|| format!("{line:?} is not an event line"))?
            .map_err(|e| format!("{line:?} does not parse back: {e}"))?;
        ensure(back == event, || {
            format!("{line:?} parses back as {back:?}")
        })
    });
}

#[test]
fn run_requests_and_listings_never_panic_the_reader_and_round_trip() {
    property_with(
        "run_requests_and_listings_never_panic_the_reader_and_round_trip",
        1000,
        |rng| {
            let req = any_request(rng);
            let json = serde_json::to_string(&req).unwrap();
            let back: RunRequest = serde_json::from_str(&json)
                .map_err(|e| format!("{json:?} does not parse back: {e}"))?;
            ensure(back == req, || format!("{json:?} parses back as {back:?}"))?;
            let hostile = hostile_json(rng, &json);
            let _ = no_panic("RunRequest from JSON", &hostile, || {
                serde_json::from_str::<RunRequest>(&hostile)
            })?;
            let listing = any_listing(rng);
            let json = serde_json::to_string(&listing).unwrap();
            let back: Listing = serde_json::from_str(&json)
                .map_err(|e| format!("{json:?} does not parse back: {e}"))?;
            ensure(back == listing, || {
                format!("{json:?} parses back as {back:?}")
            })?;
            let hostile = hostile_json(rng, &json);
            let _ = no_panic("Listing from JSON", &hostile, || {
                serde_json::from_str::<Listing>(&hostile)
            })?;
            Ok(())
        },
    );
}

// ------------------------------------------------------------------------------------------------
// Report reader properties.

#[test]
fn reports_round_trip_and_hostile_reports_never_panic_the_reader() {
    property_with(
        "reports_round_trip_and_hostile_reports_never_panic_the_reader",
        100,
        |rng| {
            let report = any_report(rng);
            let json = if rng.bool() {
                serde_json::to_string(&report).unwrap()
            } else {
                serde_json::to_string_pretty(&report).unwrap()
            };
            let back: RunReport = serde_json::from_str(&json)
                .map_err(|e| format!("{json:?} does not parse back: {e}"))?;
            ensure(back == report, || {
                format!("{json:?} parses back as {back:?}")
            })?;
            let hostile = hostile_json(rng, &json);
            let parsed = no_panic("RunReport from JSON", &hostile, || {
                serde_json::from_str::<RunReport>(&hostile)
            })?;
            // A strict prefix of a report is never a report.
            if hostile.len() < json.len() && json.starts_with(&hostile) {
                ensure(parsed.is_err(), || {
                    format!("the truncated report {hostile:?} parsed")
                })?;
            }
            Ok(())
        },
    );
}
