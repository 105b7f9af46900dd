//! Listings: `ListObjectsV2`, one page per request, fetched as the stream is read.

use std::collections::VecDeque;

use cloudport_core::{BlobKey, ListEntry, ListOptions, ObjectSummary, Result};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::S3BlobStore;
use super::read::{etag, time};
use crate::error::map_sdk_error;

/// Where a listing is: entries of the current page not yet handed out, and how to get the next.
struct Cursor {
    store: S3BlobStore,
    opts: ListOptions,
    pending: VecDeque<ListEntry>,
    /// `None` before the first page; `Some(None)` after the last.
    next: Option<Option<String>>,
}

impl S3BlobStore {
    pub(super) fn list_inner(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>> {
        if let Err(e) = opts.validate() {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let cursor = Cursor { store: self.clone(), opts, pending: VecDeque::new(), next: None };
        futures::stream::try_unfold(cursor, |mut cursor| async move {
            loop {
                if let Some(entry) = cursor.pending.pop_front() {
                    return Ok(Some((entry, cursor)));
                }
                if cursor.next == Some(None) {
                    return Ok(None);
                }
                cursor.fetch_page().await?;
            }
        })
        .boxed()
    }
}

impl Cursor {
    async fn fetch_page(&mut self) -> Result<()> {
        let inner = &self.store.inner;
        let client = self.store.client().await?;
        let prefix = format!("{}{}", inner.prefix, self.opts.prefix.as_deref().unwrap_or(""));
        let token = self.next.clone().flatten();
        // S3 ignores start-after once a continuation token is given; sending it only first
        // keeps the request honest.
        let start_after =
            if token.is_none() { self.opts.start_after.as_ref().map(|s| format!("{}{s}", inner.prefix)) } else { None };
        let page_size = self.opts.page_size.map(|n| i32::try_from(n.min(1000)).unwrap_or(1000));
        let out = client
            .list_objects_v2()
            .bucket(&inner.bucket)
            .prefix(prefix)
            .set_delimiter(self.opts.delimited.then(|| "/".to_owned()))
            .set_start_after(start_after)
            .set_continuation_token(token)
            .set_max_keys(page_size)
            .send()
            .await
            .map_err(map_sdk_error)?;

        let strip = |full: &str| full.strip_prefix(inner.prefix.as_str()).unwrap_or(full).to_owned();
        let mut page = Vec::with_capacity(out.contents().len() + out.common_prefixes().len());
        for object in out.contents() {
            let Some(key) = object.key() else { continue };
            // A key this store could not have written (made by another tool) is skipped rather
            // than failing the listing.
            let Ok(key) = BlobKey::new(strip(key)) else { continue };
            let size = object.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
            let summary =
                ObjectSummary::new(key, size, etag(object.e_tag().unwrap_or_default()), time(object.last_modified()));
            page.push(ListEntry::Object(summary));
        }
        for prefix in out.common_prefixes() {
            if let Some(p) = prefix.prefix() {
                page.push(ListEntry::Prefix(strip(p)));
            }
        }
        // S3 returns keys and common prefixes in two sorted lists; one page interleaves them.
        page.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
        self.pending.extend(page);
        let more = out.is_truncated().unwrap_or(false);
        self.next = Some(if more { out.next_continuation_token().map(str::to_owned) } else { None });
        Ok(())
    }
}
