//! The hyper transport (`client = "hyper"`, the default): each closed-model virtual user owns its
//! connections, open-model iterations share a set per worker thread, and no request goes through
//! a pool, a lock shared between users, or another task. TLS is rustls, verified by default;
//! HTTP/2 is used when the server negotiates it over ALPN.

mod conn;
mod exchange;
mod set;
mod stream;
mod tls;

pub(crate) use exchange::{Direct, Exchange, exchange};
pub(crate) use set::{ConnSet, Home};
pub(crate) use tls::connector;
