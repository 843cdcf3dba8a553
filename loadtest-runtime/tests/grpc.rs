//! gRPC (`grpc` feature): calls through `ctx.grpc(url)` with the client tonic generated from
//! `tests/grpc-fixture/proto/shop.proto`, against that service's server started by each test on
//! 127.0.0.1 (h2c, or TLS with a self-signed certificate made by `openssl`). Per-method counts
//! equal the server's own exactly, every gRPC status code is its class, a server stream's
//! messages are counted exactly, and a timeout, a stream given up, a refused connection and a
//! bad certificate are classes too. Run with
//! `cargo test -p loadtest-runtime --features grpc --test grpc`.

mod common;

use common::{brief, run_layers};
use loadtest_grpc_fixture::shop::cart_client::CartClient;
use loadtest_grpc_fixture::shop::{AddItemRequest, FailRequest, ListItemsRequest};
use loadtest_grpc_fixture::{Counts, UNAVAILABLE_EVERY};
use loadtest_runtime::class::RequestClass;
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::grpc::GrpcChannel;
use loadtest_runtime::prelude::*;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;

/// Items each `ListItems` call of `cart` asks for.
const ITEMS: u32 = 3;

/// Iterations of `cart` (over two users).
const ITERATIONS: u64 = 53;

static SHOP_URL: OnceLock<String> = OnceLock::new();

/// Starts the shop's server (h2c) on 127.0.0.1; its URL and its counts.
async fn start_shop() -> (String, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    (
        format!("http://{addr}"),
        loadtest_grpc_fixture::spawn(listener),
    )
}

/// Each user keeps one channel across its iterations; each iteration adds an item (answered
/// `UNAVAILABLE` every 10th call, which the iteration accepts) and reads a stream of items.
#[load_test(users = 2, iterations = 53, timeout = "10s")]
async fn cart(ctx: &Ctx) -> Result<()> {
    let channel = match ctx.with_state(|s: &mut Option<GrpcChannel>| s.take()) {
        Some(channel) => channel,
        None => {
            ctx.grpc(SHOP_URL.get().unwrap().as_str())
                .name("shop")
                .await?
        }
    };
    let mut cart = CartClient::new(channel.clone());
    let request = AddItemRequest {
        sku: format!("sku-{}", ctx.iteration()),
        quantity: 2,
    };
    match cart.add_item(request).await {
        Ok(reply) => assert_eq!(reply.get_ref().items, 2),
        Err(status) if status.code() == tonic::Code::Unavailable => {}
        Err(status) => return Err(status.into()),
    }
    let mut items = cart
        .list_items(ListItemsRequest {
            count: ITEMS,
            interval_us: 0,
        })
        .await?
        .into_inner();
    let mut n = 0;
    while let Some(item) = items.message().await? {
        assert_eq!(item.quantity, n);
        n += 1;
    }
    if n != ITEMS {
        return Err(format!("{n} items, not {ITEMS}").into());
    }
    ctx.with_state(|s: &mut Option<GrpcChannel>| *s = Some(channel));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_method_counts_classes_and_stream_messages_equal_the_servers() {
    let (url, counts) = start_shop().await;
    SHOP_URL.set(url).unwrap();
    let r = run_layers(
        "cart",
        &[OptionLayer::new("test")],
        Duration::from_secs(120),
    )
    .await;
    let b = brief(&r);
    assert_eq!(
        (r.iterations.total, r.iterations.ok),
        (ITERATIONS, ITERATIONS),
        "{b}"
    );
    let add_item = counts.get(|c| &c.add_item);
    let unavailable = counts.get(|c| &c.add_item_unavailable);
    let list_items = counts.get(|c| &c.list_items);
    assert_eq!(add_item, ITERATIONS, "the server saw every call");
    assert_eq!(unavailable, ITERATIONS / UNAVAILABLE_EVERY, "every 10th");
    assert_eq!(list_items, ITERATIONS);

    let name = |n: &str| {
        r.request_names
            .get(n)
            .unwrap_or_else(|| panic!("no request {n}: {b}"))
    };
    let add = name("/shop.Cart/AddItem");
    assert_eq!(add.count, add_item, "{b}");
    assert_eq!(add.latency.summary.count, add_item, "{b}");
    assert_eq!(
        add.by_class.get("ok"),
        Some(&(add_item - unavailable)),
        "{b}"
    );
    assert_eq!(
        add.by_class.get("grpc_unavailable"),
        Some(&unavailable),
        "{b}"
    );
    assert_eq!(add.by_class.len(), 2, "{b}");
    assert!(add.by_status.is_empty(), "no HTTP statuses: {b}");
    assert!(add.bytes_received > 0, "{b}");
    let list = name("/shop.Cart/ListItems");
    assert_eq!(list.count, list_items, "{b}");
    assert_eq!(list.by_class.get("ok"), Some(&list_items), "{b}");
    assert_eq!(list.by_class.len(), 1, "{b}");
    // One connection per user, kept across its iterations: the server accepted as many.
    let connect = name("shop.connect");
    assert_eq!(connect.count, 2, "{b}");
    assert_eq!(connect.by_class.get("ok"), Some(&2), "{b}");
    assert_eq!(counts.get(|c| &c.connections), 2, "{b}");
    assert_eq!(r.request_names.len(), 3, "{b}");
    assert_eq!(r.requests.total, add_item + list_items + 2, "{b}");
    assert_eq!(
        r.requests.by_class.get("grpc_unavailable"),
        Some(&unavailable),
        "{b}"
    );
    // Messages: each stream's items, exactly as many as the server sent; one per answered
    // AddItem.
    let counter = |n: &str| r.custom_counters.get(n).copied();
    assert_eq!(
        counter("/shop.Cart/ListItems.messages_received"),
        Some(counts.get(|c| &c.items_sent)),
        "{b}"
    );
    assert_eq!(counts.get(|c| &c.items_sent), u64::from(ITEMS) * ITERATIONS);
    // Each ListItems answer (several messages) is timed as a stream under the method: its items
    // are the stream's events, exactly, with a gap between each two of one stream; a unary
    // answer (one message) is no stream.
    let items_sent = counts.get(|c| &c.items_sent);
    let stream = list
        .stream
        .as_ref()
        .unwrap_or_else(|| panic!("ListItems is timed as a stream: {b}"));
    assert_eq!((stream.streams, stream.broken), (list_items, 0), "{b}");
    assert_eq!(stream.events, items_sent, "{b}");
    assert_eq!(stream.gap.summary.count, items_sent - list_items, "{b}");
    assert_eq!(stream.first_event.summary.count, list_items, "{b}");
    assert_eq!(stream.first_byte.summary.count, list_items, "{b}");
    assert_eq!(stream.duration.summary.count, list_items, "{b}");
    assert!(
        stream.first_byte.summary.p50_us <= stream.first_event.summary.p50_us
            && stream.first_event.summary.max_us <= stream.duration.summary.max_us,
        "first byte, first message, end: {b}"
    );
    assert!(add.stream.is_none(), "a unary call is no stream: {b}");
    assert_eq!(
        counter("/shop.Cart/AddItem.messages_received"),
        Some(add_item - unavailable),
        "{b}"
    );
    // The error sample names the method, the status and its message.
    let sample = r
        .errors
        .iter()
        .find(|e| e.class == "grpc_unavailable")
        .unwrap_or_else(|| panic!("no grpc_unavailable sample: {b}"));
    assert_eq!(
        (sample.message.as_str(), sample.count),
        (
            "/shop.Cart/AddItem: Status: UNAVAILABLE (14): every 10th call",
            unavailable
        ),
        "{b}"
    );
}

static CLASSES_URL: OnceLock<String> = OnceLock::new();
static REFUSED_ADDR: OnceLock<String> = OnceLock::new();

/// One iteration: `Fail` with every status code 0 to 16 and one past them (tonic's server sends
/// UNKNOWN for that one); a stream slower than
/// the timeout; a stream given up after its first item; a connection refused.
#[load_test(users = 1, iterations = 1, timeout = "500ms")]
async fn grpc_classes(ctx: &Ctx) -> Result<()> {
    let channel = ctx.grpc(CLASSES_URL.get().unwrap().as_str()).await?;
    let mut cart = CartClient::new(channel);
    for code in 0..=17 {
        let got = cart
            .fail(FailRequest {
                code,
                message: format!("asked for {code}"),
            })
            .await;
        match (code, got) {
            (0, Ok(_)) => {}
            (_, Err(s)) if code != 0 && s.code() == tonic::Code::from_i32(code) => {}
            (_, other) => return Err(format!("code {code}: {other:?}").into()),
        }
    }
    // The second item comes a second after the first: past the 500 ms timeout.
    let mut slow = cart
        .list_items(ListItemsRequest {
            count: 2,
            interval_us: 1_000_000,
        })
        .await?
        .into_inner();
    slow.message().await?.ok_or("no first item")?;
    match slow.message().await {
        Err(s) if s.message().contains("timeout") => {}
        other => return Err(format!("slow stream: {other:?}").into()),
    }
    // A stream dropped after its first item: the call was given up.
    let mut stream = cart
        .list_items(ListItemsRequest {
            count: 5,
            interval_us: 100_000,
        })
        .await?
        .into_inner();
    stream.message().await?.ok_or("no first item")?;
    drop(stream);
    let refused = REFUSED_ADDR.get().unwrap();
    match ctx.grpc(format!("http://{refused}")).name("refused").await {
        Err(e) if e.class() == "connect" => {}
        other => return Err(format!("refused: {other:?}").into()),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code_a_timeout_a_dropped_stream_and_a_refused_connection_are_classes() {
    let (url, counts) = start_shop().await;
    CLASSES_URL.set(url).unwrap();
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    REFUSED_ADDR
        .set(closed.local_addr().unwrap().to_string())
        .unwrap();
    drop(closed);
    let r = run_layers(
        "grpc_classes",
        &[OptionLayer::new("test")],
        Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    assert_eq!((r.iterations.total, r.iterations.ok), (1, 1), "{b}");
    assert_eq!(counts.get(|c| &c.fail), 18, "{b}");

    let fail = &r.request_names["/shop.Cart/Fail"];
    assert_eq!(fail.count, 18, "{b}");
    let expected: Vec<(&str, u64)> = vec![
        ("grpc_aborted", 1),
        ("grpc_already_exists", 1),
        ("grpc_cancelled", 1),
        ("grpc_data_loss", 1),
        ("grpc_deadline_exceeded", 1),
        ("grpc_failed_precondition", 1),
        ("grpc_internal", 1),
        ("grpc_invalid_argument", 1),
        ("grpc_not_found", 1),
        ("grpc_out_of_range", 1),
        ("grpc_permission_denied", 1),
        ("grpc_resource_exhausted", 1),
        ("grpc_unauthenticated", 1),
        ("grpc_unavailable", 1),
        ("grpc_unimplemented", 1),
        // Code 2, and code 17, which no gRPC version defines: tonic's server sends UNKNOWN for
        // it (a code past 16 on the wire is `grpc_unknown` too: the unit test in grpc.rs).
        ("grpc_unknown", 2),
        ("ok", 1),
    ];
    let got: Vec<(&str, u64)> = fail
        .by_class
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(got, expected, "{b}");
    // Each sample names its status and the server's message.
    let sample = |class: &str, message: &str| {
        assert!(
            r.errors
                .iter()
                .any(|e| e.class == class && e.message == message),
            "no {class} sample {message:?}: {b}"
        );
    };
    sample(
        "grpc_resource_exhausted",
        "/shop.Cart/Fail: Status: RESOURCE_EXHAUSTED (8): asked for 8",
    );
    sample(
        "grpc_unknown",
        "/shop.Cart/Fail: Status: UNKNOWN (2): asked for 17",
    );

    let list = &r.request_names["/shop.Cart/ListItems"];
    assert_eq!(list.count, 2, "{b}");
    assert_eq!(list.by_class.get("timeout"), Some(&1), "{b}");
    assert_eq!(list.by_class.get("grpc_cancelled"), Some(&1), "{b}");
    // The first item of each stream.
    assert_eq!(
        r.custom_counters
            .get("/shop.Cart/ListItems.messages_received"),
        Some(&2),
        "{b}"
    );
    let connect = &r.request_names["grpc.connect"];
    assert_eq!(connect.by_class.get("ok"), Some(&1), "{b}");
    let refused = &r.request_names["refused.connect"];
    assert_eq!(
        refused.by_class.iter().collect::<Vec<_>>(),
        [(&RequestClass::Connect, &1)],
        "{b}"
    );
}

static RESTART: OnceLock<(String, loadtest_grpc_fixture::Connections)> = OnceLock::new();

/// A call whose connection the server drops under it, then a call after the drop: the channel
/// makes its connection again.
#[load_test(users = 1, iterations = 1, timeout = "5s")]
async fn grpc_reconnect(ctx: &Ctx) -> Result<()> {
    let (url, connections) = RESTART.get().unwrap();
    let mut cart = CartClient::new(ctx.grpc(url.as_str()).name("restart").await?);
    let ok = FailRequest {
        code: 0,
        message: String::new(),
    };
    cart.fail(ok.clone()).await?;
    // A stream whose second item the server would send a second later; the server drops the
    // connection before.
    let mut stream = cart
        .list_items(ListItemsRequest {
            count: 2,
            interval_us: 1_000_000,
        })
        .await?
        .into_inner();
    stream.message().await?.ok_or("no first item")?;
    connections.drop_all();
    match stream.message().await {
        Err(_) => {}
        other => return Err(format!("the stream outlived its connection: {other:?}").into()),
    }
    // The channel notices the connection's end at once (its driver reads the end of the stream);
    // the next call makes a new connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    cart.fail(ok).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_dropped_fails_its_call_and_is_made_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let (counts, connections) = loadtest_grpc_fixture::spawn_droppable(listener);
    RESTART
        .set((format!("http://{addr}"), connections))
        .map_err(|_| ())
        .unwrap();
    let r = run_layers(
        "grpc_reconnect",
        &[OptionLayer::new("test")],
        Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    assert_eq!((r.iterations.total, r.iterations.ok), (1, 1), "{b}");
    let connect = &r.request_names["restart.connect"];
    assert_eq!(
        (connect.count, connect.by_class.get("ok")),
        (2, Some(&2)),
        "{b}"
    );
    assert_eq!(counts.get(|c| &c.connections), 2, "{b}");
    let fail = &r.request_names["/shop.Cart/Fail"];
    assert_eq!((fail.count, fail.by_class.get("ok")), (2, Some(&2)), "{b}");
    assert_eq!(counts.get(|c| &c.fail), 2, "{b}");
    let list = &r.request_names["/shop.Cart/ListItems"];
    assert_eq!(
        list.by_class.iter().collect::<Vec<_>>(),
        [(&RequestClass::Closed, &1)],
        "the stream broke with its connection: {b}"
    );
}

static LAYER_ADDR: OnceLock<std::net::SocketAddr> = OnceLock::new();

/// A channel of the test's own: one hyper HTTP/2 connection, as a test might make with tonic's
/// `Channel` (which the runtime's tests do not build).
#[derive(Clone)]
struct OwnChannel {
    sender: hyper::client::conn::http2::SendRequest<tonic::body::Body>,
    authority: String,
}

impl loadtest_runtime::grpc::Service<hyper::Request<tonic::body::Body>> for OwnChannel {
    type Response = hyper::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = std::result::Result<Self::Response, Self::Error>>
                + Send,
        >,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Self::Error>> {
        self.sender.poll_ready(cx)
    }

    fn call(&mut self, mut request: hyper::Request<tonic::body::Body>) -> Self::Future {
        let uri = format!("http://{}{}", self.authority, request.uri().path());
        *request.uri_mut() = uri.parse().unwrap();
        Box::pin(self.sender.send_request(request))
    }
}

/// Calls through `ctx.grpc_layer()` over a channel of the test's own.
#[load_test(users = 1, iterations = 1, timeout = "5s")]
async fn grpc_layered(ctx: &Ctx) -> Result<()> {
    let addr = *LAYER_ADDR.get().unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let (sender, driver) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await?;
    tokio::spawn(driver);
    let own = OwnChannel {
        sender,
        authority: addr.to_string(),
    };
    let mut cart = CartClient::new(loadtest_runtime::grpc::Layer::layer(&ctx.grpc_layer(), own));
    for code in [0, 0, 5] {
        let got = cart
            .fail(FailRequest {
                code,
                message: "missing".into(),
            })
            .await;
        if got.is_ok() != (code == 0) {
            return Err(format!("code {code}: {got:?}").into());
        }
    }
    let mut items = cart
        .list_items(ListItemsRequest {
            count: 4,
            interval_us: 0,
        })
        .await?
        .into_inner();
    while items.message().await?.is_some() {}
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_records_the_calls_of_a_channel_of_the_tests_own() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    LAYER_ADDR.set(addr).unwrap();
    let counts = loadtest_grpc_fixture::spawn(listener);
    let r = run_layers(
        "grpc_layered",
        &[OptionLayer::new("test")],
        Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    assert_eq!((r.iterations.total, r.iterations.ok), (1, 1), "{b}");
    assert_eq!(counts.get(|c| &c.fail), 3, "{b}");
    let fail = &r.request_names["/shop.Cart/Fail"];
    assert_eq!(fail.count, 3, "{b}");
    assert_eq!(fail.by_class.get("ok"), Some(&2), "{b}");
    assert_eq!(fail.by_class.get("grpc_not_found"), Some(&1), "{b}");
    let list = &r.request_names["/shop.Cart/ListItems"];
    assert_eq!((list.count, list.by_class.get("ok")), (1, Some(&1)), "{b}");
    assert_eq!(
        r.custom_counters
            .get("/shop.Cart/ListItems.messages_received"),
        Some(&counts.get(|c| &c.items_sent)),
        "{b}"
    );
    assert_eq!(counts.get(|c| &c.items_sent), 4);
    // The test made its connection itself: no connection is recorded.
    assert_eq!(r.request_names.len(), 2, "{b}");
}

static TLS_URL: OnceLock<String> = OnceLock::new();

/// One call over `https://` per iteration.
#[load_test(users = 1, iterations = 3, timeout = "5s")]
async fn grpc_tls(ctx: &Ctx) -> Result<()> {
    let channel = ctx
        .grpc(TLS_URL.get().unwrap().as_str())
        .name("secure")
        .await?;
    CartClient::new(channel)
        .fail(FailRequest {
            code: 0,
            message: String::new(),
        })
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_uses_the_http_clients_tls_and_a_bad_certificate_is_class_tls() {
    let (url, counts, _dir) = start_tls_shop().await;
    TLS_URL.set(url).unwrap();
    let mut accept = OptionLayer::new("test");
    accept.set_str("danger_accept_invalid_certs", "true");
    let r = run_layers("grpc_tls", &[accept], Duration::from_secs(60)).await;
    let b = brief(&r);
    assert_eq!((r.iterations.total, r.iterations.ok), (3, 3), "{b}");
    for name in ["secure.connect", "/shop.Cart/Fail"] {
        let n = &r.request_names[name];
        assert_eq!(
            (n.count, n.by_class.get("ok")),
            (3, Some(&3)),
            "{name}: {b}"
        );
    }
    assert_eq!(counts.get(|c| &c.fail), 3);

    // Verified (the default), the self-signed certificate fails every connection: class tls.
    let r = run_layers(
        "grpc_tls",
        &[OptionLayer::new("test")],
        Duration::from_secs(60),
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
    assert!(!r.request_names.contains_key("/shop.Cart/Fail"), "{b}");
    assert_eq!(counts.get(|c| &c.fail), 3, "no call reached the server");
}

/// The shop's server over TLS (rustls, ALPN `h2`) with a self-signed certificate made by
/// `openssl`; its `https://` URL, its counts, and the folder holding the certificate.
async fn start_tls_shop() -> (String, Arc<Counts>, CertDir) {
    let dir = CertDir::new();
    let (cert, key) = dir.self_signed();
    // The runtime's provider (see `http/direct/tls.rs` on its deprecation in rustls 0.23.48).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, c) = (acceptor.clone(), c.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    loadtest_grpc_fixture::serve_connection(tls, c).await;
                }
            });
        }
    });
    (format!("https://{addr}"), counts, dir)
}

/// A temporary folder and a self-signed certificate in it.
struct CertDir(std::path::PathBuf);

impl CertDir {
    fn new() -> CertDir {
        let p = std::env::temp_dir().join(format!(
            "loadtest-grpc-{}-{}",
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

static STREAM_URL: OnceLock<String> = OnceLock::new();

/// Items each `slow_list` stream asks for, and the server's wait between two of them.
const SLOW_ITEMS: u32 = 5;
const SLOW_INTERVAL_US: u64 = 20_000;

/// Three streams of five items 20 ms apart; the rules on the stream's prefixes of a method path
/// are judged like any other (the server waits at least the interval between two items, so the
/// gaps' median is at least that, less the receipt jitter of one item).
#[load_test(
    users = 1,
    iterations = 3,
    timeout = "10s",
    thresholds = [
        "p50(gap:/shop.Cart/ListItems) > 19ms",
        "p50(first_event:/shop.Cart/ListItems) < 5s",
        "p99(gap:/shop.Cart/ListItems) < 1ms"
    ]
)]
async fn slow_list(ctx: &Ctx) -> Result<()> {
    let channel = ctx.grpc(STREAM_URL.get().unwrap().as_str()).await?;
    let mut items = CartClient::new(channel)
        .list_items(ListItemsRequest {
            count: SLOW_ITEMS,
            interval_us: SLOW_INTERVAL_US,
        })
        .await?
        .into_inner();
    let mut n = 0;
    while items.message().await?.is_some() {
        n += 1;
    }
    if n != SLOW_ITEMS {
        return Err(format!("{n} items, not {SLOW_ITEMS}").into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_streams_messages_are_its_events_and_their_gaps_are_judged() {
    let (url, counts) = start_shop().await;
    STREAM_URL.set(url).unwrap();
    let r = run_layers(
        "slow_list",
        &[OptionLayer::new("test")],
        Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    assert_eq!(counts.get(|c| &c.list_items), 3, "{b}");
    let items = counts.get(|c| &c.items_sent);
    assert_eq!(items, 3 * u64::from(SLOW_ITEMS), "{b}");
    let stream = r.request_names["/shop.Cart/ListItems"]
        .stream
        .as_ref()
        .unwrap_or_else(|| panic!("no stream: {b}"));
    assert_eq!((stream.streams, stream.events), (3, items), "{b}");
    assert_eq!(stream.gap.summary.count, items - 3, "{b}");
    eprintln!(
        "gaps: p50 {} us, p99 {} us (server interval {SLOW_INTERVAL_US} us, tokio's sleep)",
        stream.gap.summary.p50_us, stream.gap.summary.p99_us
    );
    // Each stream lasted at least its four intervals.
    assert!(
        stream.duration.summary.min_us >= 4 * SLOW_INTERVAL_US * 99 / 100,
        "{b}"
    );
    let rule = |s: &str| {
        r.thresholds
            .iter()
            .find(|t| t.rule == s)
            .unwrap_or_else(|| panic!("no rule {s}: {b}"))
            .clone()
    };
    let gap = rule("p50(gap:/shop.Cart/ListItems) > 19ms");
    assert_eq!(
        gap.observed,
        Some(stream.gap.summary.p50_us as f64),
        "{gap:?}"
    );
    assert!(gap.passed, "{gap:?}");
    let first = rule("p50(first_event:/shop.Cart/ListItems) < 5s");
    assert_eq!(
        first.observed,
        Some(stream.first_event.summary.p50_us as f64),
        "{first:?}"
    );
    assert!(first.passed, "{first:?}");
    let tight = rule("p99(gap:/shop.Cart/ListItems) < 1ms");
    assert!(!tight.passed, "a 1 ms bound on 20 ms gaps fails: {tight:?}");
}
