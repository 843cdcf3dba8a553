//! A [`TestFile`] as Rust source: built with `quote`, checked by `syn`, formatted by
//! `prettyplease`, so what is written parses and reads like hand-written code.
//!
//! The generated code uses only `loadtest-runtime`'s public API (the prelude, `ctx.http()`,
//! `ctx.url`, `ctx.think`, `main!`) and `std`: a package needs no other dependency to build it.

use super::model::{Escape, HeaderValue, Piece, Request, Secret, Step, TestFile, TestFn, Text};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

/// Renders `file` as formatted Rust source.
pub(crate) fn render(file: &TestFile) -> Result<String, String> {
    let doc = file.doc.iter().map(|line| {
        let line = doc_line(line);
        quote!(#![doc = #line])
    });
    let tests = file
        .tests
        .iter()
        .map(test_fn)
        .collect::<Result<Vec<_>, _>>()?;
    let escapes: Vec<Escape> = file
        .tests
        .iter()
        .flat_map(|t| &t.steps)
        .filter_map(|s| match s {
            Step::Send(r) => Some(r),
            Step::Think(_) => None,
        })
        .flat_map(|r| {
            r.path
                .0
                .iter()
                .chain(r.body.iter().flat_map(|b| b.0.iter()))
        })
        .filter_map(|p| match p {
            Piece::Secret(_, e) => Some(*e),
            Piece::Literal(_) => None,
        })
        .collect();
    let json = escapes.contains(&Escape::Json).then(|| {
        quote! {
            /// Escapes a value for a JSON string.
            fn json_escape(value: &str) -> String {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out
            }
        }
    });
    let percent = escapes.contains(&Escape::Percent).then(|| {
        quote! {
            /// Percent-encodes a value for a URL query or a form body.
            fn percent_encode(value: &str) -> String {
                value
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect()
            }
        }
    });
    let tokens = quote! {
        #(#doc)*

        use loadtest_runtime::prelude::*;

        #(#tests)*

        #json
        #percent

        loadtest_runtime::main!();
    };
    let parsed: syn::File =
        syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    Ok(space_items(&prettyplease::unparse(&parsed)))
}

fn doc_line(line: &str) -> String {
    if line.is_empty() {
        String::new()
    } else {
        format!(" {line}")
    }
}

fn test_fn(t: &TestFn) -> Result<TokenStream, String> {
    let name = ident(&t.name);
    let doc = t.doc.iter().map(|line| {
        let line = doc_line(line);
        quote!(#[doc = #line])
    });
    let options = t
        .options
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let options: TokenStream = options
        .parse()
        .map_err(|e| format!("generated options {options:?} do not parse: {e}"))?;
    let secrets = t.secrets().into_iter().map(|s| {
        let local = ident(&s.var.to_ascii_lowercase());
        let var = &s.var;
        quote!(let #local = std::env::var(#var).ok();)
    });
    let steps = t.steps.iter().map(step);
    Ok(quote! {
        #(#doc)*
        #[load_test(#options)]
        async fn #name(ctx: &Ctx) -> Result<()> {
            #(#secrets)*
            #(#steps)*
            Ok(())
        }
    })
}

fn step(s: &Step) -> TokenStream {
    match s {
        Step::Think(d) => {
            let ms = Literal::u64_unsuffixed(d.as_millis() as u64);
            quote!(ctx.think(Duration::from_millis(#ms)).await;)
        }
        Step::Send(r) => send(r),
    }
}

fn send(r: &Request) -> TokenStream {
    let method = ident(r.method.builder());
    let url = match r.path.as_literal() {
        Some(p) => {
            let p = string(&p);
            quote!(ctx.url(#p))
        }
        None => {
            let f = format_text(&r.path);
            quote!(ctx.url(&#f))
        }
    };
    let name = string(&r.name);
    let mut chain = quote!(ctx.http().#method(#url).name(#name));
    let mut optional = Vec::new();
    for h in &r.headers {
        let header = string(&h.name);
        match &h.value {
            HeaderValue::Literal(v) => {
                let v = string(v);
                chain = quote!(#chain.header(#header, #v));
            }
            HeaderValue::Secret(s) => {
                let local = ident(&s.var.to_ascii_lowercase());
                optional.push(quote! {
                    if let Some(value) = &#local {
                        request = request.header(#header, value);
                    }
                });
            }
        }
    }
    if let Some(body) = &r.body {
        let body = match body.as_literal() {
            Some(b) => {
                let b = string(&b);
                quote!(#b)
            }
            None => format_text(body),
        };
        chain = quote!(#chain.body(#body));
    }
    let check = r.check_status.then(|| quote!(.error_for_status()?));
    if optional.is_empty() {
        quote!(#chain.send().await? #check;)
    } else {
        quote! {
            let mut request = #chain;
            #(#optional)*
            request.send().await? #check;
        }
    }
}

/// `[literal, &escape(secret), ...].concat()` for text with secrets: plain code, no format
/// string to escape, and formatted like any expression.
fn format_text(t: &Text) -> TokenStream {
    let parts = t.0.iter().map(|p| match p {
        Piece::Literal(s) => string(s),
        Piece::Secret(Secret { var, .. }, escape) => {
            let local = ident(&var.to_ascii_lowercase());
            let value = quote!(#local.as_deref().unwrap_or_default());
            match escape {
                Escape::Json => quote!(&json_escape(#value)),
                Escape::Percent => quote!(&percent_encode(#value)),
                Escape::Raw => value,
            }
        }
    });
    quote!([#(#parts),*].concat())
}

/// Blank lines between top-level items, as rustfmt leaves them (prettyplease writes none).
fn space_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 256);
    let mut prev: Option<&str> = None;
    for line in code.lines() {
        let starts_item = !line.starts_with([' ', '}', ')']) && !line.is_empty();
        if let Some(p) = prev {
            let prev_ends_item = p == "}" || (!p.starts_with(' ') && p.ends_with(';'));
            let prev_is_module_doc = p.starts_with("//!") && !line.starts_with("//!");
            if starts_item && (prev_ends_item || prev_is_module_doc) {
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
        prev = Some(line);
    }
    out
}

fn ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

/// A string literal, raw (`r#"..."#`) when that reads better: JSON bodies are full of quotes.
fn string(s: &str) -> TokenStream {
    let raw_fits = (s.contains('"') || s.contains('\\'))
        && !s.contains("\"#")
        && !s.chars().any(|c| c.is_control() && c != '\n');
    if raw_fits && let Ok(t) = format!("r#\"{s}\"#").parse::<TokenStream>() {
        return t;
    }
    let lit = Literal::string(s);
    quote!(#lit)
}

#[cfg(test)]
mod tests {
    use super::super::model::{Header, Method};
    use super::*;
    use std::time::Duration;

    #[test]
    fn renders_requests_pauses_and_secrets() {
        let token = Secret {
            var: "SHOP_AUTHORIZATION".into(),
            what: "the `Authorization` header".into(),
        };
        let password = Secret {
            var: "SHOP_PASSWORD".into(),
            what: "the `password` field".into(),
        };
        let file = TestFile {
            doc: vec!["Generated.".into()],
            tests: vec![TestFn {
                name: "shop".into(),
                doc: vec!["Replays.".into()],
                options: vec![
                    ("users".into(), "1".into()),
                    ("duration".into(), "\"30s\"".into()),
                ],
                steps: vec![
                    Step::Send(Request {
                        method: Method::Get,
                        path: Text::literal("/items/{1}"),
                        name: "GET /items/{id}".into(),
                        headers: vec![
                            Header {
                                name: "accept".into(),
                                value: HeaderValue::Literal("application/json".into()),
                            },
                            Header {
                                name: "authorization".into(),
                                value: HeaderValue::Secret(token.clone()),
                            },
                        ],
                        body: None,
                        check_status: true,
                    }),
                    Step::Think(Duration::from_millis(250)),
                    Step::Send(Request {
                        method: Method::Post,
                        path: Text::literal("/login"),
                        name: "POST /login".into(),
                        headers: vec![],
                        body: Some(Text(vec![
                            Piece::Literal("{\"password\":\"".into()),
                            Piece::Secret(password, Escape::Json),
                            Piece::Literal("\"}".into()),
                        ])),
                        check_status: false,
                    }),
                ],
            }],
        };
        let code = render(&file).unwrap();
        for expected in [
            "//! Generated.",
            "use loadtest_runtime::prelude::*;",
            "/// Replays.",
            "#[load_test(users = 1, duration = \"30s\")]",
            "async fn shop(ctx: &Ctx) -> Result<()> {",
            "let shop_authorization = std::env::var(\"SHOP_AUTHORIZATION\").ok();",
            "ctx.url(\"/items/{1}\")",
            ".name(\"GET /items/{id}\")",
            "request = request.header(\"authorization\", value);",
            "ctx.think(Duration::from_millis(250)).await;",
            "r#\"{\"password\":\"\"#,\n",
            "&json_escape(shop_password.as_deref().unwrap_or_default()),\n",
            "r#\"\"}\"#,\n",
            ".concat(),",
            "fn json_escape(value: &str) -> String {",
            "loadtest_runtime::main!();",
        ] {
            assert!(code.contains(expected), "missing {expected:?} in\n{code}");
        }
        assert!(!code.contains("fn percent_encode"), "{code}");
    }
}
