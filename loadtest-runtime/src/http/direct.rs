//! The per-connection transports: `client = "native"` (the default; HTTP/1.1 exchanged in place
//! by the task that owns the connection, `native.rs`) and `client = "hyper"` (hyper's HTTP/1.1
//! client, driven inside the same task). Each closed-model virtual user owns its connections,
//! open-model iterations share a set per worker thread, and no request goes through a pool, a
//! lock shared between users, or another task. TLS is rustls, verified by default; HTTP/2 is
//! used on both when the server negotiates it over ALPN, driven by hyper.

mod conn;
#[cfg(test)]
mod differential;
mod exchange;
mod native;
mod parse;
mod set;
mod stream;
mod streamed;
mod tls;

pub(crate) use exchange::{Direct, Exchange, exchange};
pub(crate) use parse::MAX_HEADERS;

#[cfg(feature = "fuzzing")]
pub use parse::fuzz as fuzz_response;
pub(crate) use set::{ConnSet, Home};
pub(crate) use streamed::{Streaming, start as start_stream};
pub(crate) use tls::connector;
#[cfg(any(feature = "ws", feature = "grpc"))]
pub(crate) use {stream::Stream, tls::connector_with_alpn};
