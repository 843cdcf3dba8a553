//! Smoke runs under `cargo test` and nextest: each selected load test runs briefly (one user, a
//! few iterations, bounded time) and fails if an iteration fails; output follows libtest's.
//! Options come from the attribute, the workspace's `loadtest.toml` (found from the current
//! folder, which cargo and nextest set to the package's) and `LOADTEST_*` variables, as under
//! `cargo loadtest`.

use super::args::Args;
use super::{CONFIGURED_BASE_URL, Hooks, default_base_url};
use crate::config::{OptionLayer, TestConfig, WorkspaceFile};
use crate::executor::{RunTest, Stop, run_test};
use crate::registry::LoadTestDef;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Panic messages printed in full before later ones are only counted.
const PANICS_SHOWN: u64 = 5;
static PANICS: AtomicU64 = AtomicU64::new(0);

/// Prints the first few panics of load tests and silences the rest (they are counted in reports).
pub(crate) fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let n = PANICS.fetch_add(1, Ordering::Relaxed);
        if n < PANICS_SHOWN {
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned());
            match payload {
                // Printed by us so that secrets the tests used are scrubbed from it.
                Some(msg) => {
                    let at = info
                        .location()
                        .map(|l| format!(" at {}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    let thread = std::thread::current();
                    eprintln!(
                        "thread '{}' panicked{at}:\n{}",
                        thread.name().unwrap_or("<unnamed>"),
                        crate::redact::secrets().scrub(&msg)
                    );
                }
                None => default(info),
            }
        } else if n == PANICS_SHOWN {
            eprintln!("(further panics are counted in the results, not printed)");
        }
    }));
}

pub(crate) fn run(mut hooks: Hooks, args: &Args, tests: &[&'static LoadTestDef]) -> i32 {
    let started = Instant::now();
    let selected: Vec<&'static LoadTestDef> = if args.ignored {
        Vec::new()
    } else {
        tests
            .iter()
            .copied()
            .filter(|d| args.selects(&d.full_name()))
            .collect()
    };
    let filtered_out = tests.len() - selected.len();
    println!(
        "\nrunning {} test{}",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" }
    );
    if selected.is_empty() {
        println!(
            "\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in 0.00s\n"
        );
        return 0;
    }
    let file = match std::env::current_dir()
        .ok()
        .and_then(|d| WorkspaceFile::find(&d))
        .map(|dir| WorkspaceFile::read(&dir))
        .transpose()
    {
        Ok(file) => file.flatten().unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return 101;
        }
    };
    quiet_panics();
    let env = OptionLayer::from_env(std::env::vars());
    let _ = CONFIGURED_BASE_URL.set(env.get("target").and_then(|v| v.first().cloned()));
    let rt = match super::runtime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 101;
        }
    };
    let mut failures: Vec<(String, String)> = Vec::new();
    rt.block_on(async {
        let setup = match hooks.run_setup().await {
            Ok(s) => s,
            Err(e) => {
                let message = e.to_string();
                for d in &selected {
                    println!("test {} ... FAILED", d.full_name());
                    failures.push((d.full_name(), message.clone()));
                }
                return;
            }
        };
        for def in &selected {
            let name = def.full_name();
            let attr = OptionLayer::from_attribute(&name, def.options);
            let mut layers = vec![&attr, &file.defaults];
            layers.extend(file.tests.get(&name));
            layers.push(&env);
            let outcome = match TestConfig::resolve(&layers) {
                Err(e) => Err(e.to_string()),
                Ok(config) => {
                    let mut ignore = |_| {};
                    let run = RunTest {
                        def,
                        config: config.into_smoke(),
                        setup: setup.clone(),
                        default_base_url: default_base_url(),
                        interrupt: Arc::new(Stop::default()),
                        on_progress: &mut ignore,
                        request_series: false,
                        live_metrics: false,
                        health_warm_up: std::time::Duration::ZERO,
                        otlp: None,
                        join_from_unix: None,
                    };
                    run_test(run).await.map_err(|e| e.to_string())
                }
            };
            match outcome {
                Ok(r) if r.passed => println!("test {name} ... ok"),
                Ok(r) => {
                    println!("test {name} ... FAILED");
                    let mut text: Vec<String> = r
                        .thresholds
                        .iter()
                        .filter(|t| !t.passed)
                        .map(|t| format!("{}: {}", t.rule, t.message))
                        .collect();
                    text.extend(
                        r.errors
                            .iter()
                            .take(5)
                            .map(|e| format!("{} x{}: {}", e.class, e.count, e.message)),
                    );
                    failures.push((name, text.join("\n")));
                }
                Err(e) => {
                    println!("test {name} ... FAILED");
                    failures.push((name, e));
                }
            }
        }
        if let Err(e) = hooks.run_teardown(setup).await {
            eprintln!("warning: {e}");
        }
    });
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, text) in &failures {
            println!("---- {name} ----\n{text}\n");
        }
        println!("failures:");
        for (name, _) in &failures {
            println!("    {name}");
        }
    }
    let failed = failures.len();
    println!(
        "\ntest result: {}. {} passed; {failed} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        selected.len() - failed,
        started.elapsed().as_secs_f64()
    );
    if failed == 0 { 0 } else { 101 }
}
