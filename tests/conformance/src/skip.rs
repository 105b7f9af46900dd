//! Skipping suites whose service is not configured: loudly, and never in CI.

/// The environment variable that turns a skip into a failure (set it in CI).
pub const REQUIRE_ENV: &str = "CLOUDPORT_REQUIRE_EMULATORS";

/// The value of `var` (an emulator endpoint or account setting), or `None` after printing why
/// `suite` is skipped.
///
/// ```no_run
/// // In a provider's runner: skip (or, in CI, fail) when the emulator is not configured.
/// if let Some(endpoint) = cloudport_conformance::skip::emulator("CLOUDPORT_TEST_UNSET_VAR", "doc example") {
///     println!("testing against {endpoint}");
/// }
/// ```
///
/// # Panics
/// When `var` is unset and `CLOUDPORT_REQUIRE_EMULATORS` is set, so CI cannot pass by skipping.
#[must_use]
pub fn emulator(var: &str, suite: &str) -> Option<String> {
    resolve(std::env::var(var).ok(), std::env::var_os(REQUIRE_ENV).is_some(), var, suite)
}

fn resolve(value: Option<String>, required: bool, var: &str, suite: &str) -> Option<String> {
    match value {
        Some(url) => Some(url),
        None if required => panic!("{suite}: set {var} ({REQUIRE_ENV} is on)"),
        None => {
            eprintln!("skipping {suite}: set {var} to run it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_variable_is_returned() {
        assert_eq!(
            resolve(Some("http://127.0.0.1:9000".into()), true, "V", "s").as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn unset_variable_skips_unless_required() {
        assert_eq!(resolve(None, false, "V", "s"), None);
        let panic = std::panic::catch_unwind(|| resolve(None, true, "CLOUDPORT_S3_ENDPOINT", "aws s3")).unwrap_err();
        assert_eq!(
            crate::report::panic_message(panic.as_ref()),
            "aws s3: set CLOUDPORT_S3_ENDPOINT (CLOUDPORT_REQUIRE_EMULATORS is on)"
        );
    }
}
