//! The shipped scale-out examples validate with real validators: the Kubernetes Indexed Job
//! with `kubernetes-validate` (PyPI `kubernetes-validate`, the API's own OpenAPI schemas) and
//! the GitHub Actions workflow with `check-jsonschema --builtin-schema vendor.github-workflows`.
//! The commands are read from the README's "Scaling out" section and run as written, so the
//! README's commands are the ones tested. `.ci/run` installs both validators; under `CI=true` a
//! missing validator fails the test instead of skipping it.

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The README's "Scaling out" section.
fn section() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("\n## Scaling out")
        .expect("the README has a \"Scaling out\" section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

/// The section's command lines that start with `program`.
fn commands(program: &str) -> Vec<Vec<String>> {
    section()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&format!("{program} ")))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Whether `program` can run; without it the test skips, except under CI where it fails.
fn available(program: &str) -> bool {
    let found = Command::new(program).arg("--help").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is not installed (.ci/run installs it: python3 -m pip install kubernetes-validate check-jsonschema)"
        );
        eprintln!(
            "skipped: {program} is not installed (pip install kubernetes-validate check-jsonschema)"
        );
    }
    found
}

fn run(cmd: &[String], dir: &Path) -> std::process::Output {
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Runs each README command, then the same command on a broken copy of its file (which must
/// fail: the validator really checks).
fn validate(program: &str, break_it: impl Fn(&str) -> String) {
    let cmds = commands(program);
    assert!(
        !cmds.is_empty(),
        "the README's Scaling out section runs {program}"
    );
    if !available(program) {
        return;
    }
    for cmd in cmds {
        let out = run(&cmd, repo());
        assert!(
            out.status.success(),
            "{} failed:\n{}{}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let file = cmd.last().unwrap();
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join(Path::new(file).file_name().unwrap());
        std::fs::write(&broken, break_it(&text)).unwrap();
        let mut bad = cmd.clone();
        *bad.last_mut().unwrap() = broken.display().to_string();
        let out = run(&bad, repo());
        assert!(
            !out.status.success(),
            "{} accepted a broken file",
            bad.join(" ")
        );
    }
}

#[test]
fn the_kubernetes_indexed_job_validates() {
    let _g = crate::support::concurrent(&[]);
    let text =
        std::fs::read_to_string(repo().join("examples/scale-out/kubernetes/loadtest-job.yaml"))
            .unwrap();
    assert!(text.contains("completionMode: Indexed"));
    assert!(text.contains("LOADTEST_SHARD_COUNT") && text.contains("--start-at"));
    validate("kubernetes-validate", |t| {
        t.replace("completions: 3", "completions: three")
    });
}

#[test]
fn the_github_workflow_validates() {
    let _g = crate::support::concurrent(&[]);
    let text =
        std::fs::read_to_string(repo().join("examples/scale-out/github/loadtest-shards.yml"))
            .unwrap();
    assert!(text.contains("matrix:") && text.contains("loadtest merge"));
    validate("check-jsonschema", |t| t.replace("runs-on:", "runs_on:"));
}
