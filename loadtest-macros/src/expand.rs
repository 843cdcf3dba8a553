//! The expansion of `#[load_test]`: the original function, untouched, plus a registration entry.
//!
//! The macro generates data and the runtime does the work: the entry names the function, where it
//! is, its options as strings, and a function pointer that boxes one iteration's future. Generated
//! code reaches the runtime only through `loadtest_runtime::__private`.

use crate::options::{self, ParsedOption};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

const SIGNATURE: &str = "expected `async fn NAME(ctx: &Ctx) -> Result<(), E>` where E implements Display";

/// Expands the attribute. On error the original item is still emitted, so IDEs keep working.
pub(crate) fn load_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new(
                proc_macro2::Span::call_site(),
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

fn check_signature(func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(sig.fn_token.span(), format!("load tests must be `async fn`; {SIGNATURE}")));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(sig.generics.span(), format!("load tests cannot be generic; {SIGNATURE}")));
    }
    let mut inputs = sig.inputs.iter();
    let first_ok = match (inputs.next(), inputs.next()) {
        (Some(FnArg::Typed(pt)), None) => matches!(&*pt.ty, Type::Reference(r) if r.mutability.is_none()),
        _ => false,
    };
    if !first_ok {
        let span = if sig.inputs.is_empty() { sig.paren_token.span.join() } else { sig.inputs.span() };
        return Err(syn::Error::new(span, format!("wrong parameters: {SIGNATURE}")));
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
    let ret_span = match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => ident.span(),
    };
    let call = quote_spanned! {ret_span=> #rt::IntoOutcome::into_outcome(#ident(ctx).await) };
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
