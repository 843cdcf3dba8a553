//! The native exchange against hyper's HTTP/1.1 client on the same bytes.
//!
//! Each case of a corpus (bodies framed every way, interim responses, bodiless statuses, close-
//! delimited bodies, truncations and malformed heads) is fed to both as a server would send it:
//! whole, split in two at every byte boundary, and one byte per read. Both must agree: the same
//! status, headers and body, or both an error. Where they deliberately differ, the case says so.

use super::native::{Native, Outgoing};
use crate::http::parsed_url::ParsedUrl;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use reqwest::Method;
use reqwest::header::HeaderMap;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream that takes whatever is written and, once something was (a server answers a request),
/// returns its reads in the given pieces, then the end of the stream.
struct Scripted {
    reads: VecDeque<Vec<u8>>,
    written: bool,
    reader: Option<std::task::Waker>,
}

impl Scripted {
    fn new(reads: VecDeque<Vec<u8>>) -> Scripted {
        Scripted {
            reads,
            written: false,
            reader: None,
        }
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.written {
            self.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if let Some(mut piece) = self.reads.pop_front() {
            let n = piece.len().min(buf.remaining());
            buf.put_slice(&piece[..n]);
            if n < piece.len() {
                self.reads.push_front(piece.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written = true;
        if let Some(w) = self.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What a client made of a response.
#[derive(Debug, PartialEq)]
enum Seen {
    Response {
        status: u16,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
    Error,
}

fn headers_of(map: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect()
}

async fn native(method: &Method, reads: VecDeque<Vec<u8>>) -> Seen {
    let parsed = ParsedUrl::parse("http://127.0.0.1:1/x").expect("a valid URL");
    let mut conn = Native::new(Scripted::new(reads));
    let outgoing = Outgoing {
        method,
        parsed: &parsed,
        headers: &HeaderMap::new(),
        body: &Bytes::new(),
        credentials: true,
        cookie: None,
        trace: None,
    };
    match conn.exchange(&outgoing).await {
        Ok(reply) => Seen::Response {
            status: reply.status,
            headers: headers_of(crate::http::response::LazyHeaders::raw(reply.head).map()),
            body: reply.body.to_vec(),
        },
        Err(_) => Seen::Error,
    }
}

async fn hyper(method: &Method, reads: VecDeque<Vec<u8>>) -> Seen {
    let io = TokioIo::new(Scripted::new(reads));
    let Ok((mut sender, driver)) =
        hyper::client::conn::http1::handshake::<_, http_body_util::Empty<Bytes>>(io).await
    else {
        return Seen::Error;
    };
    let driving = tokio::spawn(async move {
        let _ = driver.await;
    });
    let request = hyper::Request::builder()
        .method(method.clone())
        .uri("/x")
        .header("host", "127.0.0.1:1")
        .body(http_body_util::Empty::new())
        .expect("a valid request");
    let seen = match sender.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = headers_of(response.headers());
            match response.into_body().collect().await {
                Ok(body) => Seen::Response {
                    status,
                    headers,
                    body: body.to_bytes().to_vec(),
                },
                Err(_) => Seen::Error,
            }
        }
        Err(_) => Seen::Error,
    };
    driving.abort();
    seen
}

/// Every way of cutting `bytes` into reads this test tries: whole, in two at each boundary, and
/// one byte at a time.
fn cuts(bytes: &[u8]) -> Vec<VecDeque<Vec<u8>>> {
    let mut all = vec![VecDeque::from([bytes.to_vec()])];
    for i in 1..bytes.len() {
        all.push(VecDeque::from([bytes[..i].to_vec(), bytes[i..].to_vec()]));
    }
    all.push(bytes.iter().map(|&b| vec![b]).collect());
    all
}

/// The corpus: (what it is, the request method, the bytes the server sends).
fn corpus() -> Vec<(&'static str, Method, Vec<u8>)> {
    let get = Method::GET;
    let mut big = b"HTTP/1.1 200 OK\r\ncontent-length: 70000\r\n\r\n".to_vec();
    big.extend((0..70_000u32).map(|i| (i % 251) as u8));
    let mut many_chunks = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for i in 0..300u32 {
        let data = vec![b'a' + (i % 26) as u8; (i % 40 + 1) as usize];
        many_chunks.extend(format!("{:x}\r\n", data.len()).as_bytes());
        many_chunks.extend(&data);
        many_chunks.extend(b"\r\n");
    }
    many_chunks.extend(b"0\r\n\r\n");
    vec![
        ("content-length body", get.clone(), b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\nhello".to_vec()),
        ("chunked with trailers", get.clone(), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-checksum: 1\r\n\r\n".to_vec()),
        ("many chunks", get.clone(), many_chunks),
        ("a large body", get.clone(), big),
        ("100 Continue, then the response", get.clone(), b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok".to_vec()),
        ("103 Early Hints, then the response", get.clone(), b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()),
        ("204", get.clone(), b"HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n".to_vec()),
        ("304", get.clone(), b"HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\n\r\n".to_vec()),
        ("HEAD with a length", Method::HEAD, b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n".to_vec()),
        ("close-delimited body", get.clone(), b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec()),
        ("HTTP/1.0 with a length", get.clone(), b"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nabc".to_vec()),
        ("Connection: close", get.clone(), b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nabc".to_vec()),
        ("cookies and repeated headers", get.clone(), b"HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nSet-Cookie: b=2; Path=/\r\nx-dup: 1\r\nx-dup: 2\r\ncontent-length: 0\r\n\r\n".to_vec()),
        ("gzip, chunked", get.clone(), b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec()),
        ("an empty reason phrase", get.clone(), b"HTTP/1.1 200 \r\ncontent-length: 0\r\n\r\n".to_vec()),
        ("a 503 with a body", get.clone(), b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 4\r\n\r\nbusy".to_vec()),
        ("bad status code", get.clone(), b"HTTP/1.1 abc OK\r\n\r\n".to_vec()),
        ("not HTTP", get.clone(), b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec()),
        ("space in a header name", get.clone(), b"HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 0\r\n\r\n".to_vec()),
        ("bad chunk size", get.clone(), b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec()),
        ("chunk data without its CRLF", get.clone(), b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n".to_vec()),
        ("truncated body", get.clone(), b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello".to_vec()),
        ("truncated chunked body", get.clone(), b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel".to_vec()),
        ("truncated head", get.clone(), b"HTTP/1.1 200 OK\r\ncontent-le".to_vec()),
        ("two different lengths", get.clone(), b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd".to_vec()),
        ("a negative length", get.clone(), b"HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\nabc".to_vec()),
        ("nothing at all", get.clone(), Vec::new()),
    ]
}

#[tokio::test]
async fn the_native_exchange_reads_every_response_as_hyper_does() {
    let mut compared = 0;
    for (what, method, bytes) in corpus() {
        // Cutting a large response at every boundary would take long and show nothing new.
        let ways = if bytes.len() > 5_000 {
            vec![
                VecDeque::from([bytes.clone()]),
                bytes.chunks(1000).map(<[u8]>::to_vec).collect(),
                bytes.chunks(7).map(<[u8]>::to_vec).collect(),
            ]
        } else {
            cuts(&bytes)
        };
        for reads in ways {
            let pieces: Vec<usize> = reads.iter().map(Vec::len).collect();
            let ours = native(&method, reads.clone()).await;
            let theirs = hyper(&method, reads).await;
            assert_eq!(ours, theirs, "{what}, read in pieces of {pieces:?}");
            compared += 1;
        }
    }
    assert!(compared > 1000, "only {compared} comparisons");
}

#[tokio::test]
async fn the_corpus_has_answers_and_errors() {
    // Guards the comparison above against a corpus that only ever errors (or never does).
    let mut answers = 0;
    let mut errors = 0;
    for (_, method, bytes) in corpus() {
        match native(&method, VecDeque::from([bytes])).await {
            Seen::Response { .. } => answers += 1,
            Seen::Error => errors += 1,
        }
    }
    assert!(
        answers >= 15 && errors >= 8,
        "{answers} answers, {errors} errors"
    );
}
