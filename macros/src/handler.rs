//! `#[cloudport::function]` on a fn: check the signature, then emit the fn exactly as written
//! plus a thin registration. All behaviour lives in `cloudport`; the expansion only names types
//! for the compile-time checks and calls one `Function` constructor.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Attribute, FnArg, Ident, ItemFn, ReturnType, Signature, Type};

use crate::attr::{self, Attr, Errors, Trigger};

/// The environment variable that makes the macro print its expansions to stderr.
const DEBUG_VAR: &str = "CLOUDPORT_MACROS_DEBUG";

/// Expands `#[cloudport::function(<attr>)] <item>`. Never fails: mistakes become compile errors
/// next to the unchanged item.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let expanded = expand_function(attr, item);
    if std::env::var_os(DEBUG_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
        eprintln!("// #[cloudport::function] expansion ({DEBUG_VAR}):\n{expanded}\n");
    }
    expanded
}

fn expand_function(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[cloudport::function]` goes on an `async fn` (or, with `http, service`, on a `fn` returning a tower service)",
            );
            return with_errors(item, error);
        }
    };
    let mut errors = Errors::default();
    let attr = errors.take(attr::parse(attr));
    let checked = match &attr {
        Some(attr) => {
            let handler = errors.take(Handler::check(&func.sig, &attr.trigger));
            let name = match &attr.name {
                Some(name) => Some(name.clone()),
                None => errors.take(default_name(&func.sig.ident)),
            };
            handler.zip(name)
        }
        // Most signature rules depend on the trigger: without one, check only the others, so
        // that a wrong attribute does not also make a right signature look wrong.
        None => {
            check_common(&func.sig, &mut errors);
            None
        }
    };
    match (errors.finish(), attr, checked) {
        (Ok(()), Some(attr), Some((handler, name))) => registration(item, &func, &attr, &handler, &name),
        (result, ..) => {
            let error = result.expect_err("a part is missing only after an error");
            let mut tokens = with_errors(item, error);
            if !has_receiver(&func.sig) {
                tokens.extend(fallback(&func));
            }
            tokens
        }
    }
}

/// The item unchanged, followed by the errors.
fn with_errors(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut tokens = item;
    tokens.extend(error.into_compile_error());
    tokens
}

fn has_receiver(sig: &Signature) -> bool {
    sig.inputs.iter().any(|arg| matches!(arg, FnArg::Receiver(_)))
}

/// The fn's identifier as a function name (`r#type` is `type`), checked for portability.
fn default_name(ident: &Ident) -> Result<String, syn::Error> {
    let name = ident.unraw().to_string();
    attr::check_name(&name).map_err(|e| {
        syn::Error::new_spanned(ident, format!("{e}: rename the fn or give the function a portable `name = \"...\"`"))
    })?;
    Ok(name)
}

/// The argument and return types of a valid signature.
struct Handler<'a> {
    /// The trigger input; `None` for `service` fns.
    input: Option<&'a Type>,
    /// The optional `Context` argument.
    context: Option<&'a Type>,
    /// The return type.
    output: &'a Type,
}

impl<'a> Handler<'a> {
    /// Checks `sig` against the rules of every function and those of `trigger`.
    fn check(sig: &'a Signature, trigger: &Trigger) -> Result<Self, syn::Error> {
        let service = matches!(trigger, Trigger::Http { service: true });
        let shape = Shape::of(trigger);
        let mut errors = Errors::default();
        check_common(sig, &mut errors);

        match (&sig.asyncness, service) {
            (None, false) => errors.push(syn::Error::new_spanned(
                sig.fn_token,
                format!(
                    "cloudport functions are `async fn`s: `async fn {}{}`{}",
                    sig.ident, shape.example, shape.not_async_hint
                ),
            )),
            (Some(asyncness), true) => errors.push(syn::Error::new_spanned(
                asyncness,
                "an `http, service` function is a plain `fn` that builds and returns the service: remove `async`",
            )),
            _ => {}
        }

        let typed: Vec<&FnArg> = sig.inputs.iter().filter(|arg| matches!(arg, FnArg::Typed(_))).collect();
        if service {
            if !typed.is_empty() {
                errors.push(syn::Error::new_spanned(
                    quote!(#(#typed),*),
                    "an `http, service` function takes no arguments: it builds and returns the service",
                ));
            }
        } else if typed.is_empty() && !has_receiver(sig) {
            errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                format!(
                    "a cloudport function takes {} and, optionally, a `Context`: `async fn {}{}`",
                    shape.input, sig.ident, shape.example
                ),
            ));
        } else if typed.len() > 2 {
            let extra = &typed[2..];
            errors.push(syn::Error::new_spanned(
                quote!(#(#extra),*),
                format!(
                    "too many arguments: a cloudport function takes {} and, optionally, a `Context`: `async fn {}{}`",
                    shape.input, sig.ident, shape.example
                ),
            ));
        }

        let output = match &sig.output {
            ReturnType::Type(_, ty) => {
                if !service && !is_result(ty) {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        format!(
                            "a cloudport function returns `Result<T, E>` with `E: Into<cloudport::Error>`, like `{}`",
                            shape.result
                        ),
                    ));
                }
                Some(&**ty)
            }
            ReturnType::Default => {
                errors.push(syn::Error::new(
                    sig.paren_token.span.close(),
                    if service {
                        "missing return type: an `http, service` function returns the service, like `-> axum::Router`"
                            .to_owned()
                    } else {
                        format!(
                            "missing return type: a cloudport function returns `Result<T, E>` with `E: Into<cloudport::Error>`, like `-> {}`",
                            shape.result
                        )
                    },
                ));
                None
            }
        };

        errors.finish()?;
        let output = output.expect("no return type is an error");
        let mut types = sig.inputs.iter().filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(&*typed.ty),
            FnArg::Receiver(_) => None,
        });
        Ok(if service {
            Self { input: None, context: None, output }
        } else {
            Self { input: types.next(), context: types.next(), output }
        })
    }
}

/// The rules that hold whatever the trigger.
fn check_common(sig: &Signature, errors: &mut Errors) {
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(unsafety, "cloudport functions cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(abi, "cloudport functions cannot have an `extern` ABI"));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "cloudport functions cannot be generic: the host needs concrete input and output types",
        ));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            "cloudport functions cannot have a `where` clause: the host needs concrete input and output types",
        ));
    }
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                "cloudport functions are free functions: `self` is not supported (move the fn out of the `impl`)",
            )),
            FnArg::Typed(typed) => {
                if let Type::ImplTrait(ty) = &*typed.ty {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        "`impl Trait` arguments make the function generic: name the concrete type",
                    ));
                }
            }
        }
    }
}

/// Whether `ty` is syntactically a `Result`: a path whose last segment is `Result`.
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path.qself.is_none() && path.path.segments.last().is_some_and(|s| s.ident == "Result"),
        Type::Group(group) => is_result(&group.elem),
        Type::Paren(paren) => is_result(&paren.elem),
        _ => false,
    }
}

/// Words for messages about a trigger's handler signature.
struct Shape {
    /// What the first argument is.
    input: &'static str,
    /// A signature after `async fn <name>`.
    example: &'static str,
    /// The usual return type.
    result: &'static str,
    /// Appended to "must be async" messages.
    not_async_hint: &'static str,
}

impl Shape {
    fn of(trigger: &Trigger) -> Self {
        let (input, example, result) = match trigger {
            Trigger::Http { .. } => (
                "an `HttpRequest`",
                "(req: HttpRequest, ctx: Context) -> Result<HttpResponse, Error>",
                "Result<HttpResponse, cloudport::Error>",
            ),
            Trigger::Queue(_) => (
                "a `QueueBatch<T>`",
                "(batch: QueueBatch<Job>, ctx: Context) -> Result<BatchOutcome, Error>",
                "Result<BatchOutcome, cloudport::Error>",
            ),
            Trigger::Blob(_) => (
                "a `BlobEvent`",
                "(event: BlobEvent, ctx: Context) -> Result<(), Error>",
                "Result<(), cloudport::Error>",
            ),
            Trigger::Schedule(_) => (
                "a `ScheduleTick`",
                "(tick: ScheduleTick, ctx: Context) -> Result<(), Error>",
                "Result<(), cloudport::Error>",
            ),
            Trigger::Invoke => (
                "its JSON input",
                "(input: Input, ctx: Context) -> Result<Output, Error>",
                "Result<Output, cloudport::Error>",
            ),
        };
        let not_async_hint = match trigger {
            Trigger::Http { .. } => {
                " (to serve an axum `Router` or another tower service, put `#[cloudport::function(http, service)]` on a plain `fn` returning it)"
            }
            _ => "",
        };
        Self { input, example, result, not_async_hint }
    }
}

/// The compile-time checks and the constructor for a valid function.
fn registration(item: TokenStream, func: &ItemFn, attr: &Attr, handler: &Handler<'_>, name: &str) -> TokenStream {
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let mut body = TokenStream::new();

    let checks = match &attr.trigger {
        Trigger::Http { service: false } => Some((quote!(http_input), quote!(http_output))),
        Trigger::Http { service: true } => None,
        Trigger::Queue(_) => Some((quote!(queue_input), quote!(queue_output))),
        Trigger::Blob(_) => Some((quote!(blob_input), quote!(unit_output))),
        Trigger::Schedule(_) => Some((quote!(schedule_input), quote!(unit_output))),
        Trigger::Invoke => Some((quote!(json_input), quote!(json_output))),
    };
    // The argument checks pass the handler through: when one fails, the handler's type becomes
    // an error type and rustc does not report the same mistake again at the constructor.
    if let Some((input_check, output_check)) = checks {
        body.extend(quote!(let handler = #ident;));
        if let Some(input) = handler.input {
            body.extend(pass_through(&input_check, input.to_token_stream()));
        }
        if let Some(context) = handler.context {
            body.extend(pass_through(&quote!(context), context.to_token_stream()));
        }
        let output = handler.output;
        body.extend(check(&quote!(result), output.to_token_stream()));
        let (first, last) = spans(output.to_token_stream());
        let ok = quote_spanned!(first=> <#output as ::cloudport::__private::check::HandlerResult);
        let ok = quote_spanned!(last=> #ok>::Ok);
        body.extend(check(&output_check, ok));
    }

    let function = quote!(::cloudport::function::Function);
    // Spanned at the fn's name, so an error about the handler as a whole points there.
    let handler_arg = quote_spanned!(ident.span()=> handler);
    let constructor = match &attr.trigger {
        Trigger::Http { service: false } => quote!(#function::http(#name, #handler_arg)),
        Trigger::Http { service: true } => {
            let (first, last) = spans(handler.output.to_token_stream());
            let call = quote_spanned!(last=> #ident());
            quote_spanned!(first=> #function::http_service(#name, #call))
        }
        Trigger::Queue(queue) => quote!(#function::queue(#name, #queue, #handler_arg)),
        Trigger::Blob(prefix) => quote!(#function::blob(#name, #prefix, #handler_arg)),
        Trigger::Schedule(expression) => {
            quote!(#function::schedule(#name, ::cloudport::__private::schedule(#expression), #handler_arg))
        }
        Trigger::Invoke => quote!(#function::json(#name, #handler_arg)),
    };
    body.extend(constructor);
    if let Some(ms) = attr.timeout_ms {
        body.extend(quote!(.with_timeout(::cloudport::__private::millis(#ms))));
    }
    if let Some(n) = attr.concurrency {
        body.extend(quote!(.with_concurrency(#n)));
    }
    if let Some(n) = attr.batch_size {
        body.extend(quote!(.with_batch_size(#n)));
    }
    if let Some(n) = attr.max_deliveries {
        body.extend(quote!(.with_max_deliveries(#n)));
    }

    let (struct_doc, fn_doc) = docs(ident, Some(name));
    let cfgs = cfgs(func);
    quote! {
        #item

        #(#cfgs)*
        #[doc = #struct_doc]
        #[allow(non_camel_case_types)]
        #vis struct #ident {}

        #(#cfgs)*
        impl #ident {
            #[doc = #fn_doc]
            #[allow(deprecated)]
            #vis fn function() -> ::cloudport::function::Function {
                #body
            }
        }

        #(#cfgs)*
        const _: () = {
            #[::cloudport::__private::linkme::distributed_slice(::cloudport::__private::FUNCTIONS)]
            #[linkme(crate = ::cloudport::__private::linkme)]
            static REGISTRATION: fn() -> ::cloudport::function::Function = #ident::function;
        };
    }
}

/// The fn's `#[cfg]`s that come after the attribute, for the items generated beside it: a fn
/// compiled out takes its registration with it.
fn cfgs(func: &ItemFn) -> Vec<&Attribute> {
    func.attrs.iter().filter(|a| a.path().is_ident("cfg")).collect()
}

/// `::cloudport::__private::check::<check>::<ty>();`, spanned at `ty` so a failing check is
/// reported at the user's type.
fn check(check: &TokenStream, ty: TokenStream) -> TokenStream {
    let (first, last) = spans(ty.clone());
    let path = quote_spanned!(first=> ::cloudport::__private::check::#check::<#ty);
    quote_spanned!(last=> #path>();)
}

/// `let handler = ::cloudport::__private::check::<check>::<ty, _>(handler);`, spanned at `ty`.
fn pass_through(check: &TokenStream, ty: TokenStream) -> TokenStream {
    let (first, last) = spans(ty.clone());
    let path = quote_spanned!(first=> ::cloudport::__private::check::#check::<#ty);
    let call = quote_spanned!(last=> #path, _>(handler));
    quote_spanned!(first=> let handler = #call;)
}

/// The spans of the first and last tokens of `tokens`.
fn spans(tokens: TokenStream) -> (Span, Span) {
    let mut iter = tokens.into_iter();
    let first = iter.next().map_or_else(Span::call_site, |t| t.span());
    let last = iter.last().map_or(first, |t| t.span());
    (first, last)
}

/// The docs of the registration struct and its `function()`.
fn docs(ident: &Ident, registered: Option<&str>) -> (String, String) {
    let name = ident.unraw().to_string();
    // A link to `fn@name` would not resolve for raw identifiers, which are keywords.
    let link =
        if ident.to_string().starts_with("r#") { format!("`{ident}`") } else { format!("[`{name}`](fn@{name})") };
    (
        format!(
            "The cloudport registration of {link}: `{ident}::function()` builds its [`Function`](cloudport::function::Function)."
        ),
        match registered {
            Some(registered) => format!("Builds the cloudport function {registered:?} for `{ident}`."),
            None => format!("Builds the cloudport function for `{ident}`."),
        },
    )
}

/// After an error: a registration struct whose `function()` never runs, so code naming
/// `work::function()` adds no second error to the first.
fn fallback(func: &ItemFn) -> TokenStream {
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let (struct_doc, fn_doc) = docs(ident, None);
    let cfgs = cfgs(func);
    quote! {
        #(#cfgs)*
        #[doc = #struct_doc]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        #(#cfgs)*
        impl #ident {
            #[doc = #fn_doc]
            #vis fn function() -> ::cloudport::function::Function {
                ::core::unreachable!()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn expand_ok(attr: TokenStream, item: TokenStream) -> String {
        let text = expand_function(attr, item).to_string();
        assert!(!text.contains("compile_error"), "{text}");
        text
    }

    /// The messages of the `compile_error!`s in an expansion.
    fn errors(attr: TokenStream, item: TokenStream) -> Vec<String> {
        let file: syn::File = syn::parse2(expand_function(attr, item)).expect("the expansion parses");
        let mut messages = Vec::new();
        for item in file.items {
            if let syn::Item::Macro(m) = item
                && m.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error")
            {
                messages.push(m.mac.parse_body::<syn::LitStr>().unwrap().value());
            }
        }
        messages
    }

    #[test]
    fn default_names_drop_raw_prefixes_and_must_be_portable() {
        assert_eq!(default_name(&parse_quote!(work)).unwrap(), "work");
        assert_eq!(default_name(&parse_quote!(r#type)).unwrap(), "type");
        assert!(default_name(&parse_quote!(_work)).unwrap_err().to_string().contains("is not portable"));
    }

    #[test]
    fn results_are_recognised_by_their_last_segment() {
        let results: [Type; 3] = [
            parse_quote!(Result<(), Error>),
            parse_quote!(cloudport::Result<()>),
            parse_quote!(std::result::Result<T, E>),
        ];
        for ty in results {
            assert!(is_result(&ty));
        }
        let others: [Type; 4] =
            [parse_quote!(String), parse_quote!(Option<()>), parse_quote!(<X as Y>::Result), parse_quote!(())];
        for ty in others {
            assert!(!is_result(&ty));
        }
    }

    #[test]
    fn expansion_shape() {
        let out = expand_ok(
            quote! { queue = "jobs", concurrency = 4, timeout = "2s" },
            quote! {
                pub async fn work(batch: QueueBatch<Job>, ctx: Context) -> Result<(), Error> { Ok(()) }
            },
        );
        let expected = [
            "pub async fn work",
            "pub struct work { }",
            "impl work",
            "pub fn function () -> :: cloudport :: function :: Function",
            "let handler = work ;",
            "let handler = :: cloudport :: __private :: check :: queue_input :: < QueueBatch < Job > , _ > (handler) ;",
            "let handler = :: cloudport :: __private :: check :: context :: < Context , _ > (handler) ;",
            ":: cloudport :: __private :: check :: result :: < Result < () , Error > > () ;",
            ":: cloudport :: __private :: check :: queue_output :: < < Result < () , Error > as :: cloudport :: __private :: check :: HandlerResult > :: Ok > () ;",
            ":: cloudport :: function :: Function :: queue (\"work\" , \"jobs\" , handler) . with_timeout (:: cloudport :: __private :: millis (2000u64)) . with_concurrency (4usize)",
            "static REGISTRATION : fn () -> :: cloudport :: function :: Function = work :: function ;",
        ];
        for part in expected {
            assert!(out.contains(part), "missing {part:?} in {out}");
        }
        let out = expand_ok(quote! { http }, quote! { async fn f(r: R) -> Result<A, B> {} });
        assert!(out.contains("http_input") && !out.contains("check :: context"), "{out}");
    }

    #[test]
    fn cfgs_follow_the_fn() {
        let out = expand_ok(
            quote! { http },
            quote! {
                #[cfg(feature = "x")]
                #[inline]
                async fn f(r: R) -> Result<A, B> {}
            },
        );
        assert_eq!(out.matches("# [cfg (feature = \"x\")]").count(), 4, "{out}");
        assert_eq!(out.matches("# [inline]").count(), 1, "{out}");
        let out = expand_function(quote! { htp }, quote! { #[cfg(test)] async fn f(r: R) -> Result<A, B> {} });
        assert_eq!(out.to_string().matches("# [cfg (test)]").count(), 3, "{out}");
    }

    #[test]
    fn constructors_per_trigger() {
        let function = ":: cloudport :: function :: Function ::";
        let cases = [
            (quote! { http }, format!("{function} http (\"f\" , handler)")),
            (quote! { blob = "up/" }, format!("{function} blob (\"f\" , \"up/\" , handler)")),
            (
                quote! { schedule = "0 * * * * *" },
                format!(
                    "{function} schedule (\"f\" , :: cloudport :: __private :: schedule (\"0 * * * * *\") , handler)"
                ),
            ),
            (quote! { name = "g" }, format!("{function} json (\"g\" , handler)")),
            (
                quote! { queue = "q", batch_size = 3, max_deliveries = 2 },
                ". with_batch_size (3usize) . with_max_deliveries (2u32)".to_owned(),
            ),
        ];
        for (attr, expected) in cases {
            let out = expand_ok(attr, quote! { async fn f(x: X) -> Result<Y, Error> { Ok(Y::from(x)) } });
            assert!(out.contains(&expected), "missing {expected:?} in {out}");
        }
        let out = expand_ok(quote! { http, service }, quote! { fn api() -> Router { Router::new() } });
        assert!(out.contains(&format!("{function} http_service (\"api\" , api ())")), "{out}");
        assert!(!out.contains("check ::"), "{out}");
    }

    #[test]
    fn signature_mistakes() {
        let http = quote! { http };
        let service = quote! { http, service };
        let cases = [
            (&http, quote! { fn f(r: R) -> Result<A, B> {} }, "cloudport functions are `async fn`s: `async fn f("),
            (&http, quote! { async fn f() -> Result<A, B> {} }, "a cloudport function takes an `HttpRequest` and"),
            (&http, quote! { async fn f(a: A, b: B, c: C) -> Result<A, B> {} }, "too many arguments"),
            (&http, quote! { async fn f(&self, r: R) -> Result<A, B> {} }, "`self` is not supported"),
            (&http, quote! { async fn f<T>(r: T) -> Result<A, B> {} }, "cannot be generic"),
            (&http, quote! { async fn f(r: R) -> Result<A, B> where R: Send {} }, "cannot have a `where` clause"),
            (&http, quote! { async fn f(r: impl X) -> Result<A, B> {} }, "`impl Trait` arguments"),
            (&http, quote! { async fn f(r: R) {} }, "missing return type"),
            (&http, quote! { async fn f(r: R) -> String {} }, "returns `Result<T, E>`"),
            (&http, quote! { async unsafe fn f(r: R) -> Result<A, B> {} }, "cannot be `unsafe`"),
            (&http, quote! { async extern "C" fn f(r: R) -> Result<A, B> {} }, "cannot have an `extern` ABI"),
            (&service, quote! { async fn f() -> Router {} }, "remove `async`"),
            (&service, quote! { fn f(x: X) -> Router {} }, "takes no arguments"),
            (&service, quote! { fn f() {} }, "an `http, service` function returns the service"),
        ];
        for (attr, item, expected) in cases {
            let messages = errors(attr.clone(), item);
            assert_eq!(messages.len(), 1, "{messages:?}");
            assert!(messages[0].contains(expected), "{messages:?} lacks {expected:?}");
        }
    }

    #[test]
    fn mistakes_keep_the_item_and_add_a_fallback() {
        let out = expand_function(quote! { htp }, quote! { async fn f(r: R) -> Result<A, B> { Ok(()) } }).to_string();
        assert!(out.starts_with("async fn f (r : R) -> Result < A , B > { Ok (()) }"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("struct f { }") && out.contains(":: core :: unreachable ! ()"), "{out}");
        assert!(!out.contains("REGISTRATION"), "{out}");

        // Without a valid attribute, only the rules that hold for every trigger are checked:
        // one mistake in the attribute does not make the signature look wrong too.
        assert_eq!(errors(quote! { htp }, quote! { fn f(r: R) -> Result<A, B> {} }).len(), 1);
        assert_eq!(errors(quote! { blob = "x/", service }, quote! { async fn f(e: E) -> Result<(), E> {} }).len(), 1);
        assert_eq!(errors(quote! { htp }, quote! { async fn f<T>(r: T) -> Result<A, B> {} }).len(), 2);
        assert_eq!(errors(quote! { http, service, timeout = "1" }, quote! { async fn f() -> R {} }).len(), 1);

        // The default name is checked only when it is used.
        assert_eq!(errors(quote! { http }, quote! { async fn _f(r: R) -> Result<A, B> {} }).len(), 1);
        assert_eq!(errors(quote! { http, name = "ok" }, quote! { async fn _f(r: R) -> Result<A, B> {} }).len(), 0);

        let out = expand_function(quote! { http }, quote! { struct S; }).to_string();
        assert!(out.starts_with("struct S ;") && out.contains("goes on an `async fn`"), "{out}");
        let out = expand_function(quote! { http }, quote! { async fn f(&self, r: R) -> Result<A, B> {} }).to_string();
        assert!(!out.contains("struct"), "no struct inside an impl: {out}");
    }
}
