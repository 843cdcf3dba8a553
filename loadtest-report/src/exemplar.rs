//! Exemplars: per request name, the slowest requests of a run with the W3C trace ids they were
//! sent with, so a reader can jump from a slow percentile to the server's traces of exactly
//! those requests.
//!
//! [`Exemplars`] keeps at most [`EXEMPLARS_PER_NAME`] of them in a fixed amount of memory: the
//! runtime offers every request to its name's set (a comparison, nothing built unless the request
//! is slower than the fastest one kept), the shards of a harness and the shards of a scale-out
//! run merge by keeping the slowest over all, and every output reads the same type. In JSON an
//! [`Exemplars`] is an array, slowest first; trace and span ids are lowercase hex, as in a
//! `traceparent` header.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How many of the slowest requests are kept per request name.
pub const EXEMPLARS_PER_NAME: usize = 5;

/// A W3C trace id: 16 bytes, never all zero, written as 32 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// A W3C span id (a `traceparent`'s parent-id): 8 bytes, never all zero, 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

/// Writes `bytes` as lowercase hex into `out` (which must be twice as long).
#[inline]
pub fn write_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// Reads lowercase (or uppercase) hex of exactly `N` bytes.
fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.as_bytes();
    if text.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

macro_rules! hex_id {
    ($t:ident, $n:literal, $what:literal) => {
        impl $t {
            /// Parses the hex form; `None` unless it has the right length, is hex and is not
            /// all zero (an invalid id for W3C trace context).
            pub fn parse(text: &str) -> Option<$t> {
                parse_hex::<$n>(text)
                    .filter(|b| b.iter().any(|&x| x != 0))
                    .map($t)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = [0u8; 2 * $n];
                write_hex(&self.0, &mut out);
                f.write_str(std::str::from_utf8(&out).expect("hex digits are ASCII"))
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(d)?;
                $t::parse(&text).ok_or_else(|| {
                    D::Error::custom(format!(
                        "invalid {} {text:?}: expected {} hex digits, not all zero",
                        $what,
                        2 * $n
                    ))
                })
            }
        }
    };
}

hex_id!(TraceId, 16, "trace id");
hex_id!(SpanId, 8, "span id");

/// One of the slowest requests of a request name.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Exemplar {
    /// The trace id of the request's `traceparent` (the one the runtime sent, or the one the
    /// test set itself); absent when the request carried none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The `traceparent`'s parent-id: the span id the server's span has as its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
    /// Whether the `traceparent` asked the server to record the trace (its sampled flag).
    #[serde(default)]
    pub sampled: bool,
    /// When the request (this attempt) started, in seconds since the Unix epoch.
    pub started_at_unix: f64,
    /// Its latency, from sending to the end of the response body, in microseconds.
    pub latency_us: u64,
    /// The response status; absent when no whole response arrived (a timeout, a reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The shard (`K` of `--shard K/N`) that sent it; absent in a run that was not sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
}

/// The slowest requests of one request name, at most [`EXEMPLARS_PER_NAME`], slowest first.
///
/// Of equally slow requests offered, the one offered first is kept; a merge orders equally
/// slow ones by a total order ([`Exemplars::merge`]), so any merge of the same ones agrees.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exemplars {
    slowest: Vec<Exemplar>,
}

impl Exemplars {
    /// Whether a request of this latency would be kept: the one check on the hot path.
    #[inline]
    pub fn admits(&self, latency_us: u64) -> bool {
        self.slowest.len() < EXEMPLARS_PER_NAME
            || self
                .slowest
                .last()
                .is_some_and(|fastest| latency_us > fastest.latency_us)
    }

    /// Offers a request of `latency_us`; `make` builds its exemplar only when it is kept.
    /// Allocates once (the first time), never after.
    #[inline]
    pub fn offer(&mut self, latency_us: u64, make: impl FnOnce() -> Exemplar) {
        if self.admits(latency_us) {
            self.insert(make());
        }
    }

    fn insert(&mut self, e: Exemplar) {
        if self.slowest.capacity() == 0 {
            self.slowest.reserve_exact(EXEMPLARS_PER_NAME);
        }
        if self.slowest.len() == EXEMPLARS_PER_NAME {
            if self
                .slowest
                .last()
                .is_some_and(|fastest| e.latency_us <= fastest.latency_us)
            {
                return;
            }
            self.slowest.pop();
        }
        // After every kept one at least as slow: ties keep their arrival order.
        let at = self
            .slowest
            .partition_point(|k| k.latency_us >= e.latency_us);
        self.slowest.insert(at, e);
    }

    /// Keeps the slowest of these and `other`'s. Equally slow ones are ordered by when they
    /// started, then by shard and ids, so that merging the same exemplars in any order and
    /// grouping keeps the same ones in the same order.
    pub fn merge(&mut self, other: &Exemplars) {
        if other.slowest.is_empty() {
            return;
        }
        // In place: at most EXEMPLARS_PER_NAME, reserved once.
        self.slowest.sort_by(merge_order);
        for e in &other.slowest {
            if self.slowest.len() == EXEMPLARS_PER_NAME {
                match self.slowest.last() {
                    Some(last) if merge_order(last, e).is_le() => continue,
                    _ => {
                        self.slowest.pop();
                    }
                }
            }
            if self.slowest.capacity() == 0 {
                self.slowest.reserve_exact(EXEMPLARS_PER_NAME);
            }
            let at = self.slowest.partition_point(|k| merge_order(k, e).is_le());
            self.slowest.insert(at, *e);
        }
    }

    /// Sets the shard of every exemplar that has none (a shard's report, before a merge).
    pub fn set_shard(&mut self, shard: u32) {
        for e in &mut self.slowest {
            e.shard.get_or_insert(shard);
        }
    }

    /// The exemplars, slowest first.
    pub fn as_slice(&self) -> &[Exemplar] {
        &self.slowest
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slowest.is_empty()
    }
}

/// The order a merge keeps exemplars in: slowest first, then the one that started first, then
/// by shard and ids: total, so that the slowest N of a union do not depend on how it was formed.
fn merge_order(a: &Exemplar, b: &Exemplar) -> std::cmp::Ordering {
    b.latency_us
        .cmp(&a.latency_us)
        .then_with(|| a.started_at_unix.total_cmp(&b.started_at_unix))
        .then_with(|| a.shard.cmp(&b.shard))
        .then_with(|| a.trace_id.cmp(&b.trace_id))
        .then_with(|| a.span_id.cmp(&b.span_id))
        .then_with(|| a.status.cmp(&b.status))
        .then_with(|| a.sampled.cmp(&b.sampled))
}

impl Serialize for Exemplars {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slowest.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Exemplars {
    /// Reads any number and order, and keeps the slowest [`EXEMPLARS_PER_NAME`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Exemplars, D::Error> {
        let all = Vec::<Exemplar>::deserialize(d)?;
        let mut out = Exemplars::default();
        for e in all {
            out.insert(e);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latency_us: u64, n: u8) -> Exemplar {
        Exemplar {
            trace_id: Some(TraceId([n; 16])),
            span_id: None,
            sampled: false,
            started_at_unix: f64::from(n),
            latency_us,
            status: Some(200),
            shard: None,
        }
    }

    fn latencies(e: &Exemplars) -> Vec<u64> {
        e.as_slice().iter().map(|x| x.latency_us).collect()
    }

    #[test]
    fn keeps_the_slowest_in_bounded_memory() {
        let mut e = Exemplars::default();
        let mut built = 0;
        for (i, l) in [5u64, 1, 9, 3, 7, 2, 8, 8, 6, 4, 10]
            .into_iter()
            .enumerate()
        {
            e.offer(l, || {
                built += 1;
                at(l, i as u8 + 1)
            });
        }
        assert_eq!(latencies(&e), vec![10, 9, 8, 8, 7]);
        // The two 8s in arrival order, and nothing built for requests that could not be kept.
        assert_eq!(e.as_slice()[2].trace_id, Some(TraceId([7; 16])));
        assert_eq!(built, 10); // all but the 4, which came when the fastest kept was 6
        assert_eq!(e.slowest.capacity(), EXEMPLARS_PER_NAME);
        assert!(!e.admits(7) && e.admits(8));
    }

    #[test]
    fn the_merge_keeps_the_slowest_over_all() {
        let (mut a, mut b) = (Exemplars::default(), Exemplars::default());
        for l in [1, 50, 3, 40] {
            a.offer(l, || at(l, 1));
        }
        for l in [45, 2, 60, 4, 5, 30] {
            b.offer(l, || at(l, 2));
        }
        b.set_shard(2);
        a.merge(&b);
        assert_eq!(latencies(&a), vec![60, 50, 45, 40, 30]);
        assert_eq!(
            a.as_slice().iter().map(|e| e.shard).collect::<Vec<_>>(),
            vec![Some(2), None, Some(2), None, Some(2)]
        );
    }

    #[test]
    fn json_is_an_array_of_hex_ids_read_back_bounded() {
        let mut e = Exemplars::default();
        e.offer(7, || Exemplar {
            span_id: Some(SpanId([0xab; 8])),
            ..at(7, 0x0f)
        });
        let json = serde_json::to_string(&e).unwrap();
        assert!(
            json.starts_with(
                r#"[{"trace_id":"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f","span_id":"abababababababab","#
            ),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Exemplars>(&json).unwrap(), e);
        let many: Vec<Exemplar> = (1..=9).map(|l| at(l, 1)).collect();
        let back: Exemplars = serde_json::from_str(&serde_json::to_string(&many).unwrap()).unwrap();
        assert_eq!(latencies(&back), vec![9, 8, 7, 6, 5]);
        for bad in [
            r#""00000000000000000000000000000000""#,
            r#""0f0f""#,
            r#""zz0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f""#,
        ] {
            assert!(serde_json::from_str::<TraceId>(bad).is_err(), "{bad}");
        }
    }
}
