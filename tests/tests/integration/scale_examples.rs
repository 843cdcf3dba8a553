//! The shipped scale-out examples validate with real validators: the Kubernetes Indexed Job
//! with `kubernetes-validate` (PyPI `kubernetes-validate`, the API's own OpenAPI schemas) and
//! the GitHub Actions workflow with `check-jsonschema --builtin-schema vendor.github-workflows`.
//! The commands are read from the README's "Scaling out" section and run as written, so the
//! README's commands are the ones tested. `.ci/run` installs both validators; under `CI=true` a
//! missing validator fails the test instead of skipping it. Both examples also show setup once
//! (`cargo loadtest setup` before the shards, the setup file read by every shard, `cargo loadtest
//! teardown` after them), which is checked here step by step.

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

/// Runs each README command, then the same command on broken copies of its file, one for each
/// `(text, replacement)` of `breaks` (each must fail: the validator really checks those parts).
fn validate(program: &str, breaks: &[(&str, &str)]) {
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
        for (from, to) in breaks {
            assert!(text.contains(from), "{file} has no {from:?} to break");
            let dir = tempfile::tempdir().unwrap();
            let broken = dir.path().join(Path::new(file).file_name().unwrap());
            std::fs::write(&broken, text.replace(from, to)).unwrap();
            let mut bad = cmd.clone();
            *bad.last_mut().unwrap() = broken.display().to_string();
            let out = run(&bad, repo());
            assert!(
                !out.status.success(),
                "{} accepted a broken file ({from:?} replaced by {to:?})",
                bad.join(" ")
            );
        }
    }
}

/// The documents of a multi-document YAML file.
fn documents(text: &str) -> Vec<&str> {
    text.split("\n---\n").collect()
}

/// The one document of `docs` holding every one of `needles`.
fn document<'a>(docs: &[&'a str], needles: &[&str]) -> &'a str {
    let found: Vec<&str> = docs
        .iter()
        .copied()
        .filter(|d| needles.iter().all(|n| d.contains(n)))
        .collect();
    assert_eq!(found.len(), 1, "documents with {needles:?}: {found:#?}");
    found[0]
}

/// The values given to the environment variable `name` in `doc` (`- name: NAME` followed by
/// `value: ...`), in order.
fn env_values(doc: &str, name: &str) -> Vec<String> {
    let lines: Vec<&str> = doc.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0] == format!("- name: {name}"))
        .map(|w| {
            w[1].strip_prefix("value: ")
                .unwrap_or_else(|| panic!("{name} has no value: {:?}", w[1]))
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

/// The jobs of a GitHub Actions workflow: each job's name and its lines.
fn jobs(text: &str) -> Vec<(String, String)> {
    let body = &text[text.find("\njobs:\n").expect("a jobs: key") + 7..];
    let mut jobs: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let key = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' ') && l.ends_with(':'));
        match (key, jobs.last_mut()) {
            (Some(key), _) => jobs.push((key.trim_end_matches(':').to_string(), String::new())),
            (None, Some((_, lines))) => {
                lines.push_str(line);
                lines.push('\n');
            }
            (None, None) => panic!("a line before the first job: {line:?}"),
        }
    }
    jobs
}

#[test]
fn the_kubernetes_indexed_job_validates() {
    let _g = crate::support::concurrent(&[]);
    let text =
        std::fs::read_to_string(repo().join("examples/scale-out/kubernetes/loadtest-job.yaml"))
            .unwrap();
    assert!(text.contains("completionMode: Indexed"));
    assert!(text.contains("LOADTEST_SHARD_COUNT") && text.contains("--start-at"));

    // Setup once: a Job runs `setup`, each shard waits for its file and reads it, and a
    // suspended Job runs `teardown`; all three name the same setup file.
    let docs = documents(&text);
    let setup = document(&docs, &["kind: Job", "name: loadtest-setup\n"]);
    assert!(
        setup.contains("- loadtest\n") && setup.contains("- setup\n"),
        "{setup}"
    );
    assert!(setup.contains("--archive-file") && setup.contains("--target"));
    let shards = document(&docs, &["kind: Job", "completionMode: Indexed"]);
    assert!(
        shards.contains("initContainers:") && shards.contains("name: wait-for-setup"),
        "{shards}"
    );
    let teardown = document(&docs, &["kind: Job", "name: loadtest-teardown\n"]);
    assert!(
        teardown.contains("- loadtest\n") && teardown.contains("- teardown\n"),
        "{teardown}"
    );
    assert!(teardown.contains("suspend: true"), "{teardown}");
    let file = env_values(setup, "LOADTEST_SETUP_FILE");
    assert_eq!(file.len(), 1, "{setup}");
    // The shard's init container waits for the file, the shard reads it.
    assert_eq!(
        env_values(shards, "LOADTEST_SETUP_FILE"),
        [file[0].clone(), file[0].clone()]
    );
    assert_eq!(env_values(teardown, "LOADTEST_SETUP_FILE"), file);
    // One file per run: named after the run's start.
    assert!(file[0].contains("$(START_AT)"), "{file:?}");

    validate(
        "kubernetes-validate",
        &[
            ("completions: 3", "completions: three"),
            ("suspend: true", "suspend: later"),
            ("readOnly: true", "readOnly: yes-please"),
        ],
    );
}

#[test]
fn the_github_workflow_validates() {
    let _g = crate::support::concurrent(&[]);
    let text =
        std::fs::read_to_string(repo().join("examples/scale-out/github/loadtest-shards.yml"))
            .unwrap();
    assert!(text.contains("matrix:") && text.contains("loadtest merge"));

    // Setup once: job `setup` writes the setup file, every shard reads it, and job `teardown`
    // runs after the merge whatever the shards' outcome, when the setup wrote its file.
    let jobs = jobs(&text);
    let names: Vec<&str> = jobs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["archive", "setup", "shard", "merge", "teardown"]);
    let job = |name: &str| &jobs.iter().find(|(n, _)| n == name).unwrap().1;
    let setup = job("setup");
    assert!(setup.contains("needs: archive"), "{setup}");
    assert!(
        setup.contains("./cargo-loadtest loadtest setup --archive-file loadtests.tar.zst")
            && setup.contains("--setup-file setup.json")
            && setup.contains("name: loadtest-setup")
            && setup.contains("path: setup.json"),
        "{setup}"
    );
    // The shards start after the setup: the start time is picked once it ran.
    assert!(setup.contains("start_at:"), "{setup}");
    let shard = job("shard");
    assert!(shard.contains("needs: setup"), "{shard}");
    assert!(
        shard.contains("name: loadtest-setup")
            && shard.contains("--setup-file setup.json")
            && shard.contains("needs.setup.outputs.start_at"),
        "{shard}"
    );
    let teardown = job("teardown");
    assert!(teardown.contains("needs: [setup, merge]"), "{teardown}");
    assert!(
        teardown.contains("if: always() && needs.setup.result == 'success'"),
        "{teardown}"
    );
    assert!(
        teardown.contains("./cargo-loadtest loadtest teardown --archive-file loadtests.tar.zst")
            && teardown.contains("--setup-file setup.json")
            && teardown.contains("name: loadtest-setup"),
        "{teardown}"
    );
    for (name, lines) in &jobs {
        if name != "setup" && name != "teardown" {
            assert!(!lines.contains("loadtest setup"), "{name}: {lines}");
            assert!(!lines.contains("loadtest teardown"), "{name}: {lines}");
        }
    }

    validate(
        "check-jsonschema",
        &[
            ("runs-on:", "runs_on:"),
            ("needs: [setup, merge]", "needs: {setup: merge}"),
        ],
    );
}
