//! How a request or an iteration ended: [`RequestClass`] and [`IterationClass`], the keys of a
//! report's `by_class` and `failed_by_class` counts. Each serializes as its name in reports
//! (`ok`, `http_5xx`, `grpc_unavailable`, `user`, ...), the names the JSON Schema lists, and
//! orders by that name, so a map of counts keeps the key order reports have always had and can
//! be looked up by name (`by_class.get("ok")`).

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// How an HTTP request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestClass {
    /// A response with a status below 400.
    Ok,
    /// A 4xx response.
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// A 5xx response.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// The request or its body timed out.
    Timeout,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The response was malformed or its body broke off.
    Body,
    /// Anything else (building the request, redirects).
    Other,
    /// The connection closed (or broke) before any byte of the response: a kept connection the
    /// server had timed out, a server at its connection limit. Retried by default for
    /// idempotent methods. For an operation measured with `ctx.measure`, an I/O error of the
    /// kinds reset, aborted, broken pipe or unexpected end of file.
    Closed,
    /// An operation measured with `ctx.measure` failed with its own error (one not of the
    /// classes above). Never an HTTP request's class.
    Error,
    /// WebSocket (`ws` feature): the server closed the connection with close code 1000 (normal)
    /// or 1001 (going away), or a close frame without a code, while a reply was awaited.
    WsCloseNormal,
    /// WebSocket (`ws` feature): the server closed the connection with any other close code
    /// (1002 protocol error, 1003 unsupported data, 1007 invalid payload, 1008 policy, 1009 too
    /// big, 1010 extension, 1011 internal error, 1012 restart, 1013 try again later, 1014 bad
    /// gateway, 3000-4999 the application's own) while a reply was awaited. The code and the
    /// reason are in the error sample.
    WsCloseError,
    /// WebSocket (`ws` feature): a protocol error: a handshake answered without a valid upgrade,
    /// a malformed frame, a text message that is not UTF-8, a message over the size limit.
    WsProtocol,
    /// gRPC (`grpc` feature): status 1 `CANCELLED`, the call was cancelled (by the client: a response dropped before the call ended, or by the server).
    GrpcCancelled,
    /// gRPC (`grpc` feature): status 2 `UNKNOWN`, an unknown error (also a status code outside 0-16).
    GrpcUnknown,
    /// gRPC (`grpc` feature): status 3 `INVALID_ARGUMENT`, the client specified an invalid argument.
    GrpcInvalidArgument,
    /// gRPC (`grpc` feature): status 4 `DEADLINE_EXCEEDED`, the deadline expired before the operation could complete.
    GrpcDeadlineExceeded,
    /// gRPC (`grpc` feature): status 5 `NOT_FOUND`, some requested entity was not found.
    GrpcNotFound,
    /// gRPC (`grpc` feature): status 6 `ALREADY_EXISTS`, the entity the client tried to create already exists.
    GrpcAlreadyExists,
    /// gRPC (`grpc` feature): status 7 `PERMISSION_DENIED`, the caller may not execute the operation.
    GrpcPermissionDenied,
    /// gRPC (`grpc` feature): status 8 `RESOURCE_EXHAUSTED`, some resource has been exhausted (a quota, a rate limit).
    GrpcResourceExhausted,
    /// gRPC (`grpc` feature): status 9 `FAILED_PRECONDITION`, the system is not in a state required for the operation.
    GrpcFailedPrecondition,
    /// gRPC (`grpc` feature): status 10 `ABORTED`, the operation was aborted (a concurrency conflict).
    GrpcAborted,
    /// gRPC (`grpc` feature): status 11 `OUT_OF_RANGE`, the operation was attempted past the valid range.
    GrpcOutOfRange,
    /// gRPC (`grpc` feature): status 12 `UNIMPLEMENTED`, the operation is not implemented or not supported.
    GrpcUnimplemented,
    /// gRPC (`grpc` feature): status 13 `INTERNAL`, an internal error.
    GrpcInternal,
    /// gRPC (`grpc` feature): status 14 `UNAVAILABLE`, the service is currently unavailable.
    GrpcUnavailable,
    /// gRPC (`grpc` feature): status 15 `DATA_LOSS`, unrecoverable data loss or corruption.
    GrpcDataLoss,
    /// gRPC (`grpc` feature): status 16 `UNAUTHENTICATED`, the request has no valid authentication credentials.
    GrpcUnauthenticated,
}

impl RequestClass {
    /// Every class, in report order.
    pub const ALL: [RequestClass; 29] = [
        RequestClass::Ok,
        RequestClass::Http4xx,
        RequestClass::Http5xx,
        RequestClass::Connect,
        RequestClass::Timeout,
        RequestClass::Tls,
        RequestClass::Body,
        RequestClass::Other,
        RequestClass::Closed,
        RequestClass::Error,
        RequestClass::WsCloseNormal,
        RequestClass::WsCloseError,
        RequestClass::WsProtocol,
        RequestClass::GrpcCancelled,
        RequestClass::GrpcUnknown,
        RequestClass::GrpcInvalidArgument,
        RequestClass::GrpcDeadlineExceeded,
        RequestClass::GrpcNotFound,
        RequestClass::GrpcAlreadyExists,
        RequestClass::GrpcPermissionDenied,
        RequestClass::GrpcResourceExhausted,
        RequestClass::GrpcFailedPrecondition,
        RequestClass::GrpcAborted,
        RequestClass::GrpcOutOfRange,
        RequestClass::GrpcUnimplemented,
        RequestClass::GrpcInternal,
        RequestClass::GrpcUnavailable,
        RequestClass::GrpcDataLoss,
        RequestClass::GrpcUnauthenticated,
    ];

    /// The class's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::Ok => "ok",
            RequestClass::Http4xx => "http_4xx",
            RequestClass::Http5xx => "http_5xx",
            RequestClass::Connect => "connect",
            RequestClass::Timeout => "timeout",
            RequestClass::Tls => "tls",
            RequestClass::Body => "body",
            RequestClass::Other => "other",
            RequestClass::Closed => "closed",
            RequestClass::Error => "error",
            RequestClass::WsCloseNormal => "ws_close_normal",
            RequestClass::WsCloseError => "ws_close_error",
            RequestClass::WsProtocol => "ws_protocol",
            RequestClass::GrpcCancelled => "grpc_cancelled",
            RequestClass::GrpcUnknown => "grpc_unknown",
            RequestClass::GrpcInvalidArgument => "grpc_invalid_argument",
            RequestClass::GrpcDeadlineExceeded => "grpc_deadline_exceeded",
            RequestClass::GrpcNotFound => "grpc_not_found",
            RequestClass::GrpcAlreadyExists => "grpc_already_exists",
            RequestClass::GrpcPermissionDenied => "grpc_permission_denied",
            RequestClass::GrpcResourceExhausted => "grpc_resource_exhausted",
            RequestClass::GrpcFailedPrecondition => "grpc_failed_precondition",
            RequestClass::GrpcAborted => "grpc_aborted",
            RequestClass::GrpcOutOfRange => "grpc_out_of_range",
            RequestClass::GrpcUnimplemented => "grpc_unimplemented",
            RequestClass::GrpcInternal => "grpc_internal",
            RequestClass::GrpcUnavailable => "grpc_unavailable",
            RequestClass::GrpcDataLoss => "grpc_data_loss",
            RequestClass::GrpcUnauthenticated => "grpc_unauthenticated",
        }
    }

    /// The class of a gRPC status code (`grpc-status`): `ok` for 0, the code's own class for
    /// 1 to 16, and `grpc_unknown` for any other (as gRPC clients read a code they do not know).
    pub fn of_grpc_status(code: u32) -> RequestClass {
        match code {
            0 => RequestClass::Ok,
            // The gRPC classes are declared in the order of their codes, 1 to 16.
            1..=16 => RequestClass::ALL[RequestClass::GrpcCancelled as usize + code as usize - 1],
            _ => RequestClass::GrpcUnknown,
        }
    }

    /// The class of a status code.
    pub fn of_status(status: u16) -> RequestClass {
        match status {
            500.. => RequestClass::Http5xx,
            400..=499 => RequestClass::Http4xx,
            _ => RequestClass::Ok,
        }
    }
}

/// How an iteration failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IterationClass {
    /// The function returned an error.
    User,
    /// The function panicked.
    Panic,
    /// The iteration exceeded `iteration_timeout`.
    Timeout,
}

impl IterationClass {
    /// Every class, in report order.
    pub const ALL: [IterationClass; 3] = [
        IterationClass::User,
        IterationClass::Panic,
        IterationClass::Timeout,
    ];

    /// The class's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            IterationClass::User => "user",
            IterationClass::Panic => "panic",
            IterationClass::Timeout => "timeout",
        }
    }
}

/// A name that is not one of a kind of class's names (see `FromStr` on [`RequestClass`] and
/// [`IterationClass`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownClass {
    /// The name given.
    pub value: String,
    /// The names accepted, in report order.
    pub accepted: Vec<&'static str>,
}

impl fmt::Display for UnknownClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown class `{}`: expected one of {}",
            self.value,
            self.accepted.join(", ")
        )
    }
}

impl std::error::Error for UnknownClass {}

/// Ordered, compared, hashed, borrowed, shown and parsed as the class's name in reports, for
/// both classes.
macro_rules! named {
    ($t:ident) => {
        impl std::str::FromStr for $t {
            type Err = UnknownClass;

            fn from_str(s: &str) -> Result<Self, UnknownClass> {
                $t::ALL
                    .into_iter()
                    .find(|c| c.as_str() == s)
                    .ok_or_else(|| UnknownClass {
                        value: s.to_string(),
                        accepted: $t::ALL.map($t::as_str).to_vec(),
                    })
            }
        }

        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $t {
            fn cmp(&self, other: &Self) -> Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl Hash for $t {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.as_str().hash(state)
            }
        }

        impl Borrow<str> for $t {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named!(RequestClass);
named!(IterationClass);

#[cfg(test)]
mod tests {
    use super::*;

    /// A class's counter in the runtime is `by_class[class as usize]`: `ALL` lists the classes
    /// in their declaration order, each name once.
    #[test]
    fn every_class_is_at_its_index_with_a_name_of_its_own() {
        let mut names = std::collections::BTreeSet::new();
        for (i, class) in RequestClass::ALL.into_iter().enumerate() {
            assert_eq!(class as usize, i, "{class}");
            assert!(names.insert(class.as_str()), "{class}");
        }
        for (i, class) in IterationClass::ALL.into_iter().enumerate() {
            assert_eq!(class as usize, i, "{class}");
        }
    }

    #[test]
    fn each_class_serializes_as_its_name_and_reads_back() {
        for class in RequestClass::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{class}\""));
            assert_eq!(serde_json::from_str::<RequestClass>(&json).unwrap(), class);
        }
        for class in IterationClass::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{class}\""));
            assert_eq!(
                serde_json::from_str::<IterationClass>(&json).unwrap(),
                class
            );
        }
        let err = serde_json::from_str::<RequestClass>("\"http_6xx\"").unwrap_err();
        assert!(err.to_string().contains("http_6xx"), "{err}");
    }

    #[test]
    fn each_class_parses_from_its_name_and_nothing_else_does() {
        for class in RequestClass::ALL {
            assert_eq!(class.as_str().parse::<RequestClass>(), Ok(class));
        }
        for class in IterationClass::ALL {
            assert_eq!(class.as_str().parse::<IterationClass>(), Ok(class));
        }
        let err = "panic".parse::<RequestClass>().unwrap_err();
        assert_eq!(err.value, "panic");
        assert_eq!(err.accepted.len(), RequestClass::ALL.len());
        assert_eq!(
            "Timeout".parse::<IterationClass>().unwrap_err().to_string(),
            "unknown class `Timeout`: expected one of user, panic, timeout"
        );
    }

    /// Counts keyed by class keep the order of counts keyed by name, as JSON object keys and
    /// when read back, and are looked up by name.
    #[test]
    fn counts_by_class_are_ordered_and_found_by_name() {
        let counts: std::collections::BTreeMap<RequestClass, u64> = RequestClass::ALL
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, i as u64))
            .collect();
        let keys: Vec<&str> = counts.keys().map(|c| c.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert_eq!(counts.get("http_5xx"), Some(&2));
        assert_eq!(counts.get("grpc_unauthenticated"), Some(&28));
        let json = serde_json::to_string(&counts).unwrap();
        assert!(
            json.starts_with("{\"body\":6,\"closed\":8,\"connect\":3,"),
            "{json}"
        );
        let back: std::collections::BTreeMap<RequestClass, u64> =
            serde_json::from_str(&json).unwrap();
        assert_eq!(back, counts);
    }

    #[test]
    fn status_codes_are_their_classes() {
        assert_eq!(RequestClass::of_status(204), RequestClass::Ok);
        assert_eq!(RequestClass::of_status(404), RequestClass::Http4xx);
        assert_eq!(RequestClass::of_status(503), RequestClass::Http5xx);
        assert_eq!(RequestClass::of_grpc_status(0), RequestClass::Ok);
        assert_eq!(RequestClass::of_grpc_status(17), RequestClass::GrpcUnknown);
        assert_eq!(
            RequestClass::of_grpc_status(u32::MAX),
            RequestClass::GrpcUnknown
        );
        // Each code's class is the one gRPC names for it (google.rpc.Code).
        let names = [
            "cancelled",
            "unknown",
            "invalid_argument",
            "deadline_exceeded",
            "not_found",
            "already_exists",
            "permission_denied",
            "resource_exhausted",
            "failed_precondition",
            "aborted",
            "out_of_range",
            "unimplemented",
            "internal",
            "unavailable",
            "data_loss",
            "unauthenticated",
        ];
        for (code, name) in (1..).zip(names) {
            assert_eq!(
                RequestClass::of_grpc_status(code).as_str(),
                format!("grpc_{name}"),
                "{code}"
            );
        }
    }
}
