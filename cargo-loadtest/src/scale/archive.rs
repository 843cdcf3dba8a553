//! `cargo loadtest archive`: the selected load tests' harness binaries and a manifest in one
//! archive (tar + zstd), and running from it (`cargo loadtest --archive-file PATH`) on a machine
//! with no Rust toolchain and no source tree.
//!
//! Layout: `manifest.json` ([`Manifest`]: tool version, target triple, every archived test with
//! its attribute options and `loadtest.toml` layers, each binary's SHA-256, and the manifest's
//! own SHA-256, the archive's identity), then `harness/PACKAGE/TARGET` for each binary.
//! Extraction accepts only those paths, checks each binary's SHA-256 and the target triple, and
//! refuses anything else with exit 2.

use crate::cli::{ArchiveArgs, RunArgs};
use crate::compile::BuiltHarness;
use crate::errors::CliError;
use crate::run::Selected;
use crate::scale::archive_error::{ArchiveError, ArchiveProblem};
use crate::scale::identity::{sha256_file, sha256_hex};
use crate::settings::Settings;
use crate::signals::Interrupt;
use crate::workspace::{self, HarnessTarget};
use loadtest_grammar::OptionLayer;
use loadtest_report::exit_code;
use loadtest_report::protocol::ListedTest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// The version of the archive layout.
pub const FORMAT: u32 = 1;
/// The manifest's name inside the archive.
pub const MANIFEST: &str = "manifest.json";
/// The folder of harness binaries inside the archive.
pub const HARNESS_DIR: &str = "harness";
/// The most entries an archive may hold (a manifest and the binaries).
const MAX_ENTRIES: usize = 10_000;

/// What an archive holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The `cargo-loadtest` version that wrote it.
    pub tool_version: String,
    /// The target triple the binaries were built for (`rustc -vV`'s host).
    pub target_triple: String,
    /// When it was written, as seconds since the Unix epoch.
    pub created_unix: f64,
    /// The harness binaries.
    pub harnesses: Vec<ArchivedHarness>,
    /// Every archived load test, with its attribute options and attribute-only configuration.
    pub tests: Vec<ArchivedTest>,
    /// `loadtest.toml [defaults]` at archive time.
    pub file_defaults: OptionLayer,
    /// `loadtest.toml [tests.NAME]` at archive time.
    pub file_tests: BTreeMap<String, OptionLayer>,
    /// The SHA-256 of this manifest written with an empty `hash`: the archive's identity.
    #[serde(default)]
    pub hash: String,
}

/// One harness binary in an archive.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ArchivedHarness {
    /// Its package.
    pub package: String,
    /// Its test target.
    pub target: String,
    /// Its path inside the archive (`harness/PACKAGE/TARGET`).
    pub path: String,
    /// The SHA-256 of the binary.
    pub sha256: String,
}

/// One load test in an archive.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ArchivedTest {
    /// Its package.
    pub package: String,
    /// Its test target.
    pub target: String,
    /// The harness's listing of it.
    pub test: ListedTest,
}

impl Manifest {
    /// The SHA-256 of the manifest with an empty `hash`.
    pub fn compute_hash(&self) -> String {
        let mut m = self.clone();
        m.hash = String::new();
        sha256_hex(&serde_json::to_vec(&m).expect("manifests always serialize"))
    }
}

/// The target triple rustc builds for on this machine (what `cargo build` builds harnesses for).
fn target_triple() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(|h| h.trim().to_string()))
        })
        .unwrap_or_else(|| {
            format!(
                "{}-unknown-{}",
                std::env::consts::ARCH,
                std::env::consts::OS
            )
        })
}

/// `cargo loadtest archive`: builds, selects and writes the archive; returns the exit code.
pub(crate) fn archive(args: &ArchiveArgs, interrupt: &Interrupt) -> Result<i32, CliError> {
    let ws = workspace::discover(&args.workspace)?;
    let run_args = RunArgs {
        select: args.select.clone(),
        quiet: args.quiet,
        workspace: args.workspace.clone(),
        ..RunArgs::default()
    };
    let settings = Settings::load(&ws.root, &run_args)?;
    if args.archive_file.is_dir() {
        return Err(ArchiveError {
            path: args.archive_file.clone(),
            problem: ArchiveProblem::Folder,
        }
        .into());
    }
    let wargs =
        crate::otlp::build_args(&args.workspace, args.with_otlp || settings.otlp().is_some());
    let listed = crate::run::build_and_list(&wargs, &ws, run_args.quiet, interrupt)?;
    let selected = crate::run::select(&args.select, listed)?;
    let mut harnesses: Vec<(&BuiltHarness, ArchivedHarness)> = Vec::new();
    for s in &selected {
        if harnesses
            .iter()
            .any(|(h, _)| h.executable == s.harness.executable)
        {
            continue;
        }
        let t = &s.harness.target;
        let sha256 = sha256_file(&s.harness.executable).map_err(CliError::io(format!(
            "cannot read {}",
            s.harness.executable.display()
        )))?;
        harnesses.push((
            &s.harness,
            ArchivedHarness {
                package: t.package.clone(),
                target: t.target.clone(),
                path: format!("{HARNESS_DIR}/{}/{}", t.package, t.target),
                sha256,
            },
        ));
    }
    let (file_defaults, file_tests) = settings.file_layers();
    let mut manifest = Manifest {
        format: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        target_triple: target_triple(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        harnesses: harnesses.iter().map(|(_, a)| a.clone()).collect(),
        tests: selected
            .iter()
            .map(|s| ArchivedTest {
                package: s.harness.target.package.clone(),
                target: s.harness.target.target.clone(),
                test: s.test.clone(),
            })
            .collect(),
        file_defaults: file_defaults.clone(),
        file_tests: file_tests.clone(),
        hash: String::new(),
    };
    manifest.hash = manifest.compute_hash();
    let json = serde_json::to_vec_pretty(&manifest).expect("manifests always serialize");
    crate::output::atomic::write_with(&args.archive_file, |file| {
        let encoder = zstd::Encoder::new(file, 3)?;
        let mut tar = tar::Builder::new(encoder);
        // Plain entries: any tar reads them (sparse ones need GNU's extension).
        tar.sparse(false);
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(manifest.created_unix as u64);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, &json[..])?;
        for (h, a) in &harnesses {
            let mut f = std::fs::File::open(&h.executable)?;
            tar.append_file(&a.path, &mut f)?;
        }
        tar.into_inner()?.finish()?.flush()
    })?;
    if !args.quiet {
        eprintln!(
            "    Archived {} load tests of {} harnesses into {} ({}, archive {})",
            manifest.tests.len(),
            manifest.harnesses.len(),
            args.archive_file.display(),
            manifest.target_triple,
            &manifest.hash[..16]
        );
    }
    Ok(exit_code::OK)
}

/// An extracted archive: its folder (removed on drop when it is a temporary one), its manifest
/// and its load tests ready to run.
pub(crate) struct Extracted {
    /// The folder the archive was extracted into.
    pub(crate) dir: PathBuf,
    temporary: bool,
    /// The manifest, checked.
    pub(crate) manifest: Manifest,
}

impl Drop for Extracted {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Extracted {
    /// Every archived load test, as the run selects from them.
    pub(crate) fn tests(&self) -> Vec<Selected> {
        self.manifest
            .tests
            .iter()
            .filter_map(|t| {
                let h = self
                    .manifest
                    .harnesses
                    .iter()
                    .find(|h| h.package == t.package && h.target == t.target)?;
                Some(Selected {
                    harness: BuiltHarness {
                        target: HarnessTarget {
                            package: t.package.clone(),
                            target: t.target.clone(),
                            manifest_dir: self.dir.clone(),
                        },
                        executable: self.dir.join(&h.path),
                    },
                    test: t.test.clone(),
                })
            })
            .collect()
    }

    /// The SHA-256 of each binary, by `package::target`.
    pub(crate) fn binaries(&self) -> BTreeMap<String, String> {
        self.manifest
            .harnesses
            .iter()
            .map(|h| (format!("{}::{}", h.package, h.target), h.sha256.clone()))
            .collect()
    }
}

/// Whether `path` (inside an archive) is one this format writes.
fn allowed(path: &Path) -> bool {
    let parts: Vec<Component<'_>> = path.components().collect();
    if !parts.iter().all(|c| matches!(c, Component::Normal(_))) {
        return false;
    }
    match parts.as_slice() {
        [one] => one.as_os_str() == MANIFEST,
        [dir, _, _] => dir.as_os_str() == HARNESS_DIR,
        _ => false,
    }
}

/// Extracts `archive` into `to` (or a new temporary folder) and checks it.
pub(crate) fn extract(archive: &Path, to: Option<&Path>) -> Result<Extracted, CliError> {
    let what = archive.display().to_string();
    let refused = |problem| -> CliError {
        ArchiveError {
            path: archive.to_path_buf(),
            problem,
        }
        .into()
    };
    let not_archive = |e| refused(ArchiveProblem::NotArchive(e));
    let file = std::fs::File::open(archive).map_err(|e| refused(ArchiveProblem::Unreadable(e)))?;
    let (dir, temporary) = match to {
        Some(d) => (d.to_path_buf(), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            (
                std::env::temp_dir().join(format!(
                    "cargo-loadtest-archive-{}-{nanos}",
                    std::process::id()
                )),
                true,
            )
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(CliError::io(format!("cannot create {}", dir.display())))?;
    // From here on a temporary folder is removed whatever happens.
    let mut extracted = Extracted {
        dir,
        temporary,
        manifest: Manifest {
            format: 0,
            tool_version: String::new(),
            target_triple: String::new(),
            created_unix: 0.0,
            harnesses: Vec::new(),
            tests: Vec::new(),
            file_defaults: OptionLayer::new("loadtest.toml [defaults]"),
            file_tests: BTreeMap::new(),
            hash: String::new(),
        },
    };
    let decoder = zstd::Decoder::new(file).map_err(not_archive)?;
    let mut tar = tar::Archive::new(decoder);
    let entries = tar.entries().map_err(not_archive)?;
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(not_archive)?;
        let path = entry.path().map_err(not_archive)?.into_owned();
        let kind = entry.header().entry_type();
        let file = kind.is_file() || kind == tar::EntryType::GNUSparse;
        if n >= MAX_ENTRIES || !allowed(&path) || !file {
            return Err(refused(ArchiveProblem::UnexpectedEntry(path)));
        }
        entry
            .unpack_in(&extracted.dir)
            .map_err(CliError::io(format!(
                "cannot extract {} into {}",
                path.display(),
                extracted.dir.display()
            )))?;
    }
    let manifest_path = extracted.dir.join(MANIFEST);
    let text = std::fs::read(&manifest_path).map_err(|e| refused(ArchiveProblem::NoManifest(e)))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| refused(ArchiveProblem::ManifestInvalid(e)))?;
    if manifest.format != FORMAT {
        return Err(refused(ArchiveProblem::Format {
            found: manifest.format,
        }));
    }
    if manifest.compute_hash() != manifest.hash {
        return Err(refused(ArchiveProblem::ManifestChanged));
    }
    let (arch, os) = (std::env::consts::ARCH, std::env::consts::OS);
    let triple = &manifest.target_triple;
    if !triple.starts_with(arch) || !triple.contains(os) {
        return Err(refused(ArchiveProblem::OtherMachine {
            triple: triple.clone(),
            arch,
            os,
        }));
    }
    for h in &manifest.harnesses {
        let path = extracted.dir.join(&h.path);
        let sha = sha256_file(&path).map_err(|error| {
            refused(ArchiveProblem::HarnessMissing {
                harness: h.path.clone(),
                error,
            })
        })?;
        if sha != h.sha256 {
            return Err(refused(ArchiveProblem::HarnessCorrupt {
                harness: h.path.clone(),
            }));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(
                CliError::io(format!("cannot make {} executable", path.display())),
            )?;
        }
    }
    if manifest.tool_version != env!("CARGO_PKG_VERSION") {
        eprintln!(
            "warning: --archive-file {what} was written by cargo-loadtest {}, this is {}",
            manifest.tool_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    extracted.manifest = manifest;
    Ok(extracted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadtest_report::report::ConfigSummary;

    fn manifest(binary: &[u8]) -> Manifest {
        let mut m = Manifest {
            format: FORMAT,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            target_triple: format!(
                "{}-unknown-{}-gnu",
                std::env::consts::ARCH,
                std::env::consts::OS
            ),
            created_unix: 1.0,
            harnesses: vec![ArchivedHarness {
                package: "p".into(),
                target: "t".into(),
                path: "harness/p/t".into(),
                sha256: sha256_hex(binary),
            }],
            tests: vec![ArchivedTest {
                package: "p".into(),
                target: "t".into(),
                test: ListedTest {
                    name: "x".into(),
                    file: "t.rs".into(),
                    line: 1,
                    options: OptionLayer::new("x"),
                    config: ConfigSummary::default(),
                },
            }],
            file_defaults: OptionLayer::new("d"),
            file_tests: BTreeMap::new(),
            hash: String::new(),
        };
        m.hash = m.compute_hash();
        m
    }

    /// Writes a tar + zstd file of `entries`.
    fn pack(path: &Path, entries: &[(&str, &[u8])]) {
        let f = std::fs::File::create(path).unwrap();
        let mut tar = tar::Builder::new(zstd::Encoder::new(f, 1).unwrap());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, *data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn extraction_checks_every_binary_and_refuses_what_it_does_not_know() {
        let dir =
            std::env::temp_dir().join(format!("cargo-loadtest-archive-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("a.tar.zst");
        let json = serde_json::to_vec(&manifest(b"binary")).unwrap();
        pack(&archive, &[(MANIFEST, &json), ("harness/p/t", b"binary")]);
        let x = extract(&archive, Some(&dir.join("ok"))).unwrap();
        let tests = x.tests();
        assert_eq!(tests.len(), 1);
        assert_eq!(
            std::fs::read(&tests[0].harness.executable).unwrap(),
            b"binary"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&tests[0].harness.executable)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "{mode:o}");
        }
        assert_eq!(x.binaries()["p::t"], sha256_hex(b"binary"));
        drop(x);
        assert!(dir.join("ok").exists(), "an --extract-to folder is kept");

        // Each refusal is an archive error naming the archive, of its kind, with its message,
        // and a usage error (exit 2).
        let refusal = |archive: &Path| {
            let Err(err) = extract(archive, None) else {
                panic!("accepted {}", archive.display());
            };
            assert_eq!(err.exit_code(), exit_code::USAGE);
            let m = err.to_string();
            let CliError::Archive(e) = err else {
                panic!("not an archive error: {m}");
            };
            assert_eq!(e.path, archive);
            let named = format!("--archive-file {}: ", archive.display());
            assert!(m.starts_with(&named), "{m}");
            (e.problem, m)
        };
        let refused = |entries: &[(&str, &[u8])]| {
            pack(&archive, entries);
            refusal(&archive)
        };
        let (p, e) = refused(&[(MANIFEST, &json), ("harness/p/t", b"tampered")]);
        assert!(
            matches!(&p, ArchiveProblem::HarnessCorrupt { harness } if harness == "harness/p/t"),
            "{p:?}"
        );
        assert!(e.contains("does not match its SHA-256"), "{e}");
        let (p, e) = refused(&[(MANIFEST, &json), ("elsewhere/p/t", b"binary")]);
        assert!(
            matches!(&p, ArchiveProblem::UnexpectedEntry(entry) if entry == Path::new("elsewhere/p/t")),
            "{p:?}"
        );
        assert!(e.contains("unexpected entry elsewhere/p/t"), "{e}");
        let mut changed = manifest(b"binary");
        changed.tests.clear();
        let changed = serde_json::to_vec(&changed).unwrap();
        let (p, e) = refused(&[(MANIFEST, &changed), ("harness/p/t", b"binary")]);
        assert!(matches!(p, ArchiveProblem::ManifestChanged), "{p:?}");
        assert!(e.contains("does not match its own hash"), "{e}");
        let (p, e) = refused(&[("harness/p/t", b"binary")]);
        assert!(matches!(p, ArchiveProblem::NoManifest(_)), "{p:?}");
        assert!(e.contains("holds no manifest.json"), "{e}");
        std::fs::write(&archive, b"not zstd at all").unwrap();
        let (p, e) = refusal(&archive);
        assert!(matches!(p, ArchiveProblem::NotArchive(_)), "{p:?}");
        assert!(
            e.contains("not an archive written by `cargo loadtest archive`"),
            "{e}"
        );
        let (p, e) = refusal(&dir.join("missing.tar.zst"));
        assert!(matches!(p, ArchiveProblem::Unreadable(_)), "{p:?}");
        assert!(e.contains("cannot read it"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_manifest_and_harnesses_are_extracted() {
        for ok in ["manifest.json", "harness/pkg/api"] {
            assert!(allowed(Path::new(ok)), "{ok}");
        }
        for bad in [
            "../x",
            "/etc/passwd",
            "harness/../../x",
            "harness/pkg",
            "other/pkg/api",
            "harness/a/b/c",
            "./manifest.json",
        ] {
            assert!(!allowed(Path::new(bad)), "{bad}");
        }
    }
}
