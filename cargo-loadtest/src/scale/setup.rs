//! Setup once for a whole scale-out run: `cargo loadtest setup --setup-file PATH` runs each
//! selected harness's shared setup hook (`main!(shared_setup = ...)`) once and writes its value to
//! a setup file; shards run with `--setup-file PATH` (or `LOADTEST_SETUP_FILE`) hand that value
//! to their harnesses, which then run neither the setup hook nor the teardown hook; and
//! `cargo loadtest teardown --setup-file PATH` runs each teardown hook once, given the value.
//!
//! The file ([`SetupFile`], JSON) records, per harness (`package::target`), the SHA-256 of the
//! binary whose hook wrote the value, the hook's name and its value, and the archive's identity
//! when it was run from one. A run of other binaries, or of another archive, refuses it (exit 2),
//! as does a file without an entry for a harness the run needs, or a malformed one. The file is
//! written atomically (a reader sees the old file or the new one), never over a folder, a FIFO,
//! a device or standard output.

use crate::cli::{RunArgs, SETUP_FILE_VAR, SetupArgs};
use crate::compile::BuiltHarness;
use crate::errors::CliError;
use crate::run::Selected;
use crate::session::Session;
use crate::settings::Settings;
use crate::signals::Interrupt;
use loadtest_report::exit_code;
use loadtest_report::protocol::{self, PROTOCOL_VERSION, RunMode, RunRequest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The version of the setup file's layout.
pub const FORMAT: u32 = 1;

/// What `cargo loadtest setup` writes: each harness's shared setup value and what it belongs to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetupFile {
    /// [`FORMAT`].
    pub format: u32,
    /// The `cargo-loadtest` version that wrote it.
    pub tool_version: String,
    /// When the hooks ran, as seconds since the Unix epoch.
    pub created_unix: f64,
    /// The archive's identity (its manifest's SHA-256) when the hooks ran from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// Every selected harness, by `package::target`.
    pub harnesses: BTreeMap<String, SetupEntry>,
}

/// One harness in a setup file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetupEntry {
    /// The SHA-256 of the harness binary whose hook ran.
    pub sha256: String,
    /// The shared setup hook's name; absent when the harness has no setup hook (nothing to
    /// share: its shards run no hook either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// The hook's value, as the harness serialized it (present exactly when `hook` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// The shared setup values a run hands its harnesses, by `package::target` (harnesses without
/// a setup hook are not in it).
pub type SetupValues = BTreeMap<String, serde_json::Value>;

/// The first 16 characters of a hash, as messages show it.
fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

impl SetupFile {
    /// Parses a setup file's text; errors name `what` (the path) and what is accepted.
    pub fn parse(what: &str, text: &[u8]) -> Result<SetupFile, String> {
        // The format first: a file of another version is named as such, not as malformed.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(text)
            && let Some(format) = v.get("format").and_then(serde_json::Value::as_u64)
            && format != u64::from(FORMAT)
        {
            return Err(format!(
                "--setup-file {what}: setup file format {format}, but this cargo-loadtest reads format {FORMAT}; write it again with this cargo-loadtest's `cargo loadtest setup`"
            ));
        }
        let file: SetupFile = serde_json::from_slice(text).map_err(|e| {
            format!(
                "--setup-file {what}: not a setup file written by `cargo loadtest setup` (a JSON object with format, tool_version, created_unix and harnesses): {e}"
            )
        })?;
        for (harness, entry) in &file.harnesses {
            if entry.hook.is_some() != entry.value.is_some() {
                return Err(format!(
                    "--setup-file {what}: the entry of {harness} has {} (an entry has both a hook and its value, or neither)",
                    if entry.hook.is_some() {
                        "a hook but no value"
                    } else {
                        "a value but no hook"
                    }
                ));
            }
        }
        Ok(file)
    }

    /// Reads and parses the setup file at `path` (exit 2 when it cannot).
    pub fn read(path: &Path) -> Result<SetupFile, CliError> {
        let what = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| {
            CliError::Usage(format!(
                "--setup-file {what}: cannot read it ({e}); write it first with `cargo loadtest setup --setup-file {what}`"
            ))
        })?;
        SetupFile::parse(&what, &text).map_err(CliError::Usage)
    }

    /// The value to hand harness `harness` (`package::target`) whose binary has SHA-256
    /// `sha256`, in a run of `archive` (when from one): `None` when the harness has no setup
    /// hook. Refused (naming the file, the harness and the fix) when the file was written for
    /// another archive or another build of the harness, or has no entry for it.
    pub fn value_for(
        &self,
        what: &str,
        harness: &str,
        sha256: &str,
        archive: Option<&str>,
    ) -> Result<Option<&serde_json::Value>, String> {
        if let (Some(file), Some(run)) = (&self.archive, archive)
            && file != run
        {
            return Err(format!(
                "--setup-file {what} was written for archive {}, but this run is archive {}: a setup file belongs to one run; write it with `cargo loadtest setup --archive-file` of this archive",
                short(file),
                short(run)
            ));
        }
        let Some(entry) = self.harnesses.get(harness) else {
            let held: Vec<&str> = self.harnesses.keys().map(String::as_str).collect();
            return Err(format!(
                "--setup-file {what} has no entry for the harness {harness} (it holds {}): run `cargo loadtest setup` with the same selection as the shards",
                if held.is_empty() {
                    "none".to_string()
                } else {
                    held.join(", ")
                }
            ));
        };
        if entry.sha256 != sha256 {
            return Err(format!(
                "--setup-file {what} was written by another build of {harness} (SHA-256 {} in the file, {} here): a setup file belongs to one run's binaries; write it again with `cargo loadtest setup` from the binaries the shards run",
                short(&entry.sha256),
                short(sha256)
            ));
        }
        Ok(entry.value.as_ref())
    }

    /// The values for a run of `binaries` (SHA-256 by `package::target`) from `archive`.
    pub fn values_for(
        &self,
        what: &str,
        binaries: &BTreeMap<String, String>,
        archive: Option<&str>,
    ) -> Result<SetupValues, String> {
        let mut values = SetupValues::new();
        for (harness, sha) in binaries {
            if let Some(v) = self.value_for(what, harness, sha, archive)? {
                values.insert(harness.clone(), v.clone());
            }
        }
        Ok(values)
    }
}

/// The setup file a run reads: `--setup-file`, else `LOADTEST_SETUP_FILE` (`env` reads a
/// variable); `None` when neither is given.
pub fn resolve(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<std::path::PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        env(SETUP_FILE_VAR)
            .filter(|v| !v.trim().is_empty())
            .map(Into::into)
    })
}

/// Refuses a setup file path that is not a regular file (or a link to one) or a new path: the
/// setup file is read back by every shard, so it is never standard output, a folder, a FIFO or a
/// device. Checked before any hook runs, and again before the file is written.
pub fn check_writable(path: &Path) -> Result<(), CliError> {
    let what = path.display();
    if crate::output::atomic::is_stdout(path) {
        return Err(CliError::Usage(format!(
            "--setup-file {what}: the setup file is read back by every shard; give the path of a regular file, not standard output"
        )));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(CliError::Usage(format!(
            "--setup-file {what} is a folder; give the path of the setup file to write (e.g. setup.json)"
        ))),
        Ok(m) if !m.is_file() => Err(CliError::Usage(format!(
            "--setup-file {what} is not a regular file (a FIFO, a device or a socket); give the path of a regular file to write"
        ))),
        _ => Ok(()),
    }
}

/// The SHA-256 of each selected test's harness binary, by `package::target`.
pub(crate) fn binaries_of(selected: &[Selected]) -> Result<BTreeMap<String, String>, CliError> {
    let mut b = BTreeMap::new();
    for s in selected {
        let key = harness_key(&s.harness);
        if let std::collections::btree_map::Entry::Vacant(e) = b.entry(key) {
            let sha = crate::scale::identity::sha256_file(&s.harness.executable).map_err(
                CliError::io(format!("cannot read {}", s.harness.executable.display())),
            )?;
            e.insert(sha);
        }
    }
    Ok(b)
}

/// A harness's key in a setup file and in a run's binaries: `package::target`.
pub(crate) fn harness_key(h: &BuiltHarness) -> String {
    h.target.to_string()
}

/// The selected tests' harnesses and what they came from, for `setup` and `teardown`.
struct Harnesses {
    /// Each harness once, in the order of the selection.
    list: Vec<BuiltHarness>,
    /// SHA-256 by `package::target`.
    binaries: BTreeMap<String, String>,
    /// The archive's identity, when run from one.
    archive: Option<String>,
    /// The run's target (`--target` or `LOADTEST_TARGET`).
    base_url: Option<String>,
    /// Keeps a temporary extraction folder until the hooks ran.
    _extracted: Option<crate::scale::archive::Extracted>,
}

/// Builds (or extracts) and selects as a run does, then keeps each harness once.
fn harnesses(args: &SetupArgs, interrupt: &Interrupt) -> Result<Harnesses, CliError> {
    let run_args = RunArgs {
        select: args.select.clone(),
        quiet: args.quiet,
        base_url: args.base_url.clone(),
        workspace: args.workspace.clone(),
        ..RunArgs::default()
    };
    let (selected, archive, extracted, settings) = match &args.archive.archive_file {
        Some(path) => {
            let x = crate::scale::archive::extract(path, args.archive.extract_to.as_deref())?;
            let settings = Settings::with_file_layers(
                x.manifest.file_defaults.clone(),
                x.manifest.file_tests.clone(),
                &run_args,
            )?;
            let selected = crate::run::filter(
                &args.select,
                x.tests(),
                &format!("in the archive {}", short(&x.manifest.hash)),
            )?;
            let archive = Some(x.manifest.hash.clone());
            (selected, archive, Some(x), settings)
        }
        None => {
            let ws = crate::workspace::discover(&args.workspace)?;
            let settings = Settings::load(&ws.root, &run_args)?;
            let listed = crate::run::build_and_list(&args.workspace, &ws, args.quiet, interrupt)?;
            (
                crate::run::select(&args.select, listed)?,
                None,
                None,
                settings,
            )
        }
    };
    let mut binaries = match &extracted {
        Some(x) => x.binaries(),
        None => binaries_of(&selected)?,
    };
    // Only the selected harnesses (an archive holds others).
    binaries.retain(|key, _| selected.iter().any(|s| harness_key(&s.harness) == *key));
    let mut list: Vec<BuiltHarness> = Vec::new();
    for s in selected {
        if !list.iter().any(|h| h.executable == s.harness.executable) {
            list.push(s.harness);
        }
    }
    Ok(Harnesses {
        list,
        binaries,
        archive,
        base_url: settings.run_base_url(),
        _extracted: extracted,
    })
}

/// How one harness answered a setup or teardown request.
#[derive(Debug, Default)]
struct Answer {
    /// `setup_value`: the hook's name and value (both absent: no setup hook).
    value: Option<(Option<String>, Option<serde_json::Value>)>,
    /// `teardown_done`: the teardown hook's name (absent: none).
    torn_down: Option<Option<String>>,
    /// `setup_failed` or `teardown_failed`: the hook's error.
    failed: Option<String>,
    /// `refused`: why the harness could not serve the request.
    refused: Option<String>,
    /// The harness's exit status and the tail of its stderr, when it answered nothing.
    died: Option<String>,
}

/// Sends `mode` (with `value`) to harness `h` and collects its answer.
fn ask(
    h: &BuiltHarness,
    mode: RunMode,
    value: Option<serde_json::Value>,
    base_url: Option<String>,
    args: &SetupArgs,
    interrupt: &Interrupt,
) -> Result<Answer, CliError> {
    let request = RunRequest {
        protocol: PROTOCOL_VERSION,
        // No test: a harness older than shared setup runs none either.
        tests: Vec::new(),
        base_url,
        request_series: false,
        live_metrics: false,
        shard: None,
        start_at_unix: None,
        // Setup and teardown run hooks, not tests: nothing to export.
        otlp: None,
        mode,
        setup_value: value,
    };
    let mut session =
        Session::spawn(h, &request, &args.harness_args, args.quiet).map_err(CliError::io(
            format!("cannot start the harness {}", h.executable.display()),
        ))?;
    let mut answer = Answer::default();
    while let Some(event) = session.next_event(interrupt) {
        match event {
            protocol::Event::SetupValue { hook, value } => answer.value = Some((hook, value)),
            protocol::Event::TeardownDone { hook } => answer.torn_down = Some(hook),
            protocol::Event::SetupFailed { message }
            | protocol::Event::TeardownFailed { message } => answer.failed = Some(message),
            protocol::Event::Refused { message } => answer.refused = Some(message),
            _ => {}
        }
    }
    let (status, tail) = session.wait();
    let answered = answer.value.is_some()
        || answer.torn_down.is_some()
        || answer.failed.is_some()
        || answer.refused.is_some();
    if !answered {
        let status = match status {
            Ok(s) => s.to_string(),
            Err(e) => format!("unknown status ({e})"),
        };
        answer.died = Some(format!(
            "the harness exited without answering the {} request ({status}); a loadtest-runtime older than shared setup does not know it: use matching versions of cargo-loadtest and loadtest-runtime. Last lines of its stderr:\n{tail}",
            match mode {
                RunMode::Teardown => "teardown",
                _ => "setup",
            }
        ));
    }
    Ok(answer)
}

/// `cargo loadtest setup`: runs each selected harness's shared setup hook once and writes the
/// setup file; returns the exit code.
pub(crate) fn setup(args: &SetupArgs, interrupt: &Interrupt) -> Result<i32, CliError> {
    check_writable(&args.setup_file)?;
    let hs = harnesses(args, interrupt)?;
    let what = args.setup_file.display().to_string();
    let mut file = SetupFile {
        format: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        archive: hs.archive.clone(),
        harnesses: BTreeMap::new(),
    };
    // What went wrong, and its exit code; the hooks that ran before it are torn down.
    let mut failure: Option<(i32, String)> = None;
    for h in &hs.list {
        let key = harness_key(h);
        if interrupt.is_set() {
            failure = Some((exit_code::INTERRUPTED, "interrupted".into()));
            break;
        }
        let answer = ask(
            h,
            RunMode::Setup,
            None,
            hs.base_url.clone(),
            args,
            interrupt,
        )?;
        match answer {
            Answer {
                value: Some((hook, value)),
                ..
            } => {
                if !args.quiet {
                    match &hook {
                        Some(name) => eprintln!("       Setup {key}: `{name}` ran once"),
                        None => eprintln!("       Setup {key}: no setup hook"),
                    }
                }
                file.harnesses.insert(
                    key.clone(),
                    SetupEntry {
                        sha256: hs.binaries.get(&key).cloned().unwrap_or_default(),
                        hook,
                        value,
                    },
                );
            }
            Answer {
                refused: Some(message),
                ..
            } => {
                failure = Some((
                    exit_code::USAGE,
                    format!("the harness {key} cannot share its setup: {message}"),
                ));
                break;
            }
            Answer {
                failed: Some(message),
                ..
            } => {
                failure = Some((exit_code::TEST_FAILED, format!("{key}: {message}")));
                break;
            }
            Answer { died, .. } => {
                let code = if interrupt.is_set() {
                    exit_code::INTERRUPTED
                } else {
                    exit_code::TEST_FAILED
                };
                failure = Some((code, format!("{key}: {}", died.unwrap_or_default())));
                break;
            }
        }
    }
    if failure.is_none()
        && let Err(e) = check_writable(&args.setup_file).and_then(|()| {
            let json = serde_json::to_vec_pretty(&file).expect("setup files always serialize");
            crate::output::atomic::write_with(&args.setup_file, |f| f.write_all(&json))
        })
    {
        failure = Some((e.exit_code(), e.to_string()));
    }
    if let Some((code, message)) = failure {
        eprintln!("error: {message}");
        // What was set up is not left behind: no shard will ever read it.
        for (key, entry) in &file.harnesses {
            let (Some(value), Some(h)) = (
                &entry.value,
                hs.list.iter().find(|h| harness_key(h) == *key),
            ) else {
                continue;
            };
            eprintln!("note: tearing down {key}'s setup, which ran before the failure");
            match ask(
                h,
                RunMode::Teardown,
                Some(value.clone()),
                hs.base_url.clone(),
                args,
                interrupt,
            ) {
                Ok(Answer {
                    failed: Some(m), ..
                })
                | Ok(Answer {
                    refused: Some(m), ..
                }) => eprintln!("warning: {key}: {m}"),
                Err(e) => eprintln!("warning: {key}: {e}"),
                Ok(_) => {}
            }
        }
        eprintln!("error: no setup file was written ({what})");
        return Ok(code);
    }
    if !args.quiet {
        let shared = file.harnesses.values().filter(|e| e.hook.is_some()).count();
        eprintln!(
            "       Wrote {what}: {shared} shared setup value{} for {} harness{}; give it to every shard with --setup-file, then run `cargo loadtest teardown --setup-file {what}` after the merge",
            if shared == 1 { "" } else { "s" },
            file.harnesses.len(),
            if file.harnesses.len() == 1 { "" } else { "es" }
        );
    }
    Ok(exit_code::OK)
}

/// `cargo loadtest teardown`: runs each selected harness's teardown hook once, given its value
/// from the setup file; returns the exit code.
pub(crate) fn teardown(args: &SetupArgs, interrupt: &Interrupt) -> Result<i32, CliError> {
    let what = args.setup_file.display().to_string();
    let file = SetupFile::read(&args.setup_file)?;
    let hs = harnesses(args, interrupt)?;
    // Every harness is checked before any hook runs.
    let values = file
        .values_for(&what, &hs.binaries, hs.archive.as_deref())
        .map_err(CliError::Usage)?;
    let mut code = exit_code::OK;
    for h in &hs.list {
        let key = harness_key(h);
        let Some(value) = values.get(&key) else {
            if !args.quiet {
                eprintln!("    Teardown {key}: no setup hook, nothing to tear down");
            }
            continue;
        };
        if interrupt.is_set() {
            return Ok(exit_code::INTERRUPTED);
        }
        let answer = ask(
            h,
            RunMode::Teardown,
            Some(value.clone()),
            hs.base_url.clone(),
            args,
            interrupt,
        )?;
        match answer {
            Answer {
                torn_down: Some(hook),
                ..
            } => {
                if !args.quiet {
                    match hook {
                        Some(name) => eprintln!("    Teardown {key}: `{name}` ran once"),
                        None => eprintln!("    Teardown {key}: no teardown hook"),
                    }
                }
            }
            Answer {
                refused: Some(message),
                ..
            } => {
                return Err(CliError::Usage(format!(
                    "the harness {key} refused the value of {what}: {message}"
                )));
            }
            Answer {
                failed: Some(message),
                ..
            } => {
                eprintln!("error: {key}: {message}");
                code = exit_code::TEST_FAILED;
            }
            Answer { died, .. } => {
                eprintln!("error: {key}: {}", died.unwrap_or_default());
                code = if interrupt.is_set() {
                    exit_code::INTERRUPTED
                } else {
                    exit_code::TEST_FAILED
                };
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> SetupFile {
        SetupFile {
            format: FORMAT,
            tool_version: "0.1.0".into(),
            created_unix: 1.0,
            archive: Some("a".repeat(64)),
            harnesses: [
                (
                    "shop::api".to_string(),
                    SetupEntry {
                        sha256: "1".repeat(64),
                        hook: Some("sign_up".into()),
                        value: Some(serde_json::json!({"token": "t-1"})),
                    },
                ),
                (
                    "shop::plain".to_string(),
                    SetupEntry {
                        sha256: "2".repeat(64),
                        hook: None,
                        value: None,
                    },
                ),
            ]
            .into(),
        }
    }

    #[test]
    fn the_file_round_trips_and_hands_each_harness_its_value() {
        let f = file();
        let text = serde_json::to_vec_pretty(&f).unwrap();
        let back = SetupFile::parse("s.json", &text).unwrap();
        assert_eq!(back, f);
        let archive = "a".repeat(64);
        let v = back
            .value_for("s.json", "shop::api", &"1".repeat(64), Some(&archive))
            .unwrap();
        assert_eq!(v, Some(&serde_json::json!({"token": "t-1"})));
        // A harness without a setup hook gets no value.
        let v = back
            .value_for("s.json", "shop::plain", &"2".repeat(64), None)
            .unwrap();
        assert_eq!(v, None);
        let binaries: BTreeMap<String, String> = [
            ("shop::api".to_string(), "1".repeat(64)),
            ("shop::plain".to_string(), "2".repeat(64)),
        ]
        .into();
        let values = back.values_for("s.json", &binaries, None).unwrap();
        assert_eq!(values.keys().collect::<Vec<_>>(), ["shop::api"]);
    }

    #[test]
    fn another_run_a_missing_entry_and_a_malformed_file_are_refused_by_name() {
        let f = file();
        let e = f
            .value_for("s.json", "shop::api", &"9".repeat(64), None)
            .unwrap_err();
        assert!(
            e.starts_with("--setup-file s.json was written by another build of shop::api (SHA-256 1111111111111111 in the file, 9999999999999999 here)"),
            "{e}"
        );
        let e = f
            .value_for(
                "s.json",
                "shop::api",
                &"1".repeat(64),
                Some(&"b".repeat(64)),
            )
            .unwrap_err();
        assert!(
            e.contains(
                "written for archive aaaaaaaaaaaaaaaa, but this run is archive bbbbbbbbbbbbbbbb"
            ),
            "{e}"
        );
        let e = f.value_for("s.json", "shop::other", "x", None).unwrap_err();
        assert!(
            e.contains(
                "has no entry for the harness shop::other (it holds shop::api, shop::plain)"
            ) && e.contains("same selection"),
            "{e}"
        );

        let malformed = |text: &str| SetupFile::parse("s.json", text.as_bytes()).unwrap_err();
        let e = malformed("{not json");
        assert!(
            e.starts_with(
                "--setup-file s.json: not a setup file written by `cargo loadtest setup`"
            ),
            "{e}"
        );
        // A report is not a setup file.
        let e = malformed(r#"{"schema_version": 3, "tests": []}"#);
        assert!(e.contains("not a setup file"), "{e}");
        let e = malformed(r#"{"format": 7, "harnesses": {}}"#);
        assert!(
            e.contains("setup file format 7, but this cargo-loadtest reads format 1"),
            "{e}"
        );
        let mut half = serde_json::to_value(file()).unwrap();
        half["harnesses"]["shop::api"]
            .as_object_mut()
            .unwrap()
            .remove("value");
        let e = malformed(&half.to_string());
        assert!(
            e.contains("the entry of shop::api has a hook but no value"),
            "{e}"
        );
    }

    #[test]
    fn the_variable_names_the_file_when_the_flag_does_not() {
        let env = |v: Option<&'static str>| {
            move |k: &str| {
                (k == SETUP_FILE_VAR)
                    .then_some(v)
                    .flatten()
                    .map(str::to_string)
            }
        };
        assert_eq!(resolve(None, env(None)), None);
        assert_eq!(resolve(None, env(Some(" "))), None);
        assert_eq!(
            resolve(None, env(Some("s.json"))).as_deref(),
            Some(Path::new("s.json"))
        );
        assert_eq!(
            resolve(Some(Path::new("flag.json")), env(Some("s.json"))).as_deref(),
            Some(Path::new("flag.json"))
        );
    }

    #[test]
    fn never_written_over_anything_but_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_writable(dir.path()).unwrap_err();
        assert!(
            matches!(&e, CliError::Usage(m) if m.contains("is a folder")),
            "{e}"
        );
        let e = check_writable(Path::new("-")).unwrap_err();
        assert!(
            matches!(&e, CliError::Usage(m) if m.contains("not standard output")),
            "{e}"
        );
        #[cfg(unix)]
        {
            let e = check_writable(Path::new("/dev/null")).unwrap_err();
            assert!(
                matches!(&e, CliError::Usage(m) if m.contains("is not a regular file")),
                "{e}"
            );
        }
        let path = dir.path().join("setup.json");
        check_writable(&path).unwrap();
        std::fs::write(&path, b"{}").unwrap();
        check_writable(&path).unwrap();
    }
}
