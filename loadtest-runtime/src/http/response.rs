//! A response whose body has been read (up to [`BODY_LIMIT`]) while it was measured, and its
//! headers, kept as the bytes that arrived until a test asks for them.

use super::HttpError;
use super::parsed_url::ParsedUrl;
use crate::metrics::RequestClass;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::{Arc, OnceLock};

/// The most response body bytes kept in memory; the rest is read, counted and discarded, so a
/// huge response cannot exhaust the generator's memory.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A received response. The body was read in full while timing the request (so latency covers
/// the whole transfer); up to [`BODY_LIMIT`] bytes of it are kept.
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: LazyHeaders,
    pub(crate) body: Bytes,
    pub(crate) body_len: u64,
    pub(crate) method: reqwest::Method,
    /// The request's URL (set when the response is handed to the test).
    pub(crate) url: Option<Arc<ParsedUrl>>,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }

    /// The body's full length in bytes, including any part beyond [`BODY_LIMIT`].
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Whether the body was longer than [`BODY_LIMIT`] and only its start was kept.
    pub fn is_truncated(&self) -> bool {
        self.body_len > self.body.len() as u64
    }

    /// The body's bytes (its first [`BODY_LIMIT`] bytes when truncated).
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as UTF-8 text (lossy). Fails when the body was truncated.
    pub fn text(&self) -> Result<String, HttpError> {
        self.check_whole()?;
        Ok(String::from_utf8_lossy(&self.body).into_owned())
    }

    /// The body parsed as JSON. Fails when the body was truncated or is not valid JSON for `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        self.check_whole()?;
        serde_json::from_slice(&self.body).map_err(|e| {
            HttpError::new(
                RequestClass::Body,
                Some(self.status.as_u16()),
                format!("{}: invalid JSON body: {e}", self.what()),
            )
        })
    }

    /// Turns a 4xx or 5xx status into an error, as reqwest's `error_for_status`.
    pub fn error_for_status(self) -> Result<Response, HttpError> {
        let code = self.status.as_u16();
        if code >= 400 {
            return Err(HttpError::new(
                RequestClass::of_status(code),
                Some(code),
                format!("{}: HTTP {}", self.what(), self.status),
            ));
        }
        Ok(self)
    }

    fn what(&self) -> String {
        super::error::what(
            &self.method,
            self.url.as_ref().map_or("", |t| t.url.as_str()),
        )
    }

    fn check_whole(&self) -> Result<(), HttpError> {
        if self.is_truncated() {
            return Err(HttpError::new(
                RequestClass::Body,
                Some(self.status.as_u16()),
                format!(
                    "{}: the body is {} bytes, over the {BODY_LIMIT}-byte limit kept in memory",
                    self.what(),
                    self.body_len
                ),
            ));
        }
        Ok(())
    }
}

/// A response's headers: a `HeaderMap` already (hyper, reqwest), or the raw head the native
/// exchange read, turned into a `HeaderMap` the first time someone asks for one. Most tests never
/// look at a response's headers, so most responses never build one.
#[derive(Clone, Debug, Default)]
pub(crate) struct LazyHeaders {
    /// A whole response head (status line, header lines, blank line), or empty.
    raw: Bytes,
    map: OnceLock<HeaderMap>,
}

impl LazyHeaders {
    /// Headers already parsed.
    pub(crate) fn parsed(map: HeaderMap) -> LazyHeaders {
        LazyHeaders {
            raw: Bytes::new(),
            map: OnceLock::from(map),
        }
    }

    /// Headers in the raw response head `head`, parsed when first needed.
    pub(crate) fn raw(head: Bytes) -> LazyHeaders {
        LazyHeaders {
            raw: head,
            map: OnceLock::new(),
        }
    }

    /// The headers as a map (built now if they were not yet).
    pub(crate) fn map(&self) -> &HeaderMap {
        self.map.get_or_init(|| materialize(&self.raw))
    }

    /// Whether a header named `name` is present, without building the map.
    pub(crate) fn contains(&self, name: &HeaderName) -> bool {
        if let Some(map) = self.map.get() {
            return map.contains_key(name);
        }
        with_headers(&self.raw, |headers| {
            headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(name.as_str()))
        })
        .unwrap_or(false)
    }
}

/// Runs `f` on the header lines of the raw response head `raw` (parsed into uninitialised
/// storage, nothing allocated); `None` when `raw` is not a response head.
fn with_headers<R>(raw: &[u8], f: impl FnOnce(&[httparse::Header<'_>]) -> R) -> Option<R> {
    let mut headers = [const { std::mem::MaybeUninit::uninit() }; super::direct::MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut response, raw, &mut headers)
        .ok()?;
    Some(f(response.headers))
}

/// The headers of a raw response head, as a map (a line that is not a valid header is skipped:
/// the parser that accepted the head already refused malformed ones).
fn materialize(raw: &[u8]) -> HeaderMap {
    with_headers(raw, |headers| {
        let mut map = HeaderMap::new();
        for h in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(h.name.as_bytes()),
                HeaderValue::from_bytes(h.value),
            ) {
                map.append(name, value);
            }
        }
        map
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_headers_become_a_map_only_when_asked() {
        let raw = Bytes::from_static(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Y: z\r\n\r\n",
        );
        let h = LazyHeaders::raw(raw);
        assert!(h.contains(&reqwest::header::SET_COOKIE));
        assert!(!h.contains(&reqwest::header::LOCATION));
        assert!(h.map.get().is_none(), "contains built the map");
        assert_eq!(h.map().get_all("set-cookie").iter().count(), 2);
        assert_eq!(h.map()["x-y"], "z");
        assert_eq!(LazyHeaders::default().map().len(), 0);
    }
}
