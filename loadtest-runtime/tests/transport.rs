//! The per-connection transports (native and hyper) against small servers the tests start on 127.0.0.1: connections kept per
//! user (and counted), a server closing connections costing no error, `batch` opening more
//! connections and keeping them, the cookie jar, phase timings, redirects, and HTTP/2 over TLS
//! (ALPN) with streams multiplexed on one connection.

mod common;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;
use loadtest_runtime::report::TestResult;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a test server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    requests: AtomicU64,
    with_cookie: AtomicU64,
    /// Logins that came without a session cookie: each is given a session of its own.
    fresh_logins: AtomicU64,
    http2: AtomicU64,
    post_after_303: AtomicU64,
}

/// Answers a request of the test server.
fn answer(req: &Request<hyper::body::Incoming>, seen: &Seen) -> Response<Full<Bytes>> {
    seen.requests.fetch_add(1, Ordering::Relaxed);
    if req.version() == hyper::Version::HTTP_2 {
        seen.http2.fetch_add(1, Ordering::Relaxed);
    }
    let cookie = req
        .headers()
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if cookie.contains("sid=s3ss10n") {
        seen.with_cookie.fetch_add(1, Ordering::Relaxed);
    }
    let path = req.uri().path().to_string();
    let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
    let redirect = |r: &mut Response<Full<Bytes>>, code: u16, to: &str| {
        *r.status_mut() = StatusCode::from_u16(code).unwrap();
        r.headers_mut().insert("location", to.parse().unwrap());
    };
    match path.as_str() {
        "/login" if !cookie.contains("sid=s3ss10n") => {
            let n = seen.fresh_logins.fetch_add(1, Ordering::Relaxed);
            r.headers_mut().insert(
                "set-cookie",
                format!("sid=s3ss10n-{n}; Path=/; HttpOnly")
                    .parse()
                    .unwrap(),
            );
        }
        "/whoami" => *r.body_mut() = Full::new(Bytes::from(cookie)),
        "/loop" => redirect(&mut r, 302, "/loop"),
        "/see-other" => redirect(&mut r, 303, "method"),
        "/method" => {
            if req.method() != hyper::Method::GET {
                seen.post_after_303.fetch_add(1, Ordering::Relaxed);
            }
            *r.body_mut() = Full::new(Bytes::from(req.method().to_string()));
        }
        p if p.starts_with("/hops/") => {
            let n: u32 = p["/hops/".len()..].parse().unwrap_or(0);
            if n > 0 {
                // Relative to the request URL.
                redirect(&mut r, 307, &format!("{}", n - 1));
            }
        }
        _ => {}
    }
    r
}

/// An HTTP/1.1 server (hyper) on 127.0.0.1; `keep_alive = false` closes every connection after
/// its response (with `Connection: close`).
async fn h1_server(keep_alive: bool) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::Relaxed);
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let r = answer(&req, &s);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, seen)
}

/// A server that answers one request per connection and then closes it without saying so
/// (no `Connection: close`), as a server whose keep-alive timeout is very short does.
async fn silent_closer() -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::Relaxed);
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                s.requests.fetch_add(1, Ordering::Relaxed);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    (url, seen)
}

/// An HTTP/2-over-TLS server (hyper, ALPN `h2` only) with a self-signed certificate made by
/// `openssl`; returns the base URL, what it saw, and the folder holding the certificate.
async fn h2_tls_server() -> (String, Arc<Seen>, tempdir::Dir) {
    let dir = tempdir::Dir::new("h2");
    let (cert, key) = dir.self_signed();
    let certs = vec![cert];
    // The runtime's provider (see `http/direct/tls.rs` on its deprecation in rustls 0.23.48).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::Relaxed);
            let (s, acceptor) = (s.clone(), acceptor.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = service_fn(move |req| {
                    let r = answer(&req, &s);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (url, seen, dir)
}

/// A temporary folder and a self-signed certificate in it.
mod tempdir {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::process::{Command, Stdio};

    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!(
                "loadtest-transport-{tag}-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }

        pub fn self_signed(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
            let (cert, key) = (self.0.join("cert.pem"), self.0.join("key.pem"));
            let ok = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .args(["-subj", "/CN=localhost"])
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
            (
                CertificateDer::from_pem_slice(&std::fs::read(cert).unwrap()).unwrap(),
                PrivateKeyDer::from_pem_slice(&std::fs::read(key).unwrap()).unwrap(),
            )
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[load_test]
async fn get_target(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url(""))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Four requests at once per iteration.
#[load_test]
async fn batch_of_four(ctx: &Ctx) -> Result<()> {
    let http = ctx.http();
    let requests = (0..4).map(|_| http.get(ctx.url("/"))).collect();
    for r in http.batch(requests).await {
        r?.error_for_status()?;
    }
    Ok(())
}

/// The users that ran `session` in this process (the tests using it hold `SERIAL`).
static SESSION_USERS: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

/// Logs in (the server gives a fresh login a session of its own), then asks who it is: the
/// cookie must come back, and it must be the same session in every iteration of this user.
#[load_test]
async fn session(ctx: &Ctx) -> Result<()> {
    {
        let mut users = SESSION_USERS.lock().unwrap();
        if !users.contains(&ctx.user()) {
            users.push(ctx.user());
        }
    }
    ctx.http()
        .get(ctx.url("/login"))
        .send()
        .await?
        .error_for_status()?;
    let me = ctx.http().get(ctx.url("/whoami")).send().await?.text()?;
    if !me.contains("sid=s3ss10n") {
        return Err(format!("the session cookie did not come back: {me:?}").into());
    }
    let first = ctx.with_state(|s: &mut String| {
        if s.is_empty() {
            s.clone_from(&me);
        }
        s.clone()
    });
    if first != me {
        return Err(format!("this user's session changed: {first:?}, then {me:?}").into());
    }
    Ok(())
}

/// A POST answered with 303 See Other is followed with a GET.
#[load_test]
async fn post_see_other(ctx: &Ctx) -> Result<()> {
    let body = ctx
        .http()
        .post(ctx.url("/see-other"))
        .body("x")
        .send()
        .await?
        .error_for_status()?
        .text()?;
    if body != "GET" {
        return Err(format!("the redirect was followed with {body:?}").into());
    }
    Ok(())
}

fn layer(target: &str, options: &[(&str, &str)]) -> OptionLayer {
    let mut l = OptionLayer::new("test");
    l.set_str("target", target);
    for (k, v) in options {
        l.set_str(k, v);
    }
    l
}

async fn run(name: &str, target: &str, options: &[(&str, &str)]) -> TestResult {
    common::run_layers(
        name,
        &[layer(target, options)],
        std::time::Duration::from_secs(60),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_keeps_one_connection_and_it_is_counted() {
    let _g = common::SERIAL.lock().await;
    let (url, _) = h1_server(true).await;
    let r = run("get_target", &url, &[("iterations", "1")]).await;
    assert_eq!(r.config.client, "native", "the default transport");
    for client in common::DIRECT_CLIENTS {
        let (url, seen) = h1_server(true).await;
        let options = [("client", client), ("users", "5"), ("iterations", "200")];
        let r = run("get_target", &url, &options).await;
        assert_eq!(r.iterations.ok, 200, "{client}: {}", common::brief(&r));
        assert_eq!(seen.connections.load(Ordering::Relaxed), 5, "{client}");
        assert_eq!(r.connections.opened, 5, "{client}: {:?}", r.connections);
        assert_eq!(r.connections.reused, 195, "{client}: {:?}", r.connections);
        assert_eq!(r.connections.reopened, 0, "{client}");
        assert_eq!(r.config.client, client);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_every_connection_costs_no_error() {
    let _g = common::SERIAL.lock().await;
    for client in common::DIRECT_CLIENTS {
        let (url, seen) = h1_server(false).await;
        let options = [("client", client), ("users", "3"), ("iterations", "60")];
        let r = run("get_target", &url, &options).await;
        assert_eq!(r.iterations.ok, 60, "{client}: {}", common::brief(&r));
        assert_eq!(seen.connections.load(Ordering::Relaxed), 60, "{client}");
        assert_eq!(r.connections.opened, 60, "{client}: {:?}", r.connections);
        assert_eq!(r.connections.reused, 0, "{client}");

        // Closed without a word: the next request finds the connection closed and opens another.
        let (url, seen) = silent_closer().await;
        let r = run(
            "get_target",
            &url,
            &[
                ("client", client),
                ("users", "2"),
                ("iterations", "40"),
                ("think_time", "5ms"),
            ],
        )
        .await;
        assert_eq!(r.iterations.ok, 40, "{client}: {}", common::brief(&r));
        assert_eq!(seen.requests.load(Ordering::Relaxed), 40, "{client}");
        assert_eq!(r.connections.opened, 40, "{client}: {:?}", r.connections);
        assert!(
            r.connections.reopened >= 30,
            "{client}: {:?}",
            r.connections
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_opens_more_connections_and_keeps_them() {
    let _g = common::SERIAL.lock().await;
    for client in common::DIRECT_CLIENTS {
        let (url, seen) = h1_server(true).await;
        let options = [("client", client), ("users", "1"), ("iterations", "10")];
        let r = run("batch_of_four", &url, &options).await;
        assert_eq!(r.iterations.ok, 10, "{client}: {}", common::brief(&r));
        assert_eq!(seen.requests.load(Ordering::Relaxed), 40, "{client}");
        assert_eq!(seen.connections.load(Ordering::Relaxed), 4, "{client}");
        assert_eq!(
            (r.connections.opened, r.connections.reused),
            (4, 36),
            "{client}: {:?}",
            r.connections
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_jar_keeps_a_session_per_user_unless_turned_off() {
    let _g = common::SERIAL.lock().await;
    for client in common::CLIENTS {
        SESSION_USERS.lock().unwrap().clear();
        let (url, seen) = h1_server(true).await;
        // Think time lets every user start before one of them has run the whole budget.
        let r = run(
            "session",
            &url,
            &[
                ("client", client),
                ("users", "3"),
                ("iterations", "30"),
                ("think_time", "5ms"),
            ],
        )
        .await;
        assert_eq!(r.iterations.ok, 30, "{client}: {}", common::brief(&r));
        let users = SESSION_USERS.lock().unwrap().len() as u64;
        assert!(
            users >= 2,
            "{client}: only {users} user ran: nothing to tell jars apart"
        );
        // One fresh login per user that ran (a shared jar would log later users in with the
        // first one's cookie); every other request carried its user's cookie.
        assert_eq!(seen.fresh_logins.load(Ordering::Relaxed), users, "{client}");
        assert_eq!(
            seen.with_cookie.load(Ordering::Relaxed),
            2 * 30 - users,
            "{client}"
        );
        assert!(r.config.cookies);

        let (url, seen) = h1_server(true).await;
        let r = run(
            "session",
            &url,
            &[
                ("client", client),
                ("users", "1"),
                ("iterations", "3"),
                ("cookies", "false"),
            ],
        )
        .await;
        assert_eq!(r.iterations.failed, 3, "{client}: {}", common::brief(&r));
        assert_eq!(seen.with_cookie.load(Ordering::Relaxed), 0, "{client}");
        assert!(
            r.errors
                .iter()
                .any(|e| e.message.contains("did not come back")),
            "{:?}",
            r.errors
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase_timings_are_recorded_per_request_and_per_connection() {
    let _g = common::SERIAL.lock().await;
    for client in common::DIRECT_CLIENTS {
        phase_timings_on(client).await;
    }
}

async fn phase_timings_on(client: &str) {
    let (url, _seen) = h1_server(true).await;
    let options = [("client", client), ("users", "2"), ("iterations", "50")];
    let r = run("get_target", &url, &options).await;
    assert_eq!(r.iterations.ok, 50, "{}", common::brief(&r));
    let count = |p: &str| r.phases.get(p).map_or(0, |h| h.summary.count);
    assert_eq!(count("first_byte"), 50, "{:?}", r.phases.keys());
    assert_eq!(count("transfer"), 50);
    assert_eq!(count("connect"), 2, "one per connection opened");
    assert_eq!(count("dns"), 0, "an IP address is not resolved");
    assert_eq!(count("tls"), 0, "plain HTTP");
    let request = &r.request_names["GET /"].latency.summary;
    assert!(
        r.phases["first_byte"].summary.max_us <= request.max_us,
        "a phase is part of its request"
    );

    // A name is resolved (localhost, on loopback) once per connection.
    let port = url.rsplit(':').next().unwrap();
    let r = run(
        "get_target",
        &format!("http://localhost:{port}"),
        &[("client", client), ("users", "1"), ("iterations", "5")],
    )
    .await;
    assert_eq!(r.iterations.ok, 5, "{}", common::brief(&r));
    assert_eq!(r.phases.get("dns").map(|h| h.summary.count), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_up_to_ten_and_303_turns_into_get() {
    let _g = common::SERIAL.lock().await;
    for client in common::CLIENTS {
        let (url, seen) = h1_server(true).await;
        // Ten relative hops: /hops/10 -> 9 -> ... -> 0, then 200.
        let r = run(
            "get_target",
            &format!("{url}/hops/10"),
            &[("client", client), ("iterations", "2")],
        )
        .await;
        assert_eq!(r.iterations.ok, 2, "{client}: {}", common::brief(&r));
        assert_eq!(seen.requests.load(Ordering::Relaxed), 22, "{client}");
        assert_eq!(r.requests.total, 2, "one measured request per send()");

        let (url, seen) = h1_server(true).await;
        let r = run(
            "get_target",
            &format!("{url}/loop"),
            &[("client", client), ("iterations", "1")],
        )
        .await;
        assert_eq!(r.iterations.failed, 1, "{client}: {}", common::brief(&r));
        assert_eq!(r.requests.by_class.get("other"), Some(&1), "{client}");
        assert_eq!(
            seen.requests.load(Ordering::Relaxed),
            11,
            "{client}: the first request and 10 redirects"
        );

        let (url, seen) = h1_server(true).await;
        let r = run(
            "post_see_other",
            &url,
            &[("client", client), ("iterations", "2")],
        )
        .await;
        assert_eq!(r.iterations.ok, 2, "{client}: {}", common::brief(&r));
        assert_eq!(seen.post_after_303.load(Ordering::Relaxed), 0, "{client}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_negotiated_over_tls_and_multiplexes_one_connection() {
    let _g = common::SERIAL.lock().await;
    for client in common::DIRECT_CLIENTS {
        http2_on(client).await;
    }
}

async fn http2_on(client: &str) {
    let (url, seen, _dir) = h2_tls_server().await;
    let r = run(
        "batch_of_four",
        &url,
        &[
            ("client", client),
            ("users", "1"),
            ("iterations", "10"),
            ("danger_accept_invalid_certs", "true"),
        ],
    )
    .await;
    assert_eq!(r.iterations.ok, 10, "{}", common::brief(&r));
    assert_eq!(
        seen.http2.load(Ordering::Relaxed),
        40,
        "every request over HTTP/2"
    );
    let conns = seen.connections.load(Ordering::Relaxed);
    assert!(
        conns < 40 && conns == r.connections.opened,
        "streams share connections: {conns} for 40 requests, {:?}",
        r.connections
    );
    assert_eq!(r.phases.get("tls").map(|h| h.summary.count), Some(conns));

    // Without the opt-out the self-signed certificate is refused, as on HTTP/1.1.
    let r = run(
        "get_target",
        &url,
        &[("client", client), ("iterations", "1")],
    )
    .await;
    assert_eq!(
        r.requests.by_class.get("tls"),
        Some(&1),
        "{}",
        common::brief(&r)
    );
}
