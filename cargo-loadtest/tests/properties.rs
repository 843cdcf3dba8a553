//! Property tests over hostile input: the baseline reader on arbitrary files (including
//! truncations and mutations of a real serialized report), baseline names, and the regression
//! gate's statistics on arbitrary finite inputs.
//!
//! - `LOADTEST_PROPERTY_CASES`: cases per property (default 5000, fewer for the file reader and
//!   the bootstrap).
//! - `LOADTEST_PROPERTY_SECONDS`: optional time budget per property; it stops early and prints
//!   the number of cases it ran.
//! - `LOADTEST_PROPERTY_SEED`: the base seed (default fixed). Case `i` uses seed `base + i`; a
//!   failure prints the case's seed, and `LOADTEST_PROPERTY_SEED=<that> LOADTEST_PROPERTY_CASES=1`
//!   replays it.
//!
//! Long run: `LOADTEST_PROPERTY_CASES=1000000 cargo test --release -p cargo-loadtest --test
//! properties -- --nocapture`.

use cargo_loadtest::compare::baseline::{self, check_name, load_file, named_dir};
use cargo_loadtest::compare::stats;
use cargo_loadtest::compare::store_error::StoreError;
use cargo_loadtest::errors::CliError;
use cargo_loadtest::exit_code::USAGE;
use fastrand::Rng;
use loadtest_report::class::{IterationClass, RequestClass};
use loadtest_report::hdr;
use loadtest_report::report::{
    ConfigSummary, ErrorSample, GeneratorHealth, IntervalPoint, IterationCounts, RequestMetrics,
    RequestTotals, RunInfo, RunReport, RunStatus, SCHEMA_VERSION, TestReport, TestResult,
    TestStatus, ThresholdOutcome,
};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Runs `prop` on `LOADTEST_PROPERTY_CASES` seeded cases (else `default_cases`); fails with the
/// case's seed.
fn property(name: &str, default_cases: u64, mut prop: impl FnMut(&mut Rng) -> Result<(), String>) {
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
                "property `{name}` failed at case {i}: {why}\nreplay with LOADTEST_PROPERTY_SEED={seed} LOADTEST_PROPERTY_CASES=1 cargo test -p cargo-loadtest --test properties {name}"
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

fn pick<'a, T>(rng: &mut Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.usize(..xs.len())]
}

fn any_char(rng: &mut Rng) -> char {
    match rng.u8(..4) {
        0 => rng.char('\0'..='\u{1f}'),
        1 => rng.char(' '..='~'),
        2 => rng.char('\u{80}'..='\u{7ff}'),
        _ => rng.char(..),
    }
}

/// A per-test scratch folder, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "cargo-loadtest-properties-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------------------------------------------
// The baseline reader.

fn words(rng: &mut Rng) -> String {
    const WORDS: &[&str] = &[
        "browse",
        "checkout",
        "GET /search",
        "api::home",
        "p99 < 250ms",
        "é😀",
        "\"quoted\"",
        "back\\slash",
        "new\nline",
        "\u{0}",
        "",
    ];
    let mut s = String::from(*pick(rng, WORDS));
    if rng.u8(..4) == 0 {
        s.push(any_char(rng));
    }
    s
}

fn any_f64(rng: &mut Rng) -> f64 {
    match rng.u8(..4) {
        0 => rng.u32(..) as f64,
        1 => rng.f64() * 1000.0,
        2 => 0.0,
        _ => loop {
            let f = f64::from_bits(rng.u64(..));
            if f.is_finite() {
                break f;
            }
        },
    }
}

fn any_hist(rng: &mut Rng) -> loadtest_report::report::Histogram {
    let mut h = hdr::new_hist();
    for _ in 0..rng.usize(..50) {
        hdr::record(&mut h, rng.u64(1..5_000_000));
    }
    hdr::to_report(&h)
}

/// Counts of about one in `one_in` of `classes` (a report's `by_class`, `failed_by_class`).
fn some_of<C: Ord + Copy>(rng: &mut Rng, classes: &[C], one_in: u8) -> BTreeMap<C, u64> {
    let mut counts = BTreeMap::new();
    for &class in classes {
        if rng.u8(..one_in) == 0 {
            counts.insert(class, rng.u64(..));
        }
    }
    counts
}

/// A report the way `cargo loadtest` writes one: a few tests, most with results.
fn any_report(rng: &mut Rng) -> RunReport {
    let counts = |rng: &mut Rng| -> BTreeMap<String, u64> {
        (0..rng.usize(..3))
            .map(|_| (words(rng), rng.u64(..)))
            .collect()
    };
    let tests = (0..rng.usize(..3))
        .map(|_| {
            let result = rng.u8(..4) != 0;
            TestReport {
                package: words(rng),
                target: words(rng),
                name: words(rng),
                status: *pick(
                    rng,
                    &[
                        TestStatus::Passed,
                        TestStatus::Failed,
                        TestStatus::Errored,
                        TestStatus::Interrupted,
                    ],
                ),
                failures: (0..rng.usize(..2)).map(|_| words(rng)).collect(),
                result: result.then(|| TestResult {
                    name: words(rng),
                    started_at_unix: None,
                    config: ConfigSummary {
                        model: "closed".into(),
                        users: Some(rng.u64(1..100)),
                        thresholds: vec![words(rng)],
                        ..ConfigSummary::default()
                    },
                    elapsed_s: any_f64(rng),
                    interrupted: rng.bool(),
                    aborted_by: None,
                    iterations: IterationCounts {
                        total: rng.u64(..),
                        ok: rng.u64(..),
                        failed_by_class: some_of(rng, &IterationClass::ALL, 2),
                        rate_per_s: any_f64(rng),
                        ..IterationCounts::default()
                    },
                    iteration_latency: any_hist(rng),
                    iteration_latency_uncorrected: rng.bool().then(|| any_hist(rng)),
                    requests: RequestTotals {
                        total: rng.u64(..),
                        by_class: some_of(rng, &RequestClass::ALL, 8),
                        by_status: counts(rng),
                        ..RequestTotals::default()
                    },
                    request_names: (0..rng.usize(..2))
                        .map(|_| {
                            let m = RequestMetrics {
                                count: rng.u64(..),
                                latency: any_hist(rng),
                                ..RequestMetrics::default()
                            };
                            (words(rng), m)
                        })
                        .collect(),
                    custom_latencies: BTreeMap::new(),
                    custom_counters: counts(rng),
                    series: (0..rng.usize(..5))
                        .map(|i| IntervalPoint {
                            t_s: i as f64 + 1.0,
                            iterations: rng.u64(..1000),
                            p99_us: rng.u64(..1_000_000),
                            ..IntervalPoint::default()
                        })
                        .collect(),
                    thresholds: vec![ThresholdOutcome {
                        rule: words(rng),
                        observed: rng.bool().then(|| any_f64(rng)),
                        passed: rng.bool(),
                        message: words(rng),
                    }],
                    generator: GeneratorHealth {
                        cpu_percent: any_f64(rng),
                        warnings: vec![words(rng)],
                        ..GeneratorHealth::default()
                    },
                    errors: vec![ErrorSample {
                        class: "user".into(),
                        message: words(rng),
                        count: rng.u64(..),
                    }],
                    passed: rng.bool(),
                    connections: Default::default(),
                    phases: Default::default(),
                    warnings: (0..rng.usize(..2)).map(|_| words(rng)).collect(),
                    shards: Vec::new(),
                    missing_shards: Vec::new(),
                    start_skew: None,
                    joined_at_s: None,
                }),
                error: (!result).then(|| words(rng)),
                comparison: None,
                capacity: None,
            }
        })
        .collect();
    RunReport {
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            tool_version: "0.1.0".into(),
            started_at_unix: any_f64(rng),
            duration_s: any_f64(rng),
            git_commit: rng.bool().then(|| words(rng)),
            host: words(rng),
            cpus: rng.usize(..64),
            command_line: vec!["cargo".into(), "loadtest".into()],
            fail_on_saturation: rng.bool(),
            shard: None,
            merge: None,
        },
        status: *pick(
            rng,
            &[RunStatus::Passed, RunStatus::Failed, RunStatus::Interrupted],
        ),
        exit_code: rng.i32(..),
        tests,
        gate: None,
    }
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "null",
    "true",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"schema_version\"",
    "\"tests\"",
    "\"result\"",
    "\"hdr_v2_base64\"",
    "\"HISTEwAAAAAAAAAA\"",
    "\\",
    "\\u0000",
    "\\ud800",
    " ",
    "\n",
];

/// Hostile bytes: random, or the valid report truncated, damaged or edited.
fn hostile_bytes(rng: &mut Rng, valid: &[u8]) -> Vec<u8> {
    match rng.u8(..8) {
        0 => {
            let mut b = vec![0u8; rng.usize(..200)];
            rng.fill(&mut b);
            b
        }
        1 | 2 => valid[..rng.usize(..valid.len())].to_vec(),
        3 => {
            let mut b = valid.to_vec();
            for _ in 0..rng.usize(1..5) {
                let at = rng.usize(..b.len());
                b[at] ^= 1 << rng.u32(..8);
            }
            b
        }
        4 => {
            let mut b = valid.to_vec();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..=b.len());
                let t = pick(rng, JSON_TOKENS).as_bytes().to_vec();
                b.splice(at..at, t);
            }
            b
        }
        5 => {
            // Another schema version, or none.
            let text = String::from_utf8(valid.to_vec()).unwrap();
            // The next version (written by a newer cargo-loadtest) is refused like any unknown
            // one; the older versions it still reads are not hostile.
            let next = (SCHEMA_VERSION + 1).to_string();
            let v = *pick(
                rng,
                &[
                    "0",
                    next.as_str(),
                    "99",
                    "-1",
                    "1.0",
                    "\"1\"",
                    "null",
                    "1e3",
                ],
            );
            let field = format!("\"schema_version\": {SCHEMA_VERSION}");
            let edited = if rng.bool() {
                text.replacen(&field, &format!("\"schema_version\": {v}"), 1)
            } else {
                text.replacen(&field, "\"schema\": 1", 1)
            };
            edited.into_bytes()
        }
        6 => {
            // Deep nesting.
            let depth = rng.usize(..20_000);
            let mut b = b"{\"schema_version\": 1, \"run\": ".to_vec();
            b.extend(b"[".repeat(depth));
            b
        }
        _ => {
            // A span removed from the middle.
            let a = rng.usize(..valid.len());
            let z = rng.usize(a..=valid.len());
            let mut b = valid[..a].to_vec();
            b.extend(&valid[z..]);
            b
        }
    }
}

#[test]
fn load_file_never_panics_and_refuses_hostile_files_with_usage_errors() {
    let scratch = Scratch::new("load-file");
    let (mut loaded, mut refused) = (0u64, 0u64);
    property(
        "load_file_never_panics_and_refuses_hostile_files_with_usage_errors",
        200,
        |rng| {
            let report = any_report(rng);
            let valid = serde_json::to_vec_pretty(&report).unwrap();
            // Odd file and folder names, so messages must carry them through.
            let name = format!(
                "{}{}",
                pick(rng, &["r", "my report", "rép😀", "a'b\"c", "x-y"]),
                rng.u32(..)
            );
            let (bytes, kind) = match rng.u8(..6) {
                0 => (valid.clone(), "valid"),
                _ => (hostile_bytes(rng, &valid), "hostile"),
            };
            let (path, file) = if rng.u8(..4) == 0 {
                // A baseline folder holding report.json.
                let dir = scratch.0.join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join(baseline::BASELINE_FILE);
                (dir, file)
            } else {
                let file = scratch.0.join(format!("{name}.json"));
                (file.clone(), file)
            };
            let missing = rng.u8(..20) == 0;
            if !missing {
                std::fs::write(&file, &bytes).unwrap();
            }
            let result = no_panic("load_file", &String::from_utf8_lossy(&bytes), || {
                load_file(&path)
            })?;
            let _ = std::fs::remove_file(&file);
            let _ = std::fs::remove_dir(&path);
            match result {
                Ok(back) => {
                    loaded += 1;
                    ensure(!missing, || {
                        format!("{} is missing yet loaded", path.display())
                    })?;
                    ensure(
                        bytes.len() >= valid.len() || !valid.starts_with(&bytes),
                        || {
                            format!(
                                "a truncated report loaded: {:?}",
                                String::from_utf8_lossy(&bytes)
                            )
                        },
                    )?;
                    ensure(back.runs.len() == 1, || {
                        format!("a report file loaded as {} runs", back.runs.len())
                    })?;
                    let back = back.into_newest();
                    if kind == "valid" {
                        ensure(back == report, || {
                            "the valid report read back differently".into()
                        })?;
                    }
                    ensure(back.schema_version == SCHEMA_VERSION, || {
                        format!("schema_version {} loaded", back.schema_version)
                    })
                }
                Err(e) => {
                    refused += 1;
                    let m = e.to_string();
                    ensure(kind == "hostile" || missing, || {
                        format!("the valid report was refused: {m}")
                    })?;
                    ensure(m.contains(&file.display().to_string()), || {
                        format!("the message does not name {}: {m}", file.display())
                    })?;
                    ensure(CliError::from(e).exit_code() == USAGE, || {
                        format!("not a usage error: {m}")
                    })
                }
            }
        },
    );
    eprintln!("  load_file: {loaded} reports loaded, {refused} refused with usage errors");
}

// ------------------------------------------------------------------------------------------------
// Baseline names.

/// A name built from allowed characters and path-traversal pieces.
fn any_name(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "main",
        "v1.2",
        "pr-17_base",
        "a",
        "Z",
        "0",
        ".",
        "..",
        "...",
        "/",
        "\\",
        "../",
        "..\\",
        "/etc/passwd",
        "C:",
        ":",
        "\0",
        "\n",
        "\t",
        " ",
        "~",
        "$HOME",
        "%2e%2e",
        "%2f",
        "．",
        "／",
        "＼",
        "\u{2024}",
        "\u{202e}",
        "\u{200b}",
        "é",
        "-",
        "_",
        "*",
        "?",
        "<",
        ">",
        "|",
        "NUL",
        "CON",
    ];
    let mut s = String::new();
    for _ in 0..rng.usize(..6) {
        match rng.u8(..6) {
            0 => s.push(any_char(rng)),
            1 => {
                let c = *pick(
                    rng,
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                );
                s.push(c as char);
            }
            _ => s += *pick(rng, PIECES),
        }
    }
    if rng.u8(..20) == 0 {
        s = "a".repeat(rng.usize(95..106));
    }
    s
}

/// A name `check_name` must accept: allowed characters, not starting with '.', no "..".
fn good_name(rng: &mut Rng) -> String {
    const ALLOWED: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    let len = rng.usize(1..=100);
    let mut s = String::new();
    while s.len() < len {
        let c = *pick(rng, ALLOWED) as char;
        if c == '.' && (s.is_empty() || s.ends_with('.')) {
            continue;
        }
        s.push(c);
    }
    s
}

#[test]
fn baseline_names_cannot_escape_the_baselines_folder() {
    let target = Path::new("/work/target");
    let (mut accepted, mut refused) = (0u64, 0u64);
    property(
        "baseline_names_cannot_escape_the_baselines_folder",
        DEFAULT_CASES,
        |rng| {
            let name = if rng.u8(..3) == 0 {
                good_name(rng)
            } else {
                any_name(rng)
            };
            let result = no_panic("check_name", &name, || check_name(&name))?;
            let must_refuse = name.is_empty()
                || name.contains('/')
                || name.contains('\\')
                || name.starts_with('.')
                || name.contains("..")
                || name.chars().any(char::is_control)
                || name.len() > 100;
            let allowed = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            match result {
                Ok(()) => {
                    accepted += 1;
                    ensure(!must_refuse && allowed, || format!("{name:?} was accepted"))?;
                    // One plain path component, inside the baselines folder.
                    let comps: Vec<Component> = Path::new(&name).components().collect();
                    ensure(
                        comps.len() == 1 && comps[0] == Component::Normal(name.as_ref()),
                        || format!("{name:?} is not one plain path component: {comps:?}"),
                    )?;
                    let path = named_dir(target, &name).map_err(|e| e.to_string())?;
                    let dir = baseline::baselines_dir(target);
                    ensure(path.parent() == Some(dir.as_path()), || {
                        format!("{name:?} resolves to {}", path.display())
                    })
                }
                Err(e) => {
                    refused += 1;
                    let m = e.to_string();
                    ensure(
                        matches!(&e, StoreError::InvalidName { name: n } if *n == name),
                        || format!("{name:?} was refused, but not as an invalid name: {e:?}"),
                    )?;
                    ensure(must_refuse || !allowed, || {
                        format!("{name:?} was refused: {m}")
                    })?;
                    ensure(
                        m.contains(&format!("{name:?}")) && m.contains("e.g."),
                        || {
                            format!(
                                "the message for {name:?} does not name it or give an example: {m}"
                            )
                        },
                    )?;
                    ensure(named_dir(target, &name).is_err(), || {
                        format!("named_dir accepted {name:?}")
                    })
                }
            }
        },
    );
    eprintln!("  check_name: {accepted} names accepted, {refused} refused");
}

// ------------------------------------------------------------------------------------------------
// The gate's statistics.

/// Window values: latencies, throughputs, error fractions, or anything finite.
fn windows(rng: &mut Rng, wild: bool) -> Vec<f64> {
    let n = match rng.u8(..4) {
        0 => rng.usize(..4),
        _ => rng.usize(..40),
    };
    let level = *pick(rng, &[0.0, 1e-3, 1.0, 100.0, 5e5, 1e9]);
    (0..n)
        .map(|_| match rng.u8(..if wild { 6 } else { 4 }) {
            0 => level,
            1 => level * (0.5 + rng.f64()),
            2 => rng.f64() * 1e6,
            3 => rng.u32(..) as f64,
            4 => f64::from_bits(rng.u64(..)),
            _ => *pick(
                rng,
                &[
                    f64::NAN,
                    f64::INFINITY,
                    -f64::INFINITY,
                    f64::MAX,
                    -f64::MAX,
                    f64::MIN_POSITIVE,
                    -0.0,
                    5e-324,
                ],
            ),
        })
        .collect()
}

/// The median by a different route: sort a copy, take the middle one or the mean of the two.
fn reference_median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn bounds(xs: &[f64]) -> (f64, f64) {
    xs.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

#[test]
fn statistics_never_panic_and_stay_within_their_inputs() {
    property(
        "statistics_never_panic_and_stay_within_their_inputs",
        2_000,
        |rng| {
            // Anything, NaN and infinities included: no panic.
            let wild_old = windows(rng, true);
            let wild_new = windows(rng, true);
            let (resamples, confidence, seed) = (
                rng.usize(..60),
                *pick(rng, &[0.95, 0.5, 0.0, 1.0, -1.0, 2.0, f64::NAN]),
                rng.u64(..),
            );
            no_panic(
                "stats",
                &(&wild_old, &wild_new, resamples, confidence),
                || {
                    if !wild_old.is_empty() {
                        stats::median(&mut wild_old.clone());
                        stats::mean(&wild_old);
                    }
                    stats::block_len(wild_old.len());
                    stats::ratio_of_medians(&wild_old, &wild_new, resamples, confidence, seed);
                    stats::difference_of_means(&wild_old, &wild_new, resamples, confidence, seed);
                },
            )?;

            // Finite window values of realistic size: exact properties.
            let old = windows(rng, false);
            let new = windows(rng, false);
            let resamples = rng.usize(..60);
            let confidence = *pick(rng, &[0.95, 0.9, 0.99, 0.5, 0.0, 1.0]);
            let input = (&old, &new, resamples, confidence, seed);
            for xs in [&old, &new] {
                let n = xs.len();
                let b = stats::block_len(n);
                ensure(b >= 1 && b <= n.max(1), || format!("block_len({n}) = {b}"))?;
                if xs.is_empty() {
                    continue;
                }
                let mut sorted = xs.to_vec();
                let m = stats::median(&mut sorted);
                ensure(m == reference_median(xs), || {
                    format!("median({xs:?}) = {m}, expected {}", reference_median(xs))
                })?;
                ensure(sorted.windows(2).all(|w| w[0] <= w[1]), || {
                    format!("median left {sorted:?} unsorted")
                })?;
                let (lo, hi) = bounds(xs);
                let mean = stats::mean(xs);
                let slack = 1e-9 * hi.abs().max(lo.abs());
                ensure(mean >= lo - slack && mean <= hi + slack, || {
                    format!("mean({xs:?}) = {mean}, outside [{lo}, {hi}]")
                })?;
            }
            let ratio = no_panic("ratio_of_medians", &input, || {
                stats::ratio_of_medians(&old, &new, resamples, confidence, seed)
            })?;
            let diff = no_panic("difference_of_means", &input, || {
                stats::difference_of_means(&old, &new, resamples, confidence, seed)
            })?;
            ensure(
                ratio == stats::ratio_of_medians(&old, &new, resamples, confidence, seed)
                    && diff == stats::difference_of_means(&old, &new, resamples, confidence, seed),
                || format!("{input:?}: the same seed gave another interval"),
            )?;
            let enough = old.len() >= 3 && new.len() >= 3;
            let positive = |xs: &[f64]| xs.iter().all(|&x| x > 0.0);
            match ratio {
                None => ensure(
                    !enough || resamples == 0 || !positive(&old) || !positive(&new),
                    || format!("{input:?}: no ratio from positive windows"),
                )?,
                Some(e) => {
                    ensure(enough && resamples > 0, || {
                        format!("{input:?}: ratio {e:?}")
                    })?;
                    let want = reference_median(&new) / reference_median(&old);
                    ensure(e.value == want, || {
                        format!("{input:?}: ratio {} != {want}", e.value)
                    })?;
                    ensure(e.low <= e.high, || format!("{input:?}: interval {e:?}"))?;
                    if positive(&old) && positive(&new) {
                        let ((olo, ohi), (nlo, nhi)) = (bounds(&old), bounds(&new));
                        let (lo, hi) = (nlo / ohi, nhi / olo);
                        let ok = |x: f64| x >= lo * (1.0 - 1e-12) && x <= hi * (1.0 + 1e-12);
                        ensure(ok(e.value) && ok(e.low) && ok(e.high), || {
                            format!("{input:?}: ratio {e:?} outside [{lo}, {hi}]")
                        })?;
                    }
                }
            }
            match diff {
                None => ensure(!enough || resamples == 0, || {
                    format!("{input:?}: no difference of means")
                })?,
                Some(e) => {
                    ensure(enough && resamples > 0, || {
                        format!("{input:?}: difference {e:?}")
                    })?;
                    let want = stats::mean(&new) - stats::mean(&old);
                    ensure(e.value == want, || {
                        format!("{input:?}: difference {} != {want}", e.value)
                    })?;
                    ensure(e.low <= e.high, || format!("{input:?}: interval {e:?}"))?;
                    let ((olo, ohi), (nlo, nhi)) = (bounds(&old), bounds(&new));
                    let (lo, hi) = (nlo - ohi, nhi - olo);
                    let slack = 1e-9 * lo.abs().max(hi.abs()).max(1.0);
                    let ok = |x: f64| x >= lo - slack && x <= hi + slack;
                    ensure(ok(e.value) && ok(e.low) && ok(e.high), || {
                        format!("{input:?}: difference {e:?} outside [{lo}, {hi}]")
                    })?;
                }
            }
            Ok(())
        },
    );
}
