//! How many worker threads a harness runs its load on: `LOADTEST_WORKER_THREADS`, checked the
//! same way by the harness and by `cargo loadtest` (before anything is built).

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
