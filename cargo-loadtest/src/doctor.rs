//! `cargo loadtest doctor`: what on this machine limits a big run, and what to change.
//!
//! It reads the open-file limit, the ephemeral port range, `somaxconn`, `tcp_tw_reuse` and the
//! available memory (Linux `/proc`), judges them against the connections a run wants to hold
//! (`--connections`, default 100,000), and prints one line per limit: its value, `ok` or
//! `change`, and for a change the command that fixes it. It changes nothing itself and exits 0.

use crate::cli::DoctorArgs;
use crate::errors::CliError;
use std::path::Path;

/// Memory one open connection costs, client and loopback server side together: the system's
/// memory in use grew by 19,150 bytes per connection with 15,904 held open (`bench/connections.sh`,
/// 2026-12-02, see bench/RESULTS.md), rounded up; the estimate the memory check uses.
pub const BYTES_PER_CONNECTION: u64 = 20 * 1024;

/// What was read from the system (`None` where it could not be read).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// The soft and hard limits on open files of this process (`ulimit -n`, `ulimit -Hn`).
    pub open_files: Option<(u64, u64)>,
    /// `net.ipv4.ip_local_port_range`.
    pub port_range: Option<(u32, u32)>,
    /// `net.core.somaxconn`.
    pub somaxconn: Option<u64>,
    /// `net.ipv4.tcp_tw_reuse` (0 off, 1 on, 2 loopback only).
    pub tcp_tw_reuse: Option<u8>,
    /// `MemAvailable`, in bytes.
    pub mem_available: Option<u64>,
}

impl Limits {
    /// Reads the limits under `root` (`/` on a real system; a folder with the same layout in tests).
    pub fn read(root: &Path) -> Limits {
        let text = |p: &str| std::fs::read_to_string(root.join(p)).ok();
        let num = |p: &str| text(p).and_then(|t| t.trim().parse::<u64>().ok());
        Limits {
            open_files: text("proc/self/limits").and_then(|t| {
                let line = t.lines().find(|l| l.starts_with("Max open files"))?;
                let mut w = line.split_whitespace().skip(3);
                let soft = w.next()?.parse().ok()?;
                let hard = w.next().and_then(|h| h.parse().ok()).unwrap_or(u64::MAX);
                Some((soft, hard))
            }),
            port_range: text("proc/sys/net/ipv4/ip_local_port_range").and_then(|t| {
                let mut w = t.split_whitespace().map(|x| x.parse::<u32>().ok());
                Some((w.next()??, w.next()??))
            }),
            somaxconn: num("proc/sys/net/core/somaxconn"),
            tcp_tw_reuse: num("proc/sys/net/ipv4/tcp_tw_reuse").map(|v| v.min(255) as u8),
            mem_available: text("proc/meminfo").and_then(|t| {
                let line = t.lines().find(|l| l.starts_with("MemAvailable:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            }),
        }
    }
}

/// One judged limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// What is checked.
    pub name: &'static str,
    /// Its value, as read.
    pub value: String,
    /// Whether it holds the run back.
    pub ok: bool,
    /// What it means, and for a change, how to make it.
    pub advice: String,
}

/// Judges `limits` for a run that holds `connections` connections to one target address and port.
pub fn advise(limits: &Limits, connections: u64) -> Vec<Check> {
    let mut out = Vec::new();
    let unknown = |name| Check {
        name,
        value: "unknown".into(),
        ok: true,
        advice: "could not be read on this system".into(),
    };
    let need_files = connections + 1024;
    out.push(match limits.open_files {
        Some((soft, hard)) if soft >= need_files => Check {
            name: "open files",
            value: format!("{soft} (hard {})", fmt_limit(hard)),
            ok: true,
            advice: format!("enough for {connections} connections (one file each, plus 1024)"),
        },
        Some((soft, hard)) => Check {
            name: "open files",
            value: format!("{soft} (hard {})", fmt_limit(hard)),
            ok: false,
            advice: if hard >= need_files {
                format!(
                    "each connection is a file: run `ulimit -n {need_files}` in the shell that starts cargo loadtest"
                )
            } else {
                format!(
                    "each connection is a file, and the hard limit is lower than {need_files}: raise it (as root: `prlimit --pid $$ --nofile={need_files}:{need_files}`, or `nofile` in /etc/security/limits.conf, or LimitNOFILE= for a systemd unit), then `ulimit -n {need_files}`"
                )
            },
        },
        None => unknown("open files"),
    });
    out.push(match limits.port_range {
        Some((lo, hi)) if hi >= lo => {
            let ports = u64::from(hi - lo + 1);
            let sources = connections.div_ceil(ports.max(1));
            if sources <= 1 {
                Check {
                    name: "ephemeral ports",
                    value: format!("{lo}-{hi} ({ports} ports)"),
                    ok: true,
                    advice: format!(
                        "one source address reaches one target address and port with {ports} connections at most: enough"
                    ),
                }
            } else {
                Check {
                    name: "ephemeral ports",
                    value: format!("{lo}-{hi} ({ports} ports)"),
                    ok: false,
                    advice: format!(
                        "one source address reaches one target address and port with {ports} connections at most: spread the run over {sources} source addresses with `local_addresses` (on loopback any 127.x.y.z works, e.g. local_addresses = [\"127.0.0.2/30\"] gives 2), and/or widen the range: `sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"` (as root)"
                    ),
                }
            }
        }
        _ => unknown("ephemeral ports"),
    });
    out.push(match limits.somaxconn {
        Some(n) if n >= 4096 => Check {
            name: "somaxconn",
            value: n.to_string(),
            ok: true,
            advice: "a server on this machine can queue enough connections being accepted".into(),
        },
        Some(n) => Check {
            name: "somaxconn",
            value: n.to_string(),
            ok: false,
            advice: "a server on this machine (a loopback target) drops connections opened faster than it accepts them: `sysctl -w net.core.somaxconn=65535` (as root), and a listen backlog as large in the server".into(),
        },
        None => unknown("somaxconn"),
    });
    out.push(match limits.tcp_tw_reuse {
        Some(1) => Check {
            name: "tcp_tw_reuse",
            value: "1".into(),
            ok: true,
            advice: "ports of closed connections (TIME_WAIT) are reused for new ones".into(),
        },
        Some(v) => Check {
            name: "tcp_tw_reuse",
            value: v.to_string(),
            ok: v == 2,
            advice: format!(
                "{}a port of a connection the generator closed stays taken for 60 s (TIME_WAIT), so a run that opens connections quickly runs out of ports: `sysctl -w net.ipv4.tcp_tw_reuse=1` (as root)",
                if v == 2 { "reused for loopback only; towards another host " } else { "" }
            ),
        },
        None => unknown("tcp_tw_reuse"),
    });
    out.push(match limits.mem_available {
        Some(bytes) => {
            let need = connections * BYTES_PER_CONNECTION;
            Check {
                name: "memory",
                value: format!("{} MiB available", bytes / (1 << 20)),
                ok: bytes >= need,
                advice: format!(
                    "about {} KiB per open connection (generator and loopback server): {connections} connections need about {} MiB{}",
                    BYTES_PER_CONNECTION / 1024,
                    need / (1 << 20),
                    if bytes >= need { "" } else { ": fewer connections, or a machine with more memory" }
                ),
            }
        }
        None => unknown("memory"),
    });
    out
}

fn fmt_limit(n: u64) -> String {
    if n == u64::MAX {
        "unlimited".into()
    } else {
        n.to_string()
    }
}

/// Runs `cargo loadtest doctor`.
pub fn doctor(args: &DoctorArgs) -> Result<i32, CliError> {
    if args.connections == 0 {
        return Err(CliError::Usage(
            "--connections 0: expected a whole number of connections, at least 1".into(),
        ));
    }
    let checks = advise(&Limits::read(Path::new("/")), args.connections);
    println!(
        "What limits a run holding {} connections on this machine:",
        args.connections
    );
    for c in &checks {
        println!(
            "  {:<16} {:<28} {:<6} {}",
            c.name,
            c.value,
            if c.ok { "ok" } else { "change" },
            c.advice
        );
    }
    let changes = checks.iter().filter(|c| !c.ok).count();
    if changes == 0 {
        println!("Nothing to change.");
    } else {
        println!("{changes} to change; each line says how.");
    }
    Ok(crate::exit_code::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder laid out like `/`, removed on drop.
    struct Root(std::path::PathBuf);

    impl Root {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn system(files: &[(&str, &str)]) -> Root {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "loadtest-doctor-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        for (p, text) in files {
            let path = dir.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        Root(dir)
    }

    #[test]
    fn reads_the_limits_and_says_what_to_change() {
        let root = system(&[
            (
                "proc/self/limits",
                "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n",
            ),
            ("proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n"),
            ("proc/sys/net/core/somaxconn", "4096\n"),
            ("proc/sys/net/ipv4/tcp_tw_reuse", "2\n"),
            (
                "proc/meminfo",
                "MemTotal: 100 kB\nMemAvailable:   24000000 kB\n",
            ),
        ]);
        let limits = Limits::read(root.path());
        assert_eq!(limits.open_files, Some((1024, 524288)));
        assert_eq!(limits.port_range, Some((32768, 60999)));
        assert_eq!(limits.mem_available, Some(24_000_000 * 1024));
        let checks = advise(&limits, 70_000);
        let get = |n: &str| checks.iter().find(|c| c.name == n).unwrap();
        assert!(!get("open files").ok);
        assert!(get("open files").advice.contains("ulimit -n 71024"));
        assert!(!get("ephemeral ports").ok);
        assert!(get("ephemeral ports").advice.contains("3 source addresses"));
        assert!(get("ephemeral ports").advice.contains("local_addresses"));
        assert!(get("somaxconn").ok && get("tcp_tw_reuse").ok && get("memory").ok);
        let raised = Limits {
            open_files: Some((100_000, 524288)),
            ..limits.clone()
        };
        let checks = advise(&raised, 1000);
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    }

    #[test]
    fn a_low_hard_limit_and_unreadable_values_are_named() {
        let root = system(&[(
            "proc/self/limits",
            "Max open files            1024                 4096                 files\n",
        )]);
        let checks = advise(&Limits::read(root.path()), 70_000);
        assert!(checks[0].advice.contains("hard limit"), "{:?}", checks[0]);
        assert_eq!(checks[1].value, "unknown");
    }
}
