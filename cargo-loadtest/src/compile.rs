//! Building harness targets through cargo, reading its JSON messages to find the executables.
//! Cargo renders its own diagnostics and progress to stderr (`json-render-diagnostics`), so users
//! see them as usual. As soon as cargo reports a crate it had to compile (not fresh), one line
//! says what is being built and that a first build takes minutes, even with `--quiet` (which
//! silences cargo's own progress): a first build is never minutes of silence.

use crate::cli::{Color, WorkspaceArgs};
use crate::errors::CliError;
use crate::signals::Interrupt;
use crate::workspace::{HarnessTarget, cargo};
use cargo_metadata::Message;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A built harness.
#[derive(Clone, Debug)]
pub(crate) struct BuiltHarness {
    pub(crate) target: HarnessTarget,
    pub(crate) executable: PathBuf,
}

/// The line shown once when cargo has something to compile.
fn building_line(profile: &str, targets: &[HarnessTarget]) -> String {
    let mut packages: Vec<&str> = targets.iter().map(|t| t.package.as_str()).collect();
    packages.dedup();
    format!(
        "    Building {} load test target{} of {} (profile `{profile}`); a first build compiles tokio, hyper, reqwest and their dependencies and takes minutes",
        targets.len(),
        if targets.len() == 1 { "" } else { "s" },
        packages.join(", ")
    )
}

/// Builds every target (one cargo invocation per package) and returns their executables.
pub(crate) fn build(
    args: &WorkspaceArgs,
    targets: &[HarnessTarget],
    quiet: bool,
    interrupt: &Interrupt,
) -> Result<Vec<BuiltHarness>, CliError> {
    let mut packages: Vec<&str> = targets.iter().map(|t| t.package.as_str()).collect();
    packages.dedup();
    let announced = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut built = Vec::new();
    for pkg in packages {
        let mine: Vec<&HarnessTarget> = targets.iter().filter(|t| t.package == pkg).collect();
        let mut cmd = Command::new(cargo());
        cmd.arg("build")
            .arg("--message-format=json-render-diagnostics")
            .arg("--profile")
            .arg(&args.profile);
        cmd.arg("--package").arg(pkg);
        for t in &mine {
            cmd.arg("--test").arg(&t.target);
        }
        if let Some(p) = &args.manifest_path {
            cmd.arg("--manifest-path").arg(p);
        }
        if !args.features.is_empty() {
            cmd.arg("--features").arg(args.features.join(","));
        }
        if args.all_features {
            cmd.arg("--all-features");
        }
        if args.no_default_features {
            cmd.arg("--no-default-features");
        }
        if let Some(d) = &args.target_dir {
            cmd.arg("--target-dir").arg(d);
        }
        for (on, flag) in [
            (args.locked, "--locked"),
            (args.offline, "--offline"),
            (args.frozen, "--frozen"),
        ] {
            if on {
                cmd.arg(flag);
            }
        }
        if let Some(c) = args.color {
            cmd.arg("--color").arg(match c {
                Color::Auto => "auto",
                Color::Always => "always",
                Color::Never => "never",
            });
        }
        if quiet {
            cmd.arg("--quiet");
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(CliError::io("cannot run cargo build"))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        // Messages are read on a thread so that an interrupt can stop the build at once.
        let announce = announced.clone();
        let what = building_line(&args.profile, targets);
        let reader = std::thread::spawn(move || {
            Message::parse_stream(BufReader::new(stdout))
                .filter_map(|m| match m {
                    Ok(Message::CompilerArtifact(a)) => {
                        if !a.fresh && !announce.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            eprintln!("{what}");
                        }
                        Some(a)
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        });
        let status = loop {
            if interrupt.is_set() {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CliError::Interrupted);
            }
            match child
                .try_wait()
                .map_err(CliError::io("cannot wait for cargo build"))?
            {
                Some(status) => break status,
                None => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        };
        let artifacts = reader.join().unwrap_or_default();
        for artifact in artifacts {
            let Some(exe) = artifact.executable else {
                continue;
            };
            if let Some(t) = mine.iter().find(|t| {
                t.target == artifact.target.name
                    && artifact.target.kind.iter().any(|k| k.to_string() == "test")
            }) {
                built.push(BuiltHarness {
                    target: (*t).clone(),
                    executable: exe.into_std_path_buf(),
                });
            }
        }
        if !status.success() {
            return Err(CliError::Build(format!(
                "the build of package {pkg:?} failed (cargo exited with {status})"
            )));
        }
    }
    Ok(built)
}
