//! Issue 25, item 2, end to end: the README's gRPC example (the `grpc` fixture's
//! `loadtests/cart.rs` is its code block, built with loadtest-runtime's `grpc` feature and the
//! client tonic generated from `tests/grpc-fixture/proto/shop.proto`) runs through the real
//! `cargo loadtest` against that service's tonic server, which this test starts on 127.0.0.1 and
//! which answers `UNAVAILABLE` to every 10th `AddItem` call it receives. The server counts what
//! it answers; the report's per-method counts, classes and stream messages equal them exactly,
//! the calls are requests in every output (JSON, the terminal's per-name table, JUnit, Markdown,
//! HTML, CSV, the interval logs, the live `/metrics`, the messages' counters too), a threshold on a method holds and another
//! fails as configured, and two shards merge into exactly what the server saw.

use crate::support;

use loadtest_grpc_fixture::{Counts, ShopServer, UNAVAILABLE_EVERY};
use loadtest_report::report::{RunReport, TestResult};
use support::scrape::{samples, sum};
use support::{EveryOutput, Fixture, text};

/// Iterations of one run (each: one `AddItem`, one `ListItems` of 3 items), a multiple of
/// [`UNAVAILABLE_EVERY`], so that each run gets exactly a tenth of its `AddItem` calls answered
/// `UNAVAILABLE`.
const ITERATIONS: u64 = 120;

/// Items per `ListItems` call, as the README's example asks.
const ITEMS: u64 = 3;

const ADD: &str = "/shop.Cart/AddItem";
const LIST: &str = "/shop.Cart/ListItems";

/// The server's counts: `[connections, add_item, unavailable, list_items, items_sent]`.
fn snapshot(c: &Counts) -> [u64; 5] {
    [
        c.get(|c| &c.connections),
        c.get(|c| &c.add_item),
        c.get(|c| &c.add_item_unavailable),
        c.get(|c| &c.list_items),
        c.get(|c| &c.items_sent),
    ]
}

/// What the report must agree on with the server's counts for `iterations` iterations.
fn check_against_the_server(r: &TestResult, seen: [u64; 5], iterations: u64, what: &str) {
    let [connections, add_item, unavailable, list_items, items_sent] = seen;
    assert_eq!(r.iterations.total, iterations, "{what}");
    assert_eq!(r.iterations.ok, iterations, "{what}: {:?}", r.errors);
    // The server's own counts, against what the test does per iteration.
    assert_eq!(add_item, iterations, "{what}: one AddItem each");
    assert_eq!(unavailable, iterations / UNAVAILABLE_EVERY, "{what}");
    assert_eq!(list_items, iterations, "{what}: one ListItems each");
    assert_eq!(items_sent, ITEMS * iterations, "{what}");

    let add = &r.request_names[ADD];
    assert_eq!(add.count, add_item, "{what}");
    assert_eq!(add.latency.summary.count, add_item, "{what}");
    assert_eq!(
        add.by_class.get("ok"),
        Some(&(add_item - unavailable)),
        "{what}"
    );
    assert_eq!(
        add.by_class.get("grpc_unavailable"),
        Some(&unavailable),
        "{what}"
    );
    assert_eq!(add.by_class.len(), 2, "{what}: {:?}", add.by_class);
    let list = &r.request_names[LIST];
    assert_eq!(list.count, list_items, "{what}");
    assert_eq!(list.by_class.get("ok"), Some(&list_items), "{what}");
    assert_eq!(list.by_class.len(), 1, "{what}: {:?}", list.by_class);
    // One connection per user that ran, kept across its iterations.
    let connect = &r.request_names["shop.connect"];
    assert_eq!(connect.count, connections, "{what}");
    assert_eq!(connect.by_class.get("ok"), Some(&connections), "{what}");
    assert!((1..=4).contains(&connections), "{what}: {connections}");
    assert_eq!(r.request_names.len(), 3, "{what}: {:?}", r.request_names);
    assert_eq!(
        r.requests.total,
        add_item + list_items + connections,
        "{what}"
    );
    assert_eq!(
        r.requests.by_class.get("grpc_unavailable"),
        Some(&unavailable),
        "{what}"
    );
    // The stream's messages, exactly as many as the server sent.
    let counter = |name: &str| r.custom_counters.get(name).copied();
    assert_eq!(
        counter(&format!("{LIST}.messages_received")),
        Some(items_sent),
        "{what}"
    );
    assert_eq!(
        counter(&format!("{ADD}.messages_received")),
        Some(add_item - unavailable),
        "{what}"
    );
    // Each ListItems answer is timed as a stream: its messages are the stream's events, with a
    // gap between each two of one answer; AddItem's one-message answers are no stream.
    let stream = r.request_names[LIST]
        .stream
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: {LIST} is timed as a stream"));
    assert_eq!(
        (stream.streams, stream.broken, stream.events),
        (list_items, 0, items_sent),
        "{what}"
    );
    assert_eq!(stream.gap.summary.count, items_sent - list_items, "{what}");
    assert!(r.request_names[ADD].stream.is_none(), "{what}");
    let sample = r
        .errors
        .iter()
        .find(|e| e.class == "grpc_unavailable")
        .unwrap_or_else(|| panic!("{what}: no grpc_unavailable sample: {:?}", r.errors));
    assert_eq!(
        (sample.message.as_str(), sample.count),
        (
            "/shop.Cart/AddItem: Status: UNAVAILABLE (14): every 10th call",
            unavailable
        ),
        "{what}"
    );
}

#[test]
fn the_readme_grpc_example_is_counted_exactly_in_every_output_and_merges_exactly() {
    // Counts every 10th call by the server's order of arrival: nothing else may call it, and a
    // latency rule is judged.
    let _g = support::serial();
    let f = Fixture::shared("grpc");
    support::assert_readme_example("grpc/loadtests/cart.rs", "### gRPC: `ctx.grpc`");
    let server = ShopServer::start();
    let iterations = ITERATIONS.to_string();
    let EveryOutput {
        out,
        page,
        report,
        csv,
        hlog,
    } = support::run_with_every_output(
        &f,
        f.run_command(&["--iterations", &iterations, "--target", &server.url()]),
    );
    let r = support::test_result(&report, "cart");
    let seen = snapshot(server.counts());
    check_against_the_server(&r, seen, ITERATIONS, "report.json");
    support::validate_schema(&f.file("report.json"));

    // The rules on the method are judged on it: the error rate is exactly the server's tenth,
    // under 15%; the exit code follows the rules.
    let rule = |s: &str| {
        r.thresholds
            .iter()
            .find(|t| t.rule == s)
            .unwrap_or_else(|| panic!("no rule {s}: {:?}", r.thresholds))
            .clone()
    };
    let add = &r.request_names[ADD];
    let p99 = rule("p99(/shop.Cart/AddItem) < 250ms");
    assert_eq!(p99.observed, Some(add.latency.summary.p99_us as f64));
    assert_eq!(p99.passed, add.latency.summary.p99_us < 250_000, "{p99:?}");
    let error_rate = rule("error_rate(/shop.Cart/AddItem) < 15%");
    assert_eq!(error_rate.observed, Some(0.1), "{error_rate:?}");
    assert!(error_rate.passed, "{error_rate:?}");
    let passed = r.thresholds.iter().all(|t| t.passed);
    assert_eq!(
        out.status.code(),
        Some(if passed { 0 } else { 100 }),
        "{}",
        text(&out)
    );

    // The terminal's per-name table.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table = stdout
        .split("by request name:")
        .nth(1)
        .unwrap_or_else(|| panic!("no per-name table: {stdout}"));
    for name in [ADD, LIST, "shop.connect"] {
        let count = r.request_names[name].count;
        let row = table
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row: {table}"));
        assert!(row.contains(&count.to_string()), "{row}");
    }
    let add_row = table
        .lines()
        .find(|l| l.trim_start().starts_with(ADD))
        .unwrap();
    assert!(
        add_row.contains(&format!(
            "grpc_unavailable {}",
            ITERATIONS / UNAVAILABLE_EVERY
        )),
        "the class shows in the table: {add_row}"
    );

    // The messages' counters in the terminal's custom-metric table, with their totals.
    let counters = [
        "/shop.Cart/ListItems.messages_received",
        "/shop.Cart/AddItem.messages_received",
    ];
    let custom = stdout
        .split("custom metrics:")
        .nth(1)
        .unwrap_or_else(|| panic!("no custom-metric table: {stdout}"));
    for name in counters {
        let n = r.custom_counters[name];
        let row = custom
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row: {custom}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1..3], ["counter", n.to_string().as_str()], "{row}");
    }

    // JUnit, Markdown and HTML name the methods and their rules.
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("JUnit XML parses");
    assert!(
        junit.contains("error_rate(/shop.Cart/AddItem) &lt; 15%")
            || junit.contains("error_rate(/shop.Cart/AddItem) < 15%"),
        "{junit}"
    );
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    for name in [ADD, LIST] {
        assert!(md.contains(&format!("| {name} |")), "{md}");
    }
    let html = std::fs::read_to_string(f.file("report.html")).unwrap();
    for name in [ADD, LIST, "grpc_unavailable", "p99(/shop.Cart/AddItem)"] {
        assert!(html.contains(name), "the HTML report names {name}");
    }
    // And each counts the messages.
    for name in counters {
        let n = r.custom_counters[name];
        assert!(
            junit.contains(&format!("custom {name} (counter): {n} (")),
            "JUnit counts {name}: {junit}"
        );
        assert!(
            md.contains(&format!("| {name} | counter | {n} |")),
            "the Markdown counts {name}: {md}"
        );
        assert!(
            html.contains(&format!(
                "<tr><td>{name}</td><td>counter</td><td class=\"num\">{n}</td>"
            )),
            "the HTML report counts {name}"
        );
    }

    // CSV: a request row per method with its count and failures.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}: {header:?}"))
    };
    let row = |name: &str| {
        csv.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|c| c[col("kind")] == "request" && c[col("name")] == name)
            .unwrap_or_else(|| panic!("no request row for {name}: {csv}"))
    };
    let add_csv = row(ADD);
    assert_eq!(add_csv[col("count")], add.count.to_string(), "{csv}");
    assert_eq!(
        add_csv[col("failed")],
        (ITERATIONS / UNAVAILABLE_EVERY).to_string(),
        "{csv}"
    );
    for name in counters {
        let counter = csv
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|c| c[col("kind")] == "counter" && c[col("name")] == name)
            .unwrap_or_else(|| panic!("no counter row for {name}: {csv}"));
        assert_eq!(
            counter[col("count")],
            r.custom_counters[name].to_string(),
            "{csv}"
        );
    }
    let list_csv = row(LIST);
    assert_eq!(list_csv[col("count")], ITERATIONS.to_string(), "{csv}");
    assert_eq!(list_csv[col("failed")], "0", "{csv}");

    // Interval logs: a `request:/shop.Cart/ListItems` tag whose intervals add up to every call.
    let log = support::interval_log(&hlog);
    let decoded: u64 = support::interval_counts(&log, "request:/shop.Cart/ListItems")
        .iter()
        .sum();
    assert_eq!(decoded, ITERATIONS, "{log}");

    // Live metrics: the last scrape counts every call by method and class.
    let s = samples(&page);
    let requests = |name: &str, class: &str| {
        sum(
            &s,
            "loadtest_requests_total",
            &[("request", name), ("class", class)],
        ) as u64
    };
    assert_eq!(requests(ADD, "ok"), add.by_class["ok"], "{page}");
    assert_eq!(
        requests(ADD, "grpc_unavailable"),
        ITERATIONS / UNAVAILABLE_EVERY,
        "{page}"
    );
    assert_eq!(requests(LIST, "ok"), ITERATIONS, "{page}");
    // The server streams' events, as the report counts them.
    assert_eq!(
        sum(&s, "loadtest_stream_events_total", &[("request", LIST)]) as u64,
        r.request_names[LIST]
            .stream
            .as_ref()
            .map_or(0, |st| st.events),
        "{page}"
    );
    // And the messages' counters, as their final totals.
    for name in counters {
        assert_eq!(
            sum(&s, "loadtest_custom_total", &[("name", name)]) as u64,
            r.custom_counters[name],
            "{name}: {page}"
        );
    }

    // Two shards against the same server merge into exactly what the server saw; the rule they
    // are given (an error rate under 5% on AddItem) fails on the merge, which sees the server's
    // tenth.
    let before = snapshot(server.counts());
    let strict = "error_rate(/shop.Cart/AddItem) < 5%";
    let mut shards = Vec::new();
    for k in 1..=2 {
        let json = f.file(&format!("shard-{k}.json"));
        let out = f
            .command(&[
                "--iterations",
                &iterations,
                "--target",
                &server.url(),
                "--shard",
                &format!("{k}/2"),
                "--json",
                json.to_str().unwrap(),
            ])
            .env("LOADTEST_THRESHOLDS", strict)
            .output()
            .expect("cargo-loadtest runs");
        assert!(
            matches!(out.status.code(), Some(0) | Some(100)),
            "shard {k}: {}",
            text(&out)
        );
        shards.push(json);
    }
    let (out, merged) = support::merge_shards(&f, &shards);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    support::validate_schema(&merged);
    let merged: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let after = snapshot(server.counts());
    let delta: [u64; 5] = std::array::from_fn(|i| after[i] - before[i]);
    let m = support::test_result(&merged, "cart");
    check_against_the_server(&m, delta, ITERATIONS, "merged.json");
    let rule = m
        .thresholds
        .iter()
        .find(|t| t.rule == strict)
        .unwrap_or_else(|| panic!("no rule {strict}: {:?}", m.thresholds));
    assert_eq!((rule.observed, rule.passed), (Some(0.1), false), "{rule:?}");
}
