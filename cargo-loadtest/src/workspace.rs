//! Discovery: which packages of the workspace are selected, and which of their test targets are
//! load-test harnesses (`[[test]]` with `harness = false` in a package that depends on
//! `loadtest-runtime`).

use crate::cli::WorkspaceArgs;
use crate::errors::CliError;
use cargo_metadata::{Metadata, MetadataCommand, Package};
use std::path::{Path, PathBuf};

/// The name of the runtime crate that marks a package as having load tests.
pub(crate) const RUNTIME_CRATE: &str = "loadtest-runtime";

/// A harness target to build and run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HarnessTarget {
    pub(crate) package: String,
    pub(crate) target: String,
    pub(crate) manifest_dir: PathBuf,
}

/// `package::target`: how a harness is named in messages, setup files and a run's binaries.
impl std::fmt::Display for HarnessTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}", self.package, self.target)
    }
}

/// What discovery found.
pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    pub(crate) target_dir: PathBuf,
    pub(crate) targets: Vec<HarnessTarget>,
}

/// The `cargo` to run: `$CARGO` when set (cargo sets it for subcommands), else `cargo`.
pub(crate) fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Refuses a `--manifest-path` that is not a file, naming it.
pub(crate) fn check_manifest_path(path: Option<&Path>) -> Result<(), CliError> {
    match path {
        Some(path) if !path.is_file() => Err(CliError::Usage(format!(
            "manifest not found: {} (--manifest-path takes the path of a Cargo.toml file)",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Runs `cargo metadata`; a failure is a usage error carrying cargo's own message.
pub(crate) fn read_metadata(cmd: &MetadataCommand) -> Result<cargo_metadata::Metadata, CliError> {
    cmd.exec().map_err(|e| {
        let detail = match &e {
            cargo_metadata::Error::CargoMetadata { stderr } => stderr.trim().to_string(),
            other => other.to_string(),
        };
        CliError::Usage(format!("cannot read the Cargo workspace: {detail}"))
    })
}

/// Reads the workspace and finds its harness targets.
pub(crate) fn discover(args: &WorkspaceArgs) -> Result<Workspace, CliError> {
    check_manifest_path(args.manifest_path.as_deref())?;
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo());
    if let Some(path) = &args.manifest_path {
        cmd.manifest_path(path);
    }
    let mut other = Vec::new();
    if args.locked {
        other.push("--locked".to_string());
    }
    if args.offline {
        other.push("--offline".to_string());
    }
    if args.frozen {
        other.push("--frozen".to_string());
    }
    cmd.other_options(other);
    let metadata = read_metadata(&cmd)?;
    let target_dir = args
        .target_dir
        .clone()
        .unwrap_or_else(|| metadata.target_directory.clone().into_std_path_buf());
    let packages = select_packages(&metadata, args)?;
    let mut targets = Vec::new();
    for pkg in packages {
        if !depends_on_runtime(pkg) {
            continue;
        }
        let manifest = pkg.manifest_path.as_std_path();
        for name in harnessless_tests(manifest)? {
            if pkg
                .targets
                .iter()
                .any(|t| t.name == name && t.kind.iter().any(|k| k.to_string() == "test"))
            {
                targets.push(HarnessTarget {
                    package: pkg.name.to_string(),
                    target: name,
                    manifest_dir: manifest.parent().unwrap_or(Path::new(".")).to_path_buf(),
                });
            }
        }
    }
    targets.sort_by(|a, b| (&a.package, &a.target).cmp(&(&b.package, &b.target)));
    Ok(Workspace {
        root: metadata.workspace_root.clone().into_std_path_buf(),
        target_dir,
        targets,
    })
}

fn select_packages<'m>(
    metadata: &'m Metadata,
    args: &WorkspaceArgs,
) -> Result<Vec<&'m Package>, CliError> {
    let members: Vec<&Package> = metadata.workspace_packages();
    if !args.package.is_empty() {
        let mut out = Vec::new();
        for spec in &args.package {
            let found = members
                .iter()
                .find(|p| p.name.as_str() == spec.as_str())
                .ok_or_else(|| {
                    let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
                    CliError::Usage(format!(
                        "package {spec:?} is not a member of the workspace; members: {}",
                        names.join(", ")
                    ))
                })?;
            out.push(*found);
        }
        return Ok(out);
    }
    for ex in &args.exclude {
        if !members.iter().any(|p| p.name.as_str() == ex.as_str()) {
            return Err(CliError::Usage(format!(
                "--exclude {ex:?} is not a member of the workspace"
            )));
        }
    }
    // Without -p, every member is selected, as with --workspace (load tests live in many packages).
    Ok(members
        .into_iter()
        .filter(|p| !args.exclude.iter().any(|e| e.as_str() == p.name.as_str()))
        .collect())
}

/// Load tests live in packages that depend on the runtime. The runtime's own harness-less test
/// targets (the accepted attribute forms, smoke-run by `cargo test`) are its test suite, not
/// load tests: it does not depend on itself, so they are never discovered.
fn depends_on_runtime(pkg: &Package) -> bool {
    pkg.dependencies.iter().any(|d| d.name == RUNTIME_CRATE)
}

/// The `[[test]]` targets with `harness = false` of a manifest.
fn harnessless_tests(manifest: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(manifest)
        .map_err(CliError::io(format!("cannot read {}", manifest.display())))?;
    let doc: toml::Table = toml::from_str(&text)
        .map_err(|e| CliError::Usage(format!("cannot parse {}: {e}", manifest.display())))?;
    let Some(tests) = doc.get("test").and_then(|t| t.as_array()) else {
        return Ok(Vec::new());
    };
    Ok(tests
        .iter()
        .filter(|t| t.get("harness").and_then(|h| h.as_bool()) == Some(false))
        .filter_map(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_harnessless_tests() {
        let dir = std::env::temp_dir().join(format!("cargo-loadtest-ws-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[package]\nname='x'\n[[test]]\nname='load'\nharness=false\n[[test]]\nname='unit'\n[[test]]\nname='other'\nharness=true\n",
        )
        .unwrap();
        assert_eq!(harnessless_tests(&manifest).unwrap(), ["load"]);
        std::fs::write(&manifest, "not toml [").unwrap();
        assert!(
            matches!(harnessless_tests(&manifest), Err(CliError::Usage(m)) if m.contains("cannot parse"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
