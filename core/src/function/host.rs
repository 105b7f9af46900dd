//! Which host runs the binary's functions, detected from the environment the platform sets.

use std::fmt;

use super::function::Function;
use crate::error::{Error, Result};

/// The variable that overrides detection: `local`, `lambda`, `azure`, `http` or `openwhisk`.
pub const HOST_ENV: &str = "CLOUDPORT_HOST";

/// The variable naming the function a single-function deployment runs (a Lambda function, a
/// Cloud Run service). Deploy descriptors cloudport generates set it.
pub const FUNCTION_ENV: &str = "CLOUDPORT_FUNCTION";

/// The function of `functions` a single-function deployment runs:
///
/// 1. the one [`FUNCTION_ENV`] names, if set;
/// 2. else the one whose name is `platform_name` (the platform's own name for the deployment,
///    such as `AWS_LAMBDA_FUNCTION_NAME` or `FUNCTION_TARGET`), or ends with `-<name>`
///    (deploy descriptors prefix names with the stack's);
/// 3. else the only function, if there is just one.
///
/// ```
/// use cloudport_core::function::{Function, select_function};
///
/// async fn ping(_: ()) -> Result<&'static str, cloudport_core::Error> { Ok("pong") }
/// async fn pong(_: ()) -> Result<&'static str, cloudport_core::Error> { Ok("ping") }
/// let functions = vec![Function::json("ping", ping), Function::json("pong", pong)];
///
/// let chosen = select_function(functions.clone(), None, Some("shop-prod-pong"))?;
/// assert_eq!(chosen.name(), "pong");
/// let err = select_function(functions, None, Some("other")).unwrap_err();
/// assert!(err.to_string().contains("CLOUDPORT_FUNCTION"));
/// # Ok::<(), cloudport_core::Error>(())
/// ```
///
/// # Errors
/// `Config` naming [`FUNCTION_ENV`] and the functions there are when none can be chosen.
pub fn select_function(
    functions: Vec<Function>,
    configured: Option<&str>,
    platform_name: Option<&str>,
) -> Result<Function> {
    let names = || functions.iter().map(Function::name).collect::<Vec<_>>().join(", ");
    if let Some(wanted) = configured.map(str::trim).filter(|w| !w.is_empty()) {
        let known = names();
        return functions.into_iter().find(|f| f.name() == wanted).ok_or_else(|| {
            Error::config(format!("{FUNCTION_ENV}={wanted:?} names no function of this binary (it has: {known})"))
        });
    }
    if let Some(platform) = platform_name {
        let matches = |f: &Function| {
            platform == f.name() || platform.strip_suffix(f.name()).is_some_and(|stack| stack.ends_with('-'))
        };
        // The longest name wins: `shop-count_words` must not pick a function named `words`.
        if let Some(found) = functions.iter().filter(|f| matches(f)).max_by_key(|f| f.name().len()) {
            let name = found.name().to_owned();
            return Ok(functions.into_iter().find(|f| f.name() == name).expect("found above"));
        }
    }
    if functions.len() == 1 {
        return Ok(functions.into_iter().next().expect("one function"));
    }
    let platform = platform_name.map_or_else(String::new, |p| format!(" (the platform calls it {p:?})"));
    Err(Error::config(if functions.is_empty() {
        "this binary has no #[cloudport::function] to run".to_owned()
    } else {
        format!("cannot tell which function this deployment runs{platform}: set {FUNCTION_ENV} to one of {}", names())
    }))
}

/// A kind of function host: how the platform hands work to the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostKind {
    /// All functions in one process, triggered by local HTTP, queues, blob writes and timers.
    Local,
    /// AWS Lambda: the process polls the Runtime API (`AWS_LAMBDA_RUNTIME_API`).
    Lambda,
    /// Azure Functions custom handler: the process serves the host's envelopes
    /// (`FUNCTIONS_CUSTOMHANDLER_PORT`).
    Azure,
    /// Cloud Run functions, Knative, OpenFaaS: the process serves HTTP and CloudEvents on `$PORT`.
    Http,
    /// Apache OpenWhisk: the action proxy protocol (`__OW_API_HOST`).
    OpenWhisk,
}

impl HostKind {
    /// The name used in [`HOST_ENV`] and in `Context::host`-style reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Lambda => "lambda",
            Self::Azure => "azure",
            Self::Http => "http",
            Self::OpenWhisk => "openwhisk",
        }
    }

    /// The host the environment names: [`HOST_ENV`] if set, else the first platform marker found
    /// (`AWS_LAMBDA_RUNTIME_API`, `FUNCTIONS_CUSTOMHANDLER_PORT`, `__OW_API_HOST`, `PORT` with
    /// `K_SERVICE` or `FUNCTION_TARGET`), else [`Local`](Self::Local).
    ///
    /// # Errors
    /// `Config` when [`HOST_ENV`] holds an unknown name.
    pub fn detect() -> Result<Self> {
        Self::detect_from(|name| std::env::var(name).ok())
    }

    /// [`detect`](Self::detect) over any variable lookup (for tests).
    ///
    /// # Errors
    /// As [`detect`](Self::detect).
    pub fn detect_from(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        if let Some(name) = var(HOST_ENV) {
            return [Self::Local, Self::Lambda, Self::Azure, Self::Http, Self::OpenWhisk]
                .into_iter()
                .find(|k| k.as_str() == name.trim())
                .ok_or_else(|| {
                    Error::config(format!(
                        "{HOST_ENV}={name:?} names no host (use local, lambda, azure, http or openwhisk)"
                    ))
                });
        }
        let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
        Ok(if set("AWS_LAMBDA_RUNTIME_API") {
            Self::Lambda
        } else if set("FUNCTIONS_CUSTOMHANDLER_PORT") || set("FUNCTIONS_HTTPWORKER_PORT") {
            Self::Azure
        } else if set("__OW_API_HOST") {
            Self::OpenWhisk
        } else if set("PORT") && (set("K_SERVICE") || set("FUNCTION_TARGET")) {
            Self::Http
        } else {
            Self::Local
        })
    }
}

impl fmt::Display for HostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(vars: &[(&str, &str)]) -> Result<HostKind> {
        HostKind::detect_from(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn platform_markers_pick_the_host() {
        assert_eq!(detect(&[]).unwrap(), HostKind::Local);
        assert_eq!(detect(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")]).unwrap(), HostKind::Lambda);
        assert_eq!(detect(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "7071")]).unwrap(), HostKind::Azure);
        assert_eq!(detect(&[("PORT", "8080"), ("K_SERVICE", "app")]).unwrap(), HostKind::Http);
        assert_eq!(detect(&[("PORT", "8080")]).unwrap(), HostKind::Local, "PORT alone is too common to mean Cloud Run");
        assert_eq!(detect(&[("__OW_API_HOST", "https://ow")]).unwrap(), HostKind::OpenWhisk);
    }

    fn functions(names: &[&str]) -> Vec<Function> {
        async fn noop(_: ()) -> Result<()> {
            Ok(())
        }
        names.iter().map(|n| Function::json(*n, noop)).collect()
    }

    #[test]
    fn the_configured_function_wins_and_is_checked() {
        let chosen = select_function(functions(&["a", "b"]), Some("b"), Some("a")).unwrap();
        assert_eq!(chosen.name(), "b");
        let err = select_function(functions(&["a", "b"]), Some("c"), None).unwrap_err();
        assert!(err.to_string().contains("CLOUDPORT_FUNCTION=\"c\"") && err.to_string().contains("a, b"), "{err}");
    }

    #[test]
    fn the_platform_name_may_carry_a_stack_prefix() {
        let all = functions(&["words", "my-words", "count"]);
        assert_eq!(select_function(all.clone(), None, Some("count")).unwrap().name(), "count");
        assert_eq!(select_function(all.clone(), None, Some("app-my-words")).unwrap().name(), "my-words");
        assert_eq!(select_function(all.clone(), None, Some("app-words")).unwrap().name(), "words");
        let err = select_function(all, None, Some("appwords")).unwrap_err();
        assert!(err.to_string().contains("set CLOUDPORT_FUNCTION to one of"), "{err}");
    }

    #[test]
    fn a_lone_function_needs_no_name() {
        assert_eq!(select_function(functions(&["only"]), None, Some("whatever")).unwrap().name(), "only");
        assert!(select_function(Vec::new(), None, None).is_err());
    }

    #[test]
    fn the_override_wins_and_is_checked() {
        assert_eq!(detect(&[(HOST_ENV, "local"), ("AWS_LAMBDA_RUNTIME_API", "x")]).unwrap(), HostKind::Local);
        let err = detect(&[(HOST_ENV, "heroku")]).unwrap_err();
        assert!(err.to_string().contains("local, lambda, azure, http or openwhisk"), "{err}");
    }
}
