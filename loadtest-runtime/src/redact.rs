//! Keeping secrets out of reports and logs: URL credentials and sensitive header values.

/// Headers whose values never appear in a report, log line or error message.
pub const SENSITIVE_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization", "set-cookie"];

/// Removes the `user:password@` part of every URL in `text`.
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail.find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == ')' || c == '"').unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("[redacted]@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Redacts URL credentials in a message, and removes any of `secrets` found in it.
pub fn message(text: &str, secrets: &[String]) -> String {
    let mut out = url(text);
    for s in secrets {
        if s.len() >= 4 && out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_url_credentials() {
        assert_eq!(url("http://alice:s3cret@127.0.0.1:80/x"), "http://[redacted]@127.0.0.1:80/x");
        assert_eq!(
            url("error sending request for url (http://bob:pw@host/a) then https://h/b"),
            "error sending request for url (http://[redacted]@host/a) then https://h/b"
        );
        assert_eq!(url("no urls here"), "no urls here");
    }

    #[test]
    fn removes_known_secrets() {
        assert_eq!(message("token Bearer abcd1234 leaked", &["Bearer abcd1234".into()]), "token [redacted] leaked");
    }
}
