//! Keeping secrets out of reports and logs: URL credentials and sensitive header values.

/// Headers whose values never appear in a report, log line or error message.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "proxy-authorization",
    "set-cookie",
];

/// Removes the `user:password@` part of every URL in `text`.
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == ')' || c == '"'
            })
            .unwrap_or(tail.len());
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

/// The secret values seen in sensitive headers and target URLs, so that error messages (even a
/// test's own, and panic messages) can be scrubbed of them.
#[derive(Default)]
pub struct Secrets(std::sync::RwLock<Vec<String>>);

static PROCESS_SECRETS: Secrets = Secrets(std::sync::RwLock::new(Vec::new()));

/// The secrets seen by this process (shared by every test of a harness binary).
pub fn secrets() -> &'static Secrets {
    &PROCESS_SECRETS
}

impl Secrets {
    /// Remembers a secret value (and, for `Basic`/`Bearer` values, the credential after the scheme).
    pub fn add(&self, value: &str) {
        let mut values = vec![value.to_string()];
        if let Some((_, cred)) = value.split_once(' ') {
            values.push(cred.to_string());
        }
        for v in values {
            if v.len() < 4 {
                continue;
            }
            let known = self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&v);
            if !known {
                self.0
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(v);
            }
        }
    }

    /// Remembers the password of a URL's credentials.
    pub fn add_url(&self, url: &str) {
        let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
            return;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((cred, _)) = authority.rsplit_once('@')
            && let Some((_, pass)) = cred.split_once(':')
        {
            self.add(pass);
        }
    }

    /// Redacts URL credentials and every remembered secret in `text`.
    pub fn scrub(&self, text: &str) -> String {
        message(
            text,
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
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
        assert_eq!(
            url("http://alice:s3cret@127.0.0.1:80/x"),
            "http://[redacted]@127.0.0.1:80/x"
        );
        assert_eq!(
            url("error sending request for url (http://bob:pw@host/a) then https://h/b"),
            "error sending request for url (http://[redacted]@host/a) then https://h/b"
        );
        assert_eq!(url("no urls here"), "no urls here");
    }

    #[test]
    fn remembers_header_and_url_secrets() {
        let s = Secrets::default();
        s.add("Bearer abcd1234");
        s.add_url("http://alice:pa55word@127.0.0.1:1/x");
        assert_eq!(
            s.scrub("got abcd1234 and pa55word from alice"),
            "got [redacted] and [redacted] from alice"
        );
    }

    #[test]
    fn removes_known_secrets() {
        assert_eq!(
            message("token Bearer abcd1234 leaked", &["Bearer abcd1234".into()]),
            "token [redacted] leaked"
        );
    }
}
