//! How the readers ([`super::har`], [`super::openapi`]) report input they cannot use: the file,
//! where in it, what is wrong, what is accepted, and that nothing was written.

use crate::errors::CliError;
use std::fmt::Display;
use std::path::Path;

/// The error for bad input: the file, where in it, what is wrong, what is accepted, and that
/// nothing was written.
pub(crate) fn bad_input(
    file: &Path,
    position: Option<String>,
    problem: impl Display,
    accepted: &str,
) -> CliError {
    let at = position.map(|p| format!(" at {p}")).unwrap_or_default();
    CliError::Usage(format!(
        "{}{at}: {problem}. Accepted: {accepted}. Nothing was written.",
        file.display()
    ))
}

/// `line L, column C` and the path of the element (`log.entries[2].request`), from a
/// path-tracking deserializer's error.
pub(crate) fn position(line: usize, column: usize, path: &str) -> String {
    if path.is_empty() || path == "." {
        format!("line {line}, column {column}")
    } else {
        format!("line {line}, column {column} ({path})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_names_file_position_and_what_is_accepted() {
        let e = bad_input(
            Path::new("a.har"),
            Some(position(3, 7, "log.entries[0]")),
            "missing field `request`",
            "a HAR 1.2 file",
        )
        .to_string();
        assert_eq!(
            e,
            "a.har at line 3, column 7 (log.entries[0]): missing field `request`. Accepted: a HAR 1.2 file. Nothing was written."
        );
    }
}
