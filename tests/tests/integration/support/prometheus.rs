//! A real Prometheus server on loopback (Debian's package, which `.ci/run` installs) scraping
//! live metrics endpoints every second: its own configuration, storage and port, killed when
//! dropped, and its query API read as a dashboard would.

use super::scrape::{free_port, http_get};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Prometheus on loopback with its own configuration, storage and port; killed when dropped.
pub struct Prometheus {
    child: Child,
    /// Its HTTP API's port.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts `binary` scraping `127.0.0.1:PORT` for each of `targets` every second, with extra
    /// `flags` (`--enable-feature=exemplar-storage`), and waits until it is ready.
    pub fn start(binary: &Path, targets: &[u16], flags: &[&str]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let targets: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: loadtest\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let p = Prometheus { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(port, "/-/ready").map(|r| r.0) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready within 60 s: {}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// Waits until Prometheus has tried to scrape every target once (it hands new targets to
    /// its scrape loops only every few seconds): from then on it scrapes each every second.
    pub fn wait_for_scrape_loop(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, body)) = http_get(self.port, "/api/v1/targets") {
                let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                let tried = v["data"]["activeTargets"].as_array().is_some_and(|ts| {
                    !ts.is_empty()
                        && ts.iter().all(|t| {
                            t["lastScrape"]
                                .as_str()
                                .is_some_and(|s| !s.starts_with("0001-"))
                        })
                });
                if tried {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not start scraping within 60 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The value of an instant query that returns one series, if it does.
    pub fn query(&self, q: &str) -> Option<f64> {
        let (status, body) = http_get(self.port, &format!("/api/v1/query?query={}", encode(q)))?;
        assert_eq!(status, 200, "{q}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("the API answers JSON");
        let result = v["data"]["result"].as_array()?;
        let [one] = result.as_slice() else {
            return None;
        };
        one["value"][1].as_str()?.parse().ok()
    }

    /// [`Prometheus::query`] again every 250 ms until it answers `expected` or 10 s have
    /// passed (a last scrape may still be on its way into the storage); the last answer.
    pub fn query_until(&self, q: &str, expected: f64) -> Option<f64> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut value = self.query(q);
        while value != Some(expected) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            value = self.query(q);
        }
        value
    }
}

/// Percent-encodes a query parameter.
pub fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
