//! `schema/report.schema.json` describes the JSON report exactly: a realistic report validates,
//! broken ones do not, and the JSON reads back into the same `RunReport`.

use crate::common;

use common::synthetic;
use loadtest_report::report::RunReport;
use serde_json::{Value, json};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/report.schema.json");

fn schema() -> Value {
    let text = std::fs::read_to_string(SCHEMA_PATH).expect("schema/report.schema.json is readable");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("the schema compiles")
}

/// Every validation error, one line each (empty when the instance is valid).
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} (at {})", e.instance_path))
        .collect()
}

fn report_json() -> Value {
    serde_json::to_value(synthetic::report()).expect("reports serialize")
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let _g = crate::support::concurrent(&[]);
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "cargo-loadtest report");
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!(
            "the schema does not match the draft 2020-12 meta-schema: {e} (at {})",
            e.instance_path
        );
    }
}

#[test]
fn the_synthetic_report_covers_every_shape() {
    let _g = crate::support::concurrent(&[]);
    let r = synthetic::report();
    let with_result: Vec<_> = r.tests.iter().filter_map(|t| t.result.as_ref()).collect();
    assert!(
        with_result
            .iter()
            .any(|t| t.iteration_latency_uncorrected.is_some())
    );
    assert!(
        with_result
            .iter()
            .any(|t| t.iteration_latency_uncorrected.is_none())
    );
    assert!(with_result.iter().any(|t| !t.request_names.is_empty()
        && !t.custom_latencies.is_empty()
        && !t.custom_counters.is_empty()));
    assert!(
        with_result.iter().any(|t| !t.series.is_empty()
            && !t.errors.is_empty()
            && !t.generator.warnings.is_empty())
    );
    assert!(
        r.tests
            .iter()
            .any(|t| t.result.is_none() && t.error.is_some())
    );
    assert!(
        r.tests
            .iter()
            .any(|t| t.result.is_none() && t.error.is_none())
    );
    let comparisons: Vec<_> = r
        .tests
        .iter()
        .filter_map(|t| t.comparison.as_ref())
        .collect();
    assert!(
        comparisons.iter().any(|c| c.regressed) && comparisons.iter().any(|c| c.note.is_some())
    );
    assert!(r.tests.iter().any(|t| t.comparison.is_none()));
    // Optional fields appear both as values and as null.
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        text.contains("\"iteration_latency_uncorrected\":null") && text.contains("\"result\":null")
    );
}

#[test]
fn a_realistic_report_matches_the_schema() {
    let _g = crate::support::concurrent(&[]);
    let validator = validator();
    let instance = report_json();
    let errs = errors(&validator, &instance);
    assert!(
        errs.is_empty(),
        "the synthetic report does not match the schema:\n{}",
        errs.join("\n")
    );
    assert!(validator.is_valid(&instance));
}

/// The gRPC classes (loadtest-runtime's `grpc` feature), one per status code other than OK, are
/// in both class lists: a request's classes, per test and per name, and an error sample's.
#[test]
fn grpc_classes_match_the_schema() {
    let _g = crate::support::concurrent(&[]);
    let validator = validator();
    let mut instance = report_json();
    let result = &mut instance["tests"][0]["result"];
    let name = object(&mut result["request_names"])
        .keys()
        .next()
        .expect("the synthetic report names its requests")
        .clone();
    let classes = [
        "grpc_cancelled",
        "grpc_unknown",
        "grpc_invalid_argument",
        "grpc_deadline_exceeded",
        "grpc_not_found",
        "grpc_already_exists",
        "grpc_permission_denied",
        "grpc_resource_exhausted",
        "grpc_failed_precondition",
        "grpc_aborted",
        "grpc_out_of_range",
        "grpc_unimplemented",
        "grpc_internal",
        "grpc_unavailable",
        "grpc_data_loss",
        "grpc_unauthenticated",
    ];
    for class in classes {
        result["requests"]["by_class"][class] = json!(1);
        result["request_names"][&name]["by_class"][class] = json!(1);
        result["errors"]
            .as_array_mut()
            .expect("errors is an array")
            .push(json!({"class": class, "message": "/shop.Cart/AddItem: Status: UNAVAILABLE (14): busy", "count": 1}));
    }
    let errs = errors(&validator, &instance);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    // A status's number is not a class.
    instance["tests"][0]["result"]["errors"][0]["class"] = json!("grpc_14");
    assert!(!errors(&validator, &instance).is_empty());
}

/// The WebSocket classes (loadtest-runtime's `ws` feature) are in both class lists: a request's
/// classes, per test and per name, and an error sample's.
#[test]
fn websocket_classes_match_the_schema() {
    let _g = crate::support::concurrent(&[]);
    let validator = validator();
    let mut instance = report_json();
    let result = &mut instance["tests"][0]["result"];
    let name = object(&mut result["request_names"])
        .keys()
        .next()
        .expect("the synthetic report names its requests")
        .clone();
    for class in ["ws_close_normal", "ws_close_error", "ws_protocol"] {
        result["requests"]["by_class"][class] = json!(1);
        result["request_names"][&name]["by_class"][class] = json!(1);
        result["errors"]
            .as_array_mut()
            .expect("errors is an array")
            .push(json!({"class": class, "message": "chat.echo: WsError: closed by the server with code 1011", "count": 1}));
    }
    let errs = errors(&validator, &instance);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    // And a class the schema does not know is still refused in an error sample.
    instance["tests"][0]["result"]["errors"][0]["class"] = json!("ws_close_1011");
    assert!(!errors(&validator, &instance).is_empty());
}

#[test]
fn default_and_minimal_values_match_the_schema() {
    let _g = crate::support::concurrent(&[]);
    let validator = validator();
    // A test whose result is mostly empty, and a run with no tests at all.
    let mut r = synthetic::report();
    let mut result = synthetic::interrupted_partial();
    result.iteration_latency = synthetic::hist([]);
    result.request_names.clear();
    result.thresholds.clear();
    r.tests = vec![synthetic::judged("reports", result)];
    r.run.git_commit = None;
    let errs = errors(&validator, &serde_json::to_value(&r).unwrap());
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    r.tests.clear();
    let errs = errors(&validator, &serde_json::to_value(&r).unwrap());
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

#[test]
fn reports_from_before_baselines_still_match_and_read() {
    let _g = crate::support::concurrent(&[]);
    // `comparison` and `tolerance` came with baselines; older version-1 reports lack them.
    let mut instance = report_json();
    for t in instance["tests"].as_array_mut().unwrap() {
        object(t).remove("comparison");
        if !t["result"].is_null() {
            object(&mut t["result"]["config"]).remove("tolerance");
        }
    }
    let errs = errors(&validator(), &instance);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let back: RunReport = serde_json::from_value(instance).expect("an older report deserializes");
    assert!(back.tests.iter().all(|t| t.comparison.is_none()));
}

/// The report as schema version 1 wrote it: uncompressed histograms, no histograms in the
/// series, no test start times.
fn version_1_report_json() -> Value {
    use loadtest_runtime::metrics::hdr::{decode, encode_uncompressed};
    let mut instance = report_json();
    instance["schema_version"] = json!(1);
    fn uncompress(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(s)) = m.get_mut("hdr_v2_base64") {
                    *s = encode_uncompressed(&decode(s).expect("a valid encoding"));
                }
                for v in m.values_mut() {
                    uncompress(v);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(uncompress),
            _ => {}
        }
    }
    uncompress(&mut instance);
    for t in instance["tests"].as_array_mut().unwrap() {
        if t["result"].is_null() {
            continue;
        }
        object(&mut t["result"]).remove("started_at_unix");
        for p in t["result"]["series"].as_array_mut().unwrap() {
            for k in [
                "iteration_latency",
                "iteration_latency_uncorrected",
                "request_latency",
            ] {
                object(p).remove(k);
            }
        }
    }
    instance
}

#[test]
fn version_1_reports_still_match_read_and_decode() {
    let _g = crate::support::concurrent(&[]);
    use loadtest_runtime::metrics::hdr::{decode, summary};
    let instance = version_1_report_json();
    let text = instance.to_string();
    assert!(text.contains("\"hdr_v2_base64\":\"HISTE") && !text.contains("HISTF"));
    let errs = errors(&validator(), &instance);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let back: RunReport = serde_json::from_value(instance).expect("a version-1 report reads");
    assert_eq!(back.schema_version, 1);
    let now = synthetic::report();
    for (old, new) in back.tests.iter().zip(&now.tests) {
        let (Some(old), Some(new)) = (&old.result, &new.result) else {
            continue;
        };
        assert_eq!(old.started_at_unix, None);
        assert!(old.series.iter().all(|p| p.iteration_latency.is_none()
            && p.iteration_latency_uncorrected.is_none()
            && p.request_latency.is_empty()));
        let h = decode(&old.iteration_latency.hdr_v2_base64).expect("uncompressed V2 decodes");
        assert_eq!(summary(&h), new.iteration_latency.summary);
        assert_eq!(
            h,
            decode(&new.iteration_latency.hdr_v2_base64).expect("compressed V2 decodes")
        );
    }
}

#[test]
fn this_version_writes_compressed_histograms_everywhere() {
    let _g = crate::support::concurrent(&[]);
    let text = report_json().to_string();
    assert!(
        !text.contains("HISTE"),
        "an uncompressed histogram was written"
    );
    let r = synthetic::report();
    assert_eq!(r.schema_version, loadtest_report::report::SCHEMA_VERSION);
    let series_hists: usize = r
        .tests
        .iter()
        .filter_map(|t| t.result.as_ref())
        .flat_map(|t| &t.series)
        .map(|p| {
            usize::from(p.iteration_latency.is_some())
                + usize::from(p.iteration_latency_uncorrected.is_some())
                + p.request_latency.len()
        })
        .sum();
    assert!(series_hists > 0);
    assert_eq!(
        text.matches("\"HISTF").count(),
        count_histograms(&r) + series_hists
    );
}

/// The whole-run histograms of a report.
fn count_histograms(r: &RunReport) -> usize {
    r.tests
        .iter()
        .filter_map(|t| t.result.as_ref())
        .map(|t| {
            1 + usize::from(t.iteration_latency_uncorrected.is_some())
                + t.request_names.len()
                + t.custom_latencies.len()
        })
        .sum()
}

/// A comparison with too few windows: its change and interval are NaN, which JSON writes as null.
fn insufficient_data_report() -> RunReport {
    use loadtest_report::report::MetricVerdict::InsufficientData;
    let mut r = synthetic::report();
    let nan = (f64::NAN, f64::NAN, f64::NAN);
    r.tests[0].comparison.as_mut().unwrap().metrics[0] = synthetic::metric(
        loadtest_runtime::grammar::GatedMetric::P50,
        0.0,
        0.0,
        nan,
        0.10,
        InsufficientData,
    );
    r
}

#[test]
fn insufficient_data_comparisons_match_the_schema() {
    let _g = crate::support::concurrent(&[]);
    let instance = serde_json::to_value(insufficient_data_report()).unwrap();
    assert!(instance["tests"][0]["comparison"]["metrics"][0]["change"].is_null());
    let errs = errors(&validator(), &instance);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

#[test]
fn insufficient_data_comparisons_read_back() {
    let _g = crate::support::concurrent(&[]);
    let text = serde_json::to_string(&insufficient_data_report()).unwrap();
    if let Err(e) = serde_json::from_str::<RunReport>(&text) {
        panic!("a report with an insufficient_data comparison does not read back: {e}");
    }
}

/// Applies `mutate` to a fresh copy of the report JSON and asserts the schema rejects it.
fn assert_rejected(validator: &jsonschema::Validator, what: &str, mutate: impl FnOnce(&mut Value)) {
    let mut instance = report_json();
    mutate(&mut instance);
    assert!(
        !validator.is_valid(&instance),
        "the schema accepted a report with {what}"
    );
    let errs = errors(validator, &instance);
    assert!(
        !errs.is_empty(),
        "{what}: is_valid and iter_errors disagree"
    );
    eprintln!("{what}: {}", errs.join("; "));
}

fn object(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    v.as_object_mut().expect("an object")
}

#[test]
fn broken_reports_are_rejected() {
    let _g = crate::support::concurrent(&[]);
    let v = validator();
    // Missing required fields, at every level.
    assert_rejected(&v, "no schema_version", |r| {
        drop(object(r).remove("schema_version"))
    });
    assert_rejected(&v, "no run.host", |r| {
        drop(object(&mut r["run"]).remove("host"))
    });
    assert_rejected(&v, "no tests[0].result", |r| {
        drop(object(&mut r["tests"][0]).remove("result"))
    });
    assert_rejected(&v, "no tests[2].error (null must still be written)", |r| {
        drop(object(&mut r["tests"][2]).remove("error"))
    });
    assert_rejected(&v, "no iterations.failed", |r| {
        drop(object(&mut r["tests"][0]["result"]["iterations"]).remove("failed"))
    });
    assert_rejected(&v, "no histogram encoding", |r| {
        drop(object(&mut r["tests"][0]["result"]["iteration_latency"]).remove("hdr_v2_base64"))
    });
    assert_rejected(&v, "no p999_us", |r| {
        drop(
            object(&mut r["tests"][0]["result"]["request_names"]["GET /"]["latency"]["summary"])
                .remove("p999_us"),
        )
    });
    assert_rejected(&v, "no generator warnings", |r| {
        drop(object(&mut r["tests"][0]["result"]["generator"]).remove("warnings"))
    });
    // Wrong types.
    assert_rejected(&v, "a string exit code", |r| r["exit_code"] = json!("130"));
    assert_rejected(&v, "a fractional count", |r| {
        r["tests"][0]["result"]["iterations"]["total"] = json!(1.5)
    });
    assert_rejected(&v, "a negative count", |r| {
        r["tests"][0]["result"]["requests"]["total"] = json!(-1)
    });
    assert_rejected(&v, "a string latency", |r| {
        r["tests"][0]["result"]["iteration_latency"]["summary"]["p99_us"] = json!("12ms")
    });
    assert_rejected(&v, "failures as a string", |r| {
        r["tests"][1]["failures"] = json!("p95 failed")
    });
    assert_rejected(&v, "a boolean result", |r| {
        r["tests"][0]["result"] = json!(true)
    });
    assert_rejected(&v, "a null host", |r| r["run"]["host"] = Value::Null);
    assert_rejected(&v, "a string counter", |r| {
        r["tests"][0]["result"]["custom_counters"]["cache_hits"] = json!("1500")
    });
    assert_rejected(&v, "a broken histogram in a map", |r| {
        r["tests"][0]["result"]["custom_latencies"]["render"] = json!({})
    });
    assert_rejected(&v, "histogram bytes that are not base64", |r| {
        r["tests"][0]["result"]["iteration_latency"]["hdr_v2_base64"] = json!("not base64!")
    });
    // Unknown enum values and constants.
    assert_rejected(&v, "an unknown run status", |r| {
        r["status"] = json!("skipped")
    });
    assert_rejected(&v, "an unknown test status", |r| {
        r["tests"][0]["status"] = json!("PASSED")
    });
    assert_rejected(&v, "a capitalized test status", |r| {
        r["tests"][2]["status"] = json!("Errored")
    });
    assert_rejected(&v, "schema version 4", |r| r["schema_version"] = json!(4));
    assert_rejected(&v, "schema version 0", |r| r["schema_version"] = json!(0));
    assert_rejected(&v, "a per-second histogram that is not base64", |r| {
        r["tests"][0]["result"]["series"][0]["iteration_latency"] = json!("HISTF?")
    });
    assert_rejected(&v, "a per-second request histogram that is a number", |r| {
        r["tests"][0]["result"]["series"][0]["request_latency"]["GET /"] = json!(1)
    });
    assert_rejected(&v, "a string start time", |r| {
        r["tests"][0]["result"]["started_at_unix"] = json!("today")
    });
    assert_rejected(&v, "an unknown load model", |r| {
        r["tests"][0]["result"]["config"]["model"] = json!("hybrid")
    });
    assert_rejected(&v, "an unknown request class", |r| {
        r["tests"][0]["result"]["requests"]["by_class"]["http_3xx"] = json!(1)
    });
    assert_rejected(&v, "a status code that is not one", |r| {
        r["tests"][0]["result"]["requests"]["by_status"]["ok"] = json!(1)
    });
    // Fields the layout does not have.
    assert_rejected(&v, "an extra top-level field", |r| r["extra"] = json!(1));
    assert_rejected(&v, "an extra field in a test result", |r| {
        r["tests"][0]["result"]["p99"] = json!(1)
    });
    assert_rejected(&v, "an unknown metric verdict", |r| {
        r["tests"][1]["comparison"]["metrics"][1]["verdict"] = json!("worse")
    });
    assert_rejected(&v, "no comparison.regressed", |r| {
        drop(object(&mut r["tests"][1]["comparison"]).remove("regressed"))
    });
    assert_rejected(&v, "an unknown compared metric", |r| {
        r["tests"][1]["comparison"]["metrics"][0]["metric"] = json!("p42")
    });
    assert_rejected(&v, "a string change", |r| {
        r["tests"][1]["comparison"]["metrics"][0]["change"] = json!("+1%")
    });
    assert_rejected(&v, "an extra field in a threshold", |r| {
        r["tests"][0]["result"]["thresholds"][0]["limit"] = json!(1)
    });
}

/// The paths where two JSON values differ, with both values. Numbers within `ulps` units in the
/// last place of each other count as equal.
fn differences(path: &str, a: &Value, b: &Value, ulps: u64, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                differences(
                    &format!("{path}/{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    ulps,
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}/{i}"), x, y, ulps, out);
            }
        }
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if x.is_sign_negative() != y.is_sign_negative()
                || x.to_bits().abs_diff(y.to_bits()) > ulps
            {
                out.push(format!("{path}: {x:?} became {y:?}"));
            }
        }
        _ if a != b => out.push(format!("{path}: {a} became {b}")),
        _ => {}
    }
}

/// Whether this build's serde_json parses every float exactly (its `float_roundtrip` feature).
/// Without it, parsing may land one unit in the last place off for 17-digit values.
fn json_floats_are_exact() -> bool {
    serde_json::from_str::<f64>("940.3852705410823").unwrap() == 940.385_270_541_082_3
}

#[test]
fn the_json_reads_back_into_the_same_report() {
    let _g = crate::support::concurrent(&[]);
    let report = synthetic::report();
    let exact = json_floats_are_exact();
    if !exact {
        eprintln!(
            "note: serde_json is built without `float_roundtrip`: floats may come back 1 ulp off"
        );
    }
    for text in [
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string_pretty(&report).unwrap(),
    ] {
        let back: RunReport = serde_json::from_str(&text).expect("the report deserializes");
        let (a, b) = (
            serde_json::to_value(&report).unwrap(),
            serde_json::to_value(&back).unwrap(),
        );
        let mut diffs = Vec::new();
        differences("", &a, &b, if exact { 0 } else { 1 }, &mut diffs);
        assert!(
            diffs.is_empty(),
            "the report changed on its way through JSON:\n{}",
            diffs.join("\n")
        );
        if exact {
            assert!(back == report, "the report changed on its way through JSON");
        }
        // Whatever the float parser, a report read back writes the same JSON again, and the
        // parts that are not floats come back exactly.
        let again: RunReport =
            serde_json::from_str(&serde_json::to_string(&back).unwrap()).unwrap();
        assert!(
            again == back,
            "a report read back from JSON is not a fixed point"
        );
        assert_eq!(back.tests.len(), report.tests.len());
        for (x, y) in back.tests.iter().zip(&report.tests) {
            assert_eq!(
                (
                    &x.package,
                    &x.target,
                    &x.name,
                    x.status,
                    &x.failures,
                    &x.error
                ),
                (
                    &y.package,
                    &y.target,
                    &y.name,
                    y.status,
                    &y.failures,
                    &y.error
                )
            );
            assert_eq!(x.result.is_some(), y.result.is_some());
        }
    }
}

#[test]
fn histogram_encodings_decode_to_their_summaries() {
    let _g = crate::support::concurrent(&[]);
    use loadtest_report::hdr::{decode, summary};
    for t in synthetic::report()
        .tests
        .iter()
        .filter_map(|t| t.result.as_ref())
    {
        let all = std::iter::once(&t.iteration_latency)
            .chain(&t.iteration_latency_uncorrected)
            .chain(t.request_names.values().map(|m| &m.latency))
            .chain(t.custom_latencies.values());
        for h in all {
            let decoded = decode(&h.hdr_v2_base64).expect("a valid encoding");
            assert_eq!(summary(&decoded), h.summary);
        }
        for p in &t.series {
            let all = p
                .iteration_latency
                .iter()
                .chain(&p.iteration_latency_uncorrected)
                .chain(p.request_latency.values());
            for h in all {
                decode(h).expect("a valid per-second encoding");
            }
        }
    }
}

#[test]
fn capacity_searches_match_the_schema_and_read_back() {
    let _g = crate::support::concurrent(&[]);
    let validator = validator();
    let mut r = synthetic::report();
    r.tests.push(synthetic::capacity_searched());
    let instance = serde_json::to_value(&r).unwrap();
    let errs = errors(&validator, &instance);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let back: RunReport = serde_json::from_value(instance.clone()).unwrap();
    assert_eq!(back, r);
    // Tests without a search carry no `capacity` key at all.
    assert!(instance["tests"][0].get("capacity").is_none());
    let last = r.tests.len() - 1;
    let mut bad = instance.clone();
    bad["tests"][last]["capacity"]["outcome"] = json!("probably");
    assert!(!validator.is_valid(&bad), "an unknown outcome was accepted");
    let mut bad = instance.clone();
    bad["tests"][last]["capacity"]["steps"][0]["verdict"] = json!("meh");
    assert!(
        !validator.is_valid(&bad),
        "an unknown step verdict was accepted"
    );
    let mut bad = instance;
    object(&mut bad["tests"][last]["capacity"]).remove("above_per_s");
    assert!(
        !validator.is_valid(&bad),
        "a search without its bracket was accepted"
    );
}

/// A report with exemplars (schema version 3): the slowest requests of a name, with their trace
/// ids, match the schema and read back; a malformed trace id or too many are refused; and a
/// version-2 report, which has none, still matches and reads.
#[test]
fn exemplars_match_the_schema_and_read_back() {
    use loadtest_report::exemplar::{Exemplar, SpanId, TraceId};
    let _g = crate::support::concurrent(&[]);
    let mut r = synthetic::report();
    let result = r
        .tests
        .iter_mut()
        .find_map(|t| t.result.as_mut().filter(|x| !x.request_names.is_empty()))
        .expect("a result with request names");
    let metrics = result.request_names.values_mut().next().unwrap();
    for (i, latency_us) in [900_000u64, 700_000].into_iter().enumerate() {
        metrics.exemplars.offer(latency_us, || Exemplar {
            trace_id: Some(TraceId([i as u8 + 1; 16])),
            span_id: Some(SpanId([0xab; 8])),
            sampled: i == 0,
            started_at_unix: 1.7e9,
            latency_us,
            status: (i == 0).then_some(200),
            shard: Some(2),
        });
    }
    let v = serde_json::to_value(&r).unwrap();
    let validator = validator();
    let errs = errors(&validator, &v);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let back: RunReport = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, r);
    let (i, name) = r
        .tests
        .iter()
        .enumerate()
        .find_map(|(i, t)| {
            let names = &t.result.as_ref()?.request_names;
            let (name, _) = names.iter().find(|(_, n)| !n.exemplars.is_empty())?;
            Some((i, name.clone()))
        })
        .unwrap();
    let rejected = |what: &str, mutate: &dyn Fn(&mut Value)| {
        let mut instance = v.clone();
        mutate(&mut instance["tests"][i]["result"]["request_names"][&name]["exemplars"]);
        assert!(!validator.is_valid(&instance), "the schema accepted {what}");
    };
    rejected("a trace id in capitals", &|e| {
        e[0]["trace_id"] = json!("0101010101010101010101010101010A")
    });
    rejected("a short span id", &|e| e[0]["span_id"] = json!("abab"));
    rejected("six exemplars", &|e| *e = json!(vec![e[0].clone(); 6]));
    rejected("an exemplar without a latency", &|e| {
        drop(object(&mut e[0]).remove("latency_us"))
    });
    // As schema version 2 wrote it: no exemplars anywhere.
    let mut older = report_json();
    older["schema_version"] = json!(2);
    assert!(!older.to_string().contains("exemplars"));
    let errs = errors(&validator, &older);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let back: RunReport = serde_json::from_value(older).expect("a version-2 report reads");
    assert!(
        back.tests
            .iter()
            .filter_map(|t| t.result.as_ref())
            .all(|t| { t.request_names.values().all(|n| n.exemplars.is_empty()) })
    );
}
