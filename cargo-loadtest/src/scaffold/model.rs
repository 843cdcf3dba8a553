//! What a generated load test file says, independent of where it came from: tests made of
//! requests in order, pauses between them, and secrets read from the environment.

use std::time::Duration;

/// One generated file: a module doc, and load tests.
#[derive(Debug, Default)]
pub(crate) struct TestFile {
    /// The file's `//!` doc, one entry per line.
    pub(crate) doc: Vec<String>,
    pub(crate) tests: Vec<TestFn>,
}

/// One `#[load_test]` function.
#[derive(Debug)]
pub(crate) struct TestFn {
    /// A Rust identifier.
    pub(crate) name: String,
    /// The `///` doc, one entry per line.
    pub(crate) doc: Vec<String>,
    /// The attribute's options, `key = value` with the value as Rust source (`5`, `"30s"`).
    pub(crate) options: Vec<(String, String)>,
    pub(crate) steps: Vec<Step>,
}

impl TestFn {
    /// Every secret the test reads, in first-use order, without repeats.
    pub(crate) fn secrets(&self) -> Vec<&Secret> {
        let mut out: Vec<&Secret> = Vec::new();
        for step in &self.steps {
            let Step::Send(r) = step else { continue };
            let in_text = r
                .path
                .0
                .iter()
                .chain(r.body.iter().flat_map(|b| b.0.iter()))
                .filter_map(|p| match p {
                    Piece::Secret(s, _) => Some(s),
                    Piece::Literal(_) => None,
                });
            let in_headers = r.headers.iter().filter_map(|h| match &h.value {
                HeaderValue::Secret(s) => Some(s),
                HeaderValue::Literal(_) => None,
            });
            for s in in_text.chain(in_headers) {
                if !out.iter().any(|o| o.var == s.var) {
                    out.push(s);
                }
            }
        }
        out
    }
}

/// What a test does, in order.
#[derive(Debug)]
pub(crate) enum Step {
    Send(Request),
    /// `ctx.think(duration)`: a recorded pause.
    Think(Duration),
}

/// HTTP methods the generated code can call as `ctx.http().METHOD(..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl Method {
    /// Parses a method name (any case); `None` for methods the client has no shortcut for.
    pub(crate) fn parse(s: &str) -> Option<Method> {
        Some(match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            _ => return None,
        })
    }

    /// The upper-case name, as in request names.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    /// The `Http` method that starts such a request.
    pub(crate) fn builder(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Head => "head",
        }
    }
}

/// One request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// Path and query, joined onto the target with `ctx.url`.
    pub(crate) path: Text,
    /// `.name(..)`: grouping in reports.
    pub(crate) name: String,
    pub(crate) headers: Vec<Header>,
    pub(crate) body: Option<Text>,
    /// Whether a 4xx/5xx response fails the iteration (`.error_for_status()?`).
    pub(crate) check_status: bool,
}

/// A header to send.
#[derive(Debug)]
pub(crate) struct Header {
    /// Lower case.
    pub(crate) name: String,
    pub(crate) value: HeaderValue,
}

/// A header's value: written in the code, or read from the environment (sent only when set).
#[derive(Debug)]
pub(crate) enum HeaderValue {
    Literal(String),
    Secret(Secret),
}

/// A value never written into generated code: the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Secret {
    /// `SHOP_AUTHORIZATION`.
    pub(crate) var: String,
    /// What it replaces, for the doc comment: "the `Authorization` header".
    pub(crate) what: String,
}

/// Text with secrets spliced in: a URL or a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(pub(crate) Vec<Piece>);

/// A part of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    /// A secret, escaped for where it goes.
    Secret(Secret, Escape),
}

/// How a secret spliced into text is escaped at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// Inside a JSON string.
    Json,
    /// A URL query or form value (percent-encoded).
    Percent,
    /// As it is (a plain-text body).
    Raw,
}

impl Text {
    /// Plain text.
    pub(crate) fn literal(s: impl Into<String>) -> Text {
        Text(vec![Piece::Literal(s.into())])
    }

    /// The text if it has no secret.
    pub(crate) fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Literal(s) => out.push_str(s),
                Piece::Secret(..) => return None,
            }
        }
        Some(out)
    }

    /// Replaces every occurrence of `value` in the literal parts with `secret`.
    pub(crate) fn scrub(&mut self, value: &str, secret: &Secret, escape: Escape) {
        let mut out = Vec::new();
        for piece in self.0.drain(..) {
            match piece {
                Piece::Literal(s) if s.contains(value) => {
                    let mut parts = s.split(value).peekable();
                    while let Some(part) = parts.next() {
                        if !part.is_empty() {
                            out.push(Piece::Literal(part.to_string()));
                        }
                        if parts.peek().is_some() {
                            out.push(Piece::Secret(secret.clone(), escape));
                        }
                    }
                }
                other => out.push(other),
            }
        }
        self.0 = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_splits_literals_around_a_secret() {
        let s = Secret {
            var: "X_TOKEN".into(),
            what: "the token".into(),
        };
        let mut t = Text::literal("a=abc123&b=abc123");
        t.scrub("abc123", &s, Escape::Percent);
        assert_eq!(
            t.0,
            vec![
                Piece::Literal("a=".into()),
                Piece::Secret(s.clone(), Escape::Percent),
                Piece::Literal("&b=".into()),
                Piece::Secret(s, Escape::Percent),
            ]
        );
        assert_eq!(t.as_literal(), None);
    }
}
