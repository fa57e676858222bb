//! `#[mpiview::remote]`: a plain `fn` becomes a remote function every rank of the program knows,
//! with no registration call and no order rule.
//!
//! Use it through the runtime crate (`mpiview::remote`), whose documentation has the examples;
//! this crate only writes the items. For
//!
//! ```text
//! #[remote]
//! pub fn norm(x: f64, y: f64) -> f64 { (x * x + y * y).sqrt() }
//! ```
//!
//! it writes a constant `pub const norm: mpiview::Remote<(f64, f64), f64>` naming the function by
//! its path (`module_path!()::norm`), and, out of sight, the function itself and an entry of the
//! link-time table (`inventory`) that every rank reads at `Cluster::init`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type, parse_macro_input};

/// Makes a plain `fn` a remote function: see `mpiview::remote` for the rules and examples.
#[proc_macro_attribute]
pub fn remote(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let attr = TokenStream2::from(attr);
        return syn::Error::new(attr.span(), "#[remote] takes no arguments")
            .to_compile_error()
            .into();
    }
    let function = parse_macro_input!(item as ItemFn);
    match expand(function) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What the remote function's parameters are once the context is set aside.
struct Parameters {
    context: bool,
    types: Vec<Type>,
}

fn expand(function: ItemFn) -> syn::Result<TokenStream2> {
    check_signature(&function)?;
    let parameters = parameters(&function)?;
    let name = &function.sig.ident;
    let vis = &function.vis;
    // Documentation and `cfg` go on the constant users see; the rest (`allow`, `inline`, ...)
    // stays on the function, which the constant's `cfg` also covers.
    let (outer, inner): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .cloned()
        .partition(|a| a.path().is_ident("doc") || a.path().is_ident("cfg"));
    let cfgs: Vec<_> = outer.iter().filter(|a| a.path().is_ident("cfg")).collect();
    let mut body = function.clone();
    body.attrs = inner;
    body.vis = syn::Visibility::Inherited;

    let types = &parameters.types;
    let args_type = match types.len() {
        1 => quote!(#(#types)*),
        _ => quote!((#(#types,)*)),
    };
    let names: Vec<_> = (0..types.len())
        .map(|i| format_ident!("__arg{i}"))
        .collect();
    let unpack = match names.len() {
        1 => quote!(#(#names)*),
        _ => quote!((#(#names,)*)),
    };
    let context_arg = parameters.context.then(|| quote!(__ctx,));
    let call = quote!(#name(#context_arg #(#names),*));

    let (value_type, adapter) = match fallible_return(&function.sig.output) {
        Some(ret) => (
            quote!(<#ret as ::mpiview::__private::Fallible>::Value),
            quote! {
                ::mpiview::__private::with_context::<#args_type, _>(
                    |__ctx: &mut ::mpiview::Context<'_>, __args: #args_type| {
                        let #unpack = __args;
                        ::mpiview::__private::Fallible::into_outcome(#call)
                    },
                )
            },
        ),
        None => {
            let ret = match &function.sig.output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => quote!(#ty),
            };
            let adapter = if parameters.context {
                quote! {
                    ::mpiview::__private::with_context::<#args_type, #ret>(
                        |__ctx: &mut ::mpiview::Context<'_>, __args: #args_type| {
                            let #unpack = __args;
                            ::std::result::Result::Ok(#call)
                        },
                    )
                }
            } else {
                quote! {
                    ::mpiview::__private::plain::<#args_type, #ret>(|__args: #args_type| {
                        let #unpack = __args;
                        #call
                    })
                }
            };
            (ret, adapter)
        }
    };

    let site = quote_spanned!(name.span()=> ::core::concat!(::core::file!(), ":", ::core::line!()));
    Ok(quote! {
        #(#outer)*
        #[allow(non_upper_case_globals)]
        #vis const #name: ::mpiview::Remote<#args_type, #value_type> =
            ::mpiview::Remote::__attributed(
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
            );

        #(#cfgs)*
        const _: () = {
            #body

            ::mpiview::__private::inventory::submit! {
                ::mpiview::__private::Attributed::new(
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    ::core::stringify!(#name),
                    #site,
                    || #adapter,
                )
            }
        };
    })
}

/// Refuses what cannot be one function every rank knows by its path.
fn check_signature(function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    let refuse = |span: Span, what: &str| Err(syn::Error::new(span, format!("#[remote]: {what}")));
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return refuse(
            sig.generics.span(),
            "a remote function cannot be generic: every rank must know one concrete signature \
             (write a non-generic wrapper for each type)",
        );
    }
    if let Some(a) = sig.asyncness {
        return refuse(a.span(), "a remote function cannot be async");
    }
    if let Some(v) = &sig.variadic {
        return refuse(v.span(), "a remote function cannot be variadic");
    }
    if let Some(c) = sig.constness {
        return refuse(c.span(), "a remote function cannot be const");
    }
    if let Some(u) = sig.unsafety {
        return refuse(u.span(), "a remote function cannot be unsafe");
    }
    if let Some(abi) = &sig.abi {
        return refuse(abi.span(), "a remote function cannot declare an ABI");
    }
    Ok(())
}

/// The parameters' types; a first `&mut Context` parameter is the engine's context.
fn parameters(function: &ItemFn) -> syn::Result<Parameters> {
    let mut context = false;
    let mut types = Vec::new();
    for (i, input) in function.sig.inputs.iter().enumerate() {
        let typed = match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new(
                    r.span(),
                    "#[remote]: a remote function is a free fn, not a method",
                ));
            }
            FnArg::Typed(t) => t,
        };
        if let Pat::Ident(p) = &*typed.pat
            && p.by_ref.is_some()
        {
            return Err(syn::Error::new(
                p.span(),
                "#[remote]: parameters are taken by value",
            ));
        }
        if is_context(&typed.ty) {
            if i != 0 {
                return Err(syn::Error::new(
                    typed.ty.span(),
                    "#[remote]: the `&mut Context` parameter must come first",
                ));
            }
            context = true;
            continue;
        }
        if let Type::Reference(r) = &*typed.ty {
            return Err(syn::Error::new(
                r.span(),
                "#[remote]: arguments travel by value (encoded with serde): take an owned type, \
                 e.g. `String` or `Vec<T>`, not a reference",
            ));
        }
        if let Type::ImplTrait(t) = &*typed.ty {
            return Err(syn::Error::new(
                t.span(),
                "#[remote]: a remote function cannot take `impl Trait`: name a concrete type",
            ));
        }
        types.push((*typed.ty).clone());
    }
    Ok(Parameters { context, types })
}

/// `&mut Context` (any path ending in `Context`, any lifetime).
fn is_context(ty: &Type) -> bool {
    let Type::Reference(r) = ty else {
        return false;
    };
    if r.mutability.is_none() {
        return false;
    }
    match &*r.elem {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Context"),
        _ => false,
    }
}

/// The return type when it is a `Result` (any path ending in `Result`): its `Err` comes back to
/// the driver as a remote error.
fn fallible_return(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    match &**ty {
        Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Result") => Some(ty),
        _ => None,
    }
}
