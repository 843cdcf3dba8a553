//! `ctx.http()`: starting requests, and sending several at once.

use super::direct::Direct;
use super::{HttpError, Request, Response};
use crate::grammar::ClientKind;
use crate::{Ctx, RuntimeError};
use futures_util::future::join_all;
use reqwest::Method;

/// What carries a test's requests.
pub(crate) enum Transport {
    /// Connections owned by their user, HTTP/1.1 exchanged natively (`client = "native"`) or by
    /// hyper (`client = "hyper"`).
    Direct(Direct),
    /// reqwest's pooled client (`client = "reqwest"`).
    Reqwest(reqwest::Client),
}

/// Builds the transport a test shares across all its virtual users. TLS certificates are
/// verified (rustls, with the Mozilla root store) unless `accept_invalid_certs` is set.
pub(crate) fn new_transport(
    kind: ClientKind,
    max_idle: usize,
    accept_invalid_certs: bool,
    local: Vec<std::net::IpAddr>,
) -> Result<Transport, RuntimeError> {
    Ok(match kind {
        ClientKind::Native | ClientKind::Hyper => Transport::Direct(Direct {
            native: kind == ClientKind::Native,
            tls: super::direct::connector(accept_invalid_certs).map_err(RuntimeError::Tls)?,
            local,
            next_local: Default::default(),
        }),
        ClientKind::Reqwest => Transport::Reqwest(new_client(max_idle, accept_invalid_certs)?),
    })
}

/// The proxy variables set in this process's environment (which only `client = "reqwest"` uses).
pub(crate) fn proxy_variables() -> Vec<String> {
    [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .iter()
    .filter(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
    .map(|v| v.to_string())
    .collect()
}

fn new_client(
    max_idle: usize,
    accept_invalid_certs: bool,
) -> Result<reqwest::Client, RuntimeError> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .danger_accept_invalid_certs(accept_invalid_certs)
        .pool_max_idle_per_host(max_idle)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(RuntimeError::HttpClient)
}

/// The instrumented HTTP client of one iteration, from [`Ctx::http`].
#[derive(Clone, Copy)]
pub struct Http<'a> {
    pub(crate) ctx: &'a Ctx,
}

impl<'a> Http<'a> {
    /// Starts a request with any method.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> Request<'a> {
        Request::new(self.ctx, method, url.as_ref())
    }

    /// Starts a GET request.
    pub fn get(&self, url: impl AsRef<str>) -> Request<'a> {
        self.request(Method::GET, url)
    }

    /// Starts a POST request.
    pub fn post(&self, url: impl AsRef<str>) -> Request<'a> {
        self.request(Method::POST, url)
    }

    /// Starts a PUT request.
    pub fn put(&self, url: impl AsRef<str>) -> Request<'a> {
        self.request(Method::PUT, url)
    }

    /// Starts a PATCH request.
    pub fn patch(&self, url: impl AsRef<str>) -> Request<'a> {
        self.request(Method::PATCH, url)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, url: impl AsRef<str>) -> Request<'a> {
        self.request(Method::DELETE, url)
    }

    /// Starts a HEAD request.
    pub fn head(&self, url: impl AsRef<str>) -> Request<'a> {
        self.request(Method::HEAD, url)
    }

    /// Sends several requests concurrently (as k6's `http.batch`) and returns their results in
    /// the same order. Each request is measured, retried and rate-limited on its own.
    pub async fn batch(&self, requests: Vec<Request<'a>>) -> Vec<Result<Response, HttpError>> {
        join_all(requests.into_iter().map(Request::send)).await
    }
}
