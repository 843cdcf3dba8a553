//! Test hosts on separate network stacks: Linux network namespaces this test creates, joined by
//! a bridge in a namespace of its own, so that nothing is added to the machine's own network.
//! Each host has one interface (`eth0`) with an address in 10.213.0.0/24, which exists only
//! inside these namespaces; traffic goes only between them. Dropping [`Hosts`] deletes every
//! namespace (and with them the interfaces).

use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::Command;

/// The `ip` tool (iproute2).
fn ip() -> &'static str {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("ip")
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip())
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ip()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Hosts on their own network stacks, joined by one bridge.
pub struct Hosts {
    /// The switch's namespace, then each host's.
    namespaces: Vec<String>,
}

impl Hosts {
    /// Creates `count` hosts, host `i` at 10.213.0.`i + 1`; or says why it cannot (no
    /// privilege to create namespaces, no iproute2).
    pub fn create(count: usize) -> Result<Hosts, String> {
        let prefix = format!("lt{}", std::process::id());
        let switch = format!("{prefix}-sw");
        run(&["netns", "add", &switch])?;
        let mut hosts = Hosts {
            namespaces: vec![switch.clone()],
        };
        run(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        run(&["-n", &switch, "link", "set", "br0", "up"])?;
        for i in 0..count {
            let ns = format!("{prefix}-h{i}");
            run(&["netns", "add", &ns])?;
            hosts.namespaces.push(ns.clone());
            let port = format!("p{i}");
            run(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ])?;
            run(&["-n", &switch, "link", "set", &port, "master", "br0"])?;
            run(&["-n", &switch, "link", "set", &port, "up"])?;
            let address = format!("{}/24", Hosts::address(i));
            run(&["-n", &ns, "addr", "add", &address, "dev", "eth0"])?;
            run(&["-n", &ns, "link", "set", "eth0", "up"])?;
            run(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    /// Host `i`'s address.
    pub fn address(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, 0, i as u8 + 1)
    }

    fn namespace(&self, i: usize) -> &str {
        &self.namespaces[i + 1]
    }

    /// `program` to be run on host `i` (through `ip netns exec`).
    pub fn command(&self, i: usize, program: &std::path::Path) -> Command {
        let mut cmd = Command::new(ip());
        cmd.args(["netns", "exec", self.namespace(i)]).arg(program);
        cmd
    }

    /// A listener on host `i`'s address and a free port: bound by a thread that entered the
    /// host's namespace (a socket stays in the namespace it was made in).
    pub fn listen(&self, i: usize) -> TcpListener {
        let path = format!("/run/netns/{}", self.namespace(i));
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns on a namespace file this process opened; it changes only the
            // calling thread's network namespace, and this thread ends right after.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            TcpListener::bind((Hosts::address(i), 0)).expect("bind on the host's address")
        })
        .join()
        .expect("the binding thread")
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = run(&["netns", "del", ns]);
        }
    }
}
