//! The package a command adds a load test to, and the edits to its Cargo.toml: the
//! dev-dependency on `loadtest-runtime` and a `[[test]]` target with `harness = false`.
//!
//! Edits go through `toml_edit` (what `cargo add` uses), so the user's formatting and comments
//! stay. Files are written atomically (a temporary file renamed into place), the new test file
//! first; if the manifest then cannot be written, the new file is removed again.

use crate::errors::CliError;
use crate::workspace::{RUNTIME_CRATE, cargo, check_manifest_path, read_metadata};
use cargo_metadata::MetadataCommand;
use std::path::{Component, Path, PathBuf};
use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

/// The folder of a package that load test files go to.
pub(crate) const FOLDER: &str = "loadtests";

/// A package of the workspace, as `init` and `new` see it.
#[derive(Debug)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) manifest: PathBuf,
    pub(crate) dir: PathBuf,
    /// How this package should depend on the runtime if it does not yet.
    pub(crate) runtime: RuntimeDep,
}

/// How a package depends on `loadtest-runtime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuntimeDep {
    /// `{ workspace = true }`: the workspace declares it (a member of this repository).
    Workspace,
    /// `{ path = "..." }`: the package lies inside a clone of this repository.
    Path(String),
    /// `"0.1"`: from crates.io.
    Version(String),
}

/// What adding the load test target `name` to a package changes, worked out before anything
/// is written.
#[derive(Debug)]
pub(crate) struct TargetEdit {
    /// The edited manifest, or `None` when it already has everything.
    pub(crate) manifest: Option<String>,
    /// The test file, `DIR/loadtests/NAME.rs`.
    pub(crate) file: PathBuf,
    /// The `[[test]]` target `name` exists with this path and `harness = false`.
    pub(crate) target_present: bool,
    /// What the edit adds, for the summary line.
    pub(crate) added: Vec<String>,
}

/// Finds the package: `-p NAME` among the workspace's members, else the one whose manifest is
/// `--manifest-path` or the nearest Cargo.toml above the current directory.
pub(crate) fn locate(
    package: Option<&str>,
    manifest_path: Option<&Path>,
) -> Result<Package, CliError> {
    check_manifest_path(manifest_path)?;
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo()).no_deps();
    if let Some(path) = manifest_path {
        cmd.manifest_path(path);
    }
    let metadata = read_metadata(&cmd)?;
    let members = metadata.workspace_packages();
    let names = || {
        members
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = match package {
        Some(spec) => members
            .iter()
            .find(|p| p.name.as_str() == spec)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "package {spec:?} is not a member of the workspace; members: {}",
                    names()
                ))
            })?,
        None => {
            let manifest = match manifest_path {
                Some(p) => p.to_path_buf(),
                None => nearest_manifest()?,
            };
            let manifest = canonical(&manifest);
            members
                .iter()
                .find(|p| canonical(p.manifest_path.as_std_path()) == manifest)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "{} is a virtual workspace manifest (no [package]); choose a package with -p: {}",
                        manifest.display(),
                        names()
                    ))
                })?
        }
    };
    let manifest = found.manifest_path.as_std_path().to_path_buf();
    let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    let root = metadata.workspace_root.as_std_path();
    Ok(Package {
        name: found.name.to_string(),
        runtime: runtime_dep(root, &dir),
        manifest,
        dir,
    })
}

fn nearest_manifest() -> Result<PathBuf, CliError> {
    let cwd = std::env::current_dir().map_err(CliError::io("cannot read the current directory"))?;
    cwd.ancestors()
        .map(|d| d.join("Cargo.toml"))
        .find(|m| m.is_file())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no Cargo.toml in {} or above; run in a package or pass --manifest-path",
                cwd.display()
            ))
        })
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `{ workspace = true }` when the workspace declares the runtime; a path when the package lies
/// inside a clone of this repository; else the version this binary belongs to.
fn runtime_dep(workspace_root: &Path, package_dir: &Path) -> RuntimeDep {
    let declared = std::fs::read_to_string(workspace_root.join("Cargo.toml"))
        .ok()
        .and_then(|t| t.parse::<DocumentMut>().ok())
        .is_some_and(|d| {
            d.get("workspace")
                .and_then(|w| w.get("dependencies"))
                .and_then(|deps| deps.get(RUNTIME_CRATE))
                .is_some()
        });
    if declared {
        return RuntimeDep::Workspace;
    }
    let dir = canonical(package_dir);
    for ancestor in dir.ancestors() {
        let runtime = ancestor.join(RUNTIME_CRATE);
        if is_runtime_package(&runtime.join("Cargo.toml")) {
            return RuntimeDep::Path(relative(&dir, &runtime));
        }
    }
    RuntimeDep::Version(published_version())
}

/// `MAJOR.MINOR` of this binary: the runtime versions it speaks the protocol of.
pub(crate) fn published_version() -> String {
    let mut parts = env!("CARGO_PKG_VERSION").split('.');
    let major = parts.next().unwrap_or("0");
    let minor = parts.next().unwrap_or("1");
    format!("{major}.{minor}")
}

fn is_runtime_package(manifest: &Path) -> bool {
    std::fs::read_to_string(manifest)
        .ok()
        .and_then(|t| t.parse::<DocumentMut>().ok())
        .is_some_and(|d| {
            d.get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                == Some(RUNTIME_CRATE)
        })
}

/// `to` relative to the directory `from`, with forward slashes (both absolute).
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Works out the edits that give `package` the load test target `name` at `loadtests/NAME.rs`.
///
/// An existing `[[test]]` target of that name with another path or with a harness is refused:
/// it is the user's, and the message says how to choose another name.
pub(crate) fn plan(package: &Package, name: &str) -> Result<TargetEdit, CliError> {
    let text = std::fs::read_to_string(&package.manifest).map_err(CliError::io(format!(
        "cannot read {}",
        package.manifest.display()
    )))?;
    let mut doc: DocumentMut = text.parse().map_err(|e| {
        CliError::Usage(format!("cannot parse {}: {e}", package.manifest.display()))
    })?;
    let rel_path = format!("{FOLDER}/{name}.rs");
    let file = package.dir.join(FOLDER).join(format!("{name}.rs"));
    let mut added = Vec::new();
    // Comments after the last table belong to it: keep them there, above what is appended.
    let trailing = doc.trailing().as_str().unwrap_or("").to_string();
    let mut first_new: Option<&'static str> = None;

    let has_runtime = ["dependencies", "dev-dependencies"].iter().any(|section| {
        doc.get(section)
            .and_then(|d| d.as_table_like())
            .is_some_and(|d| d.contains_key(RUNTIME_CRATE))
    });
    if !has_runtime {
        if !doc.contains_key("dev-dependencies") {
            first_new = Some("dev-dependencies");
        }
        let deps = doc
            .entry("dev-dependencies")
            .or_insert_with(|| Item::Table(Table::new()));
        let Some(deps) = deps.as_table_like_mut() else {
            return Err(CliError::Usage(format!(
                "{}: [dev-dependencies] is not a table; fix it or add {RUNTIME_CRATE} by hand",
                package.manifest.display()
            )));
        };
        let (value, shown) = match &package.runtime {
            RuntimeDep::Workspace => (
                inline(&[("workspace", Value::from(true))]),
                "{ workspace = true }".to_string(),
            ),
            RuntimeDep::Path(p) => (
                inline(&[("path", Value::from(p.as_str()))]),
                format!("{{ path = {p:?} }}"),
            ),
            RuntimeDep::Version(v) => (Value::from(v.as_str()), format!("{v:?}")),
        };
        deps.insert(RUNTIME_CRATE, Item::Value(value));
        added.push(format!("[dev-dependencies] {RUNTIME_CRATE} = {shown}"));
    }

    let target_present = match find_test_target(&doc, name) {
        None => false,
        Some(existing)
            if existing.path.as_deref() == Some(rel_path.as_str()) && existing.harnessless =>
        {
            true
        }
        Some(existing) => {
            return Err(CliError::Usage(format!(
                "{} already has a [[test]] target named {name:?} ({}); choose another name with --name",
                package.manifest.display(),
                match (&existing.path, existing.harnessless) {
                    (Some(p), true) => format!("at {p}"),
                    (Some(p), false) => format!("at {p}, with the libtest harness"),
                    (None, _) => "at its default path".to_string(),
                }
            )));
        }
    };
    if !target_present {
        let mut table = Table::new();
        table.insert("name", toml_edit::value(name));
        table.insert("path", toml_edit::value(rel_path.as_str()));
        table.insert("harness", toml_edit::value(false));
        first_new = first_new.or(Some("test"));
        let tests = doc
            .entry("test")
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
        match tests {
            Item::ArrayOfTables(a) => a.push(table),
            Item::Value(Value::Array(a)) => a.push(table.into_inline_table()),
            _ => {
                return Err(CliError::Usage(format!(
                    "{}: `test` is not a list of [[test]] targets; fix it or add the target by hand",
                    package.manifest.display()
                )));
            }
        }
        added.push(format!("[[test]] {name} at {rel_path} (harness = false)"));
    }
    if let Some(key) = first_new
        && !trailing.trim().is_empty()
    {
        let decor = match doc.get_mut(key) {
            Some(Item::Table(t)) => Some(t.decor_mut()),
            Some(Item::ArrayOfTables(a)) => a.get_mut(a.len() - 1).map(|t| t.decor_mut()),
            _ => None,
        };
        if let Some(decor) = decor {
            decor.set_prefix(format!("{}\n\n", trailing.trim_end()));
            doc.set_trailing("\n");
        }
    }
    let edited = doc.to_string();
    Ok(TargetEdit {
        manifest: (edited != text).then_some(edited),
        file,
        target_present,
        added,
    })
}

fn inline(pairs: &[(&str, Value)]) -> Value {
    let mut t = InlineTable::new();
    for (k, v) in pairs {
        t.insert(*k, v.clone());
    }
    Value::InlineTable(t)
}

struct TestTarget {
    path: Option<String>,
    harnessless: bool,
}

fn find_test_target(doc: &DocumentMut, name: &str) -> Option<TestTarget> {
    let of = |t: &dyn toml_edit::TableLike| TestTarget {
        path: t.get("path").and_then(|p| p.as_str()).map(str::to_string),
        harnessless: t.get("harness").and_then(|h| h.as_bool()) == Some(false),
    };
    let is_named =
        |t: &dyn toml_edit::TableLike| t.get("name").and_then(|n| n.as_str()) == Some(name);
    match doc.get("test")? {
        Item::ArrayOfTables(a) => a.iter().find(|t| is_named(*t)).map(|t| of(t)),
        Item::Value(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_inline_table())
            .find(|t| is_named(*t))
            .map(|t| of(t)),
        _ => None,
    }
}

/// Writes the plan: the test file (which must not exist yet), then the manifest. Nothing is left
/// half-written: each file is written to a temporary file and renamed into place, and the new
/// test file is removed again if the manifest cannot be written.
pub(crate) fn apply(
    plan: &TargetEdit,
    code: Option<&str>,
    manifest: &Path,
) -> Result<(), CliError> {
    let mut created_dir = None;
    if let Some(code) = code {
        let dir = plan.file.parent().unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .map_err(CliError::io(format!("cannot create {}", dir.display())))?;
            created_dir = Some(dir.to_path_buf());
        }
        if let Err(e) = write_new(&plan.file, code) {
            if let Some(d) = &created_dir {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
    }
    if let Some(text) = &plan.manifest
        && let Err(e) = replace(manifest, text)
    {
        if code.is_some() {
            let _ = std::fs::remove_file(&plan.file);
            if let Some(d) = &created_dir {
                let _ = std::fs::remove_dir(d);
            }
        }
        return Err(e);
    }
    Ok(())
}

/// Creates `path` with `text`; refuses when anything is there already.
fn write_new(path: &Path, text: &str) -> Result<(), CliError> {
    if path.symlink_metadata().is_ok() {
        return Err(CliError::Usage(format!(
            "{} exists; choose another name with --name",
            path.display()
        )));
    }
    let tmp = temporary(path);
    std::fs::write(&tmp, text).map_err(CliError::io(format!("cannot write {}", tmp.display())))?;
    // hard_link fails if the destination appeared meanwhile: never overwrite a user's file.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(CliError::io(format!("cannot write {}", path.display())))
}

/// Replaces the regular file `path` with `text`, atomically.
fn replace(path: &Path, text: &str) -> Result<(), CliError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        _ => {
            return Err(CliError::Usage(format!(
                "{} is not a regular file; not writing over it",
                path.display()
            )));
        }
    }
    let tmp = temporary(path);
    std::fs::write(&tmp, text).map_err(CliError::io(format!("cannot write {}", tmp.display())))?;
    if let Ok(m) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, m.permissions());
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::Io {
            context: format!("cannot replace {}", path.display()),
            source: e,
        }
    })
}

fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(dir: &Path, manifest: &str, runtime: RuntimeDep) -> Package {
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        Package {
            name: "app".into(),
            manifest: dir.join("Cargo.toml"),
            dir: dir.to_path_buf(),
            runtime,
        }
    }

    const MANIFEST: &str = "# The app.\n[package]\nname = \"app\" # inline comment\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n# none yet\n";

    #[test]
    fn adds_the_dependency_and_target_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = package(dir.path(), MANIFEST, RuntimeDep::Version("0.1".into()));
        let plan = plan(&pkg, "api").unwrap();
        let text = plan.manifest.unwrap();
        assert!(text.starts_with(MANIFEST), "{text}");
        assert!(
            text.contains("[dev-dependencies]\nloadtest-runtime = \"0.1\"\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "[[test]]\nname = \"api\"\npath = \"loadtests/api.rs\"\nharness = false\n"
            ),
            "{text}"
        );
        assert!(!plan.target_present);
        assert_eq!(plan.file, dir.path().join("loadtests/api.rs"));
    }

    #[test]
    fn a_second_plan_after_applying_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = package(dir.path(), MANIFEST, RuntimeDep::Path("../rt".into()));
        let first = plan(&pkg, "api").unwrap();
        apply(&first, Some("fn main() {}\n"), &pkg.manifest).unwrap();
        let text = std::fs::read_to_string(&pkg.manifest).unwrap();
        assert!(
            text.contains("loadtest-runtime = { path = \"../rt\" }"),
            "{text}"
        );
        let second = plan(&pkg, "api").unwrap();
        assert!(second.manifest.is_none());
        assert!(second.target_present);
        assert!(second.added.is_empty());
    }

    #[test]
    fn refuses_a_target_of_the_same_name_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{MANIFEST}\n[[test]]\nname = \"api\"\npath = \"tests/api.rs\"\n");
        let pkg = package(dir.path(), &text, RuntimeDep::Workspace);
        let err = plan(&pkg, "api").unwrap_err().to_string();
        assert!(
            err.contains("already has a [[test]] target named \"api\""),
            "{err}"
        );
        assert!(err.contains("--name"), "{err}");
    }

    #[test]
    fn an_existing_runtime_dependency_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{MANIFEST}\n[dev-dependencies]\nloadtest-runtime = \"=0.1.0\"\n");
        let pkg = package(dir.path(), &text, RuntimeDep::Workspace);
        let plan = plan(&pkg, "api").unwrap();
        let edited = plan.manifest.unwrap();
        assert!(edited.contains("loadtest-runtime = \"=0.1.0\""), "{edited}");
        assert!(!edited.contains("workspace = true"), "{edited}");
    }

    #[test]
    fn write_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.rs");
        std::fs::write(&path, "mine").unwrap();
        assert!(write_new(&path, "theirs").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_runtime_comes_from_the_workspace_a_clone_or_crates_io() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, text: &str| {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "clone/loadtest-runtime/Cargo.toml",
            "[package]\nname = \"loadtest-runtime\"\n",
        );
        write(
            "clone/Cargo.toml",
            "[workspace]\nmembers = [\"loadtest-runtime\"]\n",
        );
        write(
            "clone/target/tmp/app/Cargo.toml",
            "[package]\nname = \"app\"\n",
        );
        let app = root.join("clone/target/tmp/app");
        assert_eq!(
            runtime_dep(&app, &app),
            RuntimeDep::Path("../../../loadtest-runtime".into())
        );

        write(
            "clone/Cargo.toml",
            "[workspace]\n[workspace.dependencies]\nloadtest-runtime = { path = \"loadtest-runtime\" }\n",
        );
        assert_eq!(
            runtime_dep(&root.join("clone"), &app),
            RuntimeDep::Workspace
        );

        // A folder named loadtest-runtime that is another package is not the runtime.
        write(
            "other/loadtest-runtime/Cargo.toml",
            "[package]\nname = \"mine\"\n",
        );
        write("other/app/Cargo.toml", "[package]\nname = \"app\"\n");
        let other = root.join("other/app");
        assert_eq!(
            runtime_dep(&other, &other),
            RuntimeDep::Version(published_version())
        );
        assert_eq!(published_version(), "0.1");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/b/c"), Path::new("/a/rt")),
            "../../rt"
        );
        assert_eq!(relative(Path::new("/a"), Path::new("/a/rt")), "rt");
    }
}
