//! Shared helpers of the end-to-end tests: the real `cargo-loadtest` binary, fixture workspaces
//! kept at fixed paths and built once (or copied, for tests that edit sources), one shared target
//! directory, a loopback server, and who may run beside whom ([`serial`], [`concurrent`]).

#![allow(dead_code)] // Each test file uses a different subset.

pub mod netns;
pub mod prometheus;
pub mod scrape;

use loadtest_demo_server::DemoServer;
use loadtest_report::report::{RunReport, TestResult};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// One target directory shared by every fixture, so tokio and reqwest are built once.
pub fn shared_target_dir() -> PathBuf {
    repo_root().join("target").join("e2e-fixtures")
}

/// Removes the named baseline the fixtures save under [`shared_target_dir`], so that a test that
/// saves one starts from none (baselines keep several runs, and the folder outlives a suite run).
pub fn forget_baseline(name: &str) {
    let dir = shared_target_dir().join("loadtest/baselines").join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot remove {}: {e}", dir.display()),
    }
}

/// The test build's own target directory: this test binary is `TARGET/PROFILE/deps/NAME`.
pub fn test_build_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary is TARGET/PROFILE/deps/NAME")
        .to_path_buf()
}

/// A `cargo build` or `cargo test` (dev profile) of a package outside this workspace that reuses
/// the dependencies the test build compiled: the test build's target directory, and no debug
/// info, as the workspace's `[profile.dev.package."*"]` builds dependencies. (Dependencies whose
/// features differ from the test build's are compiled again, once: 31 of 125 crates for a
/// fixture.) The fixtures themselves keep the `release` profile of [`fixture_build_env`]: the
/// test that runs the demo with no arguments builds with it anyway, so they share its build.
pub fn reuse_test_build(cmd: &mut Command) -> &mut Command {
    cmd.env("CARGO_TARGET_DIR", test_build_target_dir())
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
}

/// Every HTTP transport, as `--client` names them: the fault, TLS and redaction tests run on each.
pub const CLIENTS: [&str; 3] = ["native", "hyper", "reqwest"];

/// Who may run beside whom: a test that measures rates, latencies or the generator's health
/// holds it for writing (alone); any other test holds it for reading (beside each other).
static MACHINE: RwLock<()> = RwLock::new(());

/// The shared fixtures held by the tests that run now (see [`concurrent`]).
static HELD: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
static RELEASED: Condvar = Condvar::new();

/// For a test that measures rates, latencies or the generator's health (or stops processes by
/// signal, or uses fixtures in ways not listed): it runs alone, nothing else loads the machine.
pub fn serial() -> Serial {
    let asked = Instant::now();
    let machine = MACHINE.write().unwrap_or_else(PoisonError::into_inner);
    Serial {
        _timing: Timing::new("serial", asked),
        _machine: machine,
    }
}

/// Held by a test that runs alone ([`serial`]).
pub struct Serial {
    // Dropped first: the time held ends before the machine is let go.
    _timing: Timing,
    _machine: RwLockWriteGuard<'static, ()>,
}

/// The suite's profile, when `LOADTEST_E2E_TIMES` names a file: each test appends a line
/// `test<TAB>serial|concurrent<TAB>seconds waited<TAB>seconds held` as it lets the machine go
/// (how long it waited for the tests before it, and how long it ran). The serial tests' held
/// seconds add up to the least time the suite can take on one machine.
struct Timing {
    kind: &'static str,
    asked: Instant,
    got: Instant,
}

impl Timing {
    fn new(kind: &'static str, asked: Instant) -> Timing {
        Timing {
            kind,
            asked,
            got: Instant::now(),
        }
    }
}

impl Drop for Timing {
    fn drop(&mut self) {
        let Some(path) = std::env::var_os("LOADTEST_E2E_TIMES") else {
            return;
        };
        let line = format!(
            "{}\t{}\t{:.1}\t{:.1}\n",
            std::thread::current().name().unwrap_or("?"),
            self.kind,
            (self.got - self.asked).as_secs_f64(),
            self.got.elapsed().as_secs_f64(),
        );
        // One write of one short line per test: appends from two threads do not interleave.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        if let Err(e) = appended {
            eprintln!(
                "cannot append to LOADTEST_E2E_TIMES ({}): {e}",
                path.display()
            );
        }
    }
}

/// For a test that measures no rate: it may run beside other such tests (never beside a
/// [`serial`] one), holding the shared `fixtures` it uses (writes into them, builds them,
/// reads the reports they write) so that two tests never use one fixture at once. The tests
/// of one binary share its threads (`RUST_TEST_THREADS`, the machine's cores by default).
pub fn concurrent(fixtures: &[&'static str]) -> Concurrent {
    let asked = Instant::now();
    let machine = MACHINE.read().unwrap_or_else(PoisonError::into_inner);
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    while fixtures.iter().any(|f| held.contains(f)) {
        held = RELEASED.wait(held).unwrap_or_else(PoisonError::into_inner);
    }
    held.extend(fixtures.iter().copied());
    Concurrent {
        _timing: Timing::new("concurrent", asked),
        fixtures: fixtures.to_vec(),
        _machine: machine,
    }
}

/// Held by a test that runs beside others ([`concurrent`]); gives its fixtures back on drop.
pub struct Concurrent {
    _timing: Timing,
    fixtures: Vec<&'static str>,
    _machine: RwLockReadGuard<'static, ()>,
}

impl Drop for Concurrent {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        for f in &self.fixtures {
            held.remove(f);
        }
        RELEASED.notify_all();
    }
}

/// The `cargo-loadtest` executable, built once through cargo and copied out of the target
/// directory (to `target/e2e-fixtures/bin/` of this checkout): cargo hard-links a binary to one
/// path per target directory, so another build sharing the directory (a second checkout, an
/// editor) could put its own `cargo-loadtest` there while the suite runs.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = build_binary();
        let dir = repo_root().join("target/e2e-fixtures/bin");
        std::fs::create_dir_all(&dir).expect("create the binary's folder");
        let copy = dir.join(built.file_name().expect("an executable has a name"));
        // Written beside, then renamed over: a run of the previous copy may still be reading it.
        let partial = dir.join(format!(".cargo-loadtest-{}", std::process::id()));
        std::fs::copy(&built, &partial).expect("copy cargo-loadtest");
        std::fs::rename(&partial, &copy).expect("move the copy of cargo-loadtest in place");
        copy
    })
}

/// Builds `cargo-loadtest` with cargo and returns where cargo put it.
fn build_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(repo_root())
        .args([
            "build",
            "--quiet",
            "--package",
            "cargo-loadtest",
            "--bin",
            "cargo-loadtest",
            "--message-format=json",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building cargo-loadtest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v.get("executable")
                .and_then(|e| e.as_str())
                .map(PathBuf::from)
        })
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("cargo-loadtest"))
        })
        .expect("cargo reported the cargo-loadtest executable")
}

/// How fixture harnesses are built: cargo-loadtest's default `release` profile, made dev-like
/// through cargo's environment configuration (which overrides the fixtures' manifests): no
/// optimisation, no debug info. The load these tests make is small; compiling is what costs.
pub fn fixture_build_env(cmd: &mut Command) -> &mut Command {
    cmd.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
}

/// A fixture workspace, and a fresh folder for what a test writes (reports, scratch files).
pub struct Fixture {
    ws: PathBuf,
    /// A private copy's folder (removed on drop); `None` for a shared fixture.
    _copy: Option<tempfile::TempDir>,
    out: tempfile::TempDir,
}

impl Fixture {
    /// `tests/fixtures/NAME` at a fixed path under the shared target directory, built once per
    /// suite run and reused by every test: files are only rewritten when their content changed,
    /// and keep the source's modification time, so cargo's fingerprints (which include the path
    /// and mtimes) stay fresh. Its `loadtest-runtime` dependency points at this repository and it
    /// uses this repository's Cargo.lock (same versions: no dependency is rebuilt).
    pub fn shared(name: &str) -> Fixture {
        let ws = shared_target_dir().join("workspaces").join(name);
        sync_fixture(name, &ws);
        Fixture {
            ws,
            _copy: None,
            out: out_dir(name),
        }
    }

    /// A private copy of `tests/fixtures/NAME` in a temporary folder, for a test that changes
    /// its sources (it is built on its own).
    pub fn copy(name: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix(&format!("loadtest-e2e-{name}-"))
            .tempdir()
            .expect("temp dir");
        let ws = dir.path().to_path_buf();
        sync_fixture(name, &ws);
        Fixture {
            ws,
            _copy: Some(dir),
            out: out_dir(name),
        }
    }

    /// The workspace root (where `cargo loadtest` runs).
    pub fn path(&self) -> &Path {
        &self.ws
    }

    pub fn manifest(&self) -> PathBuf {
        self.path().join("Cargo.toml")
    }

    /// A file in this test's own output folder (reports, scratch files).
    pub fn file(&self, name: &str) -> PathBuf {
        self.out.path().join(name)
    }

    /// This test's own output folder.
    pub fn out_dir(&self) -> &Path {
        self.out.path()
    }

    /// A file of the fixture workspace.
    pub fn source(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// Writes a file into the fixture workspace for the duration of the returned guard (a
    /// shared fixture is shared by later tests: they must not see it).
    pub fn write_source(&self, name: &str, text: &str) -> SourceGuard {
        let path = self.source(name);
        assert!(
            !path.exists(),
            "{} exists in the fixture already",
            path.display()
        );
        std::fs::write(&path, text).expect("write fixture file");
        SourceGuard(path)
    }

    /// `cargo loadtest ARGS` in this fixture with the shared target directory and report paths
    /// inside the fixture (unless `args` give their own).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.current_dir(self.path())
            .arg("loadtest")
            .args(args)
            .arg("--target-dir")
            .arg(shared_target_dir())
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("CARGO_TERM_COLOR");
        fixture_build_env(&mut cmd);
        for (k, _) in std::env::vars() {
            if k.starts_with("LOADTEST_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    /// Runs `cargo loadtest ARGS --json/--junit/--markdown/--html` into this test's output
    /// folder.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_command(args)
            .output()
            .expect("cargo-loadtest runs")
    }

    /// The command [`Fixture::run`] runs, to add to it before running it.
    pub fn run_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(args);
        cmd.arg("--json")
            .arg(self.file("report.json"))
            .arg("--junit")
            .arg(self.file("junit.xml"))
            .arg("--markdown")
            .arg(self.file("report.md"))
            .arg("--html")
            .arg(self.file("report.html"));
        cmd
    }

    /// The JSON report written by [`Fixture::run`], parsed with the project's own types.
    pub fn report(&self) -> RunReport {
        let text =
            std::fs::read_to_string(self.file("report.json")).expect("the JSON report exists");
        serde_json::from_str(&text).expect("the JSON report parses as a RunReport")
    }
}

/// Removes a file written into a fixture workspace when dropped (also when the test panics).
pub struct SourceGuard(PathBuf);

impl Drop for SourceGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn out_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("loadtest-e2e-{name}-out-"))
        .tempdir()
        .expect("temp dir")
}

/// Makes `to` hold fixture `name` (sources with `@RUNTIME@` replaced, and the repository's
/// Cargo.lock), touching only files whose content differs.
fn sync_fixture(name: &str, to: &Path) {
    let runtime = repo_root().join("loadtest-runtime");
    sync_tree(
        &repo_root().join("tests/fixtures").join(name),
        to,
        &runtime.to_string_lossy(),
    );
    let lock = repo_root().join("Cargo.lock");
    sync_file(
        &lock,
        &to.join("Cargo.lock"),
        &std::fs::read(&lock).expect("read Cargo.lock"),
    );
}

fn sync_tree(from: &Path, to: &Path, runtime: &str) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            sync_tree(&entry.path(), &dest, runtime);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("fixture files are text");
            sync_file(
                &entry.path(),
                &dest,
                text.replace("@RUNTIME@", runtime).as_bytes(),
            );
        }
    }
}

/// Writes `bytes` to `dest` unless it holds them already, then gives it `source`'s mtime.
fn sync_file(source: &Path, dest: &Path, bytes: &[u8]) {
    if std::fs::read(dest).is_ok_and(|old| old == bytes) {
        return;
    }
    std::fs::write(dest, bytes).expect("write fixture file");
    let mtime = std::fs::metadata(source)
        .and_then(|m| m.modified())
        .expect("fixture files have an mtime");
    std::fs::File::options()
        .write(true)
        .open(dest)
        .and_then(|f| f.set_modified(mtime))
        .expect("set the fixture file's mtime");
}

/// A loopback server on its own runtime, alive as long as the value.
pub struct Server {
    pub server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    pub fn start() -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = rt
            .block_on(DemoServer::start())
            .expect("server starts on 127.0.0.1");
        Server { server, _rt: rt }
    }

    /// A server whose `/work` route has a known capacity: `workers` threads each spending
    /// `service` per request, at most `queue` requests waiting (then 503).
    pub fn with_pool(workers: usize, service: std::time::Duration, queue: usize) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = rt
            .block_on(DemoServer::start_with_pool(workers, service, queue))
            .expect("server starts on 127.0.0.1");
        Server { server, _rt: rt }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}

/// stdout and stderr of a run, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Validates a JSON report against `schema/report.schema.json` with a real JSON Schema validator.
pub fn validate_schema(json_path: &std::path::Path) {
    let schema_path = repo_root().join("schema/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema file"))
            .expect("schema is JSON");
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json_path).expect("report"))
            .expect("report is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "the report does not match the schema:\n{}",
        errors.join("\n")
    );
}

/// Sends `sig` (`-INT`, `-TERM`, `-KILL`) to process `pid` with `kill`; true if it was delivered.
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// A busy loop pinned to one CPU (`taskset`), optionally under a scheduling `priority` prefix
/// (`chrt -r 10`): ended when dropped, and by `timeout` after `secs` seconds whatever happens to
/// this process. It inherits no output, so a loop that outlived its test could not hold the
/// test's output pipe open.
pub struct BusyLoop(std::process::Child);

impl BusyLoop {
    pub fn start(cpu: &str, secs: u64, priority: &[&str]) -> BusyLoop {
        let child = Command::new("timeout")
            .arg(secs.to_string())
            .args(priority)
            .args(["taskset", "-c", cpu, "sh", "-c", "while :; do :; done"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("timeout, taskset and sh run");
        BusyLoop(child)
    }
}

impl Drop for BusyLoop {
    fn drop(&mut self) {
        // SIGTERM, which `timeout` passes on to the loop before it exits; SIGKILL would end
        // `timeout` alone and leave the loop running with nothing to bound it.
        signal(self.0.id(), "-TERM");
        let _ = self.0.wait();
    }
}

/// `cmd` (program, arguments, folder and environment) run under the command `prefix`
/// (`chrt -r 10`, `taskset -c 0`), if any; the prefix's children inherit what it sets.
pub fn wrapped(prefix: &[&str], cmd: &Command) -> Command {
    let mut p = match prefix.split_first() {
        Some((first, rest)) => {
            let mut p = Command::new(first);
            p.args(rest).arg(cmd.get_program());
            p
        }
        None => Command::new(cmd.get_program()),
    };
    p.args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        p.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => p.env(k, v),
            None => p.env_remove(k),
        };
    }
    p
}

/// The first ```rust block after `heading` in the README (a test that runs the README's example
/// checks that its fixture is that block).
pub fn readme_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let from = readme.find(heading).expect("the README has the heading");
    let fence = "```rust\n";
    let start = readme[from..].find(fence).expect("a rust block follows") + from + fence.len();
    let len = readme[start..].find("```").expect("the block ends");
    readme[start..start + len].to_string()
}

/// Checks that the fixture file `file` (under `tests/fixtures/`) is the README's example under
/// `heading`, as it is written there.
pub fn assert_readme_example(file: &str, heading: &str) {
    assert_eq!(
        std::fs::read_to_string(repo_root().join("tests/fixtures").join(file)).unwrap(),
        readme_block(heading),
        "the fixture's test file is the README's example, as it is written there"
    );
}

/// What a run with every file output and live metrics on left behind ([`run_with_every_output`]).
pub struct EveryOutput {
    /// The process's exit status and output.
    pub out: Output,
    /// The last `/metrics` page scraped while it ran.
    pub page: String,
    /// The JSON report.
    pub report: RunReport,
    /// The CSV file (`--csv`).
    pub csv: PathBuf,
    /// The interval logs' folder (`--hlog`).
    pub hlog: PathBuf,
}

/// Runs `cmd` (one of `f`'s commands) with `--csv`, `--hlog` and `--metrics-listen` added,
/// scraping `/metrics` until it ends.
pub fn run_with_every_output(f: &Fixture, mut cmd: Command) -> EveryOutput {
    let csv = f.file("report.csv");
    let hlog = f.file("hlog");
    let port = scrape::free_port();
    let scraper = scrape::Scraper::start(port);
    let out = cmd
        .arg("--csv")
        .arg(&csv)
        .arg("--hlog")
        .arg(&hlog)
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("cargo-loadtest runs");
    let page = scraper.finish();
    EveryOutput {
        out,
        page,
        report: f.report(),
        csv,
        hlog,
    }
}

/// The text of the one interval log (`.hlog`) in `dir`.
pub fn interval_log(dir: &Path) -> String {
    let logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hlog"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    std::fs::read_to_string(&logs[0]).unwrap()
}

/// How many values each interval tagged `tag` (`request:NAME`, `gap:NAME`) of an interval log
/// holds, decoded, in order.
pub fn interval_counts(log: &str, tag: &str) -> Vec<u64> {
    let prefix = format!("Tag={tag},");
    log.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|l| {
            let encoded = l.rsplit(',').next().unwrap();
            loadtest_report::hdr::decode(encoded)
                .expect("an interval histogram decodes")
                .len()
        })
        .collect()
}

/// `cargo loadtest merge` of `shards` into `merged.json` in `f`'s output folder: the process's
/// output and the merged report's path.
pub fn merge_shards(f: &Fixture, shards: &[PathBuf]) -> (Output, PathBuf) {
    let merged = f.file("merged.json");
    let out = Command::new(binary())
        .current_dir(f.out_dir())
        .args(["loadtest", "merge"])
        .args(shards)
        .arg("--json")
        .arg(&merged)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("cargo-loadtest merges");
    (out, merged)
}

/// The result of the test named `name` in `report`.
pub fn test_result(report: &RunReport, name: &str) -> TestResult {
    let t = report
        .tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("the test {name} is in the report"));
    t.result
        .clone()
        .unwrap_or_else(|| panic!("{name} has a result"))
}
