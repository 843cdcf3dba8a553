//! A response whose body has been read (up to [`BODY_LIMIT`]) while it was measured.

use super::HttpError;
use crate::metrics::RequestClass;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// The most response body bytes kept in memory; the rest is read, counted and discarded, so a
/// huge response cannot exhaust the generator's memory.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A received response. The body was read in full while timing the request (so latency covers
/// the whole transfer); up to [`BODY_LIMIT`] bytes of it are kept.
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) body_len: u64,
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
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
        super::error::what(&self.method, &self.url)
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
