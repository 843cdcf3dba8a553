//! Shared helpers of the end-to-end tests: the real `cargo-loadtest` binary, fixture workspaces
//! copied to temporary folders, one shared target directory, and a loopback server.

#![allow(dead_code)] // Each test file uses a different subset.

use loadtest_demo_server::DemoServer;
use loadtest_report::report::RunReport;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

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

/// End-to-end tests run one at a time: they share a target directory and measure rates.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `cargo-loadtest` executable, built once through cargo.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
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
    })
}

/// A fixture workspace copied into a temporary folder.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// Copies `tests/fixtures/NAME`, pointing its `loadtest-runtime` dependency at this
    /// repository and reusing this repository's Cargo.lock (same versions: nothing rebuilt).
    pub fn copy(name: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix(&format!("loadtest-e2e-{name}-"))
            .tempdir()
            .expect("temp dir");
        let runtime = repo_root().join("loadtest-runtime");
        copy_tree(
            &repo_root().join("tests/fixtures").join(name),
            dir.path(),
            &runtime.to_string_lossy(),
        );
        std::fs::copy(
            repo_root().join("Cargo.lock"),
            dir.path().join("Cargo.lock"),
        )
        .expect("copy Cargo.lock");
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn manifest(&self) -> PathBuf {
        self.path().join("Cargo.toml")
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
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
        for (k, _) in std::env::vars() {
            if k.starts_with("LOADTEST_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    /// Runs `cargo loadtest ARGS --json/--junit/--markdown inside the fixture`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        cmd.arg("--json")
            .arg(self.file("report.json"))
            .arg("--junit")
            .arg(self.file("junit.xml"))
            .arg("--markdown")
            .arg(self.file("report.md"));
        cmd.output().expect("cargo-loadtest runs")
    }

    /// The JSON report written by [`Fixture::run`], parsed with the project's own types.
    pub fn report(&self) -> RunReport {
        let text =
            std::fs::read_to_string(self.file("report.json")).expect("the JSON report exists");
        serde_json::from_str(&text).expect("the JSON report parses as a RunReport")
    }
}

fn copy_tree(from: &Path, to: &Path, runtime: &str) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &dest, runtime);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("fixture files are text");
            std::fs::write(&dest, text.replace("@RUNTIME@", runtime)).expect("write fixture file");
        }
    }
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
