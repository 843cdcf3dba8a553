//! The map from a metric name to its figures in a worker, with a hasher made for short names.
//!
//! The standard map's SipHash resists crafted collisions at about 150 instructions per short key;
//! a worker looks up a request's name once per request. The names here are bounded in number
//! (`max_names`) and come from the test, so a multiply-rotate hash (as rustc's FxHash) is enough.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A name-keyed map with [`NameHasher`].
pub(crate) type NameMap<V> = HashMap<Box<str>, V, BuildHasherDefault<NameHasher>>;

/// FxHash: each word rotated, xored in and multiplied by a large odd constant.
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl NameHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        while bytes.len() >= 8 {
            self.add(u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")));
            bytes = &bytes[8..];
        }
        if bytes.len() >= 4 {
            self.add(u64::from(u32::from_le_bytes(
                bytes[..4].try_into().expect("4 bytes"),
            )));
            bytes = &bytes[4..];
        }
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_and_told_apart() {
        let mut m: NameMap<u32> = NameMap::default();
        let names: Vec<String> = (0..500).map(|i| format!("GET /items/{i}/x")).collect();
        for (i, n) in names.iter().enumerate() {
            m.insert(n.as_str().into(), i as u32);
        }
        assert_eq!(m.len(), 500);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(m.get(n.as_str()), Some(&(i as u32)));
        }
        assert_eq!(m.get("GET /items/500/x"), None);
    }
}
