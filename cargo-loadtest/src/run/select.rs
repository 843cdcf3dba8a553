//! Building the harnesses, listing their tests and applying the filters.

use crate::cli::{SelectArgs, WorkspaceArgs};
use crate::compile::{self, BuiltHarness};
use crate::errors::CliError;
use crate::session;
use crate::signals::Interrupt;
use crate::workspace::Workspace;
use loadtest_report::protocol::ListedTest;
use loadtest_report::report::TestId;

/// A selected test and the harness that holds it.
pub(crate) struct Selected {
    pub(crate) harness: BuiltHarness,
    pub(crate) test: ListedTest,
}

impl Selected {
    /// The test's identity: what filters, events, the live metrics and every pairing match.
    pub(crate) fn id(&self) -> TestId<'_> {
        TestId {
            package: &self.harness.target.package,
            target: &self.harness.target.target,
            name: &self.test.name,
        }
    }
}

/// Builds the harnesses and lists every load test they hold.
pub(crate) fn build_and_list(
    wargs: &WorkspaceArgs,
    ws: &Workspace,
    quiet: bool,
    interrupt: &Interrupt,
) -> Result<Vec<Selected>, CliError> {
    if ws.targets.is_empty() {
        return Err(CliError::NoTests(format!(
            "no load tests found in the workspace at {}: add a [[test]] target with harness = false to a package that depends on loadtest-runtime",
            ws.root.display()
        )));
    }
    let built = compile::build(wargs, &ws.targets, quiet, interrupt)?;
    let mut all = Vec::new();
    for h in built {
        let listing = session::list(&h).map_err(CliError::Usage)?;
        for test in listing.tests {
            all.push(Selected {
                harness: h.clone(),
                test,
            });
        }
    }
    Ok(all)
}

/// Applies the filters (names, `--skip`, `--tag`) to the tests listed in the workspace.
pub(crate) fn select(args: &SelectArgs, all: Vec<Selected>) -> Result<Vec<Selected>, CliError> {
    filter(
        args,
        all,
        "in the workspace; `cargo loadtest list` shows them",
    )
}

/// The tests of `all` that the filters select; none is exit 4 (`where_` says where they were).
pub(crate) fn filter(
    args: &SelectArgs,
    all: Vec<Selected>,
    where_: &str,
) -> Result<Vec<Selected>, CliError> {
    let total = all.len();
    let selected: Vec<Selected> = all.into_iter().filter(|s| selects(args, s)).collect();
    if selected.is_empty() {
        return Err(CliError::NoTests(format!(
            "no load test matched the filters ({total} load tests {where_})"
        )));
    }
    Ok(selected)
}

fn selects(args: &SelectArgs, s: &Selected) -> bool {
    let id = s.id();
    let matches = |pat: &String| id.matches(pat, args.exact);
    (args.filters.is_empty() || args.filters.iter().any(matches))
        && !args.skip.iter().any(matches)
        && (args.tag.is_empty() || args.tag.iter().any(|t| s.test.config.tags.contains(t)))
}
