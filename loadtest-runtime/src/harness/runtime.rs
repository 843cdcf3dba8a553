//! The tokio runtime a harness runs its load tests on, and how many threads it gets.
//!
//! Every worker thread runs tokio's current-thread scheduler with its own share of the load: on
//! one core it is the cheaper scheduler (bench/RESULTS.md: 30,100 instead of 19,100 requests per
//! second, 33 instead of 52 µs of CPU per request), and with one runtime per core no task, timer
//! or connection is shared between cores.

/// The environment variable that sets the number of worker threads.
pub const WORKER_THREADS_VAR: &str = "LOADTEST_WORKER_THREADS";

/// The most worker threads accepted.
const MAX_WORKER_THREADS: usize = 1024;

/// The number of worker threads: `LOADTEST_WORKER_THREADS` when set, else the CPUs this process
/// may run on. The error names the value and what is accepted.
pub fn worker_threads() -> Result<usize, String> {
    match std::env::var(WORKER_THREADS_VAR) {
        Ok(value) => parse_worker_threads(&value),
        Err(std::env::VarError::NotPresent) => {
            Ok(std::thread::available_parallelism().map_or(1, |n| n.get()))
        }
        Err(std::env::VarError::NotUnicode(v)) => Err(format!(
            "{WORKER_THREADS_VAR}={v:?}: expected a whole number from 1 to {MAX_WORKER_THREADS}"
        )),
    }
}

fn parse_worker_threads(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_WORKER_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{WORKER_THREADS_VAR}={value:?}: expected a whole number from 1 to {MAX_WORKER_THREADS}"
        )),
    }
}

/// Builds the harness's runtime: a current-thread runtime for this thread, and one more on a
/// thread of its own for each further worker thread (see `executor::workers`).
pub(crate) fn build() -> Result<tokio::runtime::Runtime, String> {
    let threads = worker_threads()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    crate::executor::workers::start(rt.handle().clone(), threads - 1)?;
    Ok(rt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_accepts_whole_numbers_in_range_and_names_bad_values() {
        assert_eq!(parse_worker_threads("1"), Ok(1));
        assert_eq!(parse_worker_threads(" 8 "), Ok(8));
        assert_eq!(parse_worker_threads("1024"), Ok(1024));
        for bad in ["0", "1025", "-1", "two", "", "1.5"] {
            let err = parse_worker_threads(bad).unwrap_err();
            assert!(
                err.contains(&format!("{bad:?}")) && err.contains("from 1 to 1024"),
                "{err}"
            );
        }
    }
}
