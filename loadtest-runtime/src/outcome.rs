//! What an attempt that is not an HTTP request (an operation measured with `ctx.measure`, a
//! WebSocket handshake or exchange, a gRPC call) records as a request: its class, latency, bytes,
//! exemplar and error sample, and the classes and samples made of its errors. The transports
//! (`ws`, `grpc`) and `measure` share it; `measure` alone reads a transport's error type back
//! (`measure::class_of`).

use crate::http::trace_context::TraceParent;
use crate::metrics::RequestClass;
use loadtest_report::exemplar::Exemplar;
use std::fmt::{Display, Write as _};

/// The longest message an error sample keeps, in bytes (cut at a character boundary, `…` added).
pub const MESSAGE_LIMIT: usize = 256;

/// Records one attempt of an operation (a measured operation, a WebSocket handshake or exchange)
/// as a request under `name`: its class, status (a WebSocket handshake answered with an HTTP
/// error), latency, bytes `(sent, received)`, an exemplar if it is among the slowest, and for a
/// failure its error sample (secrets scrubbed here).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn record(
    s: &mut crate::metrics::WorkerMetrics,
    shared: &crate::shared::TestShared,
    name: &str,
    class: RequestClass,
    elapsed_us: u64,
    (sent, received): (u64, u64),
    status: Option<u16>,
    failure: Option<String>,
) {
    s.request_with_exemplar(name, class, status, elapsed_us, sent, received, || {
        exemplar(None, elapsed_us, None)
    });
    if let Some(message) = failure {
        s.error(class.as_str(), shared.secrets.scrub(&message));
    }
}

/// The exemplar of a request or an operation kept among its name's slowest (built only then):
/// when it started (now, less its latency), how long it took, its status, and the trace it
/// carried (none for an operation: the runtime sent no trace context with it).
pub(crate) fn exemplar(
    trace: Option<TraceParent>,
    latency_us: u64,
    status: Option<u16>,
) -> Exemplar {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Exemplar {
        trace_id: trace.map(|t| t.trace_id),
        span_id: trace.map(|t| t.span_id),
        sampled: trace.is_some_and(|t| t.sampled),
        started_at_unix: (now - latency_us as f64 / 1e6).max(0.0),
        latency_us,
        status,
        shard: None,
    }
}

/// An I/O error's class: the kinds a network client meets map to the HTTP client's classes.
pub(crate) fn io_class(e: &std::io::Error) -> RequestClass {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::TimedOut => RequestClass::Timeout,
        K::ConnectionRefused
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::AddrNotAvailable
        | K::NotConnected => RequestClass::Connect,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            RequestClass::Closed
        }
        _ => RequestClass::Error,
    }
}

/// An error sample: `name: Type: message`, the message cut at [`MESSAGE_LIMIT`] bytes. Built only
/// for a failed attempt. Secrets are scrubbed by the caller.
pub(crate) fn sample<E: Display + 'static>(name: &str, error: &E) -> String {
    let mut message = String::new();
    let _ = write!(message, "{error}");
    if message.len() > MESSAGE_LIMIT {
        let mut cut = MESSAGE_LIMIT;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    let type_name = short_type_name(std::any::type_name::<E>());
    let mut out = String::with_capacity(name.len() + type_name.len() + message.len() + 4);
    out.push_str(name);
    out.push_str(": ");
    out.push_str(&type_name);
    out.push_str(": ");
    out.push_str(&message);
    out
}

/// A type's name without its module paths: `my_app::db::DbError` becomes `DbError`,
/// `alloc::boxed::Box<dyn core::error::Error + core::marker::Send>` becomes
/// `Box<dyn Error + Send>`. A path ending in a bare `Error` keeps its crate or (for the standard
/// library) its module, so that `std::io::error::Error` is `io::Error` and
/// `serde_json::error::Error` is `serde_json::Error`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut rest = full;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        if end == 0 {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let path = &rest[..end];
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [] => {}
            [.., last] if *last == "Error" && segments.len() >= 2 => {
                let owner = match segments[0] {
                    // `core::error::Error`, the trait, is `Error`.
                    "std" | "core" | "alloc" if segments.len() >= 3 && segments[1] != "error" => {
                        segments[1]
                    }
                    "std" | "core" | "alloc" => "",
                    krate => krate,
                };
                if !owner.is_empty() {
                    out.push_str(owner);
                    out.push_str("::");
                }
                out.push_str(last);
            }
            [.., last] => out.push_str(last),
        }
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn type_names_lose_their_module_paths() {
        assert_eq!(short_type_name("std::io::error::Error"), "io::Error");
        assert_eq!(short_type_name("my_app::db::DbError"), "DbError");
        assert_eq!(
            short_type_name("serde_json::error::Error"),
            "serde_json::Error"
        );
        assert_eq!(short_type_name("anyhow::Error"), "anyhow::Error");
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(
            short_type_name(
                "alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"
            ),
            "Box<dyn Error + Send + Sync>"
        );
        assert_eq!(short_type_name("&str"), "&str");
        assert_eq!(short_type_name("core::error::Error"), "Error");
    }

    #[test]
    fn samples_name_the_operation_and_type_and_are_bounded() {
        let e = io::Error::other("busy");
        assert_eq!(sample("kv.get", &e), "kv.get: io::Error: busy");
        let long = "é".repeat(MESSAGE_LIMIT);
        let s = sample("op", &long);
        assert!(s.starts_with("op: String: é"), "{s}");
        assert!(s.ends_with('…'), "{s}");
        assert!(s.len() <= "op: String: ".len() + MESSAGE_LIMIT + '…'.len_utf8());
    }
}
