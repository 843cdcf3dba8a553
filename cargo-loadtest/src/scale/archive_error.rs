//! Why the archive `--archive-file` names cannot be written or read: the flag, the file, and
//! what is wrong with it. All end the command with exit code 2.

use super::archive::{FORMAT, HARNESS_DIR, MANIFEST};
use std::path::PathBuf;

/// An archive that cannot be written or read (exit 2): `--archive-file PATH: PROBLEM`.
#[derive(Debug, thiserror::Error)]
#[error("--archive-file {path}: {problem}")]
pub struct ArchiveError {
    /// The archive, as given.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: ArchiveProblem,
}

/// What is wrong with an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveProblem {
    /// The path to write names a folder.
    #[error("is a folder; give the path of the archive file to write (e.g. loadtests.tar.zst)")]
    Folder,
    /// The file cannot be opened.
    #[error("cannot read it: {0}")]
    Unreadable(std::io::Error),
    /// The file is not tar + zstd.
    #[error("not an archive written by `cargo loadtest archive` (tar + zstd): {0}")]
    NotArchive(std::io::Error),
    /// An entry that is not the manifest nor a harness file (or one entry too many).
    #[error(
        "unexpected entry {} (an archive holds {MANIFEST} and {HARNESS_DIR}/PACKAGE/TARGET files only)",
        .0.display()
    )]
    UnexpectedEntry(PathBuf),
    /// No manifest among the entries.
    #[error("it holds no {MANIFEST} ({0})")]
    NoManifest(std::io::Error),
    /// A manifest whose fields are not a manifest's.
    #[error("its {MANIFEST} is not valid: {0}")]
    ManifestInvalid(serde_json::Error),
    /// An archive of another format.
    #[error("archive format {found} (this cargo-loadtest reads format {FORMAT})")]
    Format {
        /// The format the manifest declares.
        found: u32,
    },
    /// A manifest changed after it was written.
    #[error("its manifest does not match its own hash (changed after it was written)")]
    ManifestChanged,
    /// Built for another architecture or operating system.
    #[error(
        "built for {triple}, but this machine is {arch} {os}; archive on a machine of the same kind"
    )]
    OtherMachine {
        /// The target triple the harnesses were built for.
        triple: String,
        /// This machine's architecture.
        arch: &'static str,
        /// This machine's operating system.
        os: &'static str,
    },
    /// A harness the manifest lists is not in the archive.
    #[error("the harness {harness} is missing ({error})")]
    HarnessMissing {
        /// The harness's path in the archive.
        harness: String,
        /// Why it could not be read.
        error: std::io::Error,
    },
    /// A harness whose bytes are not the ones the manifest hashed.
    #[error("the harness {harness} does not match its SHA-256 in the manifest (a corrupt archive)")]
    HarnessCorrupt {
        /// The harness's path in the archive.
        harness: String,
    },
}
