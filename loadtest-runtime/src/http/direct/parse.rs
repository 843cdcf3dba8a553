//! HTTP/1.1 responses read without I/O: the head parsed in place with `httparse`, the body's
//! framing decided as RFC 9112 section 6.3 says (no body for HEAD, 1xx, 204 and 304;
//! `Transfer-Encoding: chunked`; `Content-Length`; otherwise until the server closes), and a
//! chunked-body decoder that consumes whatever part of the body has arrived.
//!
//! Nothing here allocates: the caller owns the buffer and decides what to keep. The native
//! exchange (`native.rs`) drives these functions; the differential test in
//! `tests/wire.rs` checks them against hyper on the same bytes.

use std::fmt;
use std::mem::MaybeUninit;

/// The most header lines a response may have.
pub(crate) const MAX_HEADERS: usize = 128;

/// The longest response head accepted (status line and headers).
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// The longest chunk-size line (with extensions) or trailer section accepted.
const MAX_CHUNK_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 64 * 1024;

/// Why a response could not be read: what was wrong, for the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The status line or a header line is not HTTP/1.x.
    Head(&'static str),
    /// The head is longer than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] lines.
    HeadTooLarge,
    /// `Content-Length` is not a number, or two of them differ.
    ContentLength,
    /// A chunk's size line or its end is not as chunked encoding writes them.
    Chunk(&'static str),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Head(what) => write!(f, "malformed HTTP response head: {what}"),
            Malformed::HeadTooLarge => write!(
                f,
                "HTTP response head too large (over {MAX_HEAD} bytes or {MAX_HEADERS} header lines)"
            ),
            Malformed::ContentLength => write!(f, "invalid Content-Length in the HTTP response"),
            Malformed::Chunk(what) => write!(f, "malformed chunked HTTP body: {what}"),
        }
    }
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) status: u16,
    /// The head's length in bytes, blank line included: the body starts there.
    pub(crate) len: usize,
    pub(crate) framing: Framing,
    /// Whether the connection can carry another request after this response.
    pub(crate) keep_alive: bool,
    /// Whether the head has a `Set-Cookie` (the cookie jar looks at the headers only then).
    pub(crate) set_cookie: bool,
}

impl Head {
    /// A 1xx response other than 101: an interim answer, followed by the real one.
    pub(crate) fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parses the head at the start of `buf`; `Ok(None)` when more bytes are needed.
/// `head_request`: the request was HEAD, so the response has no body whatever it says.
pub(crate) fn head(buf: &[u8], head_request: bool) -> Result<Option<Head>, Malformed> {
    // Uninitialised: httparse writes only the headers it finds (initialising all 128 slots
    // cost more than parsing a typical head).
    let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut headers,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(Malformed::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Malformed::HeadTooLarge),
        Err(e) => return Err(Malformed::Head(head_error(e))),
    };
    if len > MAX_HEAD {
        return Err(Malformed::HeadTooLarge);
    }
    let status = response.code.expect("a complete response has a status");
    let http11 = response.version == Some(1);
    let mut close = false;
    let mut keep_alive_token = false;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut length: Option<u64> = None;
    let mut set_cookie = false;
    for h in response.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("set-cookie") {
            set_cookie = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            // A list of equal values (`5, 5`) is one length; differing values are an error.
            for part in h.value.split(|&b| b == b',') {
                let n = parse_length(part.trim_ascii()).ok_or(Malformed::ContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(Malformed::ContentLength);
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // Only the last coding decides whether the body is chunked.
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .find(|c| !c.is_empty())
                .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive_token = true;
                }
            }
        }
    }
    let mut keep_alive = !close && (http11 || keep_alive_token);
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if transfer_encoding {
        if chunked {
            Framing::Chunked
        } else {
            keep_alive = false;
            Framing::UntilClose
        }
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => {
                keep_alive = false;
                Framing::UntilClose
            }
        }
    };
    if status == 101 {
        keep_alive = false; // an upgrade: this client speaks nothing after it
    }
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
        set_cookie,
    }))
}

fn head_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Token => "invalid token",
        httparse::Error::Version => "not HTTP/1.0 or HTTP/1.1",
        httparse::Error::TooManyHeaders => "too many headers",
    }
}

fn parse_length(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Where a chunked body's decoding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until a blank one; this many trailer bytes so far.
    Trailers(usize),
    Done,
}

/// Decodes a chunked body as it arrives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chunked {
    state: ChunkState,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: ChunkState::Size,
        }
    }
}

impl Chunked {
    /// Whether the last chunk and the trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes what it can of `buf`, handing each piece of body data to `data`; returns how many
    /// bytes of `buf` it consumed (the rest waits for more input, or follows the body).
    pub(crate) fn decode(
        &mut self,
        buf: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<usize, Malformed> {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            match self.state {
                ChunkState::Done => return Ok(at),
                ChunkState::Size => {
                    let Some(end) = find_crlf(rest) else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err(Malformed::Chunk("chunk size line too long"));
                        }
                        return Ok(at);
                    };
                    let size = parse_chunk_size(&rest[..end])?;
                    at += end + 2;
                    self.state = if size == 0 {
                        ChunkState::Trailers(0)
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        return Ok(at);
                    }
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    data(&rest[..take]);
                    at += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        if rest.first().is_some_and(|&b| b != b'\r') {
                            return Err(Malformed::Chunk("chunk data not followed by CRLF"));
                        }
                        return Ok(at);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(Malformed::Chunk("chunk data not followed by CRLF"));
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers(seen) => {
                    let Some(end) = find_crlf(rest) else {
                        if seen + rest.len() > MAX_TRAILERS {
                            return Err(Malformed::Chunk("trailers too large"));
                        }
                        return Ok(at);
                    };
                    at += end + 2;
                    self.state = if end == 0 {
                        ChunkState::Done
                    } else if seen + end > MAX_TRAILERS {
                        return Err(Malformed::Chunk("trailers too large"));
                    } else if !rest[..end].contains(&b':') {
                        return Err(Malformed::Chunk("invalid trailer line"));
                    } else {
                        ChunkState::Trailers(seen + end + 2)
                    };
                }
            }
        }
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// A chunk-size line: hex digits, then optional whitespace and `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Result<u64, Malformed> {
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if digits == 0 {
        return Err(Malformed::Chunk("invalid chunk size"));
    }
    if digits > 16 {
        return Err(Malformed::Chunk("chunk size too large"));
    }
    let tail = &line[digits..];
    let tail = tail.trim_ascii_start();
    if !tail.is_empty() && tail[0] != b';' {
        return Err(Malformed::Chunk("invalid chunk size"));
    }
    let mut n = 0u64;
    for &b in &line[..digits] {
        let d = (b as char).to_digit(16).expect("a hex digit") as u64;
        n = n
            .checked_mul(16)
            .and_then(|n| n.checked_add(d))
            .ok_or(Malformed::Chunk("chunk size too large"))?;
    }
    Ok(n)
}

/// Runs the parser over arbitrary bytes as a response would arrive, checking its invariants: the
/// fuzz target's entry (`fuzz/`, with the `fuzzing` feature). The first byte chooses whether the
/// request was HEAD and how many bytes each read brings.
#[cfg(feature = "fuzzing")]
pub fn fuzz(data: &[u8]) {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let head_request = control & 1 == 1;
    let step = usize::from(control >> 1).max(1);
    let mut start = 0;
    // Heads (interim ones, then the final one) read from growing prefixes, as reads extend them.
    let head = loop {
        let mut end = start;
        let found = loop {
            if end == data.len() {
                return;
            }
            end = (end + step).min(data.len());
            match head(&data[start..end], head_request) {
                Ok(Some(h)) => break h,
                Ok(None) => {}
                Err(_) => return,
            }
        };
        assert!(found.len <= end - start, "a head longer than its input");
        let raw = bytes::Bytes::copy_from_slice(&data[start..start + found.len]);
        let _ = crate::http::response::LazyHeaders::raw(raw).map();
        start += found.len;
        if !found.is_interim() {
            break found;
        }
    };
    if head.framing != Framing::Chunked {
        return;
    }
    let body = &data[start..];
    let mut decoder = Chunked::default();
    let (mut fed, mut consumed, mut decoded) = (0, 0, 0);
    while !decoder.is_done() && fed < body.len() {
        fed = (fed + step).min(body.len());
        match decoder.decode(&body[consumed..fed], |d| decoded += d.len()) {
            Ok(used) => {
                assert!(used <= fed - consumed, "consumed more than it was given");
                consumed += used;
            }
            Err(_) => return,
        }
    }
    assert!(decoded <= consumed, "more data out than bytes in");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Head {
        head(text.as_bytes(), false).unwrap().unwrap()
    }

    #[test]
    fn framing_follows_the_status_and_headers() {
        let h = parsed("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Length(5), true)
        );
        assert_eq!(h.len, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".len());
        let h = parsed("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = parsed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        let h = parsed("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        for s in [
            "204 No Content",
            "304 Not Modified",
            "100 Continue",
            "103 Early Hints",
        ] {
            let h = parsed(&format!("HTTP/1.1 {s}\r\ncontent-length: 9\r\n\r\n"));
            assert_eq!(h.framing, Framing::Empty, "{s}");
        }
        assert!(parsed("HTTP/1.1 100 Continue\r\n\r\n").is_interim());
        assert!(!parsed("HTTP/1.1 101 Switching\r\n\r\n").is_interim());
        let h = head(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Empty);
        assert_eq!(
            parsed("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").framing,
            Framing::Empty
        );
    }

    #[test]
    fn connection_reuse_follows_the_version_and_connection_header() {
        assert!(
            !parsed("HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n").keep_alive
        );
        assert!(
            !parsed("HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\ncontent-length: 0\r\n\r\n")
                .keep_alive
        );
        assert!(!parsed("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").keep_alive);
        assert!(
            parsed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n")
                .keep_alive
        );
    }

    #[test]
    fn partial_heads_wait_and_bad_ones_are_errors() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(head(&full[..cut], false), Ok(None), "cut at {cut}");
        }
        assert!(matches!(
            head(b"HTTP/2.0 200 OK\r\n\r\n", false),
            Err(Malformed::Head(_))
        ));
        assert!(matches!(
            head(b"hello world\r\n\r\n", false),
            Err(Malformed::Head(_))
        ));
        assert_eq!(
            head(
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
                false
            ),
            Err(Malformed::ContentLength)
        );
        assert_eq!(
            head(b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", false),
            Err(Malformed::ContentLength)
        );
        assert_eq!(
            parsed("HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\n").framing,
            Framing::Length(5)
        );
        let huge = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD + 1));
        assert_eq!(head(huge.as_bytes(), false), Err(Malformed::HeadTooLarge));
    }

    /// Decodes `input` fed `step` bytes at a time, as reads would deliver it; returns the body
    /// and how many bytes of the input the decoder consumed.
    fn dechunk(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), Malformed> {
        let mut decoder = Chunked::default();
        let mut body = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let (mut fed, mut consumed) = (0, 0);
        loop {
            let used = decoder.decode(&pending, |d| body.extend_from_slice(d))?;
            pending.drain(..used);
            consumed += used;
            if decoder.is_done() || fed == input.len() {
                break;
            }
            let next = (fed + step).min(input.len());
            pending.extend_from_slice(&input[fed..next]);
            fed = next;
        }
        assert!(decoder.is_done(), "not done: {pending:?}");
        Ok((body, consumed))
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_reads_split() {
        let input = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: yes\r\n\r\nNEXT";
        for step in 1..input.len() {
            let (body, consumed) = dechunk(input, step).unwrap();
            assert_eq!(body, b"hello, world", "step {step}");
            assert_eq!(
                consumed,
                input.len() - 4,
                "the bytes after the body are not consumed (step {step})"
            );
        }
        assert_eq!(dechunk(b"0\r\n\r\n", 1).unwrap().0, b"");
        assert_eq!(
            dechunk(b"A\r\n0123456789\r\n0\r\n\r\n", 3).unwrap().0,
            b"0123456789"
        );
    }

    #[test]
    fn malformed_chunks_are_errors() {
        for bad in [
            &b"z\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"0\r\nno colon here\r\n\r\n",
        ] {
            let mut d = Chunked::default();
            assert!(
                d.decode(bad, |_| {}).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
