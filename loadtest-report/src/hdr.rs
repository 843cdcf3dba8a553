//! HdrHistogram helpers: the histogram shape used everywhere, lossless V2 + base64 encoding,
//! and summaries. Values are microseconds.

use crate::report::{Histogram, LatencySummary};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

/// The histogram type used for every latency.
pub type Hist = hdrhistogram::Histogram<u64>;

/// The largest value recorded (one hour, in microseconds); larger values are clamped.
pub const MAX_US: u64 = 3_600_000_000;

/// A new empty histogram with 3 significant figures that grows as values arrive.
pub fn new_hist() -> Hist {
    Hist::new(3).expect("3 significant figures is a valid precision")
}

/// Records a value in microseconds, clamped to [`MAX_US`].
#[inline]
pub fn record(h: &mut Hist, us: u64) {
    // Auto-resizing histograms accept any value up to u64::MAX / 2; the clamp bounds memory.
    let _ = h.record(us.min(MAX_US));
}

/// Encodes a histogram as uncompressed HdrHistogram V2, then base64.
pub fn encode(h: &Hist) -> String {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into a Vec cannot fail");
    STANDARD.encode(buf)
}

/// Decodes what [`encode`] wrote (or any uncompressed V2 encoding in base64).
///
/// V2-deflate encodings are refused, and the header is checked before `hdrhistogram` sees it:
/// its deserializer allocates the payload length the header claims (up to 4 GiB, from a few
/// bytes of input) before reading it, and panics in debug builds on a count word of nine `0xff`
/// bytes (zig-zag `i64::MIN`, whose negation overflows).
pub fn decode(s: &str) -> Result<Hist, String> {
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|e| format!("histogram is not valid base64: {e}"))?;
    check_v2(&bytes)
        .map_err(|e| format!("histogram is not a valid HdrHistogram V2 encoding: {e}"))?;
    let mut h: Hist = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram is not a valid HdrHistogram V2 encoding: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

/// The V2 cookies (`hdrhistogram`'s base cookies with the V2 flag `0x10`).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
/// Cookie, payload length, normalizing offset, significant figures, lowest and highest value, ratio.
const V2_HEADER_LEN: usize = 40;

/// Refuses what `hdrhistogram`'s deserializer would over-allocate or panic on (see [`decode`]).
fn check_v2(bytes: &[u8]) -> Result<(), String> {
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    match word(0) {
        Some(V2_COOKIE) => {}
        Some(V2_DEFLATE_COOKIE) => {
            return Err("compressed (V2-deflate) encodings are not accepted".into());
        }
        _ => return Ok(()), // The deserializer reports the bad cookie or the short input.
    }
    let (Some(payload_len), true) = (word(4), bytes.len() >= V2_HEADER_LEN) else {
        return Ok(()); // The deserializer reports the short input.
    };
    let (payload_len, present) = (payload_len as usize, bytes.len() - V2_HEADER_LEN);
    if payload_len > present {
        return Err(format!(
            "the header claims {payload_len} payload bytes, {present} follow"
        ));
    }
    // Counts are LEB128 words of at most 9 bytes, the 9th taken whole.
    let mut payload = &bytes[V2_HEADER_LEN..V2_HEADER_LEN + payload_len];
    while !payload.is_empty() {
        if payload.get(..9) == Some(&[0xff; 9][..]) {
            return Err("a count word overflows".into());
        }
        let len = payload
            .iter()
            .take(8)
            .position(|b| b & 0x80 == 0)
            .map_or(9, |i| i + 1);
        payload = &payload[len.min(payload.len())..];
    }
    Ok(())
}

/// Summary statistics of a histogram.
pub fn summary(h: &Hist) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        min_us: h.min(),
        max_us: h.max(),
        mean_us: h.mean(),
        stdev_us: h.stdev(),
        p50_us: h.value_at_quantile(0.50),
        p90_us: h.value_at_quantile(0.90),
        p95_us: h.value_at_quantile(0.95),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
    }
}

/// The report form of a histogram: its summary and its encoding.
pub fn to_report(h: &Hist) -> Histogram {
    Histogram {
        summary: summary(h),
        hdr_v2_base64: encode(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let mut h = new_hist();
        for v in [1, 10, 100, 1_000, 123_456, MAX_US * 2] {
            record(&mut h, v);
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.max(), h.max());
        assert!(decode("not base64!").unwrap_err().contains("base64"));
        assert!(decode("AAAA").unwrap_err().contains("HdrHistogram"));
    }

    #[test]
    fn decoded_histograms_merge() {
        let (mut a, mut b) = (new_hist(), new_hist());
        record(&mut a, 100);
        record(&mut b, 5_000_000);
        let mut a = decode(&encode(&a)).unwrap();
        a.add(decode(&encode(&b)).unwrap()).unwrap();
        assert_eq!(a.len(), 2);
        assert!(a.max() >= 4_990_000);
    }
}
