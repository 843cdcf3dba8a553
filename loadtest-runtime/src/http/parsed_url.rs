//! A request URL parsed once into everything both transports need: the `url::Url` (reqwest, and
//! redirects), the origin its connections belong to, the `Host` header, the request-target, and
//! the `Authorization` that URL credentials stand for. Parsed URLs are cached per thread, since
//! most tests send the same few URLs over and over.

use base64::Engine as _;
use reqwest::header::HeaderValue;
use std::sync::Arc;

/// Where connections go: scheme, host and port. Two URLs with the same origin share connections.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    /// `https`: the connection is TLS.
    pub(crate) tls: bool,
    /// The host as written (a name, or an IP address without brackets).
    pub(crate) host: Box<str>,
    pub(crate) port: u16,
}

/// A parsed request URL.
#[derive(Debug)]
pub(crate) struct ParsedUrl {
    pub(crate) url: url::Url,
    pub(crate) origin: Arc<Origin>,
    /// The `Host` header value (`host[:port]`, the port only when not the scheme's default).
    pub(crate) host_header: HeaderValue,
    /// The absolute URI, as HTTP/2 sends it (`:scheme`, `:authority`, `:path`).
    pub(crate) uri: hyper::Uri,
    /// The origin-form request-target as a URI.
    pub(crate) path_uri: hyper::Uri,
    /// `Basic` credentials from the URL's `user:password@`, marked sensitive.
    pub(crate) authorization: Option<HeaderValue>,
    /// The default request names of the common methods, made on first use (see
    /// [`Target::default_name`]).
    names: [std::sync::OnceLock<Box<str>>; 7],
    /// The native exchange's request line after the method, and the `Host` header:
    /// ` /path?query HTTP/1.1\r\nhost: host[:port]\r\n`, encoded once per URL.
    pub(crate) h1_line: Box<[u8]>,
}

impl ParsedUrl {
    /// Parses an absolute `http` or `https` URL.
    pub(crate) fn parse(text: &str) -> Result<ParsedUrl, String> {
        let url = url::Url::parse(text).map_err(|e| e.to_string())?;
        ParsedUrl::from_url(url)
    }

    /// The pieces of an already parsed URL (a redirect's `Location`, resolved).
    pub(crate) fn from_url(url: url::Url) -> Result<ParsedUrl, String> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(format!(
                    "unsupported URL scheme {other:?}: use http or https"
                ));
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err("the URL has no host".into()),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err("the URL has no host".into()),
        };
        let host_header =
            HeaderValue::from_str(&authority).map_err(|e| format!("invalid host: {e}"))?;
        let path_and_query = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let path_uri: hyper::Uri = path_and_query
            .parse()
            .map_err(|e| format!("invalid path: {e}"))?;
        let uri: hyper::Uri = format!("{}://{authority}{path_and_query}", url.scheme())
            .parse()
            .map_err(|e| format!("invalid URL: {e}"))?;
        let authorization = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user = percent_decode(url.username());
            let pass = url.password().map(percent_decode);
            let cred = match pass {
                Some(p) => format!("{user}:{p}"),
                None => format!("{user}:"),
            };
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(cred)
            );
            let mut v = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
            v.set_sensitive(true);
            Some(v)
        };
        let h1_line = format!(" {path_and_query} HTTP/1.1\r\nhost: {authority}\r\n")
            .into_bytes()
            .into_boxed_slice();
        Ok(ParsedUrl {
            names: Default::default(),
            h1_line,
            origin: Arc::new(Origin {
                tls,
                host: host.into(),
                port,
            }),
            host_header,
            url,
            uri,
            path_uri,
            authorization,
        })
    }
}

impl ParsedUrl {
    /// The default name of a request with `method` to this URL (see
    /// [`crate::metrics::names::request_name`]), made once per URL for the common methods.
    pub(crate) fn default_name(&self, method: &reqwest::Method) -> std::borrow::Cow<'_, str> {
        use reqwest::Method;
        let make = || crate::metrics::names::request_name(method.as_str(), self.url.as_str());
        let i = match *method {
            Method::GET => 0,
            Method::POST => 1,
            Method::PUT => 2,
            Method::PATCH => 3,
            Method::DELETE => 4,
            Method::HEAD => 5,
            Method::OPTIONS => 6,
            _ => return make().into(),
        };
        std::borrow::Cow::Borrowed(self.names[i].get_or_init(|| make().into_boxed_str()))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How many parsed URLs each thread keeps.
const CACHED: usize = 8;

/// A thread's recently parsed URLs, and which entry the next new one replaces.
#[derive(Default)]
struct Cache {
    entries: Vec<(Box<str>, Arc<ParsedUrl>)>,
    next: usize,
}

thread_local! {
    static CACHE: std::cell::RefCell<Cache> = std::cell::RefCell::default();
}

/// Parses `text`, reusing this thread's result when it parsed the same text recently (the last
/// [`CACHED`] distinct URLs; a test that walks through many URLs replaces them in turn).
pub(crate) fn parse_cached(text: &str) -> Result<Arc<ParsedUrl>, String> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, parsed)) = cache.entries.iter().find(|(t, _)| &**t == text) {
            return Ok(parsed.clone());
        }
        let parsed = Arc::new(ParsedUrl::parse(text)?);
        let entry = (text.into(), parsed.clone());
        if cache.entries.len() < CACHED {
            cache.entries.push(entry);
        } else {
            let i = cache.next;
            cache.entries[i] = entry;
            cache.next = (i + 1) % CACHED;
        }
        Ok(parsed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_of_a_url() {
        let t = ParsedUrl::parse("https://u:p%40ss@example.test:8443/a/b?q=1#frag").unwrap();
        assert!(t.origin.tls);
        assert_eq!((&*t.origin.host, t.origin.port), ("example.test", 8443));
        assert_eq!(t.host_header, "example.test:8443");
        assert_eq!(t.path_uri, "/a/b?q=1");
        assert_eq!(t.uri, "https://example.test:8443/a/b?q=1");
        // base64("u:p@ss")
        assert_eq!(t.authorization.unwrap(), "Basic dTpwQHNz");
        let t = ParsedUrl::parse("http://127.0.0.1").unwrap();
        assert_eq!(
            (t.origin.port, t.host_header.to_str().unwrap()),
            (80, "127.0.0.1")
        );
        assert_eq!(t.path_uri, "/");
        let t = ParsedUrl::parse("http://[::1]:9/x").unwrap();
        assert_eq!(
            (&*t.origin.host, t.host_header.to_str().unwrap()),
            ("::1", "[::1]:9")
        );
        assert!(ParsedUrl::parse("ftp://x/").unwrap_err().contains("ftp"));
        assert!(ParsedUrl::parse("not a url").is_err());
    }
}
