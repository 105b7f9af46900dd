//! The variables that name an app's Lambda functions: set by the generated SAM template (`sam`
//! feature), read by [`LambdaInvoker`](super::LambdaInvoker) (`invoke` feature).

/// The variable holding the prefix of the Lambda function names of this app's functions
/// (`<stack>-` in the SAM template cloudport generates).
pub const FUNCTION_PREFIX_ENV: &str = "CLOUDPORT_FUNCTION_PREFIX";

/// The variable naming the Lambda function (a name or an ARN) that runs the logical function
/// `name`: `CLOUDPORT_LAMBDA_<NAME>` (upper case, anything but letters and digits as `_`).
///
/// ```
/// assert_eq!(cloudport_aws::lambda::function_var("count-words"), "CLOUDPORT_LAMBDA_COUNT_WORDS");
/// ```
#[must_use]
pub fn function_var(name: &str) -> String {
    let upper: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("CLOUDPORT_LAMBDA_{upper}")
}
