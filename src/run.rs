//! `cloudport::run()`: start whichever host the environment names, with every registered
//! function.

use cloudport_core::function::{HostKind, registry};
use cloudport_core::{Error, Result};

/// Runs the binary's `#[cloudport::function]`s on the host the environment names
/// ([`HostKind::detect`]): on the local host (no cloud markers), all of them together until
/// Ctrl-C or SIGTERM; on a cloud host, the function the platform selects. With
/// `CLOUDPORT_DEPLOY` set, prints that deploy descriptor for them instead
/// ([`deploy`](crate::deploy)).
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), cloudport::Error> {
///     cloudport::run().await
/// }
/// ```
///
/// # Errors
/// `Config` for duplicate or unportable function names, an unknown `CLOUDPORT_HOST`, or a host
/// whose provider feature is not enabled (the message names the feature); the host's own
/// start-up errors (such as a port in use).
pub async fn run() -> Result<()> {
    let functions = registry::registered()?;
    if let Some(target) = crate::deploy::requested() {
        let binary = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "bootstrap".to_owned());
        return crate::deploy::write(&target, &functions, &binary, &mut std::io::stdout().lock());
    }
    match HostKind::detect()? {
        HostKind::Local => run_local(functions).await,
        #[cfg(feature = "aws-lambda")]
        HostKind::Lambda => {
            use std::sync::Arc;
            cloudport_aws::lambda::LambdaHost::from_env(functions, Arc::new(crate::function::EnvOpener))?.run().await
        }
        other => Err(unavailable(other)),
    }
}

#[cfg(feature = "local")]
async fn run_local(functions: Vec<cloudport_core::function::Function>) -> Result<()> {
    use std::sync::Arc;
    cloudport_local::host::LocalHost::builder()
        .functions(functions)
        .opener(Arc::new(crate::function::EnvOpener))
        .from_env()?
        .build()?
        .run()
        .await
}

#[cfg(not(feature = "local"))]
async fn run_local(_functions: Vec<cloudport_core::function::Function>) -> Result<()> {
    Err(Error::config(
        "no cloud host was detected and the local host needs cloudport's `local` feature (enable it, or set CLOUDPORT_HOST)",
    ))
}

fn unavailable(host: HostKind) -> Error {
    let feature = match host {
        HostKind::Lambda => "aws-lambda",
        HostKind::Azure => "azure",
        HostKind::Http => "gcp",
        _ => "a provider",
    };
    Error::config(format!(
        "the environment names the {host} host, which needs cloudport's `{feature}` feature (enable it in Cargo.toml, or set CLOUDPORT_HOST=local to run locally)"
    ))
}
