//! The expansion of `#[load_test]`: the original function, untouched, plus a registration entry.
//!
//! The macro generates data and the runtime does the work: the entry names the function, where it
//! is, its options as strings, and a function pointer that boxes one iteration's future. Generated
//! code reaches the runtime only through `loadtest_runtime::__private`.

use crate::options::{self, ParsedOption};
use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

const SIGNATURE: &str =
    "expected `async fn NAME(ctx: &Ctx) -> Result<(), E>` where E implements Display";

/// Expands the attribute. On error the original item is still emitted, so IDEs keep working.
pub(crate) fn load_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new(
                item_keyword_span(&item),
                format!("#[load_test] applies to an async function; {SIGNATURE}"),
            );
            let err = err.to_compile_error();
            return quote! { #err #item };
        }
    };
    let mut errors = Vec::new();
    let opts = match options::parse(attr) {
        Ok(o) => o,
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    if let Err(e) = check_signature(&func) {
        errors.push(e);
    }
    if !errors.is_empty() {
        let errs = errors.iter().map(syn::Error::to_compile_error);
        return quote! { #(#errs)* #func };
    }
    registration(&func, &opts)
}

/// The span of an item's first token after its attributes and visibility (`struct`, `impl`...),
/// for the error when the item is not a function.
fn item_keyword_span(item: &TokenStream) -> Span {
    let mut tokens = item.clone().into_iter().peekable();
    while let Some(tt) = tokens.next() {
        match &tt {
            // An attribute (doc comments included): `#` then its `[...]`.
            TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
            }
            TokenTree::Ident(i) if i == "pub" => {
                if matches!(tokens.peek(), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
                {
                    tokens.next();
                }
            }
            _ => return tt.span(),
        }
    }
    Span::call_site()
}

fn check_signature(func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!("load tests must be `async fn`; {SIGNATURE}"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("load tests cannot be generic; {SIGNATURE}"),
        ));
    }
    let mut inputs = sig.inputs.iter();
    let first_ok = match (inputs.next(), inputs.next()) {
        (Some(FnArg::Typed(pt)), None) => {
            matches!(&*pt.ty, Type::Reference(r) if r.mutability.is_none())
        }
        _ => false,
    };
    if !first_ok {
        let msg = format!("wrong parameters: {SIGNATURE}");
        // `new_spanned` covers every parameter; `Spanned::span` is only the first token on stable.
        return Err(if sig.inputs.is_empty() {
            syn::Error::new(sig.paren_token.span.join(), msg)
        } else {
            syn::Error::new_spanned(&sig.inputs, msg)
        });
    }
    if let ReturnType::Default = sig.output {
        return Err(syn::Error::new(
            sig.paren_token.span.close(),
            format!("missing return type: {SIGNATURE}"),
        ));
    }
    Ok(())
}

fn registration(func: &ItemFn, opts: &[ParsedOption]) -> TokenStream {
    let ident = &func.sig.ident;
    let name = ident.to_string();
    let rt = quote!(::loadtest_runtime::__private);
    let options = opts.iter().map(|o| {
        let key = &o.name;
        let vals = &o.values;
        if o.is_list {
            quote! { (#key, #rt::OptionValue::List(&[#(#vals),*])) }
        } else {
            let v = &vals[0];
            quote! { (#key, #rt::OptionValue::One(#v)) }
        }
    });
    // Naming the return type in the qualified path puts an unimplemented `IntoOutcome` error on
    // the whole return type, and only there.
    let call = match &func.sig.output {
        ReturnType::Type(_, ty) => {
            quote! { <#ty as #rt::IntoOutcome>::into_outcome(#ident(ctx).await) }
        }
        ReturnType::Default => quote! { #rt::IntoOutcome::into_outcome(#ident(ctx).await) },
    };
    quote! {
        #func

        const _: () = {
            fn __loadtest_iteration<'a>(ctx: &'a ::loadtest_runtime::Ctx) -> #rt::IterationFuture<'a> {
                ::std::boxed::Box::pin(async move { #call })
            }
            #rt::inventory::submit! {
                #rt::LoadTestDef {
                    name: #name,
                    module_path: ::core::module_path!(),
                    file: ::core::file!(),
                    line: ::core::line!(),
                    options: &[#(#options),*],
                    run: __loadtest_iteration,
                }
            }
        };
    }
}
