//! A session: one harness process, driven through its machine interface (`loadtest_report::protocol`):
//! listing its tests, and running them while events stream back.

use crate::compile::BuiltHarness;
use crate::signals::Interrupt;
use loadtest_report::protocol::{Event, Listing, PROTOCOL_VERSION, RunRequest};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How many lines of a harness's stderr are kept to explain a crash.
const STDERR_TAIL: usize = 40;

/// Lists a harness's load tests.
pub(crate) fn list(h: &BuiltHarness) -> Result<Listing, String> {
    let out = Command::new(&h.executable)
        .arg("--loadtest-list")
        .current_dir(&h.target.manifest_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", h.executable.display()))?;
    let what = &h.target;
    if !out.status.success() {
        return Err(format!(
            "the harness {what} failed to list its load tests ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let listing: Listing = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!("the harness {what} did not answer --loadtest-list with a listing ({e}); is it a loadtest_runtime::main!() binary?")
    })?;
    if listing.protocol != PROTOCOL_VERSION {
        return Err(format!(
            "the harness {what} speaks protocol {} but cargo-loadtest speaks {PROTOCOL_VERSION}; use matching versions of cargo-loadtest and loadtest-runtime",
            listing.protocol
        ));
    }
    Ok(listing)
}

/// What the stdout reader passes on.
enum Msg {
    Event(Box<Event>),
    Eof,
}

/// A running harness process (a session): it runs the tests it was asked for, one after another.
pub(crate) struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Msg>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_thread: Option<std::thread::JoinHandle<()>>,
}

impl Session {
    /// Starts the harness and sends it the run request. Its own output is echoed to our stderr
    /// unless `quiet`.
    pub(crate) fn spawn(
        h: &BuiltHarness,
        request: &RunRequest,
        extra_args: &[String],
        quiet: bool,
    ) -> std::io::Result<Self> {
        let mut child = Command::new(&h.executable)
            .arg("--loadtest-protocol")
            .arg("--")
            .args(extra_args)
            .current_dir(&h.target.manifest_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("stdin was piped");
        let line = serde_json::to_string(request).expect("run requests always serialize");
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        let (tx, rx) = channel();
        let stdout = child.stdout.take().expect("stdout was piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let sent = match Event::from_line(&line) {
                    Some(Ok(event)) => tx.send(Msg::Event(Box::new(event))),
                    Some(Err(e)) => {
                        eprintln!("warning: unreadable event from the harness: {e}");
                        Ok(())
                    }
                    None => {
                        if !quiet {
                            eprintln!("{line}");
                        }
                        Ok(())
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
            let _ = tx.send(Msg::Eof);
        });
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take().expect("stderr was piped");
        let t = tail.clone();
        let stderr_thread = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !quiet {
                    eprintln!("{line}");
                }
                let mut t = t.lock().unwrap_or_else(PoisonError::into_inner);
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        Ok(Session {
            child,
            stdin: Some(stdin),
            messages: rx,
            stderr_tail: tail,
            stderr_thread: Some(stderr_thread),
        })
    }

    /// The harness's next event, or `None` once its stdout closed (it exited, or will). Once
    /// `interrupt` is set the harness is asked to stop (once), and its events still come until
    /// it has reported what it ran: a run, a capacity step and a setup or teardown request all
    /// read their sessions with this.
    pub(crate) fn next_event(&mut self, interrupt: &Interrupt) -> Option<Event> {
        loop {
            if interrupt.is_set() {
                self.stop();
            }
            match self.recv(Duration::from_millis(100)) {
                None => continue,
                Some(Msg::Eof) => return None,
                Some(Msg::Event(e)) => return Some(*e),
            }
        }
    }

    /// The next message, or `None` after `timeout`.
    fn recv(&self, timeout: Duration) -> Option<Msg> {
        match self.messages.recv_timeout(timeout) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Msg::Eof),
        }
    }

    /// Asks the harness to stop the load and report what it has (once: later calls do nothing).
    pub(crate) fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "stop");
            let _ = stdin.flush();
            // Dropping stdin closes it, which the harness also reads as "stop".
        }
    }

    /// Waits for the process to exit; returns its status and the tail of its stderr.
    pub(crate) fn wait(mut self) -> (std::io::Result<ExitStatus>, String) {
        self.stdin.take();
        let status = self.child.wait();
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        let tail = self
            .stderr_tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (status, tail.iter().cloned().collect::<Vec<_>>().join("\n"))
    }
}
