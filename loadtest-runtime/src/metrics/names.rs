//! Bounded metric names. A request's default name is its method and path with the dynamic
//! segments grouped (`GET /items/{id}`), and a test keeps at most `max_names` distinct request
//! names (and as many custom latency names and custom counter names, each kind apart); further
//! names fold into one [`OVERFLOW`] entry,
//! counted like any other, and the run warns once naming `.name("...")` as the fix.
//!
//! Why: a REST test that puts ids in its URLs would otherwise get one histogram per URL, and
//! memory, reports and the summary would grow with the number of distinct URLs (the trap k6
//! users know as high-cardinality URL tags). Every HTTP transport computes its default name with
//! [`request_name`], so they group alike.
//!
//! The cap is test-wide but costs no lock on the hot path: a worker consults [`Names`] only for a
//! name it has not seen itself, and once the cap is reached the admitted set is frozen and read
//! without a lock.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The name under which requests (or custom metrics) past the cap are counted.
pub const OVERFLOW: &str = "(overflow)";

/// The default `max_names`: distinct request names (and custom metric names) a test keeps.
pub const DEFAULT_MAX_NAMES: u64 = 200;

/// The placeholder a dynamic path segment becomes.
const PLACEHOLDER: &str = "{id}";

/// The default name of a request: `METHOD /path` without query string or credentials, each
/// dynamic segment (a number, a UUID, a long hex or base64-like token) replaced by `{id}`:
/// `GET /users/42/orders/9f1c...` becomes `GET /users/{id}/orders/{id}`.
pub(crate) fn request_name(method: &str, url: &str) -> String {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path_start = after_scheme.find('/').unwrap_or(after_scheme.len());
    let path = &after_scheme[path_start..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() || path == "/" {
        return format!("{method} /");
    }
    let mut out = String::with_capacity(method.len() + 1 + path.len());
    out.push_str(method);
    out.push(' ');
    for (i, segment) in path.trim_start_matches('/').split('/').enumerate() {
        if i > 0 || path.starts_with('/') {
            out.push('/');
        }
        out.push_str(if is_dynamic(segment) {
            PLACEHOLDER
        } else {
            segment
        });
    }
    out
}

/// Whether a path segment looks like an identifier rather than a route word.
fn is_dynamic(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    // A number: `42`, `2026`.
    if digits == b.len() {
        return true;
    }
    // A UUID: 8-4-4-4-12 hex digits.
    if b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    {
        return true;
    }
    // A long hex token (hashes, object ids): 16 or more hex digits, at least one a digit.
    if b.len() >= 16 && digits > 0 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    // A base64-like token (tokens, JWT parts): 20 or more characters of the base64 alphabets,
    // with both letters and digits, so long route words (`account-settings-overview`) stay.
    b.len() >= 20
        && digits > 0
        && b.iter().any(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'+' | b'=' | b'.'))
}

/// What kind of names a [`Names`] bounds, for its warning. Each kind has its own cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// Request names (`.name(..)` or the default `METHOD /path`).
    Request,
    /// Custom latency names (`ctx.record`).
    Latency,
    /// Custom counter names (`ctx.count`).
    Counter,
}

/// The distinct names one test has admitted, up to its cap.
pub(crate) struct Names {
    kind: NameKind,
    cap: usize,
    admitted: Mutex<HashSet<Box<str>>>,
    /// The admitted set once it is full: read without a lock from then on.
    frozen: OnceLock<HashSet<Box<str>>>,
    /// The first name that did not fit, for the warning.
    first_refused: OnceLock<Box<str>>,
    warned: AtomicBool,
}

impl Names {
    /// A registry of at most `cap` names (at least 1).
    pub(crate) fn new(kind: NameKind, cap: u64) -> Names {
        Names {
            kind,
            cap: usize::try_from(cap.max(1)).unwrap_or(usize::MAX),
            admitted: Mutex::new(HashSet::new()),
            frozen: OnceLock::new(),
            first_refused: OnceLock::new(),
            warned: AtomicBool::new(false),
        }
    }

    /// The name to record `name` under: itself if it is admitted (or fits), else [`OVERFLOW`].
    /// Called by a worker only for names it has not recorded yet.
    pub(crate) fn admit<'a>(&self, name: &'a str) -> &'a str {
        if let Some(frozen) = self.frozen.get() {
            return self.check_frozen(frozen, name);
        }
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        if admitted.contains(name) {
            return name;
        }
        if admitted.len() < self.cap {
            admitted.insert(name.into());
            if admitted.len() == self.cap {
                let _ = self.frozen.set(admitted.clone());
            }
            return name;
        }
        drop(admitted);
        self.refuse(name)
    }

    fn check_frozen<'a>(&self, frozen: &HashSet<Box<str>>, name: &'a str) -> &'a str {
        if frozen.contains(name) {
            name
        } else {
            self.refuse(name)
        }
    }

    fn refuse(&self, name: &str) -> &'static str {
        let _ = self.first_refused.set(name.into());
        if !self.warned.swap(true, Ordering::Relaxed)
            && let Some(w) = self.warning()
        {
            eprintln!("warning: {w}");
        }
        OVERFLOW
    }

    /// The warning to show once names overflowed, if they did.
    pub(crate) fn warning(&self) -> Option<String> {
        let first = self.first_refused.get()?;
        let (what, call) = match self.kind {
            NameKind::Request => {
                return Some(format!(
                    "more than {} distinct request names (the first left out: {first:?}); further requests are counted under {OVERFLOW:?}. URLs with ids in them need a fixed name: ctx.http().get(url).name(\"GET /items/{{id}}\"), or raise `max_names`",
                    self.cap
                ));
            }
            NameKind::Latency => ("custom latency", "ctx.record"),
            NameKind::Counter => ("custom counter", "ctx.count"),
        };
        Some(format!(
            "more than {} distinct {what} names (the first left out: {first:?}); further values are counted under {OVERFLOW:?}. Give {call} a fixed name without ids, as a request's .name(\"...\"), or raise `max_names`",
            self.cap
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_group_dynamic_segments() {
        let cases = [
            ("http://u:p@127.0.0.1:80/a/b?q=1", "GET /a/b"),
            ("http://127.0.0.1:80", "GET /"),
            ("http://h/items/42", "GET /items/{id}"),
            ("http://h/items/42/", "GET /items/{id}/"),
            (
                "http://h/users/7/orders/123e4567-e89b-12d3-a456-426614174000",
                "GET /users/{id}/orders/{id}",
            ),
            (
                "http://h/blob/9f86d081884c7d659a2feaa0c55ad015",
                "GET /blob/{id}",
            ),
            (
                "http://h/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0",
                "GET /t/{id}",
            ),
            (
                "http://h/v2/account-settings-overview",
                "GET /v2/account-settings-overview",
            ),
            ("http://h/deadbeef/cafe", "GET /deadbeef/cafe"),
            ("http://h/api/v1/items#frag", "GET /api/v1/items"),
        ];
        for (url, want) in cases {
            assert_eq!(request_name("GET", url), want, "{url}");
        }
        assert_eq!(request_name("POST", "http://127.0.0.1:80"), "POST /");
    }

    #[test]
    fn names_past_the_cap_overflow_and_warn_once() {
        let n = Names::new(NameKind::Request, 3);
        for name in ["a", "b", "c"] {
            assert_eq!(n.admit(name), name);
        }
        assert!(n.warning().is_none());
        assert_eq!(n.admit("a"), "a", "admitted names stay admitted");
        assert_eq!(n.admit("d"), OVERFLOW);
        assert_eq!(n.admit("e"), OVERFLOW);
        let w = n.warning().unwrap();
        assert!(w.contains("more than 3") && w.contains("\"d\"") && w.contains(".name(\""));
    }
}
