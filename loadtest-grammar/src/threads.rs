//! How many worker threads a harness runs its load on: `LOADTEST_WORKER_THREADS`, checked the
//! same way by the harness and by `cargo loadtest` (before anything is built).

use std::ffi::OsString;
use std::fmt;

/// The environment variable that sets the number of worker threads.
pub const WORKER_THREADS_VAR: &str = "LOADTEST_WORKER_THREADS";

/// The most worker threads accepted.
const MAX_WORKER_THREADS: usize = 1024;

/// The number of worker threads: `LOADTEST_WORKER_THREADS` when set, else the CPUs this process
/// may run on. The error names the value and what is accepted.
pub fn worker_threads() -> Result<usize, WorkerThreadsError> {
    match std::env::var(WORKER_THREADS_VAR) {
        Ok(value) => parse_worker_threads(&value),
        Err(std::env::VarError::NotPresent) => {
            Ok(std::thread::available_parallelism().map_or(1, |n| n.get()))
        }
        Err(std::env::VarError::NotUnicode(value)) => Err(WorkerThreadsError { value }),
    }
}

fn parse_worker_threads(value: &str) -> Result<usize, WorkerThreadsError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_WORKER_THREADS).contains(&n) => Ok(n),
        _ => Err(WorkerThreadsError {
            value: value.into(),
        }),
    }
}

/// A value of `LOADTEST_WORKER_THREADS` that is not a whole number from 1 to 1024.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerThreadsError {
    /// The variable's value, as the environment holds it.
    pub value: OsString,
}

impl WorkerThreadsError {
    /// The fewest and the most worker threads accepted.
    pub const ACCEPTED: std::ops::RangeInclusive<usize> = 1..=MAX_WORKER_THREADS;
}

impl fmt::Display for WorkerThreadsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{WORKER_THREADS_VAR}=")?;
        // A Unicode value is quoted as a string; another as the platform shows it.
        match self.value.to_str() {
            Some(v) => write!(f, "{v:?}")?,
            None => write!(f, "{:?}", self.value)?,
        }
        write!(
            f,
            ": expected a whole number from 1 to {MAX_WORKER_THREADS}"
        )
    }
}

impl std::error::Error for WorkerThreadsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_accepts_whole_numbers_in_range_and_names_bad_values() {
        assert_eq!(parse_worker_threads("1"), Ok(1));
        assert_eq!(parse_worker_threads(" 8 "), Ok(8));
        assert_eq!(parse_worker_threads("1024"), Ok(1024));
        for bad in ["0", "1025", "-1", "two", "", "1.5", "it's"] {
            let err = parse_worker_threads(bad).unwrap_err();
            assert_eq!(err.value, bad);
            let err = err.to_string();
            assert!(
                err.contains(&format!("{bad:?}")) && err.contains("from 1 to 1024"),
                "{err}"
            );
        }
        assert_eq!(
            parse_worker_threads("it's").unwrap_err().to_string(),
            "LOADTEST_WORKER_THREADS=\"it's\": expected a whole number from 1 to 1024"
        );
        assert!(!WorkerThreadsError::ACCEPTED.contains(&0));
    }
}
