//! `cargo loadtest init` and `cargo loadtest new --from-har / --from-openapi`, end to end: the
//! real binary on fresh packages, the generated tests built and run against a loopback server
//! that records every request it sees, and bad input for each command.
//!
//! The packages that are built live under this repository's `target/` (so `init` detects the
//! clone and depends on the runtime by path) and share the e2e target directory: two builds in
//! all, one per test that runs load tests.

use crate::support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use support::{binary, fixture_build_env, repo_root, serial, shared_target_dir, text};

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// Lower-case names.
    headers: HashMap<String, String>,
    body: String,
}

impl Seen {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// What the server answers: status, extra headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

/// A small HTTP/1.1 server on 127.0.0.1 (keep-alive, Content-Length bodies) that records every
/// request and answers through `handler`. It stops when dropped; idle connections time out.
struct Recorder {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start(handler: fn(&Seen) -> Reply) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let seen = Arc::clone(&seen);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let seen = Arc::clone(&seen);
                    std::thread::spawn(move || serve(conn, handler, &seen));
                }
            })
        };
        Recorder {
            addr,
            seen,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn clear(&self) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, handler: fn(&Seen) -> Reply, seen: &Mutex<Vec<Seen>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(conn);
    // At most 1,000 requests per connection: the loop ends by itself.
    for _ in 0..1000 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, target) = (method.to_string(), target.to_string());
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Seen {
            method,
            target,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let (status, extra, body) = handler(&request);
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
        let mut head = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\n",
            body.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(body.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// A fresh package (a library with no load tests) under this repository's `target/`.
/// Its own `[workspace]` keeps it out of the repository's workspace, as a user's package is.
struct Package {
    dir: tempfile::TempDir,
}

impl Package {
    fn new(manifest: &str) -> Package {
        let parent = repo_root().join("target");
        std::fs::create_dir_all(&parent).expect("target dir");
        let dir = tempfile::Builder::new()
            .prefix("loadtest-e2e-scaffold-")
            .tempdir_in(parent)
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("src")).expect("src");
        std::fs::write(dir.path().join("src/lib.rs"), "//! The app.\n").expect("lib.rs");
        std::fs::write(dir.path().join("Cargo.toml"), manifest).expect("manifest");
        // The repository's lock file: the same versions, so nothing is resolved or rebuilt.
        std::fs::copy(
            repo_root().join("Cargo.lock"),
            dir.path().join("Cargo.lock"),
        )
        .expect("copy Cargo.lock");
        Package { dir }
    }

    /// A package in a temporary folder anywhere (for commands that never build).
    fn elsewhere(manifest: &str) -> Package {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("src")).expect("src");
        std::fs::write(dir.path().join("src/lib.rs"), "").expect("lib.rs");
        std::fs::write(dir.path().join("Cargo.toml"), manifest).expect("manifest");
        Package { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path().join(file))
            .unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
    }

    /// `cargo loadtest ARGS` in the package, without the shared target directory (for commands
    /// that do not build).
    fn cargo_loadtest(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.current_dir(self.path())
            .arg("loadtest")
            .args(args)
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("CARGO_TERM_COLOR");
        for (k, _) in std::env::vars() {
            if k.starts_with("LOADTEST_") || k.starts_with("SHOP_") || k.starts_with("PETSTORE_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    fn scaffold(&self, args: &[&str]) -> Output {
        self.cargo_loadtest(args)
            .output()
            .expect("cargo-loadtest runs")
    }

    /// `cargo loadtest ARGS` that builds, as the fixtures are built (the shared target directory,
    /// the same dev-like profile), with reports in the package.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.cargo_loadtest(args);
        fixture_build_env(&mut cmd);
        cmd.arg("--target-dir").arg(shared_target_dir());
        if !args.contains(&"list") {
            cmd.arg("--json").arg(self.path().join("report.json"));
            cmd.arg("--junit").arg(self.path().join("junit.xml"));
            cmd.arg("--markdown").arg(self.path().join("report.md"));
        }
        cmd.envs(env.iter().copied());
        cmd.output().expect("cargo-loadtest runs")
    }

    fn report(&self) -> serde_json::Value {
        serde_json::from_str(&self.read("report.json")).expect("the JSON report parses")
    }

    /// Every file under the package except build outputs, with its contents.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .expect("read dir")
                .map(|e| e.expect("entry").path())
                .collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), std::fs::read(&p).expect("read file")));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), &mut out);
        out
    }
}

/// (`target::test`, iterations ok, iterations failed) of each load test in the JSON report.
fn iterations(report: &serde_json::Value) -> Vec<(String, u64, u64)> {
    report["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            let it = &t["result"]["iterations"];
            (
                format!(
                    "{}::{}",
                    t["target"].as_str().unwrap_or(""),
                    t["name"].as_str().unwrap_or("")
                ),
                it["ok"].as_u64().unwrap_or(0),
                it["failed"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

const USER_MANIFEST: &str = r#"# The app's manifest, with the user's own comments.
[package]
name = "app"   # keep this name
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
# Nothing yet: the app is young.

# Standalone: this package is not a member of the cargo-loadtest workspace around it.
[workspace]
"#;

fn init_handler(r: &Seen) -> Reply {
    match (r.method.as_str(), r.path()) {
        ("GET", "/") => (200, vec![], "<html>home</html>".into()),
        _ => (404, vec![], "{}".into()),
    }
}

/// Done means 1: `init` on a fresh package, then `cargo loadtest` runs its test against a
/// loopback server; `init` twice changes nothing; the user's comments survive.
#[test]
fn init_sets_up_a_fresh_package_that_runs_and_is_idempotent() {
    let _serial = serial();
    let pkg = Package::new(USER_MANIFEST);

    let out = pkg.scaffold(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let manifest = pkg.read("Cargo.toml");
    for line in USER_MANIFEST.lines() {
        assert!(manifest.contains(line), "lost {line:?} in\n{manifest}");
    }
    assert!(
        manifest.starts_with(USER_MANIFEST.trim_end()),
        "the user's part is untouched:\n{manifest}"
    );
    assert!(
        manifest.contains(
            "[dev-dependencies]\nloadtest-runtime = { path = \"../../loadtest-runtime\" }\n"
        ),
        "inside a clone of the repository, the runtime comes by path:\n{manifest}"
    );
    assert!(
        manifest.contains(
            "[[test]]\nname = \"loadtest\"\npath = \"loadtests/loadtest.rs\"\nharness = false\n"
        ),
        "{manifest}"
    );
    let file = pkg.read("loadtests/loadtest.rs");
    assert!(file.contains("async fn home(ctx: &Ctx)"), "{file}");
    for model in ["rate = \"50/s\"", "stages = [", "retries = 3"] {
        assert!(file.contains(model), "no commented example with {model}");
    }

    // A second run changes nothing at all.
    let before = pkg.snapshot();
    let again = pkg.scaffold(&["init"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("nothing changed"),
        "{}",
        text(&again)
    );
    assert_eq!(pkg.snapshot(), before, "init twice changed files");

    // The result builds and is listed.
    let list = pkg.run(&["list", "--format", "json"], &[]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list JSON");
    let names: Vec<String> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            format!(
                "{}::{}",
                e["target"].as_str().unwrap_or(""),
                e["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(names, ["loadtest::home"], "{}", text(&list));

    // And runs against a loopback server the test started, given as the target.
    let server = Recorder::start(init_handler);
    let out = pkg.run(
        &[
            "--target",
            &server.url(),
            "--users",
            "1",
            "--iterations",
            "3",
            "--duration",
            "20s",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        iterations(&pkg.report()),
        [("loadtest::home".to_string(), 3, 0)]
    );
    let seen = server.seen();
    assert!(
        seen.len() == 3 && seen.iter().all(|s| s.method == "GET" && s.target == "/"),
        "{seen:?}"
    );
}

/// The `init` template with its commented example tests turned into code.
fn uncomment_examples(template: &str) -> String {
    let mut out = String::new();
    let mut in_example = false;
    for line in template.lines() {
        if line.starts_with("// #[load_test") {
            in_example = true;
        }
        let line = if in_example {
            let code = line
                .strip_prefix("// ")
                .expect("example lines are commented");
            in_example = code != "}";
            code
        } else {
            line
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Secrets recorded in `shop.har`: every cookie value, the secret headers' values, the
/// password and the query token.
fn har_secrets(har: &serde_json::Value) -> Vec<String> {
    let mut out = vec![
        "hunter2-very-secret".to_string(),
        "tok_live_5566778899".to_string(),
    ];
    for e in har["log"]["entries"].as_array().expect("entries") {
        for side in ["request", "response"] {
            for c in e[side]["cookies"].as_array().into_iter().flatten() {
                out.push(c["value"].as_str().expect("cookie value").to_string());
            }
            for h in e[side]["headers"].as_array().into_iter().flatten() {
                let name = h["name"]
                    .as_str()
                    .expect("header name")
                    .to_ascii_lowercase();
                let value = h["value"].as_str().expect("header value");
                if ["cookie", "authorization", "x-csrf-token", "set-cookie"]
                    .contains(&name.as_str())
                {
                    out.push(value.to_string());
                    if let Some((_, token)) = value.split_once(' ') {
                        out.push(token.to_string());
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn generated_handler(r: &Seen) -> Reply {
    let json = |s: &str| s.to_string();
    let path = r.path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // The pet store checks its API key and its bodies: a wrong request gets a 4xx.
    if segments.first() == Some(&"v1") {
        if r.headers.get("x-api-key").map(String::as_str) != Some("key-from-env") {
            return (401, vec![], json(r#"{"error":"api key"}"#));
        }
        let pet_body_ok = || {
            serde_json::from_str::<serde_json::Value>(&r.body).is_ok_and(|b| {
                b["name"].is_string()
                    && ["dog", "cat"].contains(&b["species"].as_str().unwrap_or(""))
            }) && r.headers.get("content-type").map(String::as_str) == Some("application/json")
        };
        return match (r.method.as_str(), &segments[1..]) {
            ("GET", ["pets"]) if r.target.contains("limit=20") => (200, vec![], json("[]")),
            ("POST", ["pets"]) if pet_body_ok() => (201, vec![], json(r#"{"id":1}"#)),
            ("GET", ["pets", id]) if id.parse::<u64>().is_ok() => (200, vec![], json("{}")),
            ("PUT", ["pets", id]) if id.parse::<u64>().is_ok() && pet_body_ok() => {
                (200, vec![], json("{}"))
            }
            ("DELETE", ["pets", id]) if id.parse::<u64>().is_ok() => (204, vec![], String::new()),
            ("GET", ["pets", id, "photos", photo])
                if id.parse::<u64>().is_ok()
                    && photo.len() == 36
                    && r.headers.contains_key("x-request-id") =>
            {
                (200, vec![], json("{}"))
            }
            _ => (400, vec![], json(r#"{"error":"bad request"}"#)),
        };
    }
    match (r.method.as_str(), path.as_str()) {
        ("GET", "/") | ("GET", "/account") => (200, vec![], "<html></html>".into()),
        ("GET", "/api/products") | ("GET", "/api/search") => (200, vec![], json("[]")),
        ("GET", p) if p.starts_with("/api/products/") || p.starts_with("/api/orders/") => {
            (200, vec![], json("{}"))
        }
        ("POST", "/api/cart") => (201, vec![], json("{}")),
        ("POST", "/login") => (302, vec![("location", "/account".into())], String::new()),
        _ => (404, vec![], json("{}")),
    }
}

/// Done means 2 and 3: a HAR recording and an OpenAPI document become load tests in one
/// package that compile, run against a loopback server serving those endpoints, and send the
/// recorded (or documented) requests; no secret of the HAR is in the generated file.
#[test]
fn har_and_openapi_become_load_tests_that_compile_and_run() {
    let _serial = serial();
    let pkg = Package::new(USER_MANIFEST);
    let har_path = repo_root().join("tests/scaffold/shop.har");
    let openapi_path = repo_root().join("tests/scaffold/petstore.yaml");

    let out = pkg.scaffold(&["new", "--from-har", &har_path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("7 requests to app.shop.test"), "{stderr}");
    let out = pkg.scaffold(&["new", "--from-openapi", &openapi_path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let shop = pkg.read("loadtests/shop.rs");
    let har: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&har_path).expect("har")).expect("json");
    let secrets = har_secrets(&har);
    assert!(
        secrets.len() >= 8,
        "the fixture records secrets: {secrets:?}"
    );
    for s in &secrets {
        assert!(
            !shop.contains(s.as_str()),
            "secret {s:?} in the generated file:\n{shop}"
        );
    }
    for var in [
        "SHOP_COOKIE",
        "SHOP_X_CSRF_TOKEN",
        "SHOP_PASSWORD",
        "SHOP_AUTHORIZATION",
        "SHOP_ACCESS_TOKEN",
    ] {
        assert!(
            shop.contains(&format!("/// - `{var}`: ")),
            "{var} is not named in the doc comment:\n{shop}"
        );
    }
    for expected in [
        ".name(\"GET /api/products/{id}\")",
        ".name(\"GET /api/orders/{id}\")",
        "ctx.think(Duration::from_millis(",
    ] {
        assert!(shop.contains(expected), "missing {expected} in\n{shop}");
    }
    let petstore = pkg.read("loadtests/petstore.rs");
    assert!(
        petstore.contains(".name(\"GET /pets/{petId}\")")
            && petstore.contains("thresholds = [\"p99(GET /pets/{petId}) < 500ms\"]"),
        "{petstore}"
    );

    // `init` beside them, with its commented examples uncommented: they are code to start from,
    // so they must build too (the same build; their tests are skipped below).
    let out = pkg.scaffold(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let template = pkg.read("loadtests/loadtest.rs");
    let uncommented = uncomment_examples(&template);
    assert_eq!(
        uncommented.matches("\n#[load_test(").count(),
        4,
        "{uncommented}"
    );
    std::fs::write(pkg.path().join("loadtests/loadtest.rs"), uncommented).expect("write");

    // The targets build in one go and run, one iteration each, against the server.
    let server = Recorder::start(generated_handler);
    let env = [
        ("SHOP_COOKIE", "sessionid=from-env"),
        ("SHOP_X_CSRF_TOKEN", "csrf-from-env"),
        ("SHOP_PASSWORD", "pw from env&more"),
        ("SHOP_AUTHORIZATION", "Bearer token-from-env"),
        ("SHOP_ACCESS_TOKEN", "tok-from-env"),
        ("PETSTORE_X_API_KEY", "key-from-env"),
    ];
    let out = pkg.run(
        &[
            "--target",
            &server.url(),
            "--users",
            "1",
            "--iterations",
            "1",
            "--duration",
            "60s",
            "--skip",
            "loadtest::",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list = pkg.run(&["list", "--format", "json"], &[]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list JSON");
    let mut examples: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["target"] == "loadtest")
        .map(|e| e["name"].as_str().unwrap_or(""))
        .collect();
    examples.sort();
    assert_eq!(
        examples,
        ["arrivals", "checkout", "home", "ramp"],
        "{}",
        text(&list)
    );
    let mut ran = iterations(&pkg.report());
    ran.sort();
    let expected: Vec<(String, u64, u64)> = [
        "petstore::create_pet",
        "petstore::delete_pets_pet_id",
        "petstore::get_photo",
        "petstore::list_pets",
        "petstore::show_pet_by_id",
        "petstore::update_pet",
        "shop::shop",
    ]
    .iter()
    .map(|n| (n.to_string(), 1, 0))
    .collect();
    assert_eq!(ran, expected);

    let seen = server.seen();
    let (api, session): (Vec<&Seen>, Vec<&Seen>) =
        seen.iter().partition(|s| s.target.starts_with("/v1/"));
    // The recorded session, in order: assets, other hosts and the preflight left out, the
    // redirect followed by the client itself.
    let replayed: Vec<(String, String)> = session
        .iter()
        .map(|s| (s.method.clone(), s.target.clone()))
        .collect();
    let recorded = [
        ("GET", "/"),
        ("GET", "/api/products?category=shoes&page=1"),
        ("GET", "/api/products/1042"),
        ("POST", "/api/cart"),
        ("POST", "/login"),
        ("GET", "/account"),
        ("GET", "/api/orders/7f3e9a2c-4b1d-4e8a-9c6f-2d5b8a1e0f34"),
        ("GET", "/api/search?q=red%20shoes&access_token=tok-from-env"),
    ]
    .map(|(m, t)| (m.to_string(), t.to_string()));
    assert_eq!(replayed, recorded);
    let by_target = |t: &str| {
        session
            .iter()
            .find(|s| s.target == t)
            .unwrap_or_else(|| panic!("{t} was not sent"))
    };
    let cart = by_target("/api/cart");
    assert_eq!(
        cart.body,
        r#"{"productId":1042,"quantity":2,"note":"gift {wrap}"}"#
    );
    assert_eq!(cart.headers["content-type"], "application/json");
    assert_eq!(cart.headers["x-csrf-token"], "csrf-from-env");
    assert_eq!(cart.headers["cookie"], "sessionid=from-env");
    assert_eq!(cart.headers["x-requested-with"], "XMLHttpRequest");
    let login = by_target("/login");
    assert_eq!(
        login.body,
        "email=ada%40example.test&password=pw%20from%20env%26more&remember=1"
    );
    assert_eq!(
        by_target("/api/orders/7f3e9a2c-4b1d-4e8a-9c6f-2d5b8a1e0f34").headers["authorization"],
        "Bearer token-from-env"
    );
    for s in &session {
        assert!(
            !s.headers.contains_key("user-agent") || !s.headers["user-agent"].contains("Chrome"),
            "browser headers are not replayed: {s:?}"
        );
    }

    // The documented operations, each with its example values.
    let mut sent: Vec<(String, String)> = api
        .iter()
        .map(|s| (s.method.clone(), s.target.clone()))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            ("DELETE", "/v1/pets/42"),
            ("GET", "/v1/pets/42"),
            (
                "GET",
                "/v1/pets/42/photos/00000000-0000-0000-0000-000000000001"
            ),
            ("GET", "/v1/pets?limit=20&species=cat"),
            ("POST", "/v1/pets"),
            ("PUT", "/v1/pets/42"),
        ]
        .map(|(m, t)| (m.to_string(), t.to_string()))
    );
    let create = api
        .iter()
        .find(|s| s.method == "POST")
        .expect("POST /v1/pets");
    assert_eq!(create.body, r#"{"name":"Rex","species":"dog"}"#);
    server.clear();
}

/// Done means 4: bad input for each command exits 2 with a message naming the file, the
/// position and what is accepted, and writes nothing.
#[test]
fn bad_input_exits_2_naming_file_position_and_accepted_and_writes_nothing() {
    let _serial = support::concurrent(&["scaffold"]);
    let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n";
    let pkg = Package::elsewhere(manifest);
    let inputs = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let p = inputs.path().join(name);
        std::fs::write(&p, text).expect("write input");
        p.to_string_lossy().into_owned()
    };
    let entry = |url: &str, mime: &str| {
        format!(
            r#"{{"startedDateTime": "2026-11-30T09:14:02.100Z", "time": 10, "cache": {{}},
                "timings": {{"send": 1, "wait": 8, "receive": 1}},
                "request": {{"method": "GET", "url": "{url}", "httpVersion": "HTTP/1.1",
                             "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0}},
                "response": {{"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [],
                              "cookies": [], "content": {{"size": 10, "mimeType": "{mime}"}},
                              "redirectURL": "", "headersSize": -1, "bodySize": 10}}}}"#
        )
    };
    let har = |version: &str, entries: &[String]| {
        format!(
            r#"{{"log": {{"version": "{version}", "creator": {{"name": "t", "version": "1"}}, "entries": [{}]}}}}"#,
            entries.join(",")
        )
    };
    let only_assets = har(
        "1.2",
        &[
            entry("https://a.test/app.js", "application/javascript"),
            entry("https://a.test/logo.png", "image/png"),
        ],
    );
    let missing_url = har("1.2", &[entry("https://a.test/", "text/html")])
        .replace(r#""url": "https://a.test/", "#, "");
    let good_har = har("1.2", &[entry("https://a.test/api", "application/json")]);

    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec![
                "new".into(),
                "--from-har".into(),
                write(
                    "syntax.har",
                    "{\"log\": {\n  \"version\": \"1.2\",\n  oops\n}}",
                ),
            ],
            vec![
                "syntax.har at line 3, column 3",
                "not JSON",
                "Accepted: a HAR 1.2 recording",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-har".into(),
                write("old.har", &har("1.0", &[])),
            ],
            vec![
                "old.har at log.version",
                "unsupported HAR version \"1.0\"",
                "Accepted: HAR version \"1.2\"",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-har".into(),
                write("nourl.har", &missing_url),
            ],
            vec![
                "nourl.har at line ",
                "(log.entries[0].request)",
                "missing field `url`",
                "Accepted:",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-har".into(),
                write("assets.har", &only_assets),
            ],
            vec![
                "assets.har at log.entries",
                "no usable request",
                "2 static assets",
                "Accepted:",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-har".into(),
                write("good.har", &good_har),
                "--only".into(),
                "b.test".into(),
            ],
            vec![
                "good.har",
                "no replayable request to --only \"b.test\"",
                "Accepted: one of the recorded hosts: a.test",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-openapi".into(),
                write("bad.yaml", "openapi: 3.0.0\ninfo: [\n"),
            ],
            vec![
                "bad.yaml at line 3, column 1",
                "not YAML",
                "Accepted: an OpenAPI 3.0.x or 3.1.x document",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-openapi".into(),
                write("swagger.json", r#"{"swagger": "2.0", "paths": {}}"#),
            ],
            vec![
                "swagger.json at swagger",
                "Swagger 2.0 documents are not supported",
                "Accepted: OpenAPI 3.0.x or 3.1.x",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-openapi".into(),
                write("v4.yaml", "openapi: 4.0.0\n"),
            ],
            vec![
                "v4.yaml at openapi",
                "unsupported OpenAPI version \"4.0.0\"",
                "Accepted: OpenAPI 3.0.x or 3.1.x",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-openapi".into(),
                write(
                    "empty.yaml",
                    "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n",
                ),
            ],
            vec!["empty.yaml at paths", "no usable request", "Accepted:"],
        ),
        (
            vec![
                "new".into(),
                "--from-openapi".into(),
                repo_root()
                    .join("tests/scaffold/petstore.yaml")
                    .to_string_lossy()
                    .into_owned(),
                "--operations".into(),
                "listPets,adoptPet".into(),
            ],
            vec![
                "petstore.yaml",
                "--operations \"adoptPet\" is not an operation",
                "Accepted: operationIds or \"METHOD /path\"",
                "listPets (GET /pets)",
            ],
        ),
        (
            vec![
                "new".into(),
                "--from-har".into(),
                inputs
                    .path()
                    .join("absent.har")
                    .to_string_lossy()
                    .into_owned(),
            ],
            vec!["absent.har", "--from-har takes the path of a readable file"],
        ),
        (
            vec![
                "new".into(),
                "--from-har".into(),
                write("ok.har", &good_har),
                "--name".into(),
                "Not A Name".into(),
            ],
            vec!["--name \"Not A Name\"", "accepted: lower-case letters"],
        ),
        (
            vec!["init".into(), "--name".into(), "fn".into()],
            vec!["--name \"fn\"", "not a Rust keyword"],
        ),
        (
            vec!["init".into(), "-p".into(), "nope".into()],
            vec!["package \"nope\" is not a member of the workspace; members: app"],
        ),
    ];
    let before = pkg.snapshot();
    for (args, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = pkg.scaffold(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        for e in expected {
            assert!(stderr.contains(e), "{args:?}: {e:?} not in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(pkg.snapshot(), before, "{args:?} wrote something");
    }

    // A test target of the same name that init did not make is refused, and kept.
    let taken = format!("{manifest}\n[[test]]\nname = \"loadtest\"\npath = \"tests/mine.rs\"\n");
    std::fs::write(pkg.path().join("Cargo.toml"), &taken).expect("manifest");
    let before = pkg.snapshot();
    let out = pkg.scaffold(&["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already has a [[test]] target named \"loadtest\" (at tests/mine.rs, with the libtest harness)")
            && stderr.contains("--name"),
        "{stderr}"
    );
    assert_eq!(pkg.snapshot(), before);

    // A file of that name that is not a target is refused, and kept.
    std::fs::write(pkg.path().join("Cargo.toml"), manifest).expect("manifest");
    std::fs::create_dir_all(pkg.path().join("loadtests")).expect("dir");
    std::fs::write(pkg.path().join("loadtests/loadtest.rs"), "// mine\n").expect("file");
    let before = pkg.snapshot();
    let out = pkg.scaffold(&["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not overwriting it"),
        "{}",
        text(&out)
    );
    assert_eq!(pkg.snapshot(), before);

    // `new` never replaces what is there either.
    let out = pkg.scaffold(&[
        "new",
        "--from-har",
        &write("good2.har", &good_har),
        "--name",
        "loadtest",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(pkg.snapshot(), before);

    // A virtual workspace needs -p.
    let ws = Package::elsewhere("[workspace]\nmembers = [\"app\"]\n");
    std::fs::create_dir_all(ws.path().join("app/src")).expect("member");
    std::fs::write(ws.path().join("app/Cargo.toml"), manifest).expect("member manifest");
    std::fs::write(ws.path().join("app/src/lib.rs"), "").expect("member lib");
    let before = ws.snapshot();
    let out = ws.scaffold(&["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "is a virtual workspace manifest (no [package]); choose a package with -p: app"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(ws.snapshot(), before);
    // With -p it works, outside a clone of this repository by version.
    let out = ws.scaffold(&["init", "-p", "app"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let member = ws.read("app/Cargo.toml");
    assert!(
        member.contains("[dev-dependencies]\nloadtest-runtime = \"0.1\"\n"),
        "{member}"
    );
}
