//! TLS: certificates are verified by default, an invalid one fails clearly with class `tls`, and
//! the check is skipped only when a test opts out by name (`danger_accept_invalid_certs`).
//! The TLS endpoint is `openssl s_server` on 127.0.0.1 with a self-signed certificate made by the
//! test. Each test runs on both transports.

mod common;

use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[load_test]
async fn https_get(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/"))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// `openssl s_server` with a fresh self-signed certificate; killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl TlsServer {
    fn start() -> TlsServer {
        let dir = std::env::temp_dir().join(format!("loadtest-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let ok = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the openssl command line tool is installed (.ci/run installs it)")
            .success();
        assert!(ok, "openssl made a certificate");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsServer { child, port, dir }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn layer(port: u16, extra: &[(&str, &str)]) -> OptionLayer {
    let mut l = OptionLayer::new("test");
    l.set_str("target", &format!("https://127.0.0.1:{port}"));
    l.set_str("iterations", "2");
    l.set_str("timeout", "10s");
    for (k, v) in extra {
        l.set_str(k, v);
    }
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_verified_unless_the_test_opts_out_by_name() {
    let _g = common::SERIAL.lock().await;
    let server = TlsServer::start();
    for client in common::CLIENTS {
        eprintln!("client = {client:?}");
        verified_unless_opted_out(&server, client).await;
    }
}

async fn verified_unless_opted_out(server: &TlsServer, client: &str) {
    let r = common::run_layers(
        "https_get",
        &[layer(server.port, &[("client", client)])],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        r.requests.by_class.get("tls"),
        Some(&2),
        "{:?} {:?}",
        r.requests.by_class,
        r.errors
    );
    assert!(!r.config.danger_accept_invalid_certs);
    assert!(
        r.errors
            .iter()
            .any(|e| e.class == "tls" && e.message.to_lowercase().contains("certificate")),
        "{:?}",
        r.errors
    );
    assert!(!r.passed);

    let r = common::run_layers(
        "https_get",
        &[layer(
            server.port,
            &[("client", client), ("danger_accept_invalid_certs", "true")],
        )],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        r.requests.by_class.get("ok"),
        Some(&2),
        "{:?} {:?}",
        r.requests.by_class,
        r.errors
    );
    assert!(
        r.config.danger_accept_invalid_certs,
        "reports record that verification was off"
    );
    assert!(r.passed);
}
