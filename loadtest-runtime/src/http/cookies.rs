//! A virtual user's cookie jar, as a browser session keeps one: `Set-Cookie` responses store
//! cookies, later requests to a matching host and path send them back in one `Cookie` header.
//!
//! It keeps what load tests meet: `Domain` (the host and its subdomains), `Path` (a prefix),
//! `Secure` (https only), `Max-Age` and `Expires` as a deletion (`Max-Age=0` or a date in the
//! past is read as "delete"; other expiry times are not tracked, as a test session is short).
//! A jar holds at most [`MAX_COOKIES`] cookies; the oldest goes first.

use reqwest::header::HeaderValue;

/// The most cookies one jar keeps.
pub const MAX_COOKIES: usize = 64;

#[derive(Clone, Debug, PartialEq)]
struct Cookie {
    name: Box<str>,
    value: Box<str>,
    /// The host the cookie came from, or its `Domain` attribute (lower case, no leading dot).
    domain: Box<str>,
    /// Whether `Domain` was given, so subdomains match too.
    subdomains: bool,
    path: Box<str>,
    secure: bool,
}

/// One user's cookies.
#[derive(Default, Debug)]
pub(crate) struct Jar {
    cookies: Vec<Cookie>,
}

impl Jar {
    /// Stores (or deletes) the cookie of one `Set-Cookie` header received from `host` for a
    /// request to `path`.
    pub(crate) fn store(&mut self, host: &str, path: &str, header: &HeaderValue) {
        let Ok(text) = header.to_str() else { return };
        let mut parts = text.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let host = host.to_ascii_lowercase();
        let mut cookie = Cookie {
            name: name.into(),
            value: value.trim().into(),
            domain: host.as_str().into(),
            subdomains: false,
            path: default_path(path).into(),
            secure: false,
        };
        let mut delete = false;
        for attr in parts {
            let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "domain" if !val.is_empty() => {
                    let d = val.trim_start_matches('.').to_ascii_lowercase();
                    // A server may only set a cookie for its own domain or a parent of it.
                    if !domain_matches(&host, &d) {
                        return;
                    }
                    cookie.domain = d.into();
                    cookie.subdomains = true;
                }
                "path" if val.starts_with('/') => cookie.path = val.into(),
                "secure" => cookie.secure = true,
                "max-age" => delete = val.parse::<i64>().is_ok_and(|s| s <= 0),
                "expires" => delete = delete || expired(val),
                _ => {}
            }
        }
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        });
        if !delete {
            if self.cookies.len() >= MAX_COOKIES {
                self.cookies.remove(0);
            }
            self.cookies.push(cookie);
        }
    }

    /// The `Cookie` header for a request to `host` and `path` (over TLS when `tls`), if any
    /// cookie matches. Marked sensitive.
    pub(crate) fn header(&self, host: &str, path: &str, tls: bool) -> Option<HeaderValue> {
        let mut out = String::new();
        for c in &self.cookies {
            let host_ok = if c.subdomains {
                domain_matches(host, &c.domain)
            } else {
                host.eq_ignore_ascii_case(&c.domain)
            };
            if host_ok && path_matches(path, &c.path) && (tls || !c.secure) {
                if !out.is_empty() {
                    out.push_str("; ");
                }
                out.push_str(&c.name);
                out.push('=');
                out.push_str(&c.value);
            }
        }
        if out.is_empty() {
            return None;
        }
        let mut v = HeaderValue::from_str(&out).ok()?;
        v.set_sensitive(true);
        Some(v)
    }

    /// How many cookies the jar holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cookies.len()
    }
}

/// A user's jar, made on the first cookie (a user that never gets one costs no allocation).
#[derive(Default)]
pub(crate) struct JarCell(std::sync::Mutex<Option<Box<Jar>>>);

impl JarCell {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Box<Jar>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `Cookie` header for a request, as [`Jar::header`].
    pub(crate) fn header(&self, host: &str, path: &str, tls: bool) -> Option<HeaderValue> {
        self.lock().as_ref()?.header(host, path, tls)
    }

    /// Stores every `Set-Cookie` of a response from `host` to a request for `path`.
    pub(crate) fn store_all(
        &self,
        host: &str,
        path: &str,
        headers: &crate::http::response::LazyHeaders,
    ) {
        if !headers.contains(&reqwest::header::SET_COOKIE) {
            return;
        }
        let mut values = headers
            .map()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .peekable();
        if values.peek().is_none() {
            return;
        }
        let mut jar = self.lock();
        let jar = jar.get_or_insert_with(Box::default);
        for v in values {
            jar.store(host, path, v);
        }
    }
}

/// `host` is `domain` or one of its subdomains.
fn domain_matches(host: &str, domain: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// RFC 6265 path matching: the same path, or a prefix ending at a `/`.
fn path_matches(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

/// The default `Path` of a cookie: the request path up to its last `/`.
fn default_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Whether an `Expires` date lies in the past. Only the year is read (`Thu, 01 Jan 1970 ...`
/// is how servers delete a cookie); a date this year or later keeps the cookie.
fn expired(date: &str) -> bool {
    let now_year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 31_556_952);
    date.split([' ', '-'])
        .filter_map(|w| w.parse::<u64>().ok())
        .find(|n| *n >= 1970)
        .is_some_and(|year| year < now_year)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(jar: &mut Jar, host: &str, path: &str, header: &str) {
        jar.store(host, path, &HeaderValue::from_str(header).unwrap());
    }

    fn get(jar: &Jar, host: &str, path: &str, tls: bool) -> Option<String> {
        jar.header(host, path, tls)
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[test]
    fn stores_and_sends_back_by_host_and_path() {
        let mut jar = Jar::default();
        set(&mut jar, "127.0.0.1", "/login", "sid=abc; Path=/; HttpOnly");
        set(&mut jar, "127.0.0.1", "/cart/add", "cart=1");
        assert_eq!(
            get(&jar, "127.0.0.1", "/", false).as_deref(),
            Some("sid=abc")
        );
        assert_eq!(
            get(&jar, "127.0.0.1", "/cart/view", false).as_deref(),
            Some("sid=abc; cart=1")
        );
        assert_eq!(get(&jar, "127.0.0.2", "/", false), None, "another host");
        assert_eq!(
            get(&jar, "127.0.0.1", "/cartx", false).as_deref(),
            Some("sid=abc")
        );
    }

    #[test]
    fn replaces_deletes_and_honours_secure_and_domain() {
        let mut jar = Jar::default();
        set(&mut jar, "a.example.test", "/", "s=1; Secure");
        assert_eq!(get(&jar, "a.example.test", "/", false), None);
        assert_eq!(
            get(&jar, "a.example.test", "/", true).as_deref(),
            Some("s=1")
        );
        set(&mut jar, "a.example.test", "/", "d=1; Domain=.example.test");
        assert_eq!(
            get(&jar, "b.example.test", "/", false).as_deref(),
            Some("d=1")
        );
        set(&mut jar, "a.example.test", "/", "x=1; Domain=other.test");
        assert_eq!(jar.len(), 2, "a cookie for a foreign domain is refused");
        set(&mut jar, "a.example.test", "/", "s=2; Secure");
        assert_eq!(
            get(&jar, "a.example.test", "/", true).as_deref(),
            Some("d=1; s=2")
        );
        set(&mut jar, "a.example.test", "/", "s=; Max-Age=0");
        set(
            &mut jar,
            "a.example.test",
            "/",
            "d=; Domain=example.test; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        );
        assert_eq!(jar.len(), 0);
        for i in 0..MAX_COOKIES + 5 {
            set(&mut jar, "h", "/", &format!("c{i}=v"));
        }
        assert_eq!(jar.len(), MAX_COOKIES);
    }
}
