//! Retry decisions and delays: exponential backoff with full jitter, and `Retry-After`.
//!
//! Attempt `n` (0 for the first retry) waits a uniformly random time in
//! `[0, min(max, min_delay * 2^n)]` ("full jitter"), where `backoff = "min_delay..max"`. A
//! `Retry-After` header (seconds) on a retried response replaces the random delay, capped at `max`.

use crate::config::RetryPolicy;
use crate::grammar::RetryOn;
use crate::metrics::RequestClass;
use std::time::Duration;

/// The delay before retry number `attempt` (0-based), given a uniform random number in `[0, 1)`.
pub(crate) fn backoff_delay(policy: &RetryPolicy, attempt: u32, unit_random: f64) -> Duration {
    let cap = exp_cap(policy, attempt);
    cap.mul_f64(unit_random.clamp(0.0, 1.0))
}

/// The upper bound of retry `attempt`'s delay: `min(max, min_delay * 2^attempt)`.
pub(crate) fn exp_cap(policy: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(31));
    policy
        .backoff
        .min
        .saturating_mul(factor)
        .min(policy.backoff.max)
}

/// The delay before a retry, honouring `Retry-After` (capped at the backoff maximum).
pub(crate) fn retry_delay(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    match retry_after {
        Some(d) => d.min(policy.backoff.max),
        None => backoff_delay(policy, attempt, fastrand::f64()),
    }
}

/// Whether an attempt that ended with `class` (and `status`, if any) is retried under `policy`.
pub(crate) fn should_retry(
    policy: &RetryPolicy,
    class: RequestClass,
    status: Option<u16>,
    idempotent: bool,
) -> bool {
    policy.retry_on.iter().any(|r| match (r, class) {
        (RetryOn::Connect, RequestClass::Connect) => true,
        // The server may have acted on a request whose connection closed before any answer:
        // only a request that may be repeated is sent again.
        (RetryOn::Closed, RequestClass::Closed) => idempotent,
        (RetryOn::Timeout, RequestClass::Timeout) => true,
        (RetryOn::Status5xx, RequestClass::Http5xx) => true,
        (RetryOn::Status4xx, RequestClass::Http4xx) => true,
        (RetryOn::Status(code), _) => status == Some(*code),
        _ => false,
    })
}

/// Parses a `Retry-After` value given in seconds (HTTP dates are not honoured).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::DurationRange;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retries: 5,
            backoff: DurationRange {
                min: Duration::from_millis(100),
                max: Duration::from_secs(1),
            },
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn caps_double_until_the_maximum() {
        let p = policy();
        let caps: Vec<u128> = (0..6).map(|a| exp_cap(&p, a).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(exp_cap(&p, u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_cap() {
        let p = policy();
        assert_eq!(backoff_delay(&p, 2, 0.0), Duration::ZERO);
        assert_eq!(backoff_delay(&p, 2, 0.5), Duration::from_millis(200));
        for _ in 0..1000 {
            assert!(retry_delay(&p, 3, None) <= Duration::from_millis(800));
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_maximum() {
        let p = policy();
        assert_eq!(retry_delay(&p, 0, parse_retry_after("0")), Duration::ZERO);
        assert_eq!(
            retry_delay(&p, 0, parse_retry_after(" 30 ")),
            Duration::from_secs(1)
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn default_policy_retries_connect_timeout_5xx_and_429() {
        let p = RetryPolicy::default();
        assert!(should_retry(&p, RequestClass::Connect, None, true));
        assert!(should_retry(&p, RequestClass::Timeout, None, true));
        assert!(should_retry(&p, RequestClass::Http5xx, Some(503), true));
        assert!(should_retry(&p, RequestClass::Http4xx, Some(429), true));
        assert!(!should_retry(&p, RequestClass::Http4xx, Some(404), true));
        assert!(!should_retry(&p, RequestClass::Body, None, true));
        // A connection closed before any answer: sent again only when the method may be repeated.
        assert!(should_retry(&p, RequestClass::Closed, None, true));
        assert!(!should_retry(&p, RequestClass::Closed, None, false));
    }
}
