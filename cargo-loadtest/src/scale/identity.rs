//! A scale-out run's identity: SHA-256 over the tool version, each harness binary's SHA-256 and
//! every selected test's options (its attribute and each layer above it: `loadtest.toml`, the
//! environment, the command line). Shards of one run compute the same identity; `merge` refuses
//! reports whose identities differ.

use loadtest_grammar::OptionLayer;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The SHA-256 of bytes, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The SHA-256 of a file's content, in lower-case hex, read in pieces.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One selected test as the identity covers it.
#[derive(Debug, Serialize)]
pub struct TestOptions<'a> {
    /// `package::target::name`.
    pub test: String,
    /// The attribute's options.
    pub attribute: &'a OptionLayer,
    /// The layers above it, lowest first.
    pub layers: Vec<OptionLayer>,
}

#[derive(Serialize)]
struct Identity<'a> {
    tool_version: &'a str,
    binaries: &'a BTreeMap<String, String>,
    tests: &'a [TestOptions<'a>],
}

/// The identity of a run of `tests` with harness binaries of SHA-256 `binaries` (by
/// `package::target`).
pub fn identity(
    tool_version: &str,
    binaries: &BTreeMap<String, String>,
    tests: &[TestOptions<'_>],
) -> String {
    let doc = Identity {
        tool_version,
        binaries,
        tests,
    };
    sha256_hex(&serde_json::to_vec(&doc).expect("identities always serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn identities_change_with_binaries_and_options() {
        let attr = OptionLayer::new("attr");
        let mut cli = OptionLayer::new("the command line");
        cli.set_str("rate", "100/s");
        let bins: BTreeMap<String, String> = [("p::t".to_string(), "aa".to_string())].into();
        let tests = |layers: Vec<OptionLayer>| {
            vec![TestOptions {
                test: "p::t::x".into(),
                attribute: &attr,
                layers,
            }]
        };
        let a = identity("0.1.0", &bins, &tests(vec![]));
        assert_eq!(a, identity("0.1.0", &bins, &tests(vec![])));
        assert_ne!(a, identity("0.1.0", &bins, &tests(vec![cli.clone()])));
        let other: BTreeMap<String, String> = [("p::t".to_string(), "bb".to_string())].into();
        assert_ne!(a, identity("0.1.0", &other, &tests(vec![])));
        assert_ne!(a, identity("0.2.0", &bins, &tests(vec![])));
        assert_eq!(a.len(), 64);
    }
}
