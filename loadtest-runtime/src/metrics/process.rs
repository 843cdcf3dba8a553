//! The generator's own process: CPU time and peak resident memory, read from `/proc` on Linux.

/// A reading of the process's CPU time and peak memory.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ProcessSample {
    /// User plus system CPU time, in seconds.
    pub(crate) cpu_seconds: f64,
    /// Peak resident set size, in bytes.
    pub(crate) peak_rss_bytes: u64,
}

impl ProcessSample {
    /// Reads the current process; zeros where the platform does not tell.
    pub(crate) fn now() -> ProcessSample {
        ProcessSample {
            cpu_seconds: cpu_seconds().unwrap_or(0.0),
            peak_rss_bytes: peak_rss().unwrap_or(0),
        }
    }
}

fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux architecture Rust supports.
    Some(ticks / 100.0)
}

fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Current resident set size, in bytes (for memory benchmarks).
pub fn current_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn reads_proc() {
        let s = super::ProcessSample::now();
        assert!(s.peak_rss_bytes > 0);
        assert!(super::current_rss().unwrap() > 0);
    }
}
