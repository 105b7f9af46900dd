//! Helpers both local stores share: etags, listing rules, capabilities and paged list streams.

use std::future::Future;

use cloudport_core::{BlobCapabilities, ETag, ListEntry, ListOptions, Result};
use futures::stream::{self, BoxStream, StreamExt};

/// The largest listing page either local store returns (S3's page size).
pub(crate) const MAX_LIST_PAGE: usize = 1000;

/// A fresh strong etag: 128 random bits in hex, new on every write even of identical bytes.
pub(crate) fn new_etag() -> ETag {
    ETag::new(format!("{:032x}", rand::random::<u128>()))
}

/// The capabilities of a local store; only file-and-prefix coexistence differs between them.
pub(crate) fn capabilities(provider: &'static str, file_and_prefix_coexist: bool) -> BlobCapabilities {
    BlobCapabilities {
        provider,
        conditional_put: true,
        conditional_get: true,
        conditional_copy: true,
        presign: false,
        max_presign_expiry: None,
        metadata: true,
        file_and_prefix_coexist,
        max_put_size: None,
        max_object_size: None,
        max_list_page: MAX_LIST_PAGE,
    }
}

/// A validated listing request, in the form both stores walk.
#[derive(Debug, Clone)]
pub(crate) struct ListPlan {
    /// Every listed key starts with this.
    pub(crate) prefix: String,
    /// Only names sorting strictly after this are listed.
    pub(crate) start_after: Option<String>,
    /// Group keys by the next `/` after the prefix.
    pub(crate) delimited: bool,
    /// Entries per page, clamped to [`MAX_LIST_PAGE`].
    pub(crate) page_size: usize,
}

impl ListPlan {
    /// Validates `opts` (before any I/O) and normalises them.
    pub(crate) fn new(opts: ListOptions) -> Result<Self> {
        opts.validate()?;
        Ok(Self {
            prefix: opts.prefix.unwrap_or_default(),
            start_after: opts.start_after,
            delimited: opts.delimited,
            page_size: opts.page_size.unwrap_or(MAX_LIST_PAGE).clamp(1, MAX_LIST_PAGE),
        })
    }

    /// Whether an entry (key or common prefix) named `name` sorts after `start_after`.
    pub(crate) fn after_start(&self, name: &str) -> bool {
        self.start_after.as_deref().is_none_or(|after| name > after)
    }
}

/// The smallest string sorting after every string that starts with `prefix`, where `prefix`
/// ends in `/`: the same string with the `/` replaced by `0`, the next byte.
pub(crate) fn past_prefix(prefix: &str) -> String {
    let mut next = prefix.strip_suffix('/').unwrap_or(prefix).to_owned();
    next.push('0');
    next
}

/// A listing fetched page by page: `fetch` turns a state into one page and the next state
/// (`None` once the listing is complete). An error ends the stream after it is yielded.
pub(crate) fn paged<S, F, Fut>(state: S, fetch: F) -> BoxStream<'static, Result<ListEntry>>
where
    S: Send + 'static,
    F: FnMut(S) -> Fut + Send + 'static,
    Fut: Future<Output = (Result<Vec<ListEntry>>, Option<S>)> + Send + 'static,
{
    stream::unfold((Some(state), fetch), |(state, mut fetch)| async move {
        let state = state?;
        let (page, next) = fetch(state).await;
        let next = if page.is_err() { None } else { next };
        Some((page, (next, fetch)))
    })
    .flat_map(|page| match page {
        Ok(entries) => stream::iter(entries.into_iter().map(Ok)).left_stream(),
        Err(e) => stream::once(async move { Err(e) }).right_stream(),
    })
    .boxed()
}

/// A listing that fails at once, for options that do not validate.
pub(crate) fn failed_list(err: cloudport_core::Error) -> BoxStream<'static, Result<ListEntry>> {
    stream::once(async move { Err(err) }).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_fresh_hex_tokens() {
        let a = new_etag();
        let b = new_etag();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn past_prefix_bounds_the_prefix_block() {
        let next = past_prefix("a/b/");
        assert_eq!(next, "a/b0");
        for inside in ["a/b/", "a/b/c", "a/b/\u{10ffff}"] {
            assert!(inside < next.as_str(), "{inside:?}");
        }
        assert!("a/b-" < "a/b/");
        assert!(next.as_str() <= "a/b0");
    }

    #[test]
    fn plan_clamps_page_size_and_rejects_zero() {
        let plan = ListPlan::new(ListOptions::default().with_page_size(5000)).unwrap();
        assert_eq!(plan.page_size, MAX_LIST_PAGE);
        assert!(ListPlan::new(ListOptions::default().with_page_size(0)).is_err());
    }
}
