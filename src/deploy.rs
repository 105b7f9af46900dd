//! Deploy descriptors from the same registration the hosts read: set [`DEPLOY_ENV`] and the
//! binary prints the descriptor for its functions instead of running them.
//!
//! | `CLOUDPORT_DEPLOY` | prints | feature |
//! |---|---|---|
//! | `sam` | an AWS SAM template (JSON, which SAM reads as YAML): see [`cloudport_aws::sam`] | `aws-sam` (in `aws`) |
//!
//! ```text
//! CLOUDPORT_DEPLOY=sam cargo run --features aws --example pipeline > template.json
//! ```

use std::io::Write;

use cloudport_core::function::Function;
use cloudport_core::{Error, ErrorKind, Result};

/// The variable naming the deploy descriptor to print: `sam`.
pub const DEPLOY_ENV: &str = "CLOUDPORT_DEPLOY";

/// The descriptor [`DEPLOY_ENV`] asks for, if any.
#[must_use]
pub fn requested() -> Option<String> {
    std::env::var(DEPLOY_ENV).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Writes the `target` descriptor for `functions` to `out`. `binary` names the executable
/// (where `cargo lambda build` puts it, for SAM's `CodeUri`).
///
/// ```
/// # #[cfg(feature = "aws-sam")] {
/// use cloudport::function::Function;
///
/// async fn ping(_: ()) -> Result<&'static str, cloudport::Error> { Ok("pong") }
/// let mut out = Vec::new();
/// cloudport::deploy::write("sam", &[Function::json("ping", ping)], "app", &mut out)?;
/// let template: serde_json::Value = serde_json::from_slice(&out).unwrap();
/// assert_eq!(template["Resources"]["PingFunction"]["Type"], "AWS::Serverless::Function");
/// # }
/// # Ok::<(), cloudport::Error>(())
/// ```
///
/// # Errors
/// `Config` for an unknown target or one whose provider feature is off; the descriptor's own
/// errors (what it cannot express, and what to change); `Other` when `out` fails.
pub fn write(target: &str, functions: &[Function], binary: &str, out: &mut dyn Write) -> Result<()> {
    let text = match target {
        "sam" => sam(functions, binary)?,
        other => {
            return Err(Error::config(format!("{DEPLOY_ENV}={other:?} names no deploy descriptor (use sam)")));
        }
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot write the deploy descriptor: {e}")))
}

#[cfg(feature = "aws-sam")]
fn sam(functions: &[Function], binary: &str) -> Result<String> {
    use cloudport_aws::sam::{SamOptions, template};
    let template = template(functions, &SamOptions::new().binary(binary))?;
    serde_json::to_string_pretty(&template).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))
}

#[cfg(not(feature = "aws-sam"))]
fn sam(_functions: &[Function], _binary: &str) -> Result<String> {
    Err(Error::config("a SAM template needs cloudport's `aws-sam` feature, or `aws` (enable it in Cargo.toml)"))
}
