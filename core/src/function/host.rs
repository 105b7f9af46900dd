//! Which host runs the binary's functions, detected from the environment the platform sets.

use std::fmt;

use crate::error::{Error, Result};

/// The variable that overrides detection: `local`, `lambda`, `azure`, `http` or `openwhisk`.
pub const HOST_ENV: &str = "CLOUDPORT_HOST";

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

    #[test]
    fn the_override_wins_and_is_checked() {
        assert_eq!(detect(&[(HOST_ENV, "local"), ("AWS_LAMBDA_RUNTIME_API", "x")]).unwrap(), HostKind::Local);
        let err = detect(&[(HOST_ENV, "heroku")]).unwrap_err();
        assert!(err.to_string().contains("local, lambda, azure, http or openwhisk"), "{err}");
    }
}
