//! [`SamOptions`]: what the template sets that the functions themselves do not say.

use std::time::Duration;

use cloudport_core::{Error, Result};

/// Lambda's smallest and largest memory sizes, in MB.
const MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;
/// Lambda's longest timeout.
pub(super) const MAX_TIMEOUT: Duration = Duration::from_secs(900);
/// The longest batching window of an SQS event source.
const MAX_BATCH_WINDOW: Duration = Duration::from_secs(300);
/// The longest template description CloudFormation accepts, in bytes.
const MAX_DESCRIPTION: usize = 1024;

/// The instruction set the functions' binary is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Architecture {
    /// Graviton (`cargo lambda build --arm64`): cheaper per millisecond, the default.
    #[default]
    Arm64,
    /// Intel and AMD (`cargo lambda build --x86-64`).
    X86_64,
}

impl Architecture {
    /// Lambda's name for it: `arm64` or `x86_64`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86_64",
        }
    }
}

/// Settings of the generated template that the functions do not carry: where the code is, the
/// memory and architecture every function gets, the default timeout.
///
/// ```
/// use std::time::Duration;
/// use cloudport_aws::sam::{Architecture, SamOptions};
///
/// let options = SamOptions::new()
///     .binary("pipeline") // code in target/lambda/pipeline/bootstrap, as cargo lambda builds it
///     .architecture(Architecture::X86_64)
///     .memory_mb(512)
///     .default_timeout(Duration::from_secs(60))
///     .description("word counting pipeline");
///
/// let template = cloudport_aws::sam::template(&[], &options)?;
/// assert_eq!(template["Globals"]["Function"]["CodeUri"], "target/lambda/pipeline");
/// assert_eq!(template["Globals"]["Function"]["Architectures"][0], "x86_64");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SamOptions {
    pub(super) description: String,
    pub(super) memory_mb: u32,
    pub(super) architecture: Architecture,
    pub(super) code_uri: String,
    pub(super) default_timeout: Duration,
    pub(super) batch_window: Option<Duration>,
    pub(super) stack_name: Option<String>,
}

impl Default for SamOptions {
    fn default() -> Self {
        Self {
            description: "Serverless functions deployed by cloudport".to_owned(),
            memory_mb: 256,
            architecture: Architecture::Arm64,
            code_uri: "target/lambda/bootstrap".to_owned(),
            default_timeout: Duration::from_secs(30),
            batch_window: None,
            stack_name: None,
        }
    }
}

impl SamOptions {
    /// The defaults: 256 MB, [`Architecture::Arm64`], a 30 s timeout, and the code in
    /// `target/lambda/bootstrap` (where `cargo lambda build` puts a binary named `bootstrap`;
    /// set [`binary`](Self::binary) or [`code_uri`](Self::code_uri) for yours).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The template's description (CloudFormation shows it with the stack).
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Memory of every function, in MB (128 to 10240; Lambda gives CPU in proportion). Default 256.
    #[must_use]
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// The binary's instruction set. Default [`Architecture::Arm64`].
    #[must_use]
    pub fn architecture(mut self, architecture: Architecture) -> Self {
        self.architecture = architecture;
        self
    }

    /// The code of every function: a directory holding the `bootstrap` executable, a zip of
    /// it, or an `s3://` URI (SAM's `CodeUri`; `sam deploy` uploads local paths). Default
    /// `target/lambda/bootstrap`.
    #[must_use]
    pub fn code_uri(mut self, code_uri: impl Into<String>) -> Self {
        self.code_uri = code_uri.into();
        self
    }

    /// Sets the code to `target/lambda/<binary>`, where `cargo lambda build --bin <binary>` puts
    /// that binary's `bootstrap`. All functions run the one binary; the `CLOUDPORT_FUNCTION`
    /// variable picks each one's handler.
    #[must_use]
    pub fn binary(self, binary: &str) -> Self {
        self.code_uri(format!("target/lambda/{binary}"))
    }

    /// The timeout of functions that set none (whole seconds, rounded up; at most 900 s, and
    /// capped at API Gateway's 30 s for HTTP functions). Default 30 s.
    #[must_use]
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// How long Lambda may gather messages before invoking a queue function with a partial
    /// batch (`MaximumBatchingWindowInSeconds`, whole seconds rounded up, at most 300 s). Set, it
    /// applies to every queue function; unset, queue functions with batches of more than 10
    /// messages (which SQS event sources allow only with a window) get 1 s and the others none.
    #[must_use]
    pub fn batch_window(mut self, window: Duration) -> Self {
        self.batch_window = Some(window);
        self
    }

    /// The name of the stack the template will be deployed as, for checking the names derived
    /// from it (`<stack>-<function>` within Lambda's 64 characters, `<stack>-<queue>-dlq` within
    /// SQS's 80) before deploying. The template itself stays stack-agnostic
    /// (`${AWS::StackName}`); unset, names are checked as if the stack name had one character
    /// and CloudFormation reports the rest at deploy time.
    #[must_use]
    pub fn stack_name(mut self, stack_name: impl Into<String>) -> Self {
        self.stack_name = Some(stack_name.into());
        self
    }

    /// Checks every setting against its AWS limit.
    pub(super) fn validate(&self) -> Result<()> {
        if !MEMORY_MB.contains(&self.memory_mb) {
            return Err(Error::config(format!(
                "memory_mb {} is outside Lambda's range (use {} to {} MB)",
                self.memory_mb,
                MEMORY_MB.start(),
                MEMORY_MB.end()
            )));
        }
        if self.default_timeout.is_zero() || self.default_timeout > MAX_TIMEOUT {
            return Err(Error::config(format!(
                "default_timeout {:?} is outside Lambda's range (use 1 s to {} s)",
                self.default_timeout,
                MAX_TIMEOUT.as_secs()
            )));
        }
        if let Some(window) = self.batch_window.filter(|w| *w > MAX_BATCH_WINDOW) {
            return Err(Error::config(format!(
                "batch_window {window:?} is over the {} s an SQS event source allows (use a shorter window)",
                MAX_BATCH_WINDOW.as_secs()
            )));
        }
        if self.code_uri.trim().is_empty() {
            return Err(Error::config(
                "code_uri is empty (set it to the directory holding the `bootstrap` executable, e.g. target/lambda/<binary>)",
            ));
        }
        if self.description.len() > MAX_DESCRIPTION {
            return Err(Error::config(format!(
                "the description has {} bytes, over CloudFormation's {MAX_DESCRIPTION} (shorten it)",
                self.description.len()
            )));
        }
        if let Some(stack) = &self.stack_name {
            let valid = stack.len() <= 128
                && stack.starts_with(|c: char| c.is_ascii_alphabetic())
                && stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid {
                return Err(Error::config(format!(
                    "stack name {stack:?} is not a CloudFormation stack name (use up to 128 ASCII letters, digits and `-`, starting with a letter)"
                )));
            }
        }
        Ok(())
    }
}
