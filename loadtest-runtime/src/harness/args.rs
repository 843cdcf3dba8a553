//! The harness's command line: libtest's flags (so `cargo test` and nextest drive it as any test
//! binary) plus the machine-interface switches.

/// What the harness was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `--list`: libtest's listing.
    List,
    /// `--loadtest-list`: the JSON listing of the machine interface.
    ListJson,
    /// `--loadtest-protocol`: run as `cargo loadtest` asks on stdin.
    Protocol,
    /// No mode flag: smoke-run the selected tests (as `cargo test` does).
    Smoke,
    /// `--bench`: `cargo bench` runs harness-less targets with it; load tests are not benchmarks.
    Bench,
}

#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) mode: Mode,
    pub(crate) filters: Vec<String>,
    pub(crate) skip: Vec<String>,
    pub(crate) exact: bool,
    pub(crate) ignored: bool,
    pub(crate) terse: bool,
    pub(crate) quiet: bool,
    /// Arguments after `--`, for the tests themselves (`cargo loadtest -- ARGS`).
    pub(crate) extra: Vec<String>,
}

const ACCEPTED: &str = "--list, --format terse|pretty, --exact, --skip FILTER, --ignored, --include-ignored, --nocapture, --show-output, --test-threads N, --quiet, --color WHEN, -Z FLAG, --bench, --loadtest-list, --loadtest-protocol";

impl Args {
    pub(crate) fn parse(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            mode: Mode::Smoke,
            filters: Vec::new(),
            skip: Vec::new(),
            exact: false,
            ignored: false,
            terse: false,
            quiet: false,
            extra: Vec::new(),
        };
        let mut it = argv.into_iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                a.extra.extend(it.by_ref());
                break;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "--list" => a.mode = Mode::List,
                "--loadtest-list" => a.mode = Mode::ListJson,
                "--loadtest-protocol" => a.mode = Mode::Protocol,
                "--bench" => a.mode = Mode::Bench,
                "--exact" => a.exact = true,
                "--ignored" => a.ignored = true,
                "--include-ignored" => a.ignored = false,
                "--quiet" | "-q" => a.quiet = true,
                "--nocapture" | "--show-output" | "--test" | "--report-time" | "--no-capture" => {}
                "--skip" => a.skip.push(value("--skip")?),
                "--format" => match value("--format")?.as_str() {
                    "terse" => a.terse = true,
                    "pretty" => a.terse = false,
                    "json" => {
                        return Err(
                            "--format json is not supported; accepted: terse, pretty".into()
                        );
                    }
                    other => {
                        return Err(format!(
                            "invalid --format {other:?}; accepted: terse, pretty"
                        ));
                    }
                },
                "--test-threads" | "--color" | "-Z" | "--logfile" | "--shuffle-seed" => {
                    value(&flag)?;
                }
                "--shuffle" | "--ensure-time" | "--force-run-in-process" => {}
                f if f.starts_with('-') => {
                    return Err(format!("unknown flag {f:?}; accepted flags: {ACCEPTED}"));
                }
                _ => a.filters.push(arg),
            }
        }
        Ok(a)
    }

    /// Whether a test name passes the filters and skips (libtest's rules).
    pub(crate) fn selects(&self, name: &str) -> bool {
        let matches = |pat: &String| {
            if self.exact {
                name == pat
            } else {
                name.contains(pat.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skip.iter().any(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[&str]) -> Result<Args, String> {
        Args::parse(s.iter().map(|s| s.to_string()))
    }

    #[test]
    fn libtest_listing_flags() {
        let a = parse(&["--list", "--format", "terse"]).unwrap();
        assert_eq!(a.mode, Mode::List);
        assert!(a.terse);
        let a = parse(&["--exact", "browse", "--nocapture"]).unwrap();
        assert!(a.selects("browse") && !a.selects("browse2"));
    }

    #[test]
    fn filters_and_skips() {
        let a = parse(&["br", "--skip", "slow"]).unwrap();
        assert!(a.selects("browse") && !a.selects("browse_slow") && !a.selects("checkout"));
    }

    #[test]
    fn arguments_after_a_double_dash_are_kept_for_the_tests() {
        let a = parse(&["--loadtest-protocol", "--", "--custom", "x"]).unwrap();
        assert_eq!(a.mode, Mode::Protocol);
        assert_eq!(a.extra, ["--custom", "x"]);
    }

    #[test]
    fn unknown_flags_are_named() {
        let e = parse(&["--frobnicate"]).unwrap_err();
        assert!(e.contains("\"--frobnicate\"") && e.contains("--list"));
    }
}
