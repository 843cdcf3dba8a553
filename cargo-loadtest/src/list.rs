//! `cargo loadtest list`: the load tests of the workspace, as a table or JSON.

use crate::cli::{ListArgs, ListFormat, SelectArgs};
use crate::errors::CliError;
use crate::run::build_and_list;
use crate::signals::Interrupt;
use crate::workspace;
use serde::Serialize;

/// One listed load test in `--format json`.
#[derive(Debug, Serialize)]
pub struct ListEntry {
    /// The package.
    pub package: String,
    /// The test target.
    pub target: String,
    /// The load test's name.
    pub name: String,
    /// `closed` or `open`.
    pub model: String,
    /// A one-line description of the load (`20 users, 5s`).
    pub load: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Source file and line.
    pub location: String,
}

pub(crate) fn list(args: &ListArgs, interrupt: &Interrupt) -> Result<i32, CliError> {
    let ws = workspace::discover(&args.workspace)?;
    let selected = crate::run::select(
        &SelectArgs::default(),
        build_and_list(&args.workspace, &ws, true, interrupt)?,
    )?;
    let entries: Vec<ListEntry> = selected
        .iter()
        .map(|s| {
            let c = &s.test.config;
            let load = match (c.users, c.rate_per_s) {
                (Some(u), _) => format!("{u} users"),
                (_, Some(r)) => format!("{r}/s"),
                _ => String::new(),
            };
            let span = match (c.duration_s, c.iterations) {
                (Some(d), _) => format!(", {d}s"),
                (None, Some(i)) => format!(", {i} iterations"),
                _ => String::new(),
            };
            ListEntry {
                package: s.harness.target.package.clone(),
                target: s.harness.target.target.clone(),
                name: s.test.name.clone(),
                model: c.model.clone(),
                load: format!("{load}{span}"),
                tags: c.tags.clone(),
                location: format!("{}:{}", s.test.file, s.test.line),
            }
        })
        .collect();
    match args.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&entries).expect("entries serialize")
        ),
        ListFormat::Human => {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.package.clone(),
                        e.target.clone(),
                        e.name.clone(),
                        e.model.clone(),
                        e.load.clone(),
                        e.tags.join(","),
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::output::summary::render_table(
                    &["package", "target", "test", "model", "load", "tags"],
                    &rows
                )
            );
        }
    }
    Ok(crate::exit_code::OK)
}
