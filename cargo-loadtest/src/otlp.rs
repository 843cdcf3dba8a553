//! `--otlp ENDPOINT` and the standard `OTEL_*` variables: whether the run exports its metrics
//! over OTLP, and where. The harnesses export (they have the async runtime and the HTTP client);
//! this module resolves the endpoint once, before anything is built, and turns on the harness's
//! `otlp` feature for the build.
//!
//! Export is on when `--otlp` is given, or when `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (as an OpenTelemetry SDK exports wherever these point),
//! unless `OTEL_SDK_DISABLED=true` or `OTEL_METRICS_EXPORTER=none` says not to (the flag
//! overrides both). The endpoint is, first found: `--otlp` (a base URL, to which `/v1/metrics`
//! is added unless it ends with it), `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as it is),
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (plus `/v1/metrics`). Only OTLP/HTTP with protobuf is sent: a
//! `OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL` other than `http/protobuf` is refused, and so is a
//! `OTEL_EXPORTER_OTLP_[METRICS_]COMPRESSION` other than `none` (none is built in).

use crate::cli::WorkspaceArgs;
use loadtest_report::protocol::OtlpExport;

/// The feature of loadtest-runtime that builds the exporter into a harness.
pub(crate) const FEATURE: &str = "loadtest-runtime/otlp";

/// Where the run exports, from the flag and the environment `env` (`None`: no export).
pub(crate) fn resolve(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<OtlpExport>, String> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let endpoint = match flag {
        Some(url) => with_metrics_path(url, "--otlp")?,
        None => {
            let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true")
                || var("OTEL_METRICS_EXPORTER").is_some_and(|v| v.trim() == "none");
            if disabled {
                return Ok(None);
            }
            match (
                var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
                var("OTEL_EXPORTER_OTLP_ENDPOINT"),
            ) {
                (Some(url), _) => {
                    check_url(&url, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")?;
                    url.trim().to_string()
                }
                (None, Some(base)) => with_metrics_path(&base, "OTEL_EXPORTER_OTLP_ENDPOINT")?,
                (None, None) => return Ok(None),
            }
        }
    };
    for name in [
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(p) = var(name) {
            if p.trim() != "http/protobuf" {
                return Err(format!(
                    "{name}={p:?}: cargo loadtest exports OTLP over HTTP with protobuf only (http/protobuf); unset it or use a collector's OTLP/HTTP port (4318)"
                ));
            }
            break;
        }
    }
    for name in [
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ] {
        if let Some(c) = var(name) {
            if c.trim() != "none" {
                return Err(format!(
                    "{name}={c:?}: cargo loadtest sends OTLP uncompressed only; expected none, or unset it"
                ));
            }
            break;
        }
    }
    Ok(Some(OtlpExport { endpoint }))
}

/// The build's arguments with the harness's `otlp` feature on when the run exports.
pub(crate) fn build_args(args: &WorkspaceArgs, export: bool) -> WorkspaceArgs {
    let mut args = args.clone();
    // `--all-features` turns on the selected packages' features, not their dependencies'.
    if export && !args.features.iter().any(|f| f.contains(FEATURE)) {
        args.features.push(FEATURE.to_string());
    }
    args
}

/// A base endpoint with `/v1/metrics` added (unless it already ends with it).
fn with_metrics_path(url: &str, what: &str) -> Result<String, String> {
    let url = url.trim();
    check_url(url, what)?;
    if url.trim_end_matches('/').ends_with("/v1/metrics") {
        return Ok(url.to_string());
    }
    Ok(format!("{}/v1/metrics", url.trim_end_matches('/')))
}

fn check_url(url: &str, what: &str) -> Result<(), String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => Ok(()),
        _ => Err(format!(
            "{what} {url:?}: expected an http:// or https:// URL of an OTLP/HTTP receiver, e.g. http://localhost:4318"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(flag: Option<&str>, vars: &[(&str, &str)]) -> Result<Option<String>, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(flag, |k| vars.get(k).cloned()).map(|o| o.map(|e| e.endpoint))
    }

    #[test]
    fn the_flag_takes_a_base_url_and_wins_over_the_environment() {
        assert_eq!(
            resolve_with(Some("http://127.0.0.1:4318"), &[]).unwrap(),
            Some("http://127.0.0.1:4318/v1/metrics".into())
        );
        assert_eq!(
            resolve_with(Some("https://c.example/otlp/"), &[]).unwrap(),
            Some("https://c.example/otlp/v1/metrics".into())
        );
        assert_eq!(
            resolve_with(Some("http://c:4318/v1/metrics"), &[]).unwrap(),
            Some("http://c:4318/v1/metrics".into())
        );
        assert_eq!(
            resolve_with(
                Some("http://flag:4318"),
                &[
                    ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://env:1/m"),
                    ("OTEL_SDK_DISABLED", "true")
                ]
            )
            .unwrap(),
            Some("http://flag:4318/v1/metrics".into())
        );
    }

    #[test]
    fn the_standard_variables_turn_export_on() {
        assert_eq!(resolve_with(None, &[]).unwrap(), None);
        assert_eq!(
            resolve_with(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).unwrap(),
            Some("http://c:4318/v1/metrics".into())
        );
        // The signal's own endpoint is used as it is, and comes first.
        assert_eq!(
            resolve_with(
                None,
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                    ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/ingest")
                ]
            )
            .unwrap(),
            Some("http://m:9/ingest".into())
        );
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ] {
            assert_eq!(
                resolve_with(
                    None,
                    &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), off]
                )
                .unwrap(),
                None
            );
        }
    }

    #[test]
    fn other_protocols_and_bad_urls_are_refused() {
        let e = resolve_with(
            Some("http://c:4317"),
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
        )
        .unwrap_err();
        assert!(e.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && e.contains("http/protobuf"));
        // The metrics protocol comes first.
        assert!(
            resolve_with(
                Some("http://c:4318"),
                &[
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                    ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
                ]
            )
            .is_ok()
        );
        let e = resolve_with(
            Some("http://c:4318"),
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
        )
        .unwrap_err();
        assert!(e.contains("OTEL_EXPORTER_OTLP_COMPRESSION=\"gzip\"") && e.contains("none"));
        // The metrics variable comes first here too.
        assert!(
            resolve_with(
                Some("http://c:4318"),
                &[
                    ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
                    ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none")
                ]
            )
            .is_ok()
        );
        let e = resolve_with(Some("localhost:4318"), &[]).unwrap_err();
        assert!(e.contains("--otlp") && e.contains("http://"));
        assert!(resolve_with(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x")]).is_err());
    }

    #[test]
    fn exporting_builds_the_harness_with_the_feature() {
        let a = WorkspaceArgs {
            features: vec!["x".into()],
            ..WorkspaceArgs::default()
        };
        assert_eq!(build_args(&a, true).features, ["x", FEATURE]);
        assert_eq!(build_args(&a, false).features, ["x"]);
        let all = WorkspaceArgs {
            all_features: true,
            ..WorkspaceArgs::default()
        };
        assert_eq!(build_args(&all, true).features, [FEATURE]);
    }
}
