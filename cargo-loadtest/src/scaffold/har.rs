//! `--from-har`: a browser recording (HAR 1.2, read with the `har` crate) as one load test that
//! replays the session.
//!
//! What is kept: the requests to one host (`--only`, else the host of the first page request),
//! in recorded order, with their methods, bodies and relevant headers, and the recorded pauses
//! between them. What is left out, and said so: static assets, other hosts, methods the client
//! has no shortcut for (CORS preflights), requests the browser never got an answer to, and the
//! requests that follow a redirect (the client follows redirects itself, so the server still
//! sees them). Secrets (cookies, `Authorization`, token and password headers, query parameters
//! and body fields, and any of their values found elsewhere) never reach the generated code:
//! each becomes an environment variable, listed in the test's doc comment.

use super::input::{bad_input, position};
use super::model::{
    Escape, Header, HeaderValue, Method, Piece, Request, Secret, Step, TestFile, TestFn, Text,
};
use super::names;
use crate::errors::CliError;
use har::v1_2;
use std::path::Path;
use std::time::Duration;

const ACCEPTED: &str = "a HAR 1.2 recording as browsers export it (DevTools > Network > Save all as HAR), a JSON object whose `log` has `version` \"1.2\" and `entries` with `request`, `response`, `startedDateTime` and `time`";

/// Pauses shorter than this are the browser's own parallelism, not a person's.
const MIN_PAUSE: Duration = Duration::from_millis(100);
/// Longer recorded pauses are shortened to this (the user went for coffee).
const MAX_PAUSE: Duration = Duration::from_secs(10);
/// Secret values shorter than this are not searched for elsewhere (too many false matches).
const MIN_SCRUB_LEN: usize = 6;

#[derive(serde::Deserialize)]
struct Document {
    log: v1_2::Log,
}

/// Reads a HAR file and generates the test `name`. Returns the file and a one-line summary.
pub(crate) fn read(
    path: &Path,
    bytes: &[u8],
    name: &str,
    only: Option<&str>,
) -> Result<(TestFile, String), CliError> {
    let log = parse(path, bytes)?;
    let fn_name = names::identifier(name);
    let mut left_out = LeftOut::default();

    // Recorded order: by start time (exports are usually in order already; the sort is stable).
    let mut entries = Vec::new();
    for (i, e) in log.entries.iter().enumerate() {
        let start = parse_time(&e.started_date_time).ok_or_else(|| {
            bad_input(
                path,
                Some(format!("log.entries[{i}].startedDateTime")),
                format!("{:?} is not an ISO 8601 date-time", e.started_date_time),
                "date-times such as \"2026-11-30T10:15:30.123Z\" or \"2026-11-30T11:15:30.123+01:00\"",
            )
        })?;
        entries.push((i, start, e));
    }
    entries.sort_by(|a, b| a.1.total_cmp(&b.1));

    // Keep what can be replayed; the host comes from the first page request left.
    let mut candidates = Vec::new();
    for (_, start, e) in entries {
        let Some(url) = Url::parse(&e.request.url) else {
            left_out.other_scheme += 1;
            continue;
        };
        if is_static(&url.path, e.response.content.mime_type.as_deref()) {
            left_out.static_assets += 1;
            continue;
        }
        let Some(method) = Method::parse(&e.request.method) else {
            left_out.methods.push(e.request.method.to_ascii_uppercase());
            continue;
        };
        if e.response.status <= 0 {
            left_out.unanswered += 1;
            continue;
        }
        candidates.push(Candidate {
            start,
            end: start + e.time.max(0.0),
            url,
            method,
            entry: e,
            final_status: 0,
        });
    }
    let hosts = {
        let mut h: Vec<&str> = Vec::new();
        for c in &candidates {
            if !h.contains(&c.url.host.as_str()) {
                h.push(&c.url.host);
            }
        }
        h
    };
    let host = match only {
        Some(want) => {
            let want = want.to_ascii_lowercase();
            let want = want
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/');
            hosts
                .iter()
                .find(|h| **h == want || h.split(':').next() == Some(want))
                .map(|h| h.to_string())
                .ok_or_else(|| {
                    bad_input(
                        path,
                        None,
                        format!("no replayable request to --only {want:?}"),
                        &format!("one of the recorded hosts: {}", hosts.join(", ")),
                    )
                })?
        }
        None => match hosts.first() {
            Some(h) => h.to_string(),
            None => {
                return Err(bad_input(
                    path,
                    Some("log.entries".into()),
                    format!(
                        "no usable request: {} entries, {}",
                        log.entries.len(),
                        left_out.describe(&[])
                    ),
                    ACCEPTED,
                ));
            }
        },
    };
    let mut other_hosts: Vec<String> = Vec::new();
    let mut kept: Vec<Candidate> = Vec::new();
    let mut pending_redirect: Option<String> = None;
    for c in candidates {
        if c.url.host != host {
            if !other_hosts.contains(&c.url.host) {
                other_hosts.push(c.url.host.clone());
            }
            left_out.other_hosts += 1;
            continue;
        }
        if pending_redirect.as_deref() == Some(c.url.full.as_str()) {
            // The client follows the redirect itself: this request is sent by the previous one.
            left_out.redirects += 1;
            pending_redirect = redirect_target(&c);
            if let Some(prev) = kept.last_mut() {
                prev.end = prev.end.max(c.end);
                prev.final_status = c.entry.response.status;
            }
            continue;
        }
        pending_redirect = redirect_target(&c);
        let mut c = c;
        c.final_status = c.entry.response.status;
        kept.push(c);
    }
    if kept.is_empty() {
        return Err(bad_input(
            path,
            Some("log.entries".into()),
            format!(
                "no usable request to {host}: {}",
                left_out.describe(&other_hosts)
            ),
            ACCEPTED,
        ));
    }

    let mut secrets = Secrets::new(name);
    let mut steps = Vec::new();
    let mut prev_end: Option<f64> = None;
    for c in &kept {
        if let Some(end) = prev_end {
            let gap = Duration::from_millis((c.start - end).max(0.0).round() as u64);
            if gap >= MIN_PAUSE {
                steps.push(Step::Think(gap.min(MAX_PAUSE)));
            }
        }
        prev_end = Some(c.end);
        steps.push(Step::Send(request(c, &mut secrets)));
    }
    // Any secret value found anywhere else (a token echoed in a body or URL) is replaced too.
    for step in &mut steps {
        if let Step::Send(r) = step {
            secrets.scrub(r);
        }
    }

    let requests = kept.len();
    let mut doc = vec![format!(
        "Replays `{}`: {requests} request{} to {host}, in recorded order, with the recorded pauses.",
        file_name(path),
        plural(requests)
    )];
    if let Some(b) = &log.browser {
        doc.push(format!("Recorded with {} {}.", b.name, b.version));
    }
    doc.push(String::new());
    doc.push(format!(
        "Generated by `cargo loadtest new --from-har`; edit freely. Left out: {}.",
        left_out.describe(&other_hosts)
    ));
    let mut test = TestFn {
        name: fn_name,
        doc: vec![
            "One recorded session per iteration. Request names group ids in paths as `{id}`."
                .to_string(),
        ],
        options: vec![
            ("users".into(), "5".into()),
            ("duration".into(), "\"30s\"".into()),
        ],
        steps,
    };
    let used: Vec<Secret> = test.secrets().into_iter().cloned().collect();
    if !used.is_empty() {
        test.doc.push(String::new());
        test.doc.push("Secrets are not copied from the recording. Set these environment variables to send them (a header whose variable is unset is left out; a value in a URL or body is left empty):".into());
        for s in &used {
            test.doc.push(format!("- `{}`: {}", s.var, s.what));
        }
    }
    let secret_vars: Vec<String> = used.into_iter().map(|s| s.var).collect();
    let file = TestFile {
        doc,
        tests: vec![test],
    };
    secrets.check(path, &file)?;
    let mut summary = format!(
        "{requests} request{} to {host}; left out {}",
        plural(requests),
        left_out.describe(&other_hosts)
    );
    if !secret_vars.is_empty() {
        summary.push_str(&format!(
            "; secrets read from the environment: {}",
            secret_vars.join(", ")
        ));
    }
    Ok((file, summary))
}

fn parse(path: &Path, bytes: &[u8]) -> Result<v1_2::Log, CliError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        bad_input(
            path,
            Some(position(e.line(), e.column(), "")),
            format!("not JSON: {e}"),
            ACCEPTED,
        )
    })?;
    let Some(log) = value.get("log").and_then(|l| l.as_object()) else {
        return Err(bad_input(path, None, "no top-level `log` object", ACCEPTED));
    };
    match log.get("version").and_then(|v| v.as_str()) {
        Some("1.2") | Some("1.1") => {}
        Some(other) => {
            return Err(bad_input(
                path,
                Some("log.version".into()),
                format!("unsupported HAR version {other:?}"),
                "HAR version \"1.2\" (what browsers export; \"1.1\" is read the same way)",
            ));
        }
        None => {
            return Err(bad_input(
                path,
                Some("log".into()),
                "no `log.version`",
                ACCEPTED,
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let doc: Document = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = position(e.inner().line(), e.inner().column(), &e.path().to_string());
        bad_input(path, Some(at), e.inner(), ACCEPTED)
    })?;
    Ok(doc.log)
}

struct Candidate<'a> {
    start: f64,
    end: f64,
    url: Url,
    method: Method,
    entry: &'a v1_2::Entries,
    final_status: i64,
}

impl<'a> Candidate<'a> {
    fn final_status(&self) -> i64 {
        if self.final_status == 0 {
            self.entry.response.status
        } else {
            self.final_status
        }
    }
}

/// Where a 3xx response sends the browser next, as an absolute URL.
fn redirect_target(c: &Candidate) -> Option<String> {
    let status = c.entry.response.status;
    if !(300..400).contains(&status) || status == 304 {
        return None;
    }
    let location = c
        .entry
        .response
        .redirect_url
        .clone()
        .filter(|l| !l.is_empty())
        .or_else(|| {
            c.entry
                .response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("location"))
                .map(|h| h.value.clone())
        })?;
    Some(
        if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else if location.starts_with("//") {
            format!("{}:{location}", c.url.scheme)
        } else if location.starts_with('/') {
            format!("{}://{}{location}", c.url.scheme, c.url.host)
        } else {
            let base = c.url.path.rsplit_once('/').map(|(b, _)| b).unwrap_or("");
            format!("{}://{}{base}/{location}", c.url.scheme, c.url.host)
        },
    )
}

/// The parts of a recorded URL that matter here.
struct Url {
    scheme: String,
    /// `host[:port]`, lower case.
    host: String,
    /// Path and query, from `/`.
    path: String,
    /// The whole URL without its fragment, for matching redirects.
    full: String,
}

impl Url {
    fn parse(url: &str) -> Option<Url> {
        let url = url.split('#').next().unwrap_or(url);
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let host = authority.rsplit('@').next().unwrap_or(authority);
        if host.is_empty() {
            return None;
        }
        let host = host.to_ascii_lowercase();
        let path = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Some(Url {
            full: format!("{scheme}://{host}{path}"),
            scheme,
            host,
            path,
        })
    }
}

/// Static assets a page pulls in: by file extension, or by the response's type.
fn is_static(path: &str, mime: Option<&str>) -> bool {
    const EXTENSIONS: &[&str] = &[
        "js", "mjs", "css", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif",
        "bmp", "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "ogg", "wav",
    ];
    let file = path.split('?').next().unwrap_or("");
    let file = file.rsplit('/').next().unwrap_or("");
    if let Some((_, ext)) = file.rsplit_once('.')
        && EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    {
        return true;
    }
    let mime = mime
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("image/")
        || mime.starts_with("font/")
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
        || mime == "text/css"
        || mime == "text/javascript"
        || mime == "application/javascript"
        || mime == "application/x-javascript"
}

/// Headers a browser adds on its own, or that would make a replay wrong (a cached validator, a
/// compressed body the client would not decode, a length the client computes).
fn is_browser_header(name: &str) -> bool {
    name.starts_with(':')
        || name.starts_with("sec-")
        || matches!(
            name,
            "host"
                | "connection"
                | "keep-alive"
                | "content-length"
                | "transfer-encoding"
                | "accept-encoding"
                | "user-agent"
                | "referer"
                | "origin"
                | "upgrade-insecure-requests"
                | "cache-control"
                | "pragma"
                | "if-none-match"
                | "if-modified-since"
                | "te"
                | "priority"
                | "dnt"
                | "purpose"
                | "x-client-data"
        )
}

fn request(c: &Candidate, secrets: &mut Secrets) -> Request {
    let e = c.entry;
    let method = c.method;
    let name = names::request_name(method.as_str(), &c.url.path);

    // The path, with secret query parameters read from the environment.
    let path = match c.url.path.split_once('?') {
        None => Text::literal(c.url.path.clone()),
        Some((p, query)) => {
            let mut t = vec![Piece::Literal(format!("{p}?"))];
            for (i, pair) in query.split('&').enumerate() {
                let sep = if i == 0 { "" } else { "&" };
                match pair.split_once('=') {
                    Some((k, v)) if names::is_secret_name(&percent_decode(k)) => {
                        let what = format!("the `{}` query parameter", percent_decode(k));
                        let s = secrets.add(&percent_decode(k), what, &[&percent_decode(v), v]);
                        t.push(Piece::Literal(format!("{sep}{k}=")));
                        t.push(Piece::Secret(s, Escape::Percent));
                    }
                    _ => t.push(Piece::Literal(format!("{sep}{pair}"))),
                }
            }
            Text(merge(t))
        }
    };

    let mut headers: Vec<Header> = Vec::new();
    let mut has_cookie = false;
    for h in &e.request.headers {
        let lower = h.name.to_ascii_lowercase();
        if is_browser_header(&lower) || headers.iter().any(|x| x.name == lower) {
            continue;
        }
        if lower == "cookie" {
            has_cookie = true;
        }
        let value = if names::is_secret_name(&lower) {
            let what = format!("the `{}` header", h.name);
            let mut values = vec![h.value.as_str()];
            if let Some((_, credential)) = h.value.split_once(' ') {
                values.push(credential);
            }
            HeaderValue::Secret(secrets.add(&lower, what, &values))
        } else {
            HeaderValue::Literal(h.value.clone())
        };
        headers.push(Header { name: lower, value });
    }
    // Cookies listed apart from the header: every value is a secret wherever it appears.
    for cookie in e.request.cookies.iter().chain(&e.response.cookies) {
        secrets.remember(&format!("cookie_{}", cookie.name), &cookie.value);
    }
    if !has_cookie && !e.request.cookies.is_empty() {
        let value: Vec<String> = e
            .request
            .cookies
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        let s = secrets.add(
            "cookie",
            "the `Cookie` header".into(),
            &[value.join("; ").as_str()],
        );
        headers.push(Header {
            name: "cookie".into(),
            value: HeaderValue::Secret(s),
        });
    }
    for h in &e.response.headers {
        if h.name.eq_ignore_ascii_case("set-cookie")
            && let Some((k, v)) = h.value.split(';').next().and_then(|p| p.split_once('='))
        {
            secrets.remember(&format!("cookie_{}", k.trim()), v.trim());
        }
    }

    let body = e.request.post_data.as_ref().and_then(|p| {
        let mime = p.mime_type.to_ascii_lowercase();
        if !headers.iter().any(|h| h.name == "content-type") && !p.mime_type.is_empty() {
            headers.push(Header {
                name: "content-type".into(),
                value: HeaderValue::Literal(p.mime_type.clone()),
            });
        }
        let text = match (&p.text, &p.params) {
            (Some(t), _) => t.clone(),
            (None, Some(params)) if mime.contains("x-www-form-urlencoded") => params
                .iter()
                .map(|q| format!("{}={}", q.name, q.value.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("&"),
            _ => return None,
        };
        Some(body(&text, &mime, secrets))
    });

    Request {
        method,
        path,
        name,
        headers,
        body,
        check_status: c.final_status() < 400,
    }
}

/// A body with its secret fields (JSON or form) read from the environment.
fn body(text: &str, mime: &str, secrets: &mut Secrets) -> Text {
    if mime.contains("json")
        && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text)
    {
        let mut found = Vec::new();
        mark_json(&mut value, &mut found);
        if found.is_empty() {
            return Text::literal(text);
        }
        let Ok(marked) = serde_json::to_string(&value) else {
            return Text::literal(text);
        };
        let mut t = Text::literal(marked);
        for (i, (key, original)) in found.iter().enumerate() {
            let what = format!("the `{key}` field of a JSON body");
            let s = secrets.add(key, what, &[original.as_str()]);
            t.scrub(&marker(i), &s, Escape::Json);
        }
        return t;
    }
    if mime.contains("x-www-form-urlencoded") {
        let mut t = Vec::new();
        for (i, pair) in text.split('&').enumerate() {
            let sep = if i == 0 { "" } else { "&" };
            match pair.split_once('=') {
                Some((k, v)) if names::is_secret_name(&percent_decode(k)) => {
                    let what = format!("the `{}` field of a form", percent_decode(k));
                    let s = secrets.add(&percent_decode(k), what, &[&percent_decode(v), v]);
                    t.push(Piece::Literal(format!("{sep}{k}=")));
                    t.push(Piece::Secret(s, Escape::Percent));
                }
                _ => t.push(Piece::Literal(format!("{sep}{pair}"))),
            }
        }
        return Text(merge(t));
    }
    Text::literal(text)
}

fn marker(i: usize) -> String {
    format!("\u{1}SECRET{i}\u{1}")
}

/// Replaces string values under secret-named keys with markers; records (key, value).
fn mark_json(value: &mut serde_json::Value, found: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if names::is_secret_name(k)
                    && let serde_json::Value::String(s) = v
                {
                    found.push((k.clone(), std::mem::take(s)));
                    *s = marker(found.len() - 1);
                } else {
                    mark_json(v, found);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| mark_json(v, found)),
        _ => {}
    }
}

fn merge(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for p in pieces {
        match (out.last_mut(), p) {
            (Some(Piece::Literal(a)), Piece::Literal(b)) => a.push_str(&b),
            (_, p) => out.push(p),
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or(""), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The secrets of one recording: their environment variables and every value seen.
struct Secrets {
    prefix: String,
    /// (variable, what) in first-seen order.
    vars: Vec<Secret>,
    /// (value, variable) for scrubbing elsewhere; also checked against the output.
    values: Vec<(String, Secret)>,
}

impl Secrets {
    fn new(prefix: &str) -> Secrets {
        Secrets {
            prefix: prefix.to_string(),
            vars: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The secret for `key` (one variable per key), remembering its recorded values.
    fn add(&mut self, key: &str, what: String, values: &[&str]) -> Secret {
        let var = names::env_var(&self.prefix, key);
        let secret = match self.vars.iter().find(|s| s.var == var) {
            Some(s) => s.clone(),
            None => {
                let s = Secret { var, what };
                self.vars.push(s.clone());
                s
            }
        };
        for v in values {
            if !v.is_empty() && !self.values.iter().any(|(x, _)| x == v) {
                self.values.push((v.to_string(), secret.clone()));
            }
        }
        secret
    }

    /// Remembers a secret value (a cookie's) that gets its own variable only if it shows up in
    /// what is generated.
    fn remember(&mut self, key: &str, value: &str) {
        if value.is_empty() || self.values.iter().any(|(x, _)| x == value) {
            return;
        }
        let secret = Secret {
            var: names::env_var(&self.prefix, key),
            what: format!(
                "the value of the `{}` cookie",
                key.trim_start_matches("cookie_")
            ),
        };
        self.values.push((value.to_string(), secret));
    }

    /// Replaces recorded secret values in a request's URL, literal headers and body.
    fn scrub(&self, r: &mut Request) {
        let mut values: Vec<&(String, Secret)> = self
            .values
            .iter()
            .filter(|(v, _)| v.len() >= MIN_SCRUB_LEN)
            .collect();
        values.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        let body_escape = if r
            .headers
            .iter()
            .any(|h| h.name == "content-type" && matches!(&h.value, HeaderValue::Literal(v) if v.contains("json")))
        {
            Escape::Json
        } else if r.headers.iter().any(|h| {
            h.name == "content-type"
                && matches!(&h.value, HeaderValue::Literal(v) if v.contains("x-www-form-urlencoded"))
        }) {
            Escape::Percent
        } else {
            Escape::Raw
        };
        for (value, secret) in values {
            r.path.scrub(value, secret, Escape::Percent);
            if let Some(b) = &mut r.body {
                b.scrub(value, secret, body_escape);
            }
            for h in &mut r.headers {
                if let HeaderValue::Literal(v) = &h.value
                    && v.contains(value.as_str())
                {
                    h.value = HeaderValue::Secret(Secret {
                        var: names::env_var(&self.prefix, &h.name),
                        what: format!("the `{}` header", h.name),
                    });
                }
            }
        }
    }

    /// The last line of defence: no recorded secret value may appear in the generated code.
    fn check(&self, path: &Path, file: &TestFile) -> Result<(), CliError> {
        let code = super::codegen::render(file).unwrap_or_default();
        for (value, secret) in &self.values {
            if value.len() >= MIN_SCRUB_LEN && code.contains(value.as_str()) {
                return Err(CliError::Usage(format!(
                    "{}: a recorded secret ({}) would appear in the generated code; not writing it. Remove it from the recording, or report this as a bug of cargo loadtest",
                    path.display(),
                    secret.what
                )));
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct LeftOut {
    static_assets: usize,
    other_hosts: usize,
    redirects: usize,
    unanswered: usize,
    other_scheme: usize,
    methods: Vec<String>,
}

impl LeftOut {
    fn describe(&self, other_hosts: &[String]) -> String {
        let mut parts = Vec::new();
        let mut n = |count: usize, one: &str, many: &str| match count {
            0 => {}
            1 => parts.push(format!("1 {one}")),
            n => parts.push(format!("{n} {many}")),
        };
        n(self.static_assets, "static asset", "static assets");
        n(
            self.other_hosts,
            "request to another host",
            "requests to other hosts",
        );
        n(
            self.redirects,
            "redirect the client follows itself",
            "redirects the client follows itself",
        );
        n(
            self.unanswered,
            "request without a response",
            "requests without a response",
        );
        n(self.other_scheme, "non-HTTP URL", "non-HTTP URLs");
        let mut methods = self.methods.clone();
        methods.sort();
        methods.dedup();
        n(
            self.methods.len(),
            &format!("{} request", methods.join("/")),
            &format!("{} requests", methods.join("/")),
        );
        if self.other_hosts > 0
            && let Some(p) = parts.iter_mut().find(|p| p.contains("other host"))
        {
            p.push_str(&format!(" ({})", other_hosts.join(", ")));
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Milliseconds since the Unix epoch of an RFC 3339 / ISO 8601 date-time.
fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset_min) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(pos) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = off[1..].replace(':', "");
        if off.len() != 4 {
            return None;
        }
        let h: i64 = off[..2].parse().ok()?;
        let m: i64 = off[2..].parse().ok()?;
        (c, sign * (h * 60 + m))
    } else {
        (time, 0)
    };
    let mut t = clock.split(':');
    let hour: i64 = t.next()?.parse().ok()?;
    let minute: i64 = t.next()?.parse().ok()?;
    let seconds: f64 = t.next().unwrap_or("0").parse().ok()?;
    if t.next().is_some() || hour > 23 || minute > 59 || !(0.0..61.0).contains(&seconds) {
        return None;
    }
    let days = crate::calendar::days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 - offset_min * 60;
    Some(secs as f64 * 1000.0 + seconds * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_time("1970-01-01T00:00:01.250Z"), Some(1250.0));
        assert_eq!(
            parse_time("2026-11-30T11:00:00.000+01:00"),
            parse_time("2026-11-30T10:00:00.000Z")
        );
        assert_eq!(parse_time("2000-03-01T00:00:00Z"), Some(951_868_800_000.0));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn urls_and_assets() {
        let u = Url::parse("https://App.Example.test/a/b?x=1#frag").unwrap();
        assert_eq!(u.host, "app.example.test");
        assert_eq!(u.path, "/a/b?x=1");
        assert_eq!(u.full, "https://app.example.test/a/b?x=1");
        assert_eq!(Url::parse("https://h.test").unwrap().path, "/");
        assert!(Url::parse("data:image/png;base64,xx").is_none());
        assert!(is_static("/static/app.3f9a.js", None));
        assert!(is_static("/logo", Some("image/png")));
        assert!(!is_static("/api/items", Some("application/json")));
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c%"), "a b c%");
    }
}
