//! HdrHistogram helpers: the histogram shape used everywhere, the lossless encoding (compressed
//! V2 + base64, HdrHistogram's interchange form; uncompressed V2 still read), and summaries.
//! Values are microseconds.

use crate::report::{Histogram, LatencySummary};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer, V2Serializer};

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

/// Encodes a histogram in the interchange form of HdrHistogram's libraries and log format:
/// compressed V2 (V2-deflate, cookie `0x1c849314`), then base64. The text starts `HISTF`, and
/// `HdrHistogram.decode` of the Java, Go, Python and C libraries reads it.
pub fn encode(h: &Hist) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into a Vec cannot fail");
    STANDARD.encode(buf)
}

/// Encodes a histogram as uncompressed V2, then base64: what reports of schema version 1 carry.
/// Kept for tests of old reports; new reports use [`encode`].
pub fn encode_uncompressed(h: &Hist) -> String {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into a Vec cannot fail");
    STANDARD.encode(buf)
}

/// Decodes what [`encode`] or [`encode_uncompressed`] wrote: a compressed (V2-deflate) or an
/// uncompressed V2 encoding in base64.
///
/// The headers are checked before `hdrhistogram` sees the bytes: its deserializer allocates the
/// payload length a header claims (up to 4 GiB, from a few bytes of input) before reading it,
/// and panics in debug builds on a count word of nine `0xff` bytes (zig-zag `i64::MIN`, whose
/// negation overflows). A compressed encoding is inflated here, never by more than its inner
/// header declares, and that declaration must fit the histogram the header describes (at most
/// 9 bytes per counter) and what deflate can produce from the compressed length (1032:1); the
/// inflated V2 then gets the same checks as an uncompressed one.
pub fn decode(s: &str) -> Result<Hist, HdrError> {
    let bytes = STANDARD.decode(s.trim()).map_err(HdrError::NotBase64)?;
    let invalid = |reason: String| HdrError::NotV2 { reason };
    let inflated;
    let v2: &[u8] = if word(&bytes, 0) == Some(V2_DEFLATE_COOKIE) {
        inflated = inflate(&bytes).map_err(invalid)?;
        &inflated
    } else {
        &bytes
    };
    check_v2(v2).map_err(invalid)?;
    let mut h: Hist = Deserializer::new()
        .deserialize(&mut &v2[..])
        .map_err(|e| invalid(format!("{e:?}")))?;
    h.auto(true);
    Ok(h)
}

/// Why a histogram cannot be decoded or added to another.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HdrError {
    /// The text is not base64.
    NotBase64(base64::DecodeError),
    /// The bytes are not a V2 (or V2-deflate) encoding this decoder accepts; `reason` says which
    /// part of it is wrong.
    NotV2 {
        /// What is wrong, for people.
        reason: String,
    },
    /// Two histograms that cannot be added (their ranges cannot hold each other's values).
    NotAddable(hdrhistogram::errors::AdditionError),
}

impl std::fmt::Display for HdrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HdrError::NotBase64(e) => write!(f, "histogram is not valid base64: {e}"),
            HdrError::NotV2 { reason } => write!(
                f,
                "histogram is not a valid HdrHistogram V2 encoding: {reason}"
            ),
            HdrError::NotAddable(e) => write!(f, "histograms cannot be added: {e:?}"),
        }
    }
}

impl std::error::Error for HdrError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HdrError::NotBase64(e) => Some(e),
            HdrError::NotAddable(e) => Some(e),
            HdrError::NotV2 { .. } => None,
        }
    }
}

/// The V2 cookies (`hdrhistogram`'s base cookies with the V2 flag `0x10`).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
/// Cookie, payload length, normalizing offset, significant figures, lowest and highest value, ratio.
const V2_HEADER_LEN: usize = 40;
/// Cookie and compressed length, before the zlib stream of a V2-deflate encoding.
const DEFLATE_HEADER_LEN: usize = 8;
/// Deflate's largest expansion: one byte of input never inflates to more than 1032 bytes.
const DEFLATE_MAX_RATIO: usize = 1032;
/// The longest LEB128 count word of the V2 payload.
const MAX_WORD_LEN: usize = 9;

/// The big-endian `u32` at `at`, when the bytes reach that far.
fn word(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The uncompressed V2 encoding inside a V2-deflate one, inflated no further than its header
/// declares once that declaration has been checked.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let Some(compressed_len) = word(bytes, 4) else {
        return Err("the compressed header is cut short".into());
    };
    let (compressed_len, present) = (
        compressed_len as usize,
        bytes.len().saturating_sub(DEFLATE_HEADER_LEN),
    );
    if compressed_len > present {
        return Err(format!(
            "the header claims {compressed_len} compressed bytes, {present} follow"
        ));
    }
    let compressed = &bytes[DEFLATE_HEADER_LEN..DEFLATE_HEADER_LEN + compressed_len];
    let mut zlib = flate2::bufread::ZlibDecoder::new(compressed);
    let mut header = [0u8; V2_HEADER_LEN];
    zlib.read_exact(&mut header)
        .map_err(|e| format!("the compressed data does not hold a V2 header: {e}"))?;
    if word(&header, 0) != Some(V2_COOKIE) {
        return Err("the compressed data does not start with the V2 cookie".into());
    }
    let payload_len = word(&header, 4).expect("the header is 40 bytes") as usize;
    let counters = declared_counters(&header)?;
    if payload_len > counters.saturating_mul(MAX_WORD_LEN) {
        return Err(format!(
            "the header claims {payload_len} payload bytes, more than {MAX_WORD_LEN} per counter of its {counters} counters"
        ));
    }
    if V2_HEADER_LEN + payload_len > compressed_len.saturating_mul(DEFLATE_MAX_RATIO) {
        return Err(format!(
            "the header claims {payload_len} payload bytes, more than {compressed_len} compressed bytes can hold"
        ));
    }
    let mut v2 = Vec::with_capacity(V2_HEADER_LEN + payload_len);
    v2.extend_from_slice(&header);
    // One byte more than declared, to tell an exact payload from a longer one.
    let read = zlib
        .by_ref()
        .take(payload_len as u64 + 1)
        .read_to_end(&mut v2)
        .map_err(|e| format!("the compressed data is corrupt: {e}"))?;
    if read != payload_len {
        return Err(format!(
            "the header claims {payload_len} payload bytes, the compressed data holds {}",
            if read > payload_len {
                "more".to_string()
            } else {
                read.to_string()
            }
        ));
    }
    Ok(v2)
}

/// The number of counters of the histogram a V2 header describes (what decoding allocates for
/// its counts), or why the header describes none.
fn declared_counters(header: &[u8; V2_HEADER_LEN]) -> Result<usize, String> {
    let u64_at = |at: usize| u64::from_be_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let sigfig = word(header, 12).expect("the header is 40 bytes");
    let (low, high) = (u64_at(16), u64_at(24));
    let sigfig = u8::try_from(sigfig).map_err(|_| format!("{sigfig} significant figures"))?;
    // What the deserializer creates first; its counts are the declared size.
    let shape = Hist::new_with_bounds(low, high, sigfig).map_err(|e| {
        format!(
            "the header's bounds ({low}..{high}, {sigfig} significant figures) are invalid: {e:?}"
        )
    })?;
    Ok(shape.distinct_values())
}

/// Refuses what `hdrhistogram`'s deserializer would over-allocate or panic on (see [`decode`]).
fn check_v2(bytes: &[u8]) -> Result<(), String> {
    match word(bytes, 0) {
        Some(V2_COOKIE) => {}
        _ => return Ok(()), // The deserializer reports the bad cookie or the short input.
    }
    let (Some(payload_len), true) = (word(bytes, 4), bytes.len() >= V2_HEADER_LEN) else {
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
        let text = encode(&h);
        assert!(text.starts_with("HISTF"), "{text}");
        let back = decode(&text).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.max(), h.max());
        // Version-1 reports carry the uncompressed form.
        let old = encode_uncompressed(&h);
        assert!(old.starts_with("HISTE"), "{old}");
        assert_eq!(decode(&old).unwrap(), h);
        assert!(
            decode("not base64!")
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
        assert!(
            decode("AAAA")
                .unwrap_err()
                .to_string()
                .contains("HdrHistogram")
        );
        assert!(matches!(
            decode("not base64!").unwrap_err(),
            HdrError::NotBase64(_)
        ));
        assert!(matches!(
            decode("AAAA").unwrap_err(),
            HdrError::NotV2 { .. }
        ));
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
