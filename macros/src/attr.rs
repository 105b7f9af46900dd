//! The attribute's grammar: `#[cloudport::function(<trigger> [, options])]`, parsed and validated
//! into an [`Attr`]. Every value is checked here, at compile time, by the same rules the runtime
//! applies, and every mistake is reported at its own token.

use std::str::FromStr;

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Meta, Path, Token};

/// Longest portable function name (`cloudport::function::MAX_FUNCTION_NAME_LEN`).
const MAX_NAME_LEN: usize = 64;

const TRIGGERS: &str = "`http`, `queue = \"...\"`, `blob = \"...\"` or `schedule = \"...\"`";
const TRIGGER_KEYS: [&str; 4] = ["http", "queue", "blob", "schedule"];
const OPTION_KEYS: [&str; 6] = ["name", "timeout", "concurrency", "batch_size", "max_deliveries", "service"];
const OPTIONS: &str = "`name`, `timeout`, `concurrency`, `batch_size`, `max_deliveries`, `service`";

/// What starts the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// `http`; with `service`, the fn returns a tower service.
    Http {
        /// `http, service`.
        service: bool,
    },
    /// `queue = "jobs"`.
    Queue(String),
    /// `blob = "uploads/"`.
    Blob(String),
    /// `schedule = "0 */5 * * * *"`, already parsed once.
    Schedule(String),
    /// No trigger: invoked directly with JSON.
    Invoke,
}

impl Trigger {
    /// How messages call this trigger.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Http { service: false } => "http functions",
            Self::Http { service: true } => "http service functions",
            Self::Queue(_) => "queue functions",
            Self::Blob(_) => "blob functions",
            Self::Schedule(_) => "schedule functions",
            Self::Invoke => "invoked functions",
        }
    }
}

/// A validated attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    /// The trigger.
    pub(crate) trigger: Trigger,
    /// `name = "..."`, validated; `None` means the fn's identifier.
    pub(crate) name: Option<String>,
    /// `timeout = "..."`, in milliseconds.
    pub(crate) timeout_ms: Option<u64>,
    /// `concurrency = N`.
    pub(crate) concurrency: Option<usize>,
    /// `batch_size = N` (queue only).
    pub(crate) batch_size: Option<usize>,
    /// `max_deliveries = N` (queue only).
    pub(crate) max_deliveries: Option<u32>,
}

/// Parses and validates the attribute's tokens. All mistakes come back together, each at its
/// token.
pub(crate) fn parse(tokens: TokenStream) -> Result<Attr, syn::Error> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut errors = Errors::default();
    let mut trigger: Option<(Trigger, Path)> = None;
    let mut service: Option<Path> = None;
    let mut seen: Vec<Path> = Vec::new();
    let mut attr = Attr {
        trigger: Trigger::Invoke,
        name: None,
        timeout_ms: None,
        concurrency: None,
        batch_size: None,
        max_deliveries: None,
    };
    // Queue-only options given so far, checked once the trigger is known.
    let mut queue_only: Vec<Path> = Vec::new();
    // Set by an unknown key or a trigger with a bad value: the intended trigger is then unknown,
    // and options are not judged against a guess.
    let mut unsure = false;

    for meta in metas {
        let path = meta.path().clone();
        let Some(key) = path.get_ident().map(ToString::to_string) else {
            unsure = true;
            errors.push(syn::Error::new_spanned(
                &path,
                format!("unknown trigger or option (triggers: {TRIGGERS}; options: {OPTIONS})"),
            ));
            continue;
        };
        if seen.iter().any(|p| p.is_ident(&key)) {
            errors.push(syn::Error::new_spanned(&path, format!("`{key}` is given twice")));
            continue;
        }
        let new_trigger = match key.as_str() {
            "http" => flag(&meta, &key).map(|()| Some(Trigger::Http { service: false })),
            "queue" => string(&meta, &key, "\"jobs\"").and_then(|lit| {
                if lit.value().is_empty() {
                    Err(syn::Error::new_spanned(&lit, "the queue name is empty (name the queue: `queue = \"jobs\"`)"))
                } else {
                    Ok(Some(Trigger::Queue(lit.value())))
                }
            }),
            "blob" => string(&meta, &key, "\"uploads/\"").map(|lit| Some(Trigger::Blob(lit.value()))),
            "schedule" => string(&meta, &key, "\"0 */5 * * * *\"").and_then(|lit| {
                check_cron(&lit.value()).map_err(|e| syn::Error::new_spanned(&lit, e))?;
                Ok(Some(Trigger::Schedule(lit.value())))
            }),
            "service" => flag(&meta, &key).map(|()| {
                service = Some(path.clone());
                None
            }),
            "name" => string(&meta, &key, "\"my-function\"").and_then(|lit| {
                check_name(&lit.value()).map_err(|e| syn::Error::new_spanned(&lit, e))?;
                attr.name = Some(lit.value());
                Ok(None)
            }),
            "timeout" => string(&meta, &key, "\"30s\"").and_then(|lit| {
                attr.timeout_ms = Some(parse_duration_ms(&lit.value()).map_err(|e| syn::Error::new_spanned(&lit, e))?);
                Ok(None)
            }),
            "concurrency" => positive::<usize>(&meta, &key, "usize").map(|n| {
                attr.concurrency = Some(n);
                None
            }),
            "batch_size" => positive::<usize>(&meta, &key, "usize").map(|n| {
                attr.batch_size = Some(n);
                queue_only.push(path.clone());
                None
            }),
            "max_deliveries" => positive::<u32>(&meta, &key, "u32").map(|n| {
                attr.max_deliveries = Some(n);
                queue_only.push(path.clone());
                None
            }),
            _ => {
                unsure = true;
                let hint = suggest(&key).map(|k| format!("did you mean `{k}`? ")).unwrap_or_default();
                Err(syn::Error::new_spanned(
                    &path,
                    format!("unknown trigger or option `{key}` ({hint}triggers: {TRIGGERS}; options: {OPTIONS})"),
                ))
            }
        };
        seen.push(path.clone());
        match new_trigger {
            Ok(Some(new)) => match &trigger {
                Some((_, first)) => errors.push(syn::Error::new_spanned(
                    &path,
                    format!(
                        "a function has one trigger, and this one already has `{}`: make `{key}` a separate function",
                        first.get_ident().map(ToString::to_string).unwrap_or_default()
                    ),
                )),
                None => trigger = Some((new, path)),
            },
            Ok(None) => {}
            Err(e) => {
                unsure |= TRIGGER_KEYS.contains(&key.as_str());
                errors.push(e);
            }
        }
    }
    if unsure {
        return Err(errors.finish().expect_err("an unknown key or a bad trigger is an error"));
    }

    attr.trigger = trigger.map_or(Trigger::Invoke, |(t, _)| t);
    if let Some(service) = service {
        match &mut attr.trigger {
            Trigger::Http { service: flag } => *flag = true,
            other => errors.push(syn::Error::new_spanned(
                &service,
                format!(
                    "`service` goes with the `http` trigger (`#[cloudport::function(http, service)]`), not with {}",
                    other.describe()
                ),
            )),
        }
    }
    if !matches!(attr.trigger, Trigger::Queue(_)) {
        for path in &queue_only {
            let key = path.get_ident().map(ToString::to_string).unwrap_or_default();
            errors.push(syn::Error::new_spanned(
                path,
                format!("`{key}` is an option of queue functions, not of {}", attr.trigger.describe()),
            ));
        }
    }
    errors.finish().map(|()| attr)
}

/// The known key closest to a misspelt `key`, if it is close.
fn suggest(key: &str) -> Option<&'static str> {
    TRIGGER_KEYS
        .into_iter()
        .chain(OPTION_KEYS)
        .map(|known| (edit_distance(key, known), known))
        .filter(|(distance, known)| *distance <= known.len() / 3)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Mistakes collected so far.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds a mistake.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds the mistakes of `result`, if any.
    pub(crate) fn take<T>(&mut self, result: Result<T, syn::Error>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// `Ok` when nothing was pushed.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A key without a value: `http`.
fn flag(meta: &Meta, key: &str) -> Result<(), syn::Error> {
    match meta {
        Meta::Path(_) => Ok(()),
        Meta::List(_) => Err(syn::Error::new_spanned(meta, format!("`{key}` takes no arguments"))),
        Meta::NameValue(nv) => {
            Err(syn::Error::new_spanned(&nv.value, format!("`{key}` takes no value: write just `{key}`")))
        }
    }
}

/// The literal of `key = <lit>`.
fn literal<'a>(meta: &'a Meta, key: &str, example: &str) -> Result<&'a Expr, syn::Error> {
    match meta {
        Meta::NameValue(nv) => Ok(&nv.value),
        _ => Err(syn::Error::new_spanned(meta, format!("`{key}` needs a value: `{key} = {example}`"))),
    }
}

/// A string value: `key = "..."`.
fn string(meta: &Meta, key: &str, example: &str) -> Result<LitStr, syn::Error> {
    match literal(meta, key, example)? {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit.clone()),
        other => Err(syn::Error::new_spanned(other, format!("`{key}` takes a string literal: `{key} = {example}`"))),
    }
}

/// A positive integer value: `key = 8`.
fn positive<T>(meta: &Meta, key: &str, ty: &str) -> Result<T, syn::Error>
where
    T: FromStr + PartialEq + Default,
    T::Err: std::fmt::Display,
{
    let lit: &LitInt = match literal(meta, key, "8")? {
        Expr::Lit(ExprLit { lit: Lit::Int(lit), .. }) => lit,
        other => return Err(syn::Error::new_spanned(other, format!("`{key}` takes an integer literal: `{key} = 8`"))),
    };
    if !lit.suffix().is_empty() && lit.suffix() != ty {
        return Err(syn::Error::new_spanned(lit, format!("`{key}` is a `{ty}`, not a `{}`", lit.suffix())));
    }
    let value: T = lit
        .base10_parse()
        .map_err(|e| syn::Error::new_spanned(lit, format!("`{key}` does not fit in a `{ty}`: {e}")))?;
    if value == T::default() {
        return Err(syn::Error::new_spanned(lit, format!("`{key}` must be at least 1")));
    }
    Ok(value)
}

/// Checks a function name the way `Function::validate` does at run time.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "function name {name:?} is not portable (use 1 to {MAX_NAME_LEN} ASCII letters, digits, `_` or `-`, starting with a letter)"
        ))
    }
}

/// Parses a cron expression with the runtime's parser (`cloudport::function::Schedule::parse`)
/// and frames its error the same way. The parser's message draws a caret under the expression,
/// which cannot line up inside a compiler message, so only its words are kept, or, when it has
/// none, what the caret pointed at.
pub(crate) fn check_cron(expression: &str) -> Result<(), String> {
    <cron::Schedule as FromStr>::from_str(expression).map(drop).map_err(|e| {
        format!(
            "invalid cron expression {expression:?}: {} (expected 6 or 7 fields: sec min hour day-of-month month day-of-week [year])",
            cron_detail(expression, &e.to_string())
        )
    })
}

/// The useful part of a `cron` parse error: `<expression>\n<caret>\n[<words>]`.
fn cron_detail(expression: &str, message: &str) -> String {
    const FIELDS: [&str; 7] = ["seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year"];
    let mut lines = message.lines();
    let (Some(_), Some(caret)) = (lines.next(), lines.next()) else { return message.trim().to_owned() };
    let words = lines.map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    if !words.is_empty() {
        return words;
    }
    let fields: Vec<(usize, &str)> = expression
        .split(' ')
        .scan(0, |start, field| {
            let at = *start;
            *start += field.len() + 1;
            Some((at, field))
        })
        .filter(|(_, field)| !field.is_empty())
        .collect();
    match fields.len() {
        0 => "it is empty".to_owned(),
        n @ (1..=5 | 8..) => format!("it has {n} field{}", if n == 1 { "" } else { "s" }),
        _ => {
            let column = caret.find('^').unwrap_or(0);
            let index = fields.iter().rposition(|(start, _)| *start <= column).unwrap_or(0);
            format!("its {} field `{}` is out of range or malformed", FIELDS[index], fields[index].1)
        }
    }
}

/// Converts `500ms`, `30s` or `5m` to milliseconds.
pub(crate) fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let invalid = |why: &str| {
        format!(
            "invalid timeout {text:?}: {why} (write an integer followed by `ms`, `s` or `m`, like \"500ms\", \"30s\" or \"5m\")"
        )
    };
    let (digits, per_unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        return Err(invalid("no unit"));
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("not a whole number"));
    }
    let ms = digits.parse::<u64>().ok().and_then(|n| n.checked_mul(per_unit)).ok_or_else(|| invalid("too long"))?;
    if ms == 0 {
        return Err(invalid("a timeout must be longer than zero"));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn ok(tokens: TokenStream) -> Attr {
        parse(tokens).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(tokens: TokenStream) -> Vec<String> {
        parse(tokens).expect_err("expected an error").into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("htp"), Some("http"));
        assert_eq!(suggest("htttp"), Some("http"));
        assert_eq!(suggest("batchsize"), Some("batch_size"));
        assert_eq!(suggest("max_delivery"), Some("max_deliveries"));
        assert_eq!(suggest("timout"), Some("timeout"));
        assert_eq!(suggest("cron"), None);
        assert_eq!(suggest("x"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("1ms"), Ok(1));
        for bad in
            ["", "30", "s", "ms", "-1s", "1.5s", " 1s", "1 s", "1h", "0s", "0ms", "1sec", "99999999999999999999s"]
        {
            let e = parse_duration_ms(bad).expect_err(bad);
            assert!(e.starts_with(&format!("invalid timeout {bad:?}")), "{e}");
        }
        assert!(parse_duration_ms("0m").unwrap_err().contains("longer than zero"));
        assert!(parse_duration_ms(&format!("{}m", u64::MAX / 1000)).unwrap_err().contains("too long"));
    }

    #[test]
    fn names() {
        for good in ["a", "work", "count-words", "count_words", "A1", &"x".repeat(64)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in ["", "_private", "1st", "-x", "has space", "dot.ted", "ünï", &"x".repeat(65)] {
            assert!(check_name(bad).unwrap_err().contains("is not portable"), "{bad}");
        }
    }

    #[test]
    fn cron_expressions_use_the_runtime_parser() {
        assert_eq!(check_cron("0 */5 * * * *"), Ok(()));
        assert_eq!(check_cron("0 0 9 * * Mon-Fri 2030"), Ok(()));
        let e = check_cron("*/5 * * * *").unwrap_err();
        assert!(e.starts_with("invalid cron expression \"*/5 * * * *\": "), "{e}");
        assert!(e.ends_with("(expected 6 or 7 fields: sec min hour day-of-month month day-of-week [year])"), "{e}");
        let e = check_cron("0 61 * * * *").unwrap_err();
        assert!(e.starts_with("invalid cron expression \"0 61 * * * *\": Minutes must be less than 59."), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn cron_details() {
        assert_eq!(cron_detail("*/5 * * * *", "*/5 * * * *\n           ^\n"), "it has 5 fields");
        assert_eq!(cron_detail("0 0 0 * * * * *", "0 0 0 * * * * *\n              ^\n"), "it has 8 fields");
        assert_eq!(cron_detail("", "\n^\n"), "it is empty");
        assert_eq!(cron_detail("x", "x\n^\n"), "it has 1 field");
        assert_eq!(
            cron_detail("0 0 0 * * * 1969", "0 0 0 * * * 1969\n            ^\n"),
            "its year field `1969` is out of range or malformed"
        );
        assert_eq!(
            cron_detail("0  1 * * * *", "0  1 * * * *\n   ^\n"),
            "its minutes field `1` is out of range or malformed"
        );
        assert_eq!(
            cron_detail("0 5-1 * * * *", "0 5-1 * * * *\n  ^\nInvalid range for Minutes: 5-1"),
            "Invalid range for Minutes: 5-1"
        );
        assert_eq!(cron_detail("x", "something else"), "something else");
        for expression in ["*/5 * * * *", "0 0 0 * * * 1969", "every five minutes", "0 */0 * * * *", "0 0 0 * * Mun"] {
            let e = check_cron(expression).unwrap_err();
            assert!(!e.contains('\n') && !e.contains(": (") && !e.contains("^"), "{e}");
        }
    }

    #[test]
    fn triggers() {
        assert_eq!(ok(quote!()).trigger, Trigger::Invoke);
        assert_eq!(ok(quote!(http)).trigger, Trigger::Http { service: false });
        assert_eq!(ok(quote!(http, service)).trigger, Trigger::Http { service: true });
        assert_eq!(ok(quote!(service, http,)).trigger, Trigger::Http { service: true });
        assert_eq!(ok(quote!(queue = "jobs")).trigger, Trigger::Queue("jobs".into()));
        assert_eq!(ok(quote!(blob = "")).trigger, Trigger::Blob(String::new()));
        assert_eq!(ok(quote!(schedule = "0 */5 * * * *")).trigger, Trigger::Schedule("0 */5 * * * *".into()));
    }

    #[test]
    fn options() {
        let attr = ok(quote!(
            queue = "jobs",
            name = "count-words",
            timeout = "5m",
            concurrency = 8,
            batch_size = 10,
            max_deliveries = 3
        ));
        assert_eq!(
            attr,
            Attr {
                trigger: Trigger::Queue("jobs".into()),
                name: Some("count-words".into()),
                timeout_ms: Some(300_000),
                concurrency: Some(8),
                batch_size: Some(10),
                max_deliveries: Some(3),
            }
        );
        let attr = ok(quote!(name = "add", concurrency = 2usize));
        assert_eq!((attr.trigger, attr.name.as_deref(), attr.concurrency), (Trigger::Invoke, Some("add"), Some(2)));
        assert_eq!(ok(quote!(http, service, timeout = "250ms")).timeout_ms, Some(250));
    }

    #[test]
    fn mistakes_are_reported_one_each() {
        assert_eq!(
            errors(quote!(htp)),
            [format!(
                "unknown trigger or option `htp` (did you mean `http`? triggers: {TRIGGERS}; options: {OPTIONS})"
            )]
        );
        assert_eq!(
            errors(quote!(frobnicate)),
            [format!("unknown trigger or option `frobnicate` (triggers: {TRIGGERS}; options: {OPTIONS})")]
        );
        assert_eq!(
            errors(quote!(http, queue = "jobs")),
            ["a function has one trigger, and this one already has `http`: make `queue` a separate function"]
        );
        assert_eq!(
            errors(quote!(http, batch_size = 10)),
            ["`batch_size` is an option of queue functions, not of http functions"]
        );
        assert_eq!(
            errors(quote!(max_deliveries = 3)),
            ["`max_deliveries` is an option of queue functions, not of invoked functions"]
        );
        assert_eq!(
            errors(quote!(blob = "x/", service)),
            [
                "`service` goes with the `http` trigger (`#[cloudport::function(http, service)]`), not with blob functions"
            ]
        );
        assert_eq!(errors(quote!(queue = "")), ["the queue name is empty (name the queue: `queue = \"jobs\"`)"]);
        assert_eq!(errors(quote!(http, timeout = "30")).len(), 1);
        assert_eq!(errors(quote!(http, timeout = 30)), ["`timeout` takes a string literal: `timeout = \"30s\"`"]);
        assert_eq!(errors(quote!(http = "x")), ["`http` takes no value: write just `http`"]);
        assert_eq!(errors(quote!(http(x))), ["`http` takes no arguments"]);
        assert_eq!(errors(quote!(queue)), ["`queue` needs a value: `queue = \"jobs\"`"]);
        assert_eq!(errors(quote!(http, concurrency = 0)), ["`concurrency` must be at least 1"]);
        assert_eq!(errors(quote!(http, concurrency = 8u8)), ["`concurrency` is a `usize`, not a `u8`"]);
        assert_eq!(errors(quote!(queue = "q", max_deliveries = 5000000000)).len(), 1);
        assert_eq!(errors(quote!(http, name = "a", name = "b")), ["`name` is given twice"]);
        assert!(errors(quote!(http, name = "_x"))[0].contains("is not portable"));
        assert!(errors(quote!(schedule = "0 61 * * * *"))[0].starts_with("invalid cron expression \"0 61 * * * *\": "));
        assert_eq!(errors(quote!(cloudport::http)).len(), 1);
        // Independent mistakes are all reported, in order.
        assert_eq!(errors(quote!(http, timeout = "1h", batch_size = 10, concurrency = 0)).len(), 3);
        // When the trigger is unclear, options are not judged against a guess of it.
        assert_eq!(errors(quote!(queu = "jobs", batch_size = 10)).len(), 1);
        assert_eq!(errors(quote!(queue = "", batch_size = 10)).len(), 1);
        assert_eq!(errors(quote!(htttp, service)).len(), 1);
        assert_eq!(errors(quote!(http = "x", service)).len(), 1);
        assert_eq!(errors(quote!(htttp, timeout = "1h")).len(), 2);
        assert!(parse(quote!(http,, queue)).is_err());
    }
}
