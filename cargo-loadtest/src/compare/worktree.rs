//! The base revision of an A/B gate, checked out into a temporary git worktree that is removed
//! when the gate ends, whatever way it ends (passed, failed, interrupted, or an error).

use crate::errors::CliError;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A detached worktree of the base revision; removed (with `git worktree prune`) on drop.
pub(crate) struct BaseWorktree {
    /// The repository the worktree belongs to.
    repo: PathBuf,
    /// The worktree's folder.
    pub(crate) path: PathBuf,
    /// The commit it holds.
    pub(crate) commit: String,
}

fn git(dir: &Path, args: &[&str]) -> Result<Output, CliError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(CliError::io("cannot run git (the A/B gate needs it)"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

impl BaseWorktree {
    /// Resolves `rev` in the git repository holding `dir` and checks it out into a new worktree.
    /// A `rev` that is not a commit, or a `dir` outside any repository, is exit 2 with git's own
    /// message.
    pub(crate) fn create(dir: &Path, rev: &str) -> Result<BaseWorktree, CliError> {
        let top = git(dir, &["rev-parse", "--show-toplevel"])?;
        if !top.status.success() {
            return Err(CliError::Usage(format!(
                "--baseline-rev {rev:?}: {} is not in a git repository ({})",
                dir.display(),
                text(&top.stderr)
            )));
        }
        let repo = PathBuf::from(text(&top.stdout));
        let spec = format!("{rev}^{{commit}}");
        let resolved = git(&repo, &["rev-parse", "--verify", "--end-of-options", &spec])?;
        if !resolved.status.success() {
            return Err(CliError::Usage(format!(
                "--baseline-rev {rev:?} is not a commit, branch or tag of {} (git: {})",
                repo.display(),
                text(&resolved.stderr)
            )));
        }
        let commit = text(&resolved.stdout);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "cargo-loadtest-base-{}-{}-{nanos}",
            &commit[..commit.len().min(12)],
            std::process::id()
        ));
        let path_arg = path.to_string_lossy().to_string();
        let added = git(
            &repo,
            &["worktree", "add", "--detach", "--quiet", &path_arg, &commit],
        )?;
        if !added.status.success() {
            let _ = std::fs::remove_dir_all(&path);
            return Err(CliError::Usage(format!(
                "--baseline-rev {rev:?}: cannot check out {commit} into {} (git: {})",
                path.display(),
                text(&added.stderr)
            )));
        }
        Ok(BaseWorktree { repo, path, commit })
    }

    /// Where `dir` (a folder of the current checkout) is in the worktree.
    pub(crate) fn map(&self, dir: &Path) -> Result<PathBuf, CliError> {
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let (repo, dir) = (canonical(&self.repo), canonical(dir));
        dir.strip_prefix(&repo)
            .map(|rel| self.path.join(rel))
            .map_err(|_| {
                CliError::Usage(format!(
                    "--baseline-rev: {} is outside the repository {}",
                    dir.display(),
                    repo.display()
                ))
            })
    }
}

impl Drop for BaseWorktree {
    fn drop(&mut self) {
        let path = self.path.to_string_lossy().to_string();
        let removed = git(&self.repo, &["worktree", "remove", "--force", &path]);
        if !removed.is_ok_and(|o| o.status.success()) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        let _ = git(&self.repo, &["worktree", "prune"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let out = git(dir, args).unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &["init", "--quiet"]);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "one").unwrap();
        run(dir.path(), &["add", "."]);
        run(
            dir.path(),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "--quiet",
                "-m",
                "one",
            ],
        );
        dir
    }

    #[test]
    fn checks_out_the_revision_and_removes_it_on_drop() {
        let dir = repo();
        std::fs::write(dir.path().join("sub/a.txt"), "changed, not committed").unwrap();
        let wt = BaseWorktree::create(&dir.path().join("sub"), "HEAD").unwrap();
        assert_eq!(wt.commit.len(), 40);
        let mapped = wt.map(&dir.path().join("sub")).unwrap();
        assert_eq!(
            std::fs::read_to_string(mapped.join("a.txt")).unwrap(),
            "one"
        );
        let path = wt.path.clone();
        drop(wt);
        assert!(!path.exists(), "{} was left behind", path.display());
        let list = git(dir.path(), &["worktree", "list", "--porcelain"]).unwrap();
        assert_eq!(text(&list.stdout).matches("worktree ").count(), 1);
    }

    #[test]
    fn a_missing_revision_is_a_usage_error_with_gits_message() {
        let dir = repo();
        let Err(e) = BaseWorktree::create(dir.path(), "no-such-branch") else {
            panic!("created a worktree of a missing revision")
        };
        assert_eq!(e.exit_code(), crate::exit_code::USAGE);
        let msg = e.to_string();
        assert!(msg.contains("\"no-such-branch\" is not a commit"), "{msg}");
        let outside = tempfile::tempdir().unwrap();
        let Err(e) = BaseWorktree::create(outside.path(), "HEAD") else {
            panic!("a folder outside git has no revisions")
        };
        assert!(e.to_string().contains("is not in a git repository"), "{e}");
    }
}
