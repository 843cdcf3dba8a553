//! The error of a failed request: its class (for the report) and a readable, redacted message.

use crate::metrics::RequestClass;
use std::fmt;

/// A request that failed, or a response whose status was turned into an error.
#[derive(Clone, Debug)]
pub struct HttpError {
    pub(crate) class: RequestClass,
    pub(crate) status: Option<u16>,
    pub(crate) message: String,
}

impl HttpError {
    pub(crate) fn new(class: RequestClass, status: Option<u16>, message: String) -> Self {
        HttpError {
            class,
            status,
            message,
        }
    }

    /// The outcome class: `connect`, `timeout`, `tls`, `closed`, `body`, `http_4xx`, `http_5xx` or
    /// `other`.
    pub fn class(&self) -> &'static str {
        self.class.as_str()
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        self.class == RequestClass::Timeout
    }

    /// Whether the connection could not be made.
    pub fn is_connect(&self) -> bool {
        self.class == RequestClass::Connect
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// `METHOD url` with any URL credentials removed: how messages name a request. Built only when a
/// message needs it, never for a request that succeeds.
pub(crate) fn what(method: &reqwest::Method, url: &str) -> String {
    crate::redact::url(&format!("{method} {url}"))
}

/// Classifies a reqwest error and renders its whole source chain, credentials redacted.
pub(crate) fn classify(e: &reqwest::Error, what: &str) -> HttpError {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    let class = if e.is_timeout() || lower.contains("timed out") {
        RequestClass::Timeout
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("ssl")
        || lower.contains("handshake")
    {
        RequestClass::Tls
    } else if e.is_connect() {
        RequestClass::Connect
    } else if e.status().is_none() && closed_before_response(e) {
        RequestClass::Closed
    } else if e.is_body()
        || e.is_decode()
        || lower.contains("parse")
        || lower.contains("invalid")
        || lower.contains("incomplete")
        || lower.contains("connection closed")
        || lower.contains("reset")
        || lower.contains("message")
    {
        RequestClass::Body
    } else {
        RequestClass::Other
    };
    let message = crate::redact::url(&format!("{what}: {chain}"));
    HttpError::new(class, e.status().map(|s| s.as_u16()), message)
}

/// Whether a reqwest error is hyper's "connection closed before message completed" on a request
/// that got no response head: the class `closed`, as the other transports say.
fn closed_before_response(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_incomplete_message() && !e.is_body();
        }
        source = s.source();
    }
    false
}
