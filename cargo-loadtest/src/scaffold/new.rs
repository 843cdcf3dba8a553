//! `cargo loadtest new --from-har FILE | --from-openapi FILE`: read the input, generate the test
//! file, and add it to the package as a `[[test]]` target, all checks first, then the writes.

use super::model::TestFile;
use super::{codegen, har, manifest, names, openapi};
use crate::cli::NewArgs;
use crate::errors::CliError;
use crate::exit_code;
use std::path::Path;

/// Runs `cargo loadtest new`.
pub(crate) fn new(args: &NewArgs) -> Result<i32, CliError> {
    let (source, kind) = match (&args.from_har, &args.from_openapi) {
        (Some(p), _) => (p, Kind::Har),
        (None, Some(p)) => (p, Kind::OpenApi),
        (None, None) => {
            return Err(CliError::Usage(
                "cargo loadtest new needs --from-har FILE or --from-openapi FILE".into(),
            ));
        }
    };
    let name = match &args.name {
        Some(n) => n.clone(),
        None => default_name(source),
    };
    names::check_target_name(&name).map_err(|e| match &args.name {
        Some(_) => e,
        None => CliError::Usage(format!(
            "cannot make a test target name from {}; pass --name NAME ({e})",
            source.display()
        )),
    })?;
    let bytes = std::fs::read(source).map_err(|e| {
        CliError::Usage(format!(
            "cannot read {} ({e}); --from-{} takes the path of a readable file",
            source.display(),
            kind.flag()
        ))
    })?;
    let (file, summary): (TestFile, String) = match kind {
        Kind::Har => har::read(source, &bytes, &name, args.only.as_deref())?,
        Kind::OpenApi => openapi::read(source, &bytes, &name, &args.operations)?,
    };
    let code = codegen::render(&file).map_err(|e| {
        CliError::Usage(format!(
            "cannot generate a load test from {}: {e}",
            source.display()
        ))
    })?;
    let package = manifest::locate(args.package.as_deref(), args.manifest_path.as_deref())?;
    let plan = manifest::plan(&package, &name)?;
    if plan.target_present || plan.file.symlink_metadata().is_ok() {
        return Err(CliError::Usage(format!(
            "{} already has the load test {:?} ({}); not overwriting it. Choose another name with --name",
            package.name,
            name,
            plan.file.display()
        )));
    }
    manifest::apply(&plan, Some(&code), &package.manifest)?;
    for what in &plan.added {
        eprintln!("     Added {what} to {}", package.manifest.display());
    }
    eprintln!("   Created {}: {summary}", plan.file.display());
    Ok(exit_code::OK)
}

#[derive(Clone, Copy)]
enum Kind {
    Har,
    OpenApi,
}

impl Kind {
    fn flag(self) -> &'static str {
        match self {
            Kind::Har => "har",
            Kind::OpenApi => "openapi",
        }
    }
}

/// The target name from a file name: `Checkout Flow.har` -> `checkout_flow`.
fn default_name(source: &Path) -> String {
    let stem = source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    names::identifier(&stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_come_from_the_file() {
        assert_eq!(
            default_name(Path::new("x/Checkout Flow.har")),
            "checkout_flow"
        );
        assert_eq!(
            default_name(Path::new("petstore.openapi.yaml")),
            "petstore_openapi"
        );
    }
}
