//! `cargo loadtest init`: the dev-dependency, a `[[test]]` target with `harness = false`, and a
//! first load test file with a commented example of each load model.
//!
//! Safe to run twice: when the target, the file and the dependency are all there, nothing is
//! written. A file or target of that name that `init` did not make is refused, never replaced.

use super::{manifest, names};
use crate::cli::InitArgs;
use crate::errors::CliError;
use crate::exit_code;

/// Runs `cargo loadtest init`.
pub(crate) fn init(args: &InitArgs) -> Result<i32, CliError> {
    names::check_target_name(&args.name)?;
    let package = manifest::locate(args.package.as_deref(), args.manifest_path.as_deref())?;
    let plan = manifest::plan(&package, &args.name)?;
    let file_exists = plan.file.symlink_metadata().is_ok();
    let shown = plan
        .file
        .strip_prefix(&package.dir)
        .unwrap_or(&plan.file)
        .display()
        .to_string();
    if file_exists && !plan.target_present {
        return Err(CliError::Usage(format!(
            "{} exists but is not the [[test]] target {:?} of {}; not overwriting it. Choose another name with --name, or add the target by hand (harness = false)",
            plan.file.display(),
            args.name,
            package.manifest.display()
        )));
    }
    let code = (!file_exists).then(|| template(&package.name, &args.name));
    if code.is_none() && plan.manifest.is_none() {
        eprintln!(
            "package {} already has the load test target {:?} ({shown}); nothing changed",
            package.name, args.name
        );
        return Ok(exit_code::OK);
    }
    manifest::apply(&plan, code.as_deref(), &package.manifest)?;
    for what in &plan.added {
        eprintln!("     Added {what} to {}", package.manifest.display());
    }
    if code.is_some() {
        eprintln!("   Created {}", plan.file.display());
    }
    eprintln!(
        "Run it with `cargo loadtest --target http://HOST:PORT` (or set LOADTEST_TARGET); `cargo loadtest list` shows it."
    );
    Ok(exit_code::OK)
}

/// The first load test file: one closed-model test that runs as is, and commented examples of
/// the open model, ramping stages and retries to start from.
pub(crate) fn template(package: &str, target: &str) -> String {
    TEMPLATE
        .replace("@PACKAGE@", package)
        .replace("@TARGET@", target)
}

const TEMPLATE: &str = r##"//! Load tests of `@PACKAGE@`. Run them with `cargo loadtest --target http://HOST:PORT` (or
//! set `LOADTEST_TARGET`); `cargo loadtest list` shows them, and `cargo test --test @TARGET@`
//! runs each one as a short smoke check.
//!
//! Every option of `#[load_test(...)]` can be overridden from `loadtest.toml`, `LOADTEST_*`
//! variables and the command line (`--users`, `--rate`, `--duration`, `--iterations`, ...).

use loadtest_runtime::prelude::*;

/// Closed model: 10 virtual users, each looping one iteration then a pause ("think time").
#[load_test(users = 10, duration = "30s", think_time = "100ms..300ms",
            thresholds = ["p95 < 500ms", "error_rate < 1%"])]
async fn home(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/"))
        .name("home")
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

// Open model: iterations start at a fixed rate whatever the latency, at most `max_in_flight`
// at once; latency is measured from each iteration's intended start.
//
// #[load_test(rate = "50/s", duration = "30s", max_in_flight = 100,
//             thresholds = ["p99 < 250ms", "dropped == 0"])]
// async fn arrivals(ctx: &Ctx) -> Result<()> {
//     ctx.http().get(ctx.url("/")).name("home").send().await?.error_for_status()?;
//     Ok(())
// }

// Ramping: stages of "DURATION:USERS" (closed model) or "DURATION:RATE" such as "30s:100/s"
// (open model); the stages' durations add up to the test's duration.
//
// #[load_test(stages = ["10s:20", "30s:20", "10s:0"], think_time = "200ms")]
// async fn ramp(ctx: &Ctx) -> Result<()> {
//     ctx.http().get(ctx.url("/")).name("home").send().await?.error_for_status()?;
//     Ok(())
// }

// Retries with exponential backoff and jitter, a JSON body, and a pause inside the iteration.
//
// #[load_test(users = 5, duration = "30s", retries = 3, backoff = "100ms..2s",
//             thresholds = ["p99(create order) < 1s"])]
// async fn checkout(ctx: &Ctx) -> Result<()> {
//     ctx.http()
//         .post(ctx.url("/orders"))
//         .name("create order")
//         .header("content-type", "application/json")
//         .body(r#"{"sku":"A-1","quantity":1}"#)
//         .send()
//         .await?
//         .error_for_status()?;
//     ctx.think(Duration::from_millis(500)).await;
//     Ok(())
// }

// Not only HTTP: any async operation that returns a `Result` (a database query, a cache, a
// queue) is measured like a request with `ctx.measure`, under its own name: its latency, error
// classes and retries show in every report, and thresholds name it, as in
// `thresholds = ["p99(db.get_user) < 20ms", "error_rate(db.get_user) < 1%"]`:
//
//     let user = ctx.measure("db.get_user", || db.get_user(42)).await?;

// WebSocket, with the runtime's `ws` feature (`features = ["ws"]` on the loadtest-runtime
// dependency): `ctx.ws` records the handshake as `chat.connect`, and `ws.request` times a
// message to the reply that matches it, as a request named `chat.echo` (`p99(chat.echo)`);
// messages and bytes are counted, close codes and protocol errors are error classes:
//
//     let mut ws = ctx.ws(ctx.url("/chat")).name("chat").await?;
//     ws.request("chat.echo", "ping", |reply| reply.to_text().is_ok_and(|t| t == "ping")).await?;
//     ws.close().await?;

// gRPC, with the runtime's `grpc` feature (`features = ["grpc"]`): `ctx.grpc` gives the user a
// channel for any tonic-generated client, and every call is recorded as a request under its
// method path (`p99(/shop.Cart/AddItem)`), gRPC status codes as error classes
// (`grpc_unavailable`...), the messages of a server stream counted:
//
//     let mut cart = CartClient::new(ctx.grpc(ctx.url("/")).name("shop").await?);
//     cart.add_item(AddItemRequest { sku: "A-1".into(), quantity: 1 }).await?;

// Streamed responses (server-sent events, chunked token streams): `.stream()` in place of
// `.send()` hands the response out as it arrives; the stream's time to first byte, time to first
// event, the gaps between its events and its events are recorded under the request's name, and
// thresholds read them, as in `thresholds = ["p99(first_event:chat) < 300ms", "p99(gap:chat) < 50ms"]`:
//
//     let mut stream = ctx.http().get(ctx.url("/chat")).name("chat").stream().await?;
//     while let Some(event) = stream.next_event().await? { /* event.event, event.data */ }

loadtest_runtime::main!();
"##;

#[cfg(test)]
mod tests {
    use super::*;

    /// The commented examples are code too: uncommented, the file still parses as Rust.
    #[test]
    fn the_commented_examples_parse_when_uncommented() {
        let text = template("app", "loadtest");
        let mut code = Vec::new();
        let mut in_example = false;
        for line in text.lines() {
            if line.starts_with("// #[load_test") {
                in_example = true;
            }
            if in_example {
                let line = line
                    .strip_prefix("// ")
                    .expect("example lines are commented");
                in_example = line != "}";
                code.push(line);
            } else if !line.starts_with("//") || line.starts_with("//!") {
                code.push(line);
            }
        }
        let uncommented = code.join("\n");
        let file: syn::File = syn::parse_str(&uncommented).expect("the examples parse");
        let fns: Vec<String> = file
            .items
            .iter()
            .filter_map(|i| match i {
                syn::Item::Fn(f) => Some(f.sig.ident.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(fns, ["home", "arrivals", "ramp", "checkout"]);
    }

    /// The file points at `ctx.ws` and its feature for WebSocket services.
    #[test]
    fn the_template_mentions_websocket_connections() {
        let text = template("app", "loadtest");
        assert!(
            text.contains("ctx.ws(ctx.url(\"/chat\")).name(\"chat\").await?")
                && text.contains("ws.request(\"chat.echo\"")
                && text.contains("features = [\"ws\"]"),
            "{text}"
        );
    }

    /// The file points at `ctx.grpc` and its feature for gRPC services.
    #[test]
    fn the_template_mentions_grpc_channels() {
        let text = template("app", "loadtest");
        assert!(
            text.contains("CartClient::new(ctx.grpc(ctx.url(\"/\")).name(\"shop\").await?)")
                && text.contains("p99(/shop.Cart/AddItem)")
                && text.contains("features = [\"grpc\"]"),
            "{text}"
        );
    }

    /// The file points at `.stream()` for streamed responses, with thresholds on its measures.
    #[test]
    fn the_template_mentions_streamed_responses() {
        let text = template("app", "loadtest");
        assert!(
            text.contains(".name(\"chat\").stream().await?")
                && text.contains("stream.next_event().await?")
                && text.contains("p99(gap:chat) < 50ms")
                && text.contains("p99(first_event:chat) < 300ms"),
            "{text}"
        );
    }

    /// The file points at `ctx.measure` for what is not HTTP, with a threshold naming it.
    #[test]
    fn the_template_mentions_measuring_any_async_operation() {
        let text = template("app", "loadtest");
        assert!(
            text.contains("ctx.measure(\"db.get_user\", || db.get_user(42)).await?")
                && text.contains("p99(db.get_user) < 20ms"),
            "{text}"
        );
    }
}
