//! Listings: List Blobs, one page (at most 5,000 blobs) per request, fetched as the stream is
//! read; `/` grouping and `start_after` applied here, since the official client has neither.

use azure_storage_blob::models::BlobContainerClientListBlobsOptions;
use cloudport_core::{BlobKey, ListEntry, ListOptions, ObjectSummary, Result};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::read::{etag, time};
use super::{AzureBlobStore, MAX_LIST_PAGE};
use crate::error::map_azure_error;

impl AzureBlobStore {
    pub(super) fn list_inner(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>> {
        if let Err(e) = opts.validate().and_then(|()| self.check_credential()) {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let store_prefix = self.inner.prefix.clone();
        let list_prefix = opts.prefix.clone().unwrap_or_default();
        let page_size = opts.page_size.map_or(MAX_LIST_PAGE, |n| n.min(MAX_LIST_PAGE));
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(format!("{store_prefix}{list_prefix}")).filter(|p| !p.is_empty()),
            maxresults: Some(i32::try_from(page_size).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        let pager = match self.inner.container.list_blobs(Some(options)) {
            Ok(pager) => pager,
            Err(e) => return futures::stream::once(async move { Err(map_azure_error(e)) }).boxed(),
        };
        let (delimited, start_after) = (opts.delimited, opts.start_after);
        // The last common prefix handed out: keys under it are skipped (they sort together).
        let mut last_prefix: Option<String> = None;
        pager
            .map_err(map_azure_error)
            .try_filter_map(move |item| {
                let entry = (|| {
                    let full = item.name?;
                    let name = full.strip_prefix(store_prefix.as_str())?.to_owned();
                    if delimited && let Some(slash) = name[list_prefix.len()..].find('/') {
                        let prefix = name[..list_prefix.len() + slash + 1].to_owned();
                        if last_prefix.as_deref() == Some(prefix.as_str()) {
                            return None;
                        }
                        last_prefix = Some(prefix.clone());
                        return Some(ListEntry::Prefix(prefix));
                    }
                    // A name this store could not have written (made by another tool) is
                    // skipped rather than failing the listing.
                    let key = BlobKey::new(name).ok()?;
                    let props = item.properties.unwrap_or_default();
                    let tag = props.etag.as_ref().map(etag).unwrap_or_else(|| cloudport_core::ETag::new(""));
                    let size = props.content_length.unwrap_or(0);
                    Some(ListEntry::Object(ObjectSummary::new(key, size, tag, time(props.last_modified))))
                })();
                let entry =
                    entry.filter(|e| start_after.as_deref().is_none_or(|after| e.name().as_bytes() > after.as_bytes()));
                futures::future::ready(Ok(entry))
            })
            .boxed()
    }
}
