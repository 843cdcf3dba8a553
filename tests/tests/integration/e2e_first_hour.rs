//! Issue 12: the first hour of a real user, driven through the real binary the way they met it.
//! The README's snippets in a fresh workspace under `cargo test` (with `loadtest.toml`'s target),
//! a refused target explained, consistent error counts, build announcements, report paths that
//! are not regular files, misspelt `loadtest.toml` sections, compare paths, ids in URLs bounded,
//! a generator disturbed by a busy loop on its core, and a target restarted mid-run.

use crate::support;

use loadtest_demo_server::DemoServer;
use loadtest_report::report::{RunReport, TestResult};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{BusyLoop, CLIENTS, Fixture, Server, repo_root, serial, text};

fn result(report: &RunReport, name: &str) -> TestResult {
    report
        .tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test {name} in the report"))
        .result
        .clone()
        .unwrap_or_else(|| panic!("test {name} has no result"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first fenced block of `lang` after `heading` in the README.
fn readme_block(readme: &str, heading: &str, lang: &str) -> String {
    let from = readme.find(heading).expect("the README has the heading");
    let fence = format!("```{lang}\n");
    let start = readme[from..].find(&fence).expect("a fenced block follows") + from + fence.len();
    let len = readme[start..].find("```").expect("the block ends");
    readme[start..start + len].to_string()
}

#[test]
fn the_readme_snippets_build_and_smoke_run_under_cargo_test_with_the_workspace_files_target() {
    let _g = serial();
    let server = Server::start();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let dependency = readme_block(&readme, "## Writing a load test", "toml");
    let first_test = readme_block(&readme, "# cargo-loadtest", "rust");
    // The dependency snippet's clone form names the runtime inside a clone of this repository
    // (the published form, `loadtest-runtime = "0.1"`, needs the crate on crates.io).
    let placeholder = "PATH/TO/cargo-loadtest";
    let path_form = dependency
        .lines()
        .find(|l| l.contains(placeholder))
        .unwrap_or_else(|| panic!("the snippet has a path form with {placeholder}: {dependency}"))
        .trim_start_matches(['#', ' '])
        .replace(placeholder, &repo_root().to_string_lossy());
    assert!(
        path_form.starts_with("loadtest-runtime = { path = "),
        "{path_form}"
    );
    let dependency: String = dependency
        .lines()
        .map(|l| {
            if l.starts_with("loadtest-runtime") {
                path_form.as_str()
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::Builder::new()
        .prefix("loadtest-e2e-readme-")
        .tempdir()
        .unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"readme-first\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n{dependency}"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("loadtests")).unwrap();
    std::fs::write(dir.path().join("loadtests/api.rs"), first_test).unwrap();
    std::fs::copy(
        repo_root().join("Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("loadtest.toml"),
        format!("[defaults]\ntarget = \"{}\"\n", server.url()),
    )
    .unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir.path())
        .args(["test", "--quiet"])
        .env_remove("CARGO_TERM_COLOR");
    support::reuse_test_build(&mut cmd);
    for (k, _) in std::env::vars() {
        if k.starts_with("LOADTEST_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("test browse ... ok"),
        "{}",
        text(&out)
    );
    assert_eq!(
        server.server.requests(),
        3,
        "three smoke iterations of one GET each reached the target of loadtest.toml"
    );
}

#[test]
fn a_refused_target_is_explained_and_latency_rules_over_failures_fail_with_no_data() {
    let _g = serial();
    let f = Fixture::shared("real-world");
    // Port 9 (discard) on loopback: nothing listens there on these machines.
    let out = f.run(&["--exact", "refused", "--target", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let r = result(&f.report(), "refused");
    assert!(
        r.iterations.total > 0 && r.iterations.ok == 0,
        "{:?}",
        r.iterations
    );
    let p99 = &r.thresholds[0];
    assert_eq!(p99.rule, "p99 < 200ms");
    assert!(!p99.passed && p99.observed.is_none(), "{p99:?}");
    assert!(p99.message.starts_with("no data"), "{}", p99.message);
    let summary = stdout(&out);
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    for (what, text) in [("summary", &summary), ("markdown", &md)] {
        assert!(text.to_lowercase().contains("top errors"), "{what}: {text}");
        assert!(text.contains("connect"), "{what} names the class: {text}");
        assert!(
            text.to_lowercase().contains("connection refused"),
            "{what} shows a sample message: {text}"
        );
        assert!(
            text.contains("no data"),
            "{what} says the p99 rule had no data: {text}"
        );
    }
    let connects = r.requests.by_class["connect"];
    assert!(
        summary.contains(&format!(" {connects} ")),
        "the summary counts the class: {summary}"
    );
}

#[test]
fn retried_errors_are_counted_alike_in_the_summary_and_the_json() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("real-world");
    let out = f.run(&["--exact", "retried", "--target", &server.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = result(&f.report(), "retried");
    assert_eq!((r.iterations.total, r.iterations.failed), (40, 0));
    assert_eq!(r.requests.by_class["http_5xx"], 40, "one retried 503 each");
    let summary = stdout(&out);
    let mut lines = summary.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let cell = |name: &str| {
        row[header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}: {header:?}"))]
    };
    assert_eq!(cell("failed"), "0", "{summary}");
    assert_eq!(cell("req errors"), "40", "{summary}");
    assert_eq!(cell("requests"), "80", "{summary}");
    assert!(
        cell("iter/s").parse::<f64>().is_ok(),
        "the rate column is iterations per second: {summary}"
    );
}

#[test]
fn a_build_says_what_it_builds_even_when_quiet_and_list_says_it_is_building() {
    let _g = serial();
    let server = Server::start();
    // A private copy alone is not enough: cargo names a path package's artifacts by its path
    // inside its workspace, so a copy shares the shared fixture's fingerprint, whose dep-info
    // lists the shared fixture's files: edits to the copy go unseen while the shared fixture was
    // the last to build it. A package name of its own gives the copy its own fingerprint (last
    // built from a removed folder, or never), and a source no build has seen makes `list` compile
    // it; a second change makes the quiet run compile it again.
    let f = Fixture::copy("passing");
    let manifest = f.source("Cargo.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    let renamed = toml.replacen(
        "name = \"fixture-passing\"",
        "name = \"fixture-passing-build\"",
        1,
    );
    assert_ne!(
        renamed, toml,
        "the fixture's package is named fixture-passing"
    );
    std::fs::write(&manifest, renamed).unwrap();
    let source = f.source("loadtests/api.rs");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut code = std::fs::read_to_string(&source).unwrap();
    code.push_str(&format!(
        "\n// a source no build has seen: {} {nanos}\n",
        std::process::id()
    ));
    std::fs::write(&source, &code).unwrap();
    let out = f.command(&["list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains("Building 1 load test target"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("home"), "{}", text(&out));
    code.push_str("\n// changed by the test, so that the next run compiles\n");
    std::fs::write(&source, code).unwrap();
    let out = f.run(&["--quiet", "--exact", "home", "--target", &server.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains("Building 1 load test target of fixture-passing")
            && stderr(&out).contains("takes minutes"),
        "{}",
        text(&out)
    );
    // The repository's alias shows cargo's progress while it compiles the tool.
    let config = std::fs::read_to_string(repo_root().join(".cargo/config.toml")).unwrap();
    let alias = config
        .lines()
        .find(|l| l.starts_with("loadtest ="))
        .unwrap();
    assert!(!alias.contains("--quiet"), "{alias}");
}

#[test]
fn reports_go_to_stdout_fifos_and_through_symlinks_without_replacing_them() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let real = f.file("real.xml");
    std::fs::write(&real, "old").unwrap();
    let link = f.file("junit-link.xml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let null = f.file("null-link");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    let fifo = f.file("report.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::fs::File::open(fifo)
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            s
        })
    };
    let out = f
        .command(&[
            "--exact",
            "home",
            "--target",
            &server.url(),
            "--json",
            "-",
            "--junit",
            link.to_str().unwrap(),
            "--markdown",
            fifo.to_str().unwrap(),
            "--bmf",
            null.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: RunReport = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is the JSON report alone ({e}): {}", text(&out)));
    assert_eq!(report.tests.len(), 1);
    assert!(!f.path().join("-").exists(), "no file named -");
    assert!(
        stderr(&out).contains("loadtest result: ok"),
        "the summary went to stderr"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(std::fs::read_to_string(&real).unwrap().starts_with("<?xml"));
    assert!(
        reader
            .join()
            .unwrap()
            .starts_with("## cargo loadtest: passed")
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        std::fs::read_link(&null).unwrap(),
        std::path::Path::new("/dev/null")
    );
    // Compare: an argument that looks like a path and does not exist says so.
    std::fs::write(f.file("old.json"), &out.stdout).unwrap();
    let out = f
        .command(&[
            "compare",
            f.file("old.json").to_str().unwrap(),
            "target/loadtest/report.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("no such file or folder: \"target/loadtest/report.json\""),
        "{}",
        text(&out)
    );
    // Compare with a report on stdout: the comparison table goes to stderr.
    let old = f.file("old.json");
    let old = old.to_str().unwrap();
    let out = f
        .command(&["compare", old, old, "--json", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let compared: RunReport = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is the JSON report alone ({e}): {}", text(&out)));
    assert!(compared.tests[0].comparison.is_some(), "{}", text(&out));
    assert!(stderr(&out).contains("compared with"), "{}", text(&out));
    // BMF (what Bencher reads) on stdout: the summary goes to stderr.
    let out = f
        .command(&[
            "--exact",
            "home",
            "--target",
            &server.url(),
            "--json",
            f.file("bmf-run.json").to_str().unwrap(),
            "--bmf",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bmf: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is the BMF document alone ({e}): {}", text(&out)));
    assert!(bmf.is_object(), "{bmf}");
    assert!(
        stderr(&out).contains("loadtest result: ok"),
        "the summary went to stderr"
    );
}

#[test]
fn misspelt_workspace_file_sections_and_options_exit_2_with_a_suggestion() {
    let _g = support::concurrent(&["passing"]);
    let f = Fixture::shared("passing");
    let toml = f.write_source("loadtest.toml", "[tests.hom]\nusers = 2\n");
    let out = f.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("[tests.hom] names no load test")
            && stderr(&out).contains("did you mean [tests.home]?"),
        "{}",
        text(&out)
    );
    assert!(!f.file("report.json").exists());
    drop(toml);
    let _toml = f.write_source("loadtest.toml", "[tests.home]\nuser = 2\n");
    let out = f.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("unknown option `user` (did you mean `users`?)"),
        "{}",
        text(&out)
    );
    assert!(!f.file("report.json").exists());
}

#[test]
fn ids_in_urls_and_metric_names_stay_within_the_cap_and_warn_once() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("real-world");
    // Both transports name requests through the same function: they group and cap alike.
    for client in CLIENTS {
        let out = f.run(&[
            "--exact",
            "rest",
            "--target",
            &server.url(),
            "--client",
            client,
        ]);
        assert_eq!(out.status.code(), Some(0), "{client}: {}", text(&out));
        let r = result(&f.report(), "rest");
        assert_eq!(r.config.client, client, "the transport asked for ran");
        let iterations = r.iterations.total;
        assert!(iterations > 500, "{iterations}");
        assert_eq!(
            r.request_names.len(),
            20 + 1,
            "the cap plus the overflow entry: {:?}",
            r.request_names.keys()
        );
        assert_eq!(
            r.request_names["GET /items/{id}"].count, iterations,
            "ids are grouped"
        );
        let overflow = r.request_names["(overflow)"].count;
        assert_eq!(
            overflow,
            iterations - 19,
            "every /items/tN past the 19 admitted is counted"
        );
        assert_eq!(r.requests.total, 2 * iterations);
        assert_eq!(r.custom_latencies.len(), 21);
        assert_eq!(r.custom_counters.len(), 21);
        assert_eq!(r.custom_counters.values().sum::<u64>(), iterations);
        assert_eq!(
            r.warnings.len(),
            3,
            "requests, latencies, counters: {:?}",
            r.warnings
        );
        assert!(
            r.warnings[0].contains(".name(\"GET /items/{id}\")"),
            "{:?}",
            r.warnings
        );
        let err = stderr(&out);
        assert_eq!(
            err.matches("distinct request names").count(),
            1,
            "warned once: {err}"
        );
        assert_eq!(
            err.matches("distinct custom latency names").count(),
            1,
            "{err}"
        );
        assert_eq!(
            err.matches("distinct custom counter names").count(),
            1,
            "{err}"
        );
        assert!(
            stdout(&out).contains("distinct request names"),
            "the summary repeats it"
        );
    }
}

/// The priority the disturbance test gives the generator and its busy loop: real-time
/// round-robin (`chrt -r 10`) where the test may use it, above the builds and tests of other
/// sessions that share a CI machine (`nice` cannot do that when the kernel groups tasks by
/// session), so that a quiet run is quiet there too and the busy loop competes with the
/// generator as an equal, taking turns every 100 ms. Without the permission, both run at the
/// normal priority, which serves a machine that runs nothing else.
fn priority() -> Vec<&'static str> {
    let rt = Command::new("chrt")
        .args(["-r", "10", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if rt { vec!["chrt", "-r", "10"] } else { vec![] }
}

#[test]
fn a_busy_loop_on_the_generators_core_flags_it_disturbed_and_a_quiet_run_is_not() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("real-world");
    let flags = |out: &Output| {
        let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
        let md = std::fs::read_to_string(f.file("report.md")).unwrap();
        (
            result(&f.report(), "busy").generator,
            junit.contains("generator: DISTURBED"),
            md.contains("DISTURBED"),
            stdout(out).contains("DISTURBED"),
        )
    };
    let reports = |cmd: &mut Command| {
        for (flag, file) in [
            ("--json", "report.json"),
            ("--junit", "junit.xml"),
            ("--markdown", "report.md"),
        ] {
            cmd.arg(flag).arg(f.file(file));
        }
    };
    // Built first at the normal priority; the measured runs have nothing left to compile.
    let built = f.command(&["list"]).output().unwrap();
    assert_eq!(built.status.code(), Some(0), "{}", text(&built));
    let priority = priority();
    let mut cmd = f.command(&["--exact", "busy", "--target", &server.url()]);
    reports(&mut cmd);
    let quiet = support::wrapped(&priority, &cmd).output().unwrap();
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    let (g, junit, md, terminal) = flags(&quiet);
    assert!(
        !g.disturbed && !junit && !md && !terminal,
        "a quiet run: {g:?}\n{}",
        text(&quiet)
    );
    // A busy loop pinned to CPU 0, bounded in time, and the harness pinned beside it.
    let spinner = BusyLoop::start("0", 30, &priority);
    let pinned: Vec<&str> = priority
        .iter()
        .copied()
        .chain(["taskset", "-c", "0"])
        .collect();
    let busy = support::wrapped(&pinned, &cmd).output().unwrap();
    drop(spinner);
    assert_eq!(busy.status.code(), Some(0), "{}", text(&busy));
    let (g, junit, md, terminal) = flags(&busy);
    assert!(g.disturbed, "{g:?}");
    assert!(
        g.cpu_wait_percent > 25.0
            && g.cpu_wait_seconds >= loadtest_report::verdict::DISTURBED_MIN_WAIT_S,
        "{g:?}"
    );
    assert!(
        junit && md && terminal,
        "flagged in every report: {}",
        text(&busy)
    );
    assert!(!g.saturated, "waiting for a CPU is not saturation: {g:?}");
}

#[test]
fn a_target_killed_and_restarted_mid_run_is_a_classified_gap_and_the_run_recovers() {
    let _g = serial();
    // Each transport meets the gap its own way (native and hyper: per-user connections they
    // reopen; reqwest: its pool); each must classify it and recover.
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        restart_run(client);
    }
}

/// The restart test through the transport `client`.
fn restart_run(client: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let first = rt.block_on(DemoServer::start()).unwrap();
    let port = first.addr().port();
    let f = Fixture::shared("real-world");
    let mut cmd = f.command(&[
        "--exact",
        "restart",
        "--target",
        &first.url(),
        "--client",
        client,
    ]);
    for (flag, file) in [
        ("--json", "report.json"),
        ("--junit", "junit.xml"),
        ("--markdown", "report.md"),
    ] {
        cmd.arg(flag).arg(f.file(file));
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = child.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let line = rx
            .recv_timeout(deadline - Instant::now())
            .expect("the test starts");
        if line.contains("Running") && line.contains("restart") {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    let before = first.answered();
    first.kill();
    std::thread::sleep(Duration::from_millis(200));
    let answered_first = first.answered();
    assert!(answered_first >= before && answered_first > 0);
    drop(first);
    std::thread::sleep(Duration::from_millis(800));
    let bind_by = Instant::now() + Duration::from_secs(5);
    let second = loop {
        match rt.block_on(DemoServer::start_on(port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < bind_by => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot listen on port {port} again: {e}"),
        }
    };
    let mut summary = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut summary)
        .unwrap();
    let status = child.wait().unwrap();
    let err = lines.join().unwrap().join("\n");
    assert_eq!(
        status.code(),
        Some(100),
        "the gap's failures fail the error budget:\n{summary}\n{err}"
    );
    let r = result(&f.report(), "restart");
    assert_eq!(r.config.client, client);
    let by_class = &r.requests.by_class;
    let ok = by_class.get("ok").copied().unwrap_or(0);
    assert_eq!(
        ok,
        answered_first + second.answered(),
        "every ok the report counts is a response the servers wrote: {by_class:?}"
    );
    assert!(
        second.answered() > 100,
        "the run went on after the restart: {}",
        second.answered()
    );
    assert!(
        by_class.get("connect").copied().unwrap_or(0) > 0,
        "refused while down: {by_class:?}"
    );
    for class in ["timeout", "other", "tls"] {
        assert!(
            !by_class.contains_key(class),
            "the gap is connect / reset, not {class}: {by_class:?}"
        );
    }
    // Nothing got stuck: no iteration ran into the end of the test.
    assert_eq!(r.iterations.interrupted, 0);
    assert!(r.elapsed_s < 6.9, "the test ended on time: {}", r.elapsed_s);
    // Recovery within a second: the second that saw the last errors is followed by a clean one.
    let erring: Vec<usize> = (0..r.series.len())
        .filter(|&i| r.series[i].request_errors > 0)
        .collect();
    let last = *erring.last().expect("the gap shows in the series");
    assert!(
        erring.len() <= 3,
        "errors in at most the down second and its neighbours: {:?}",
        r.series
    );
    let next = r.series.get(last + 1).expect("a second after the gap");
    assert!(
        next.requests > 0 && next.request_errors == 0,
        "{:?}",
        r.series
    );
    // The progress line and the summary use the same words for the same counts.
    assert!(
        err.contains("failed") && err.contains("req errors"),
        "{err}"
    );
    assert!(
        summary.contains("failed") && summary.contains("req errors"),
        "{summary}"
    );
    let failed = r.iterations.failed;
    let not_ok = r.requests.total - ok;
    assert_eq!(failed, not_ok, "one request per iteration, no retries");
}
