//! W3C trace context on outgoing requests (<https://www.w3.org/TR/trace-context/>): a
//! `traceparent` header per request attempt, one trace id per iteration, a fresh span id per
//! attempt, and the sampled flag set for the configured share of iterations (`trace`,
//! `trace_sample`).
//!
//! A test that sets its own `traceparent` keeps it: the runtime adds none, and the request's
//! exemplar carries the test's trace id. The header is written by hand, 55 bytes into a stack
//! buffer, so the native encoder copies it into its write buffer without an allocation; ids come
//! from the thread's `fastrand` generator (no lock, no system call).

use crate::grammar::TraceMode;
use loadtest_report::exemplar::{SpanId, TraceId, write_hex};
use reqwest::header::{HeaderMap, HeaderName};

/// The header's name.
pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The length of a version-00 `traceparent` value: `00-` 32 hex `-` 16 hex `-` 2 hex.
pub(crate) const TRACEPARENT_LEN: usize = 55;

/// A test's trace context settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TraceSettings {
    pub(crate) mode: TraceMode,
    /// The share of iterations whose trace is sampled (`trace_sample`), from 0 to 1.
    pub(crate) sample: f64,
}

impl TraceSettings {
    /// A new iteration's trace, or `None` when requests carry no trace context.
    pub(crate) fn iteration(&self) -> Option<IterationTrace> {
        let sampled = match self.mode {
            TraceMode::Off => return None,
            TraceMode::Propagate => false,
            TraceMode::On => self.sample >= 1.0 || fastrand::f64() < self.sample,
        };
        let mut id = fastrand::u128(..).to_be_bytes();
        if id == [0; 16] {
            id[15] = 1;
        }
        Some(IterationTrace {
            trace_id: TraceId(id),
            sampled,
        })
    }
}

/// One iteration's trace: every request of the iteration belongs to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IterationTrace {
    pub(crate) trace_id: TraceId,
    pub(crate) sampled: bool,
}

impl IterationTrace {
    /// The `traceparent` of one request attempt: the iteration's trace, a new span id.
    pub(crate) fn attempt(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            span_id: SpanId(fastrand::u64(1..).to_be_bytes()),
            sampled: self.sampled,
        }
    }
}

/// A `traceparent` header's content (version 00).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceParent {
    pub(crate) trace_id: TraceId,
    /// The parent-id: the span the server's span is a child of.
    pub(crate) span_id: SpanId,
    pub(crate) sampled: bool,
}

/// The header line as the native encoder writes it: `traceparent: ` value CRLF.
pub(crate) const TRACEPARENT_LINE_LEN: usize = 13 + TRACEPARENT_LEN + 2;

impl TraceParent {
    /// The header value, `00-{trace id}-{span id}-{01 or 00}`.
    pub(crate) fn value(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        self.write_value(&mut out);
        out
    }

    /// The whole header line, `traceparent: 00-...-01\r\n`, built on the stack so that the
    /// encoder appends it with one copy.
    #[inline]
    pub(crate) fn line(&self) -> [u8; TRACEPARENT_LINE_LEN] {
        let mut out = [b'-'; TRACEPARENT_LINE_LEN];
        out[..13].copy_from_slice(b"traceparent: ");
        self.write_value(&mut out[13..13 + TRACEPARENT_LEN]);
        out[TRACEPARENT_LINE_LEN - 2..].copy_from_slice(b"\r\n");
        out
    }

    /// Writes the value into `out` (55 bytes, the dashes already there).
    #[inline]
    fn write_value(&self, out: &mut [u8]) {
        out[..2].copy_from_slice(b"00");
        write_hex(&self.trace_id.0, &mut out[3..35]);
        write_hex(&self.span_id.0, &mut out[36..52]);
        out[53..55].copy_from_slice(if self.sampled { b"01" } else { b"00" });
    }

    /// Reads a `traceparent` value (any version's first four fields, as the specification asks
    /// of a reader); `None` when it is not one.
    pub(crate) fn parse(value: &[u8]) -> Option<TraceParent> {
        let text = std::str::from_utf8(value).ok()?.trim();
        let mut fields = text.split('-');
        let version = fields.next()?;
        let trace_id = TraceId::parse(fields.next()?)?;
        let span_id = SpanId::parse(fields.next()?)?;
        let flags = u8::from_str_radix(fields.next()?.get(..2)?, 16).ok()?;
        if version.len() != 2 || version == "ff" {
            return None;
        }
        Some(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The test's own `traceparent` among `headers`, if it set one (read, never replaced).
    pub(crate) fn set_by_test(headers: &HeaderMap) -> Option<TraceParent> {
        if headers.is_empty() {
            return None;
        }
        headers
            .get(TRACEPARENT)
            .and_then(|v| TraceParent::parse(v.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_w3c_version_00() {
        let t = TraceParent {
            trace_id: TraceId([0x4b; 16]),
            span_id: SpanId([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]),
            sampled: true,
        };
        let v = t.value();
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "00-4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b-00f067aa0ba902b7-01"
        );
        assert_eq!(TraceParent::parse(&v), Some(t));
        let unsampled = TraceParent {
            sampled: false,
            ..t
        };
        assert!(unsampled.value().ends_with(b"-00"));
        // The specification's example, and what a reader must refuse.
        let example = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            TraceParent::parse(example).unwrap().trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        for bad in [
            &b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            b"hello",
        ] {
            assert_eq!(
                TraceParent::parse(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn modes_and_sampling() {
        let settings = |mode, sample| TraceSettings { mode, sample };
        assert_eq!(settings(TraceMode::Off, 1.0).iteration(), None);
        let ids: Vec<_> = (0..200)
            .map(|_| settings(TraceMode::On, 1.0).iteration().unwrap())
            .collect();
        assert!(ids.iter().all(|t| t.sampled));
        // Fresh ids: 200 random 128-bit ids never collide.
        let mut distinct: Vec<_> = ids.iter().map(|t| t.trace_id).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 200);
        assert!((0..200).all(|_| !settings(TraceMode::On, 0.0).iteration().unwrap().sampled));
        assert!((0..200).all(|_| {
            !settings(TraceMode::Propagate, 1.0)
                .iteration()
                .unwrap()
                .sampled
        }));
        fastrand::seed(7);
        let sampled = (0..10_000)
            .filter(|_| settings(TraceMode::On, 0.25).iteration().unwrap().sampled)
            .count();
        assert!(
            (2_200..2_800).contains(&sampled),
            "{sampled} of 10000 at 0.25"
        );
        // Attempts of one iteration share its trace and get their own spans.
        let it = ids[0];
        let (a, b) = (it.attempt(), it.attempt());
        assert_eq!((a.trace_id, b.trace_id), (it.trace_id, it.trace_id));
        assert_ne!(a.span_id, b.span_id);
    }
}
