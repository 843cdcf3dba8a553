//! The resolved configuration of one load test: its load model and every option, parsed.

use super::ramp::Ramp;
use super::shard::ShardPlan;
use crate::grammar::{
    self, ClientKind, DurationRange, Rate, RetryOn, Saturation, StageLevel, Threshold,
};
use crate::report::{ConfigSummary, ShardSpec};
use loadtest_grammar::{OptionLayer, merge};
use std::time::Duration;

/// A configuration that cannot be used, with the message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The grammar's error (a value, an option, a layer) as the message to show.
fn config_error(e: impl std::fmt::Display) -> ConfigError {
    ConfigError(e.to_string())
}

/// How load is offered.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadModel {
    /// Virtual users, each looping iteration then think time.
    Closed {
        /// Users over time (a constant or ramping stages).
        users: Ramp,
        /// The pause after each iteration.
        think_time: DurationRange,
    },
    /// Iterations started on a schedule, whatever the latency.
    Open {
        /// Iterations per second over time.
        rate: Ramp,
        /// The cap on iterations in flight.
        max_in_flight: u64,
        /// What to do with an iteration that cannot start on time.
        on_saturation: Saturation,
    },
}

/// Request retries.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Backoff bounds: the first delay's cap and the largest delay.
    pub backoff: DurationRange,
    /// What is retried.
    pub retry_on: Vec<RetryOn>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            backoff: DurationRange {
                min: Duration::from_millis(100),
                max: Duration::from_secs(5),
            },
            retry_on: default_retry_on(),
        }
    }
}

fn default_retry_on() -> Vec<RetryOn> {
    vec![
        RetryOn::Connect,
        RetryOn::Timeout,
        RetryOn::Closed,
        RetryOn::Status5xx,
        RetryOn::Status(429),
    ]
}

/// The default duration of a test that sets neither `duration`, `stages` nor `iterations`.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// The default open-model cap on concurrent iterations.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 10_000;
/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a test runs with, after all layers.
#[derive(Clone, Debug, PartialEq)]
pub struct TestConfig {
    /// How load is offered.
    pub model: LoadModel,
    /// How long the test runs; `None` when it is bounded by `iterations` alone.
    pub duration: Option<Duration>,
    /// The total number of iterations, if bounded by count.
    pub iterations: Option<u64>,
    /// The global cap on HTTP requests per second.
    pub rate_limit: Option<Rate>,
    /// Request retries.
    pub retry: RetryPolicy,
    /// The per-request timeout.
    pub timeout: Duration,
    /// The per-iteration timeout.
    pub iteration_timeout: Option<Duration>,
    /// The iteration latency objective goodput is counted against (`slo`).
    pub slo: Option<Duration>,
    /// Pass/fail rules.
    pub thresholds: Vec<Threshold>,
    /// Stop at the first failing threshold.
    pub abort_on_fail: bool,
    /// Labels.
    pub tags: Vec<String>,
    /// The base URL, if configured.
    pub base_url: Option<String>,
    /// Regression tolerances as written (`p99=20%`), checked against the grammar.
    pub tolerance: Vec<String>,
    /// Accept invalid TLS certificates (opt-out of verification, by name).
    pub danger_accept_invalid_certs: bool,
    /// The HTTP transport.
    pub client: ClientKind,
    /// Whether each virtual user keeps a cookie jar.
    pub cookies: bool,
    /// Source addresses to open connections from, round-robin (empty: the system's choice).
    pub local_addresses: Vec<std::net::IpAddr>,
    /// Whether requests carry W3C trace context (`trace`; on by default).
    pub trace: grammar::TraceMode,
    /// The share of iterations whose trace is sampled (`trace_sample`; 1 by default).
    pub trace_sample: f64,
    /// The options as merged, for the report.
    raw: Vec<(String, Vec<String>)>,
    /// A smoke check (`cargo test`) rather than a measured run.
    pub smoke: bool,
    /// The most distinct request names (and, separately, custom metric names) the test keeps.
    pub max_names: u64,
    /// Under `--shard K/N`: this process's part of the load (the fields above stay the whole
    /// test's).
    pub shard: Option<ShardPlan>,
}

impl TestConfig {
    /// Resolves layers (lowest precedence first) into a configuration.
    pub fn resolve(layers: &[&OptionLayer]) -> Result<TestConfig, ConfigError> {
        for layer in layers {
            layer.validate().map_err(config_error)?;
        }
        let raw = merge(layers);
        let get = |n: &str| raw.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_slice());
        let one = |n: &str| get(n).and_then(|v| v.first()).map(String::as_str);
        let present: Vec<&str> = raw.iter().map(|(k, _)| k.as_str()).collect();
        let stage_strs: Vec<&str> = get("stages")
            .unwrap_or(&[])
            .iter()
            .map(String::as_str)
            .collect();
        grammar::check_combination(&present, &stage_strs).map_err(config_error)?;

        let stages: Vec<grammar::Stage> = stage_strs
            .iter()
            .map(|s| grammar::parse_stage(s))
            .collect::<Result<_, _>>()
            .map_err(config_error)?;
        let iterations = one("iterations")
            .map(|v| grammar::parse_count("iterations", v))
            .transpose()
            .map_err(config_error)?;
        let mut duration = one("duration")
            .map(grammar::parse_duration)
            .transpose()
            .map_err(config_error)?;
        if !stages.is_empty() {
            duration = Some(stages.iter().map(|s| s.duration).sum());
        } else if duration.is_none() && iterations.is_none() {
            duration = Some(DEFAULT_DURATION);
        }
        let stage_points = |f: &dyn Fn(StageLevel) -> f64| -> Vec<(f64, f64)> {
            stages
                .iter()
                .map(|s| (s.duration.as_secs_f64(), f(s.level)))
                .collect()
        };
        let open = present.contains(&"rate")
            || grammar::stages_are_rates(&stage_strs).map_err(config_error)?;
        let model = if open {
            let rate = if stages.is_empty() {
                Ramp::constant(
                    grammar::parse_rate(one("rate").unwrap_or("1/s"))
                        .map_err(config_error)?
                        .per_second,
                )
            } else {
                Ramp::stages(&stage_points(&|t| match t {
                    StageLevel::Rate(r) => r.per_second,
                    StageLevel::Users(u) => u as f64,
                }))
            };
            LoadModel::Open {
                rate,
                max_in_flight: one("max_in_flight")
                    .map(|v| grammar::parse_count("max_in_flight", v))
                    .transpose()
                    .map_err(config_error)?
                    .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
                on_saturation: one("on_saturation")
                    .map(grammar::parse_saturation)
                    .transpose()
                    .map_err(config_error)?
                    .unwrap_or(Saturation::Queue),
            }
        } else {
            let users = if stages.is_empty() {
                Ramp::constant(
                    one("users")
                        .map(|v| grammar::parse_count("users", v))
                        .transpose()
                        .map_err(config_error)?
                        .unwrap_or(1) as f64,
                )
            } else {
                Ramp::stages(&stage_points(&|t| match t {
                    StageLevel::Users(u) => u as f64,
                    StageLevel::Rate(r) => r.per_second,
                }))
            };
            LoadModel::Closed {
                users,
                think_time: one("think_time")
                    .map(grammar::parse_range)
                    .transpose()
                    .map_err(config_error)?
                    .unwrap_or(DurationRange {
                        min: Duration::ZERO,
                        max: Duration::ZERO,
                    }),
            }
        };
        let mut retry = RetryPolicy::default();
        if let Some(r) = one("retries") {
            let n = grammar::parse_number("retries", r).map_err(config_error)?;
            retry.retries = u32::try_from(n).map_err(|_| {
                ConfigError(format!(
                    "invalid value {r:?} for `retries`: at most {}",
                    u32::MAX
                ))
            })?;
        }
        if let Some(b) = one("backoff") {
            retry.backoff = grammar::parse_range(b).map_err(config_error)?;
            if b.split_once("..").is_none() {
                // One duration is the first delay; the cap defaults to 64 times that.
                retry.backoff.max = retry.backoff.min * 64;
            }
        }
        if let Some(list) = get("retry_on") {
            retry.retry_on = list
                .iter()
                .map(|s| grammar::parse_retry_on(s))
                .collect::<Result<_, _>>()
                .map_err(config_error)?;
        }
        Ok(TestConfig {
            model,
            duration,
            iterations,
            rate_limit: one("rate_limit")
                .map(grammar::parse_rate)
                .transpose()
                .map_err(config_error)?,
            retry,
            timeout: one("timeout")
                .map(grammar::parse_duration)
                .transpose()
                .map_err(config_error)?
                .unwrap_or(DEFAULT_TIMEOUT),
            iteration_timeout: one("iteration_timeout")
                .map(grammar::parse_duration)
                .transpose()
                .map_err(config_error)?,
            slo: one("slo")
                .map(grammar::parse_duration)
                .transpose()
                .map_err(config_error)?,
            thresholds: get("thresholds")
                .unwrap_or(&[])
                .iter()
                .map(|s| grammar::parse_threshold(s))
                .collect::<Result<_, _>>()
                .map_err(config_error)?,
            abort_on_fail: one("abort_on_fail")
                .map(|v| grammar::parse_bool("abort_on_fail", v))
                .transpose()
                .map_err(config_error)?
                .unwrap_or(false),
            tags: get("tags").unwrap_or(&[]).to_vec(),
            base_url: one("target").map(str::to_string),
            tolerance: get("tolerance").unwrap_or(&[]).to_vec(),
            danger_accept_invalid_certs: one("danger_accept_invalid_certs")
                .map(|v| grammar::parse_bool("danger_accept_invalid_certs", v))
                .transpose()
                .map_err(config_error)?
                .unwrap_or(false),
            client: one("client")
                .map(grammar::parse_client)
                .transpose()
                .map_err(config_error)?
                .unwrap_or(ClientKind::Native),
            cookies: one("cookies")
                .map(|v| grammar::parse_bool("cookies", v))
                .transpose()
                .map_err(config_error)?
                .unwrap_or(true),
            trace: one("trace")
                .map(grammar::parse_trace)
                .transpose()
                .map_err(config_error)?
                .unwrap_or_default(),
            trace_sample: one("trace_sample")
                .map(grammar::parse_fraction)
                .transpose()
                .map_err(config_error)?
                .unwrap_or(1.0),
            local_addresses: grammar::parse_local_addresses(
                &get("local_addresses")
                    .unwrap_or(&[])
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .map_err(config_error)?,
            raw: raw.clone(),
            smoke: false,
            max_names: one("max_names")
                .map(|v| grammar::parse_count("max_names", v))
                .transpose()
                .map_err(config_error)?
                .unwrap_or(crate::metrics::names::DEFAULT_MAX_NAMES),
            shard: None,
        })
    }

    /// This configuration with only shard `spec`'s part of the load to run (see
    /// [`ShardPlan`]); a smoke check is never sharded.
    pub fn for_shard(mut self, spec: ShardSpec) -> TestConfig {
        if !self.smoke {
            self.shard = Some(ShardPlan::new(&self, spec));
        }
        self
    }

    /// The smoke-check version of this configuration, as run under `cargo test`: one user, a few
    /// iterations, bounded time, no thresholds other than "no iteration fails".
    pub fn into_smoke(mut self) -> TestConfig {
        self.model = LoadModel::Closed {
            users: Ramp::constant(1.0),
            think_time: DurationRange {
                min: Duration::ZERO,
                max: Duration::ZERO,
            },
        };
        self.iterations = Some(3);
        self.duration = Some(Duration::from_secs(10));
        self.iteration_timeout = Some(
            self.iteration_timeout
                .unwrap_or(Duration::from_secs(10))
                .min(Duration::from_secs(10)),
        );
        self.rate_limit = None;
        self.thresholds.clear();
        self.abort_on_fail = false;
        self.smoke = true;
        self
    }

    /// The configuration as recorded in reports.
    pub fn summary(&self) -> ConfigSummary {
        let raw = |n: &str| {
            self.raw
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        let (model, users, rate, think, cap, sat) = match &self.model {
            LoadModel::Closed { users, think_time } => {
                let think = (think_time.max > Duration::ZERO).then(|| {
                    if think_time.min == think_time.max {
                        grammar::format_duration(think_time.min)
                    } else {
                        format!(
                            "{}..{}",
                            grammar::format_duration(think_time.min),
                            grammar::format_duration(think_time.max)
                        )
                    }
                });
                (
                    "closed",
                    Some(users.peak().round() as u64),
                    None,
                    think,
                    None,
                    None,
                )
            }
            LoadModel::Open {
                rate,
                max_in_flight,
                on_saturation,
            } => (
                "open",
                None,
                Some(rate.peak()),
                None,
                Some(*max_in_flight),
                Some(match on_saturation {
                    Saturation::Queue => "queue".to_string(),
                    Saturation::Drop => "drop".to_string(),
                }),
            ),
        };
        let b = &self.retry.backoff;
        ConfigSummary {
            model: model.into(),
            users,
            rate_per_s: rate,
            stages: if self.smoke {
                vec![]
            } else {
                raw("stages").unwrap_or_default()
            },
            duration_s: self.duration.map(|d| d.as_secs_f64()),
            iterations: self.iterations,
            think_time: think,
            max_in_flight: cap,
            on_saturation: sat,
            rate_limit_per_s: self.rate_limit.map(|r| r.per_second),
            retries: u64::from(self.retry.retries),
            backoff: format!(
                "{}..{}",
                grammar::format_duration(b.min),
                grammar::format_duration(b.max)
            ),
            retry_on: self
                .retry
                .retry_on
                .iter()
                .map(|r| match r {
                    RetryOn::Connect => "connect".into(),
                    RetryOn::Timeout => "timeout".into(),
                    RetryOn::Status5xx => "5xx".into(),
                    RetryOn::Status4xx => "4xx".into(),
                    RetryOn::Closed => "closed".into(),
                    RetryOn::Status(c) => c.to_string(),
                })
                .collect(),
            timeout: Some(grammar::format_duration(self.timeout)),
            iteration_timeout: self.iteration_timeout.map(grammar::format_duration),
            thresholds: self.thresholds.iter().map(|t| t.source.clone()).collect(),
            abort_on_fail: self.abort_on_fail,
            tags: self.tags.clone(),
            base_url: self.base_url.as_deref().map(crate::redact::url),
            tolerance: self.tolerance.clone(),
            smoke: self.smoke,
            danger_accept_invalid_certs: self.danger_accept_invalid_certs,
            client: self.client.as_str().to_string(),
            cookies: self.cookies,
            shard: self.shard.as_ref().map(ShardPlan::summary),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(pairs: &[(&str, &str)]) -> OptionLayer {
        let mut l = OptionLayer::new("test");
        for (k, v) in pairs {
            l.set_str(k, v);
        }
        l
    }

    #[test]
    fn defaults_are_one_user_for_ten_seconds() {
        let c = TestConfig::resolve(&[&layer(&[])]).unwrap();
        assert_eq!(c.duration, Some(DEFAULT_DURATION));
        assert!(matches!(c.model, LoadModel::Closed { ref users, .. } if users.peak() == 1.0));
        assert_eq!(c.retry.retries, 0);
    }

    #[test]
    fn open_model_with_stages() {
        let c = TestConfig::resolve(&[&layer(&[
            ("stages", "10s:100/s,20s:100/s"),
            ("max_in_flight", "5"),
        ])])
        .unwrap();
        assert_eq!(c.duration, Some(Duration::from_secs(30)));
        assert!(matches!(
            c.model,
            LoadModel::Open {
                max_in_flight: 5,
                ..
            }
        ));
        assert_eq!(c.summary().model, "open");
    }

    #[test]
    fn bad_values_name_their_source() {
        let mut cli = OptionLayer::new("--rate");
        cli.set_str("rate", "fast");
        let err = TestConfig::resolve(&[&cli]).unwrap_err().0;
        assert!(err.starts_with("--rate: invalid rate \"fast\""), "{err}");
    }

    #[test]
    fn smoke_is_bounded() {
        let c = TestConfig::resolve(&[&layer(&[
            ("rate", "1000/s"),
            ("duration", "1h"),
            ("thresholds", "p99 < 1ms"),
        ])])
        .unwrap()
        .into_smoke();
        assert_eq!(c.iterations, Some(3));
        assert!(c.thresholds.is_empty());
        assert!(matches!(c.model, LoadModel::Closed { .. }));
    }
}
