//! WebSocket (`ws` feature): each way a handshake or an exchange can fail is a class of its
//! request, against servers this test starts on 127.0.0.1: a tokio-tungstenite server that
//! echoes, closes with the code a message asks for, stays silent or drops the connection; and a
//! raw TCP server that answers the handshake with 403, with 200 (no upgrade), or upgrades and
//! then sends a frame with a reserved bit set. And `wss://`: an echo server over TLS with a
//! self-signed certificate made by `openssl`, reached with `danger_accept_invalid_certs` and
//! refused (class `tls`) without it. Run with
//! `cargo test -p loadtest-runtime --features ws --test ws`.

mod common;

use common::{brief, run_layers};
use futures_util::{SinkExt, StreamExt};
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;
use loadtest_runtime::ws::{CloseCode, CloseFrame, Message};
use std::sync::OnceLock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The tokio-tungstenite server: `close N` is answered by a close with code N and reason
/// `overloaded`, `silent` by nothing, `drop` by dropping the connection, anything else by itself.
async fn start_ws_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    let Message::Text(t) = &m else { continue };
                    if let Some(code) = t.as_str().strip_prefix("close ") {
                        let code: u16 = code.parse().unwrap();
                        let frame = CloseFrame {
                            code: CloseCode::from(code),
                            reason: "overloaded".into(),
                        };
                        let _ = ws.close(Some(frame)).await;
                        // Reads the client's close answer, then ends.
                        while let Some(Ok(_)) = ws.next().await {}
                        return;
                    }
                    match t.as_str() {
                        "silent" => {}
                        "drop" => return,
                        _ => {
                            if ws.send(m).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr.to_string()
}

/// The raw server: by the request's path, `403 Forbidden`, `200 OK` (no upgrade), or a valid
/// upgrade followed by a frame whose RSV1 bit is set (no extension was negotiated).
async fn start_raw_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                let answer = match path.as_str() {
                    "/forbidden" => "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n".into(),
                    "/plain" => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".into(),
                    _ => {
                        let key = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("sec-websocket-key")
                                    .then(|| v.trim().to_string())
                            })
                            .unwrap_or_default();
                        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(
                            key.as_bytes(),
                        );
                        format!(
                            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
                             connection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
                        )
                    }
                };
                if tcp.write_all(answer.as_bytes()).await.is_err() || path != "/badframe" {
                    return;
                }
                // The client's message, then a text frame with FIN and RSV1 set, empty.
                let _ = tcp.read(&mut buf).await;
                let _ = tcp.write_all(&[0xC1, 0x00]).await;
                let _ = tcp.read(&mut buf).await;
            });
        }
    });
    addr.to_string()
}

static WS_ADDR: OnceLock<String> = OnceLock::new();
static RAW_ADDR: OnceLock<String> = OnceLock::new();
static REFUSED_ADDR: OnceLock<String> = OnceLock::new();

/// What an exchange's error must be, or the iteration fails with what it was.
fn expect(
    what: &str,
    got: Result<Message, loadtest_runtime::ws::WsError>,
    class: &str,
) -> Result<()> {
    match got {
        Err(e) if e.class() == class => Ok(()),
        other => Err(format!("{what}: expected class {class}, got {other:?}").into()),
    }
}

/// One iteration walks every case once; each failure is checked where it happens (the
/// iteration fails otherwise) and counted in the report, checked by the test below.
#[load_test(users = 1, iterations = 1, timeout = "300ms")]
async fn ws_classes(ctx: &Ctx) -> Result<()> {
    let ws_url = format!("ws://{}/", WS_ADDR.get().unwrap());
    let raw = RAW_ADDR.get().unwrap();
    let any = |_: &Message| true;

    let mut ws = ctx.ws(ws_url.as_str()).name("echo").await?;
    let reply = ws
        .request("x.ok", "hi", |m| m.to_text().is_ok_and(|t| t == "hi"))
        .await?;
    assert_eq!(reply.to_text()?, "hi");
    let e = ws.request("x.close_error", "close 1011", any).await;
    if let Err(e) = &e {
        assert_eq!(e.close_code(), Some(1011));
    }
    expect("close 1011", e, "ws_close_error")?;

    for (code, class) in [
        (1000, "ws_close_normal"),
        (1001, "ws_close_normal"),
        (4000, "ws_close_error"),
    ] {
        let mut ws = ctx.ws(ws_url.as_str()).name("echo").await?;
        let e = ws
            .request(&format!("x.close_{code}"), format!("close {code}"), any)
            .await;
        expect(&format!("close {code}"), e, class)?;
    }

    let mut ws = ctx.ws(ws_url.as_str()).name("echo").await?;
    expect(
        "silent",
        ws.request("x.silent", "silent", any).await,
        "timeout",
    )?;
    let mut ws = ctx.ws(ws_url.as_str()).name("echo").await?;
    expect("drop", ws.request("x.drop", "drop", any).await, "closed")?;

    let mut ws = ctx.ws(format!("ws://{raw}/badframe")).name("bad").await?;
    expect(
        "reserved bit",
        ws.request("x.badframe", "hi", any).await,
        "ws_protocol",
    )?;

    for (path, name, class, status) in [
        ("/forbidden", "forbidden", "http_4xx", Some(403)),
        ("/plain", "plain", "ws_protocol", Some(200)),
    ] {
        match ctx.ws(format!("ws://{raw}{path}")).name(name).await {
            Err(e) if e.class() == class && e.status() == status => {}
            other => return Err(format!("{path}: {:?}", other.err()).into()),
        }
    }
    let refused = REFUSED_ADDR.get().unwrap();
    match ctx.ws(format!("ws://{refused}/")).name("refused").await {
        Err(e) if e.class() == "connect" => {}
        other => return Err(format!("refused: {:?}", other.err()).into()),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_codes_protocol_errors_and_failed_handshakes_are_classes() {
    WS_ADDR.set(start_ws_server().await).unwrap();
    RAW_ADDR.set(start_raw_server().await).unwrap();
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    REFUSED_ADDR
        .set(closed.local_addr().unwrap().to_string())
        .unwrap();
    drop(closed);
    let r = run_layers(
        "ws_classes",
        &[OptionLayer::new("test")],
        std::time::Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    assert_eq!((r.iterations.total, r.iterations.ok), (1, 1), "{b}");

    let class_of = |name: &str| -> Vec<(String, u64)> {
        let n = r
            .request_names
            .get(name)
            .unwrap_or_else(|| panic!("no request {name}: {b}"));
        assert_eq!(n.count, 1, "{name}: {b}");
        n.by_class
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    };
    let one = |class: &str| vec![(class.to_string(), 1)];
    assert_eq!(class_of("x.ok"), one("ok"));
    assert_eq!(class_of("x.close_error"), one("ws_close_error"));
    assert_eq!(class_of("x.close_1000"), one("ws_close_normal"));
    assert_eq!(class_of("x.close_1001"), one("ws_close_normal"));
    assert_eq!(class_of("x.close_4000"), one("ws_close_error"));
    assert_eq!(class_of("x.silent"), one("timeout"));
    assert_eq!(class_of("x.drop"), one("closed"));
    assert_eq!(class_of("x.badframe"), one("ws_protocol"));
    assert_eq!(class_of("bad.connect"), one("ok"));
    assert_eq!(class_of("forbidden.connect"), one("http_4xx"));
    assert_eq!(class_of("plain.connect"), one("ws_protocol"));
    assert_eq!(class_of("refused.connect"), one("connect"));
    // Six handshakes to the echo server, all upgraded.
    let echo = &r.request_names["echo.connect"];
    assert_eq!((echo.count, echo.by_class.get("ok")), (6, Some(&6)), "{b}");
    // A handshake answered with an HTTP status keeps it.
    let status = |name: &str| r.request_names[name].by_status.clone();
    assert_eq!(status("forbidden.connect").get("403"), Some(&1), "{b}");
    assert_eq!(status("plain.connect").get("200"), Some(&1), "{b}");
    // The error samples name the close code and reason.
    let sample = |class: &str, contains: &str| {
        r.errors
            .iter()
            .any(|e| e.class == class && e.message.contains(contains))
    };
    assert!(
        sample(
            "ws_close_error",
            "x.close_error: WsError: closed by the server with code 1011 (overloaded)"
        ),
        "{b}"
    );
    assert!(
        sample("ws_close_normal", "closed by the server with code 1000"),
        "{b}"
    );
    // The connections' counters: every data message, each way. Sent: "hi" and "close 1011" on
    // the first, one message on each of the six others ("hi" to the bad server included);
    // received: the one echo.
    let counter = |name: &str| r.custom_counters.get(name).copied().unwrap_or(0);
    assert_eq!(counter("echo.messages_sent"), 2 + 3 + 2, "{b}");
    assert_eq!(counter("echo.messages_received"), 1, "{b}");
    assert_eq!(counter("echo.bytes_received"), 2, "{b}");
    assert_eq!(
        counter("echo.bytes_sent"),
        ("hi".len() + "close 1011".len() + 3 * "close 1000".len() + "silent".len() + "drop".len())
            as u64,
        "{b}"
    );
    assert_eq!(counter("bad.messages_sent"), 1, "{b}");
}

/// A WebSocket echo server over TLS (rustls, no ALPN) with a self-signed certificate made by
/// `openssl`; returns its `wss://` URL and the folder holding the certificate.
async fn start_wss_server() -> (String, CertDir) {
    use std::sync::Arc;
    let dir = CertDir::new();
    let (cert, key) = dir.self_signed();
    // The runtime's provider (see `http/direct/tls.rs` on its deprecation in rustls 0.23.48).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("wss://{addr}/secure"), dir)
}

/// A temporary folder and a self-signed certificate in it.
struct CertDir(std::path::PathBuf);

impl CertDir {
    fn new() -> CertDir {
        let p = std::env::temp_dir().join(format!(
            "loadtest-ws-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&p).unwrap();
        CertDir(p)
    }

    fn self_signed(
        &self,
    ) -> (
        rustls::pki_types::CertificateDer<'static>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        use rustls::pki_types::pem::PemObject;
        let (cert, key) = (self.0.join("cert.pem"), self.0.join("key.pem"));
        let ok = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command line tool is installed (.ci/run installs it)")
            .success();
        assert!(ok, "openssl made a certificate");
        (
            rustls::pki_types::CertificateDer::from_pem_slice(&std::fs::read(cert).unwrap())
                .unwrap(),
            rustls::pki_types::PrivateKeyDer::from_pem_slice(&std::fs::read(key).unwrap()).unwrap(),
        )
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static WSS_URL: OnceLock<String> = OnceLock::new();

/// One exchange over `wss://` per iteration.
#[load_test(users = 1, iterations = 3, timeout = "5s")]
async fn wss_echo(ctx: &Ctx) -> Result<()> {
    let mut ws = ctx
        .ws(WSS_URL.get().unwrap().as_str())
        .name("secure")
        .await?;
    let id = ctx.iteration().to_string();
    ws.request("secure.echo", id.as_str(), |m| {
        m.to_text().is_ok_and(|t| t == id)
    })
    .await?;
    ws.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_connects_with_the_http_clients_tls_and_a_bad_certificate_is_class_tls() {
    let (url, _dir) = start_wss_server().await;
    WSS_URL.set(url).unwrap();
    let mut accept = OptionLayer::new("test");
    accept.set_str("danger_accept_invalid_certs", "true");
    let r = run_layers("wss_echo", &[accept], std::time::Duration::from_secs(60)).await;
    let b = brief(&r);
    assert_eq!((r.iterations.total, r.iterations.ok), (3, 3), "{b}");
    for name in ["secure.connect", "secure.echo"] {
        let n = &r.request_names[name];
        assert_eq!(
            (n.count, n.by_class.get("ok")),
            (3, Some(&3)),
            "{name}: {b}"
        );
    }
    assert_eq!(
        r.custom_counters.get("secure.messages_received"),
        Some(&3),
        "{b}"
    );

    // Verified (the default), the self-signed certificate fails every handshake: class tls.
    let r = run_layers(
        "wss_echo",
        &[OptionLayer::new("test")],
        std::time::Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    assert_eq!((r.iterations.total, r.iterations.failed), (3, 3), "{b}");
    let connect = &r.request_names["secure.connect"];
    assert_eq!(
        (connect.count, connect.by_class.get("tls")),
        (3, Some(&3)),
        "{b}"
    );
    assert!(!r.request_names.contains_key("secure.echo"), "{b}");
}
