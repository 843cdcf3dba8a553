//! Who may reach the dashboard: the address it listens on (loopback unless one is given), the
//! token every request must carry on any other address, and whether the page may stop the run.
//! Checked once from the flags, before anything is built.

use crate::errors::CliError;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

/// The address `--dashboard` alone listens on: loopback, a port the system chooses (printed).
pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:0";

/// The value of `--dashboard-token` that asks for a generated token.
pub(crate) const GENERATE: &str = "generate";

/// The shortest token accepted: a token is a password, and a short one is guessed.
const MIN_TOKEN_LEN: usize = 16;

/// The dashboard's checked settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Access {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// The token every request must carry (`?token=` or `Authorization: Bearer`), when set.
    pub(crate) token: Option<String>,
    /// The page shows no Stop control, and the server refuses to stop the run.
    pub(crate) read_only: bool,
}

impl Access {
    /// Checks `--dashboard[=ADDR]`, `--dashboard-token` and `--dashboard-read-only`. A
    /// non-loopback address without a token is a usage error naming `--dashboard-token`.
    pub(crate) fn from_flags(
        addr: &str,
        token: Option<&str>,
        read_only: bool,
    ) -> Result<Access, CliError> {
        let addr = crate::live::parse_listen("--dashboard", addr)?;
        let token = match token {
            None => None,
            Some(GENERATE) => Some(generate_token()),
            Some(t) => Some(check_token(t)?),
        };
        if token.is_none() && !addr.ip().is_loopback() {
            return Err(CliError::Usage(format!(
                "--dashboard {addr}: not a loopback address, so the dashboard needs a token: give --dashboard-token TOKEN (at least {MIN_TOKEN_LEN} letters, digits, '-', '_', '.' or '~'), or --dashboard-token {GENERATE} for one printed at the start"
            )));
        }
        Ok(Access {
            addr,
            token,
            read_only,
        })
    }

    /// Whether a request carrying `given` (from `?token=` or `Authorization: Bearer`) may in.
    pub(crate) fn admits(&self, given: Option<&str>) -> bool {
        match &self.token {
            None => true,
            Some(t) => given.is_some_and(|g| constant_time_eq(g.as_bytes(), t.as_bytes())),
        }
    }
}

fn check_token(t: &str) -> Result<String, CliError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
    if t.len() < MIN_TOKEN_LEN || !t.chars().all(allowed) {
        return Err(CliError::Usage(format!(
            "--dashboard-token {:?}: expected at least {MIN_TOKEN_LEN} letters, digits, '-', '_', '.' or '~' (it goes in the page's address), or {GENERATE}",
            // A mistyped token is still a secret: only its length is shown.
            format!("<{} characters>", t.chars().count())
        )));
    }
    Ok(t.to_string())
}

/// A random token of 32 hex digits: two SipHash outputs under the standard library's randomly
/// keyed hasher (seeded from the operating system), over the time and the process id.
fn generate_token() -> String {
    let mut out = String::new();
    for part in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(part);
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Compares without stopping at the first difference, so the time taken says nothing about
/// how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default_and_a_token_elsewhere() {
        let a = Access::from_flags(DEFAULT_ADDR, None, false).unwrap();
        assert!(a.addr.ip().is_loopback() && a.token.is_none());
        assert!(a.admits(None));
        let e = Access::from_flags("0.0.0.0:8080", None, false).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_code::USAGE);
        assert!(e.to_string().contains("--dashboard-token"), "{e}");
        let t = "abcdefghijklmnop";
        let a = Access::from_flags("0.0.0.0:8080", Some(t), true).unwrap();
        assert!(a.read_only);
        assert!(a.admits(Some(t)));
        assert!(!a.admits(None) && !a.admits(Some("abcdefghijklmnoq")) && !a.admits(Some("a")));
    }

    #[test]
    fn a_short_or_unsafe_token_is_refused_without_echoing_it() {
        for bad in [
            "short",
            "has spaces in it, long enough",
            "ünïcödé-ünïcödé-ü",
        ] {
            let e = Access::from_flags("0.0.0.0:1", Some(bad), false).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("--dashboard-token") && !text.contains(bad),
                "{text}"
            );
        }
    }

    #[test]
    fn generated_tokens_are_long_and_differ() {
        let a = Access::from_flags("[::]:0", Some(GENERATE), false).unwrap();
        let b = Access::from_flags("[::]:0", Some(GENERATE), false).unwrap();
        let (a, b) = (a.token.unwrap(), b.token.unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
