//! Blob keys, validated in one place.
//!
//! A key that passes [`BlobKey::new`] is valid on every provider: the rules are the intersection
//! of what S3, Azure Blob, Cloud Storage and a POSIX filesystem accept without rewriting the key.

use std::fmt;

use crate::error::{Error, Result};

/// The longest key any provider accepts, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

/// Segments starting with this are reserved for cloudport's own bookkeeping (temporary files of
/// the filesystem store, for example) on every provider, so data moves between providers intact.
pub const RESERVED_SEGMENT_PREFIX: &str = ".cloudport";

/// A validated blob key: `/`-separated segments, relative to the store's root or prefix.
///
/// Rules: not empty; at most [`MAX_KEY_LEN`] bytes; no leading `/`; no empty segment (so no
/// trailing `/` and no `//`); no `.` or `..` segment; no NUL or other control character; no `\`
/// (Azure Blob Storage turns it into `/`, so the key would not survive a move there); no
/// segment starting with [`RESERVED_SEGMENT_PREFIX`].
///
/// ```
/// use cloudport_core::BlobKey;
///
/// let key = BlobKey::new("reports/2026/q1 résumé.csv")?;
/// assert_eq!(key.as_str(), "reports/2026/q1 résumé.csv");
/// assert!(BlobKey::new("../etc/passwd").is_err());
/// assert!(BlobKey::new("/absolute").is_err());
/// # Ok::<(), cloudport_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// Validates `key`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the rule the key breaks.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        validate(&key).map_err(|e| e.with_target(key.clone()))?;
        Ok(Self(key))
    }

    /// The key as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Consumes the key, returning its string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

fn validate(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid_input("blob key is empty (give a name such as \"data/file.txt\")"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::invalid_input(format!(
            "blob key is {} bytes, over the {MAX_KEY_LEN}-byte limit (use a shorter key)",
            key.len()
        )));
    }
    if key.starts_with('/') {
        return Err(Error::invalid_input(
            "blob key starts with '/' (keys are relative to the store: drop the leading '/')",
        ));
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        return Err(Error::invalid_input(format!(
            "blob key contains the control character {c:?} (remove NUL, newlines and other control characters)"
        )));
    }
    if key.contains('\\') {
        return Err(Error::invalid_input(
            "blob key contains '\\', which Azure Blob Storage turns into '/' (use '/' between segments, or another character)",
        ));
    }
    for segment in key.split('/') {
        match segment {
            "" => {
                return Err(Error::invalid_input("blob key has an empty segment (no trailing '/' and no '//')"));
            }
            "." | ".." => {
                return Err(Error::invalid_input(format!(
                    "blob key has a {segment:?} segment (keys cannot navigate directories)"
                )));
            }
            s if s.starts_with(RESERVED_SEGMENT_PREFIX) => {
                return Err(Error::invalid_input(format!(
                    "blob key segment {s:?} starts with {RESERVED_SEGMENT_PREFIX:?}, which cloudport reserves"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for BlobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for BlobKey {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self> {
        Self::new(value)
    }
}

impl TryFrom<String> for BlobKey {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl std::str::FromStr for BlobKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_and_special_keys() {
        for key in [
            "a",
            "a/b/c.txt",
            "special_file  !@#$%^&()_+-=;',.txt",
            "unicode/日本語/ファイル",
            "emoji/🚀.bin",
            "dots/...",
            "dots/.hidden",
            "x".repeat(MAX_KEY_LEN).as_str(),
        ] {
            BlobKey::new(key).unwrap_or_else(|e| panic!("{key:?} rejected: {e}"));
        }
    }

    #[test]
    fn rejects_invalid_keys_with_invalid_input() {
        for key in [
            "",
            "/abs",
            "a//b",
            "trailing/",
            "..",
            "a/../b",
            "back\\slash",
            "./a",
            "nul\0byte",
            "new\nline",
            "del\u{7f}",
            ".cloudport-tmp/x",
            "a/.cloudport",
            "y".repeat(MAX_KEY_LEN + 1).as_str(),
        ] {
            let err = BlobKey::new(key).expect_err(key);
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{key:?}");
            assert!(!err.message().is_empty());
        }
    }

    proptest! {
        #[test]
        fn valid_keys_have_no_traversal(key in "\\PC{0,64}") {
            if let Ok(k) = BlobKey::new(key.clone()) {
                prop_assert!(!k.as_str().starts_with('/'));
                prop_assert!(k.segments().all(|s| !s.is_empty() && s != "." && s != ".."));
                prop_assert!(k.as_str().len() <= MAX_KEY_LEN);
            }
        }

        #[test]
        fn joined_clean_segments_are_valid(segs in proptest::collection::vec("[a-zA-Z0-9 _()-]{1,12}", 1..8)) {
            let key = segs.join("/");
            prop_assert!(BlobKey::new(key).is_ok());
        }
    }
}
