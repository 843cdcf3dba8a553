//! Writing a report to the path a user gave. A regular file (or a path that does not exist yet)
//! is replaced atomically: a temporary file beside it is flushed to disk, then renamed over it,
//! so a reader sees the old file or the new one, never half of one. Everything else is written
//! as the user meant it:
//!
//! - `-` is standard output;
//! - a symbolic link to a regular file stays a link: the file it points to is replaced
//!   atomically, beside itself;
//! - a FIFO, a device or a link to one (`/dev/stdout`, `/dev/null`) is opened and written
//!   directly, never replaced by a regular file;
//! - a folder is refused.

use crate::errors::CliError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The path that means standard output.
pub const STDOUT: &str = "-";

/// Whether `path` means standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDOUT
}

/// Writes `bytes` to `path` (see the module documentation), creating parent folders of a new
/// file.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_streamed(path, |w| w.write_all(bytes))
}

/// Writes what `fill` writes to `path` as [`write`] does, through a buffer, without holding the
/// whole content in memory (a merged report of thousands of shards).
pub fn write_streamed(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let fail = |source: std::io::Error| CliError::Io {
        context: format!("cannot write {}", path.display()),
        source,
    };
    let buffered = |w: &mut dyn Write| {
        let mut b = std::io::BufWriter::new(w);
        fill(&mut b)?;
        b.flush()
    };
    if is_stdout(path) {
        return buffered(&mut std::io::stdout().lock()).map_err(fail);
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(CliError::Usage(format!(
                "{} is a folder; report paths name a file, `-` for standard output, or a FIFO or device",
                path.display()
            )));
        }
        Ok(m) if !m.is_file() => {
            // A FIFO, a character device, a socket: written in place, whatever it is.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(fail)?;
            return buffered(&mut f).map_err(fail);
        }
        _ => {}
    }
    replace(&resolve_links(path).map_err(fail)?, |f| buffered(f)).map_err(fail)
}

/// Writes what `fill` writes into a file to `path` atomically (for content too large to hold in
/// memory, such as an archive), creating parent folders and keeping symbolic links.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let fail = |source: std::io::Error| CliError::Io {
        context: format!("cannot write {}", path.display()),
        source,
    };
    replace(&resolve_links(path).map_err(fail)?, fill).map_err(fail)
}

/// Follows symbolic links from `path` to the first path that is not one (which may not exist
/// yet), so that replacing it keeps the links.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// Replaces the regular file (or new path) `path` atomically with what `fill` writes.
fn replace(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "cargo-loadtest-atomic-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replaces_whole_files_and_leaves_no_temporaries() {
        let dir = dir("replace");
        let path = dir.join("sub/report.json");
        super::write(&path, b"first").unwrap();
        super::write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn links_stay_links_and_devices_stay_devices() {
        let dir = dir("links");
        let real = dir.join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        super::write(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A link to a device is written through, and stays a link to the device.
        let null = dir.join("null");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        super::write(&null, b"gone").unwrap();
        assert_eq!(std::fs::read_link(&null).unwrap(), Path::new("/dev/null"));
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        assert!(matches!(
            super::write(&dir, b"x"),
            Err(crate::errors::CliError::Usage(m)) if m.contains("is a folder")
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
