//! Parsing the attribute's `key = value` list into checked options.
//!
//! Values are validated with the shared grammar (`grammar.rs`) so that a bad duration, rate,
//! stage or threshold fails the build, at the value's span, with the accepted forms listed.

use loadtest_grammar::{self as grammar, ValueKind};
use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprArray, Lit};

/// One checked option: its name and its value(s) as strings, ready to be emitted.
pub(crate) struct ParsedOption {
    pub(crate) name: String,
    pub(crate) values: Vec<String>,
    pub(crate) is_list: bool,
    /// The option name's span, for errors about how options combine.
    pub(crate) span: Span,
}

/// Parses and checks the attribute's arguments. Every error found is returned, not just the first.
pub(crate) fn parse(attr: TokenStream) -> Result<Vec<ParsedOption>, syn::Error> {
    let mut parsed: Vec<ParsedOption> = Vec::new();
    let mut errors: Vec<syn::Error> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        match parse_one(&meta, &parsed) {
            Ok(opt) => parsed.push(opt),
            Err(e) => errors.push(e),
        }
        Ok(())
    });
    parser.parse2(attr)?;
    if errors.is_empty()
        && let Err(msg) = check_combination(&parsed)
    {
        // Point at the option that brought the conflict in: the last of the shortest prefix of
        // the list that has this error.
        let culprit = (1..=parsed.len())
            .find(|&n| check_combination(&parsed[..n]).err().as_ref() == Some(&msg));
        let span = culprit.map_or_else(Span::call_site, |n| parsed[n - 1].span);
        errors.push(syn::Error::new(span, msg));
    }
    let mut iter = errors.into_iter();
    match iter.next() {
        None => Ok(parsed),
        Some(mut first) => {
            iter.for_each(|e| first.combine(e));
            Err(first)
        }
    }
}

fn check_combination(opts: &[ParsedOption]) -> Result<(), grammar::OptionError> {
    let names: Vec<&str> = opts.iter().map(|o| o.name.as_str()).collect();
    let stages: Vec<&str> = opts
        .iter()
        .filter(|o| o.name == "stages")
        .flat_map(|o| o.values.iter().map(String::as_str))
        .collect();
    grammar::check_combination(&names, &stages)
}

fn parse_one(meta: &ParseNestedMeta<'_>, seen: &[ParsedOption]) -> syn::Result<ParsedOption> {
    let ident = meta.path.get_ident().ok_or_else(|| {
        meta.error(format!(
            "expected an option name; accepted options: {}",
            grammar::option_names()
        ))
    })?;
    let name = ident.to_string();
    let Some(info) = grammar::option(&name) else {
        // Consume the value so that parsing can go on to the next option.
        if meta.input.peek(syn::Token![=]) {
            let _: Expr = meta.value()?.parse()?;
        }
        return Err(syn::Error::new(
            ident.span(),
            format!(
                "unknown option `{name}`; accepted options: {}",
                grammar::option_names()
            ),
        ));
    };
    let expr: Expr = meta.value()?.parse()?;
    if seen.iter().any(|o| o.name == name) {
        return Err(syn::Error::new(
            ident.span(),
            format!("duplicate option `{name}`; give each option once"),
        ));
    }
    let wrong =
        |span: Span| syn::Error::new(span, format!("option `{name}` accepts {}", info.accepts));
    let values: Vec<(String, Span)> = match (info.kind, &expr) {
        (ValueKind::List, Expr::Array(ExprArray { elems, .. })) => elems
            .iter()
            .map(|e| lit_str(e).ok_or_else(|| wrong(span_of(e))))
            .collect::<syn::Result<_>>()?,
        (ValueKind::List, _) => return Err(wrong(span_of(&expr))),
        (ValueKind::Count | ValueKind::Number, Expr::Lit(l)) => match &l.lit {
            Lit::Int(i) => vec![(i.base10_digits().to_string(), i.span())],
            other => return Err(wrong(other.span())),
        },
        (ValueKind::Bool, Expr::Lit(l)) => match &l.lit {
            Lit::Bool(b) => vec![(b.value.to_string(), b.span)],
            other => return Err(wrong(other.span())),
        },
        (ValueKind::Str, e) => vec![lit_str(e).ok_or_else(|| wrong(span_of(e)))?],
        (_, e) => return Err(wrong(span_of(e))),
    };
    let strs: Vec<&str> = values.iter().map(|(v, _)| v.as_str()).collect();
    // Check each list element on its own so the error points at the bad one.
    for (v, span) in &values {
        grammar::check_value(&name, &[v.as_str()]).map_err(|msg| syn::Error::new(*span, msg))?;
    }
    if info.kind != ValueKind::List {
        grammar::check_value(&name, &strs).map_err(|msg| syn::Error::new(span_of(&expr), msg))?;
    }
    if name == "stages" {
        // Each stage is valid on its own; the list must not mix users and rates.
        grammar::stages_are_rates(&strs).map_err(|msg| syn::Error::new(span_of(&expr), msg))?;
    }
    Ok(ParsedOption {
        span: ident.span(),
        name,
        is_list: info.kind == ValueKind::List,
        values: values.into_iter().map(|(v, _)| v).collect(),
    })
}

fn lit_str(e: &Expr) -> Option<(String, Span)> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Some((s.value(), s.span())),
            _ => None,
        },
        _ => None,
    }
}

fn span_of(e: &Expr) -> Span {
    syn::spanned::Spanned::span(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn error(attr: TokenStream) -> String {
        match parse(attr) {
            Ok(_) => panic!("the attribute was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn options_are_given_once_and_known() {
        assert_eq!(
            error(quote!(duration = "30s", users = 5, duration = "1m")),
            "duplicate option `duration`; give each option once"
        );
        assert_eq!(
            error(quote!(users = 5, vus = 10)),
            format!(
                "unknown option `vus`; accepted options: {}",
                grammar::option_names()
            )
        );
        assert!(grammar::option_names().starts_with("users, think_time, rate, max_in_flight"));
    }

    #[test]
    fn list_options_take_lists() {
        assert_eq!(
            error(quote!(users = 5, thresholds = "p99 < 250ms")),
            "option `thresholds` accepts a list of rules, e.g. [\"p99 < 250ms\", \"error_rate < 1%\"]"
        );
    }

    #[test]
    fn grammar_errors_reach_the_attribute() {
        // One of each grammar error through the parser; the messages themselves are unit tests
        // of `loadtest-grammar`.
        assert!(error(quote!(rate = "500/day")).starts_with("invalid rate \"500/day\""));
        assert!(
            error(quote!(
                users = 5,
                thresholds = ["p99 < 250ms", "latency < 1s"]
            ))
            .starts_with("invalid threshold \"latency < 1s\": unknown metric `latency`")
        );
        assert!(
            error(quote!(stages = ["30s:50", "1m", "10s:0"]))
                .starts_with("invalid stage \"1m\": missing `:`")
        );
        assert!(
            error(quote!(users = 5, duration = "1m", max_in_flight = 100))
                .starts_with("`max_in_flight` and `on_saturation` belong to the open model")
        );
        assert!(
            error(quote!(stages = ["30s:50", "1m:500/s"])).contains("mix user counts and rates")
        );
        assert!(
            parse(quote!(
                users = 5,
                duration = "1m",
                thresholds = ["p99 < 1s"]
            ))
            .is_ok()
        );
    }
}
