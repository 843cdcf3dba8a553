//! The machine interface (see [`crate::protocol`]): the JSON listing, and runs requested on stdin
//! with events on stdout.

use super::{CONFIGURED_BASE_URL, Hooks, default_base_url};
use crate::config::{OptionLayer, TestConfig};
use crate::executor::{RunTest, Stop, run_test};
use crate::protocol::{Event, ListedTest, Listing, PROTOCOL_VERSION, RunMode, RunRequest};
use crate::registry::LoadTestDef;
use std::io::{BufRead, Write};
use std::sync::Arc;

fn emit(event: &Event) {
    let mut out = std::io::stdout().lock();
    // A closed stdout means the parent is gone; the stdin watcher stops the run.
    let _ = writeln!(out, "{}", event.to_line());
    let _ = out.flush();
}

/// `--loadtest-list`: prints the JSON listing.
pub(crate) fn list(tests: &[&'static LoadTestDef]) -> i32 {
    let mut listed = Vec::new();
    for def in tests {
        let name = def.full_name();
        let options = OptionLayer::from_attribute(&name, def.options);
        let config = match TestConfig::resolve(&[&options]) {
            Ok(c) => c.summary(),
            Err(e) => {
                eprintln!("error: load test `{name}`: {e}");
                return 2;
            }
        };
        listed.push(ListedTest {
            name,
            file: def.file.to_string(),
            line: def.line,
            options,
            config,
        });
    }
    let listing = Listing {
        protocol: PROTOCOL_VERSION,
        tests: listed,
    };
    println!(
        "{}",
        serde_json::to_string(&listing).expect("listings always serialize")
    );
    0
}

/// `--loadtest-protocol`: runs what stdin asks for.
pub(crate) fn run(mut hooks: Hooks, tests: &[&'static LoadTestDef]) -> i32 {
    super::smoke::quiet_panics();
    let stdin = std::io::stdin();
    let mut first = String::new();
    if let Err(e) = stdin.lock().read_line(&mut first) {
        eprintln!("error: cannot read the run request from stdin: {e}");
        return 2;
    }
    let request: RunRequest = match serde_json::from_str(first.trim()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: the run request on stdin is not valid (protocol {PROTOCOL_VERSION}): {e}"
            );
            return 2;
        }
    };
    if request.protocol != PROTOCOL_VERSION {
        eprintln!(
            "error: cargo-loadtest speaks protocol {} but this harness speaks {PROTOCOL_VERSION}; use matching versions of cargo-loadtest and loadtest-runtime",
            request.protocol
        );
        return 2;
    }
    if request.otlp.is_some() && !crate::otlp::BUILT {
        eprintln!("error: {}", crate::otlp::missing_feature());
        return 2;
    }
    let _ = CONFIGURED_BASE_URL.set(request.base_url.clone());
    emit(&Event::Hello {
        protocol: PROTOCOL_VERSION,
        runtime_version: env!("CARGO_PKG_VERSION").to_string(),
    });

    let interrupt = Arc::new(Stop::default());
    {
        let interrupt = interrupt.clone();
        std::thread::spawn(move || {
            let mut lines = std::io::stdin().lock().lines();
            loop {
                match lines.next() {
                    Some(Ok(l)) if l.trim() != "stop" => continue,
                    _ => break, // "stop", end of input, or a read error: the parent wants us to stop
                }
            }
            interrupt.stop();
        });
    }
    let rt = match super::runtime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    rt.block_on(async move {
        match request.mode {
            RunMode::Setup => return shared_setup(&mut hooks).await,
            RunMode::Teardown => return shared_teardown(&mut hooks, request.setup_value).await,
            RunMode::Run => {}
        }
        spawn_signal_watch(interrupt.clone());
        // A shared setup value given for the whole run replaces the hook, and the teardown
        // runs once for the whole run too (`cargo loadtest teardown`), not here.
        let given = request.setup_value.is_some();
        let setup = match request.setup_value {
            Some(json) => match hooks.adopt(json) {
                Ok(value) => Some(value),
                Err(message) => {
                    emit(&Event::Refused { message });
                    return 2;
                }
            },
            None => match hooks.run_setup().await {
                Ok(s) => s,
                Err(e) => {
                    emit(&Event::SetupFailed {
                        message: e.to_string(),
                    });
                    return 3;
                }
            },
        };
        // A shard that comes after the coordinated start (a rerun pod let in by --start-grace)
        // joins the first test's schedule where it stands.
        let mut join_from_unix = None;
        if let Some(at) = request.start_at_unix {
            // The coordinated start: every shard holds its first test until the same instant.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            if at > now {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs_f64(at - now)) => {}
                    _ = interrupt.wait() => {}
                }
            } else {
                join_from_unix = Some(at);
            }
        }
        for t in &request.tests {
            if interrupt.is_stopped() {
                break;
            }
            let Some(def) = tests.iter().find(|d| d.full_name() == t.name) else {
                emit(&Event::TestError {
                    test: t.name.clone(),
                    message: format!("no load test named {:?} in this binary", t.name),
                });
                continue;
            };
            let attr = OptionLayer::from_attribute(&t.name, def.options);
            let layers: Vec<&OptionLayer> =
                std::iter::once(&attr).chain(t.overrides.iter()).collect();
            let config = match TestConfig::resolve(&layers) {
                Ok(c) => match request.shard {
                    Some(spec) => c.for_shard(spec),
                    None => c,
                },
                Err(e) => {
                    emit(&Event::TestError {
                        test: t.name.clone(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            emit(&Event::Started {
                test: t.name.clone(),
                config: Box::new(config.summary()),
            });
            let mut on_progress = |p| emit(&Event::Progress(p));
            let run = RunTest {
                def,
                config,
                setup: setup.clone(),
                default_base_url: default_base_url(),
                interrupt: interrupt.clone(),
                on_progress: &mut on_progress,
                request_series: request.request_series,
                live_metrics: request.live_metrics,
                otlp: request.otlp.as_ref(),
                health_warm_up: t
                    .health_warm_up_s
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map_or(std::time::Duration::ZERO, |s| {
                        std::time::Duration::from_secs_f64(s.min(86_400.0))
                    }),
                // Only the first test has a place in the whole run's schedule to join: the
                // tests after it start when it ends, as on every shard.
                join_from_unix: join_from_unix.take(),
            };
            match run_test(run).await {
                Ok(result) => emit(&Event::Finished {
                    test: t.name.clone(),
                    result: Box::new(result),
                }),
                Err(e) => emit(&Event::TestError {
                    test: t.name.clone(),
                    message: e.to_string(),
                }),
            }
        }
        if !given && let Err(e) = hooks.run_teardown(setup).await {
            eprintln!("warning: {e}");
        }
        emit(&Event::Done {
            interrupted: interrupt.is_stopped(),
        });
        0
    })
}

/// A [`RunMode::Setup`] request: runs only the shareable setup hook and sends its value.
async fn shared_setup(hooks: &mut Hooks) -> i32 {
    match hooks.run_shared_setup().await {
        Ok(named) => {
            let (hook, value) = named.map(|(hook, value)| (hook.to_string(), value)).unzip();
            emit(&Event::SetupValue { hook, value });
            emit(&Event::Done { interrupted: false });
            0
        }
        Err(Ok(message)) => {
            emit(&Event::SetupFailed { message });
            3
        }
        Err(Err(message)) => {
            emit(&Event::Refused { message });
            2
        }
    }
}

/// A [`RunMode::Teardown`] request: runs only the teardown hook, given the shared setup value.
async fn shared_teardown(hooks: &mut Hooks, value: Option<serde_json::Value>) -> i32 {
    let shared = match value {
        // No value: only a harness without a setup hook has nothing to tear down.
        None => match hooks.setup_hook() {
            None => None,
            Some(hook) => {
                emit(&Event::Refused {
                    message: format!(
                        "a teardown request needs the value of the setup hook `{hook}` (from the setup file)"
                    ),
                });
                return 2;
            }
        },
        Some(json) => match hooks.adopt(json) {
            Ok(v) => Some(v),
            Err(message) => {
                emit(&Event::Refused { message });
                return 2;
            }
        },
    };
    let hook = hooks.teardown_hook().map(str::to_string);
    match hooks.run_teardown(shared).await {
        Ok(()) => {
            emit(&Event::TeardownDone { hook });
            emit(&Event::Done { interrupted: false });
            0
        }
        Err(e) => {
            emit(&Event::TeardownFailed {
                message: e.to_string(),
            });
            3
        }
    }
}

/// Turns SIGINT and SIGTERM into a graceful stop.
fn spawn_signal_watch(interrupt: Arc<Stop>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
        }
        interrupt.stop();
    });
}
