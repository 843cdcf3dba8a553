//! The generator's own process: CPU time, peak resident memory, and how long its threads waited
//! for a CPU (run queue wait, and the machine's steal time), read from `/proc` on Linux.

/// A reading of the process's CPU time, peak memory and CPU waits.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ProcessSample {
    /// User plus system CPU time, in seconds.
    pub(crate) cpu_seconds: f64,
    /// Peak resident set size, in bytes.
    pub(crate) peak_rss_bytes: u64,
    /// Time the process's threads spent on a CPU, in nanoseconds (schedstat).
    pub(crate) run_ns: u64,
    /// Time the process's threads spent runnable, waiting for a CPU, in nanoseconds (schedstat).
    pub(crate) wait_ns: u64,
    /// The machine's steal time and total CPU time, in clock ticks (`/proc/stat`).
    pub(crate) steal_ticks: u64,
    pub(crate) total_ticks: u64,
}

impl ProcessSample {
    /// Reads the current process; zeros where the platform does not tell.
    pub(crate) fn now() -> ProcessSample {
        let (run_ns, wait_ns) = schedstat().unwrap_or((0, 0));
        let (steal_ticks, total_ticks) = steal().unwrap_or((0, 0));
        ProcessSample {
            cpu_seconds: cpu_seconds().unwrap_or(0.0),
            peak_rss_bytes: peak_rss().unwrap_or(0),
            run_ns,
            wait_ns,
            steal_ticks,
            total_ticks,
        }
    }
}

/// CPU waits between two samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct CpuWait {
    /// Seconds the threads waited for a CPU while runnable.
    pub(crate) wait_seconds: f64,
    /// That wait as a share (0..=1) of the time they were runnable (waiting plus running).
    pub(crate) wait_share: f64,
    /// The machine's steal time as a share (0..=1) of its CPU time.
    pub(crate) steal_share: f64,
}

impl CpuWait {
    /// The waits from `before` to `after`. Threads that ended in between take their counts with
    /// them, so the figures are a lower bound.
    pub(crate) fn between(before: &ProcessSample, after: &ProcessSample) -> CpuWait {
        let wait = after.wait_ns.saturating_sub(before.wait_ns);
        let run = after.run_ns.saturating_sub(before.run_ns);
        let steal = after.steal_ticks.saturating_sub(before.steal_ticks);
        let total = after.total_ticks.saturating_sub(before.total_ticks);
        CpuWait {
            wait_seconds: wait as f64 / 1e9,
            wait_share: if wait + run > 0 {
                wait as f64 / (wait + run) as f64
            } else {
                0.0
            },
            steal_share: if total > 0 {
                steal as f64 / total as f64
            } else {
                0.0
            },
        }
    }
}

/// Run time and run queue wait of every thread of this process, in nanoseconds: the first two
/// fields of `/proc/self/task/TID/schedstat`.
fn schedstat() -> Option<(u64, u64)> {
    let mut run = 0u64;
    let mut wait = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue; // The thread ended while we looked.
        };
        let mut fields = text
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        run += fields.next().unwrap_or(0);
        wait += fields.next().unwrap_or(0);
    }
    Some((run, wait))
}

/// The machine's steal time and total CPU time in ticks, from the `cpu` line of `/proc/stat`.
fn steal() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // counted in user time, so the total stops at steal.
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Some((*ticks.get(7)?, ticks.iter().sum()))
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
        assert!(s.run_ns > 0 && s.total_ticks > 0, "{s:?}");
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::black_box(0);
        }
        let w = super::CpuWait::between(&s, &super::ProcessSample::now());
        assert!((0.0..=1.0).contains(&w.wait_share) && (0.0..=1.0).contains(&w.steal_share));
        assert!(super::current_rss().unwrap() > 0);
    }
}
