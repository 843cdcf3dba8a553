//! Names: Rust identifiers and target names from free text, request names that group dynamic
//! path segments as `{id}`, environment variable names for secrets, and what counts as secret.

use crate::errors::CliError;

/// Checks a `--name`: a target name that is also a valid file stem and Rust identifier.
pub(crate) fn check_target_name(name: &str) -> Result<(), CliError> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && !is_keyword(&name.replace('-', "_"));
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--name {name:?} is not a usable test target name; accepted: lower-case letters, digits, `_` and `-`, starting with a letter or `_`, not a Rust keyword (e.g. `api`, `checkout_flow`)"
        )))
    }
}

/// A snake_case Rust identifier from free text (`listPets` -> `list_pets`,
/// `GET /pets/{id}` -> `get_pets_id`), never empty, never a keyword, never starting with a digit.
pub(crate) fn identifier(text: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let mut out = out.trim_matches('_').to_string();
    if out.is_empty() {
        out = "load_test".into();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) || is_keyword(&out) {
        out = format!("test_{out}");
    }
    out
}

/// `identifier(text)`, with `_2`, `_3`... when `taken` has it already.
pub(crate) fn unique_identifier(text: &str, taken: &[String]) -> String {
    let base = identifier(text);
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "as" | "async"
            | "await"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "try"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "main"
            | "test"
    )
}

/// `METHOD /path` with dynamic segments (numbers, UUIDs, long hex or mixed tokens) as `{id}`,
/// so one endpoint is one request name however many ids were recorded.
pub(crate) fn request_name(method: &str, path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let grouped: Vec<&str> = path
        .split('/')
        .map(|seg| if is_dynamic(seg) { "{id}" } else { seg })
        .collect();
    let mut path = grouped.join("/");
    if path.is_empty() {
        path.push('/');
    }
    format!("{method} {path}")
}

/// Whether a path segment looks like an id rather than a word of the API.
pub(crate) fn is_dynamic(seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    let digits = seg.chars().filter(|c| c.is_ascii_digit()).count();
    let hex = seg.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let token = seg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    seg.chars().all(|c| c.is_ascii_digit())
        || (hex && seg.len() >= 8 && digits > 0)
        || (token && seg.len() >= 16 && digits >= 2)
}

/// Whether a header, cookie, query parameter or body field with this name holds a secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['-', '_'], "");
    const EXACT: &[&str] = &[
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "key",
        "sig",
        "sid",
        "pin",
        "otp",
        "code",
        "pass",
        "auth",
        "xauth",
    ];
    const PARTS: &[&str] = &[
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "apikey",
        "session",
        "signature",
        "csrf",
        "xsrf",
        "credential",
        "privatekey",
        "accesskey",
        "jwt",
        "bearer",
        "nonce",
    ];
    EXACT.contains(&n.as_str()) || PARTS.iter().any(|p| n.contains(p))
}

/// `PREFIX_NAME` in upper snake case: the environment variable for a secret.
pub(crate) fn env_var(prefix: &str, name: &str) -> String {
    let mut out = identifier(prefix).to_ascii_uppercase();
    let rest = identifier(name).to_ascii_uppercase();
    let rest = rest.strip_prefix("TEST_").unwrap_or(&rest);
    out.push('_');
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(identifier("listPets"), "list_pets");
        assert_eq!(identifier("GET /pets/{petId}"), "get_pets_pet_id");
        assert_eq!(identifier("checkout-flow.har"), "checkout_flow_har");
        assert_eq!(identifier("2fa"), "test_2fa");
        assert_eq!(identifier("type"), "test_type");
        assert_eq!(identifier("---"), "load_test");
        assert_eq!(unique_identifier("a", &["a".into(), "a_2".into()]), "a_3");
    }

    #[test]
    fn request_names_group_ids() {
        assert_eq!(request_name("GET", "/"), "GET /");
        assert_eq!(
            request_name("GET", "/api/items/42?x=1"),
            "GET /api/items/{id}"
        );
        assert_eq!(
            request_name("PUT", "/o/3f2b8c1e-8d4a-4f7a-9e61-2c9d1b7a5e00/lines/7"),
            "PUT /o/{id}/lines/{id}"
        );
        assert_eq!(
            request_name("GET", "/api/v2/products"),
            "GET /api/v2/products"
        );
        assert_eq!(
            request_name("GET", "/cart/aB3dE5gH7jK9mN1p"),
            "GET /cart/{id}"
        );
        assert!(!is_dynamic("checkout"));
        assert!(!is_dynamic("v2"));
        assert!(!is_dynamic("deadbeef"), "hex words without digits stay");
    }

    #[test]
    fn secret_names() {
        for s in [
            "Authorization",
            "Cookie",
            "X-API-Key",
            "x-csrf-token",
            "password",
            "access_token",
            "session_id",
        ] {
            assert!(is_secret_name(s), "{s}");
        }
        for s in ["accept", "content-type", "q", "page", "sku", "author"] {
            assert!(!is_secret_name(s), "{s}");
        }
        assert_eq!(env_var("shop", "x-api-key"), "SHOP_X_API_KEY");
    }

    #[test]
    fn target_names() {
        assert!(check_target_name("checkout_flow").is_ok());
        assert!(check_target_name("api-v2").is_ok());
        for bad in ["", "Api", "1x", "a b", "fn", "a/b"] {
            assert!(check_target_name(bad).is_err(), "{bad}");
        }
    }
}
