//! The gRPC tests' service, `shop.Cart` from `proto/shop.proto` (its client and server generated
//! by tonic at build time, the `.proto` compiled by protox), and a server for it on 127.0.0.1
//! that counts every call it answers, so that tests can compare a report with what the server
//! saw.
//!
//! - `/shop.Cart/AddItem` (unary) answers `UNAVAILABLE` to every 10th call it receives (by its
//!   own count: the 10th, the 20th, ...) and OK to the others;
//! - `/shop.Cart/ListItems` (server streaming) sends `count` items, `interval_us` apart;
//! - `/shop.Cart/Fail` (unary) answers the status code the request names, with its message.
//!
//! The server speaks HTTP/2 with prior knowledge (h2c) on a TCP listener, or over any stream a
//! test hands it (TLS, for `https://`).

use futures_util::Stream;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tonic::{Code, Request, Response, Status};

/// The code tonic generated from `proto/shop.proto`.
#[allow(clippy::all, missing_docs)]
pub mod shop {
    tonic::include_proto!("shop");
}

use shop::cart_server::{Cart, CartServer};
use shop::{AddItemReply, AddItemRequest, FailRequest, Item, ListItemsRequest};

/// Every how many calls `AddItem` answers `UNAVAILABLE`.
pub const UNAVAILABLE_EVERY: u64 = 10;

/// What the server answered, by its own count.
#[derive(Debug, Default)]
pub struct Counts {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// `AddItem` calls received.
    pub add_item: AtomicU64,
    /// `AddItem` calls answered `UNAVAILABLE`.
    pub add_item_unavailable: AtomicU64,
    /// `ListItems` calls received.
    pub list_items: AtomicU64,
    /// Items sent by `ListItems` streams.
    pub items_sent: AtomicU64,
    /// `Fail` calls received.
    pub fail: AtomicU64,
}

impl Counts {
    /// One counter's value.
    pub fn get(&self, which: fn(&Counts) -> &AtomicU64) -> u64 {
        which(self).load(Ordering::SeqCst)
    }
}

/// The service: answers as the module's documentation says, counting into its [`Counts`].
#[derive(Clone)]
pub struct Shop {
    counts: Arc<Counts>,
}

impl Shop {
    fn count(&self, which: fn(&Counts) -> &AtomicU64) -> u64 {
        which(&self.counts).fetch_add(1, Ordering::SeqCst) + 1
    }
}

type ItemStream = Pin<Box<dyn Stream<Item = Result<Item, Status>> + Send>>;

#[tonic::async_trait]
impl Cart for Shop {
    async fn add_item(
        &self,
        request: Request<AddItemRequest>,
    ) -> Result<Response<AddItemReply>, Status> {
        let n = self.count(|c| &c.add_item);
        if n.is_multiple_of(UNAVAILABLE_EVERY) {
            self.count(|c| &c.add_item_unavailable);
            return Err(Status::unavailable("every 10th call"));
        }
        Ok(Response::new(AddItemReply {
            items: request.get_ref().quantity,
        }))
    }

    type ListItemsStream = ItemStream;

    async fn list_items(
        &self,
        request: Request<ListItemsRequest>,
    ) -> Result<Response<ItemStream>, Status> {
        self.count(|c| &c.list_items);
        let ListItemsRequest { count, interval_us } = request.into_inner();
        let shop = self.clone();
        let items = futures_util::stream::unfold(0u32, move |i| {
            let shop = shop.clone();
            async move {
                if i >= count {
                    return None;
                }
                if i > 0 && interval_us > 0 {
                    tokio::time::sleep(Duration::from_micros(interval_us)).await;
                }
                shop.count(|c| &c.items_sent);
                let item = Item {
                    sku: format!("sku-{i}"),
                    quantity: i,
                };
                Some((Ok(item), i + 1))
            }
        });
        Ok(Response::new(Box::pin(items) as ItemStream))
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<AddItemReply>, Status> {
        self.count(|c| &c.fail);
        let FailRequest { code, message } = request.into_inner();
        match Code::from_i32(code) {
            Code::Ok => Ok(Response::new(AddItemReply { items: 0 })),
            code => Err(Status::new(code, message)),
        }
    }
}

/// Serves one connection (HTTP/2 with prior knowledge) until it ends.
pub async fn serve_connection<IO>(io: IO, counts: Arc<Counts>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    counts.connections.fetch_add(1, Ordering::SeqCst);
    let svc = CartServer::new(Shop { counts });
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut svc = svc.clone();
        async move { tonic::codegen::Service::call(&mut svc, req).await }
    });
    let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

/// Accepts connections on `listener` and serves each (h2c) on the current runtime, counting into
/// the returned [`Counts`].
pub fn spawn(listener: tokio::net::TcpListener) -> Arc<Counts> {
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(serve_connection(tcp, c.clone()));
        }
    });
    counts
}

/// Accepts connections on `listener` and serves each as [`spawn`] does; the returned
/// [`Connections`] drops every connection served so far when asked (a server restart, as its
/// clients see it).
pub fn spawn_droppable(listener: tokio::net::TcpListener) -> (Arc<Counts>, Connections) {
    let counts = Arc::new(Counts::default());
    let connections = Connections::default();
    let (c, held) = (counts.clone(), connections.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let task = tokio::spawn(serve_connection(tcp, c.clone()));
            held.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(task.abort_handle());
        }
    });
    (counts, connections)
}

/// The connections a [`spawn_droppable`] server is serving.
#[derive(Clone, Default)]
pub struct Connections(Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>);

impl Connections {
    /// Drops every connection served so far (their sockets close).
    pub fn drop_all(&self) {
        for task in self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

/// A server on 127.0.0.1 on a runtime of its own (for tests that are not async); stops when
/// dropped.
pub struct ShopServer {
    addr: SocketAddr,
    counts: Arc<Counts>,
    _rt: tokio::runtime::Runtime,
}

impl ShopServer {
    /// Starts the server on an ephemeral port of 127.0.0.1.
    pub fn start() -> ShopServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the server");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("a bound address");
        assert!(addr.ip().is_loopback());
        let counts = rt.block_on(async { spawn(listener) });
        ShopServer {
            addr,
            counts,
            _rt: rt,
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it answered so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }
}
