//! Object metadata kept in one extended attribute of the object's file.
//!
//! The attribute [`XATTR`] holds a small self-describing text record, readable with
//! `getfattr -n user.cloudport.meta`:
//!
//! ```text
//! cloudport-meta/1
//! <etag>
//! <content type, or an empty line>
//! <name>=<value>        (one line per user metadata entry)
//! ```
//!
//! Etags, content types and metadata are printable ASCII without newlines (see
//! [`PutOptions::validate`](cloudport_core::PutOptions::validate)), and metadata names cannot hold
//! `=`, so the record needs no escaping. Writers set it on the temporary file before the rename, so
//! data and metadata change together. A file without the attribute (copied into the root by
//! hand) is still an object: its etag is derived from inode, modification time and size.

use std::fs::{File, Metadata as FsMetadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

use cloudport_core::{BlobKey, ETag, Error, ErrorKind, Metadata, ObjectMeta, ObjectSummary, Result};
use xattr::FileExt;

/// The extended attribute holding an object's etag, content type and user metadata.
pub(crate) const XATTR: &str = "user.cloudport.meta";

const HEADER: &str = "cloudport-meta/1";

/// What the store keeps about an object besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMeta {
    pub(crate) etag: ETag,
    pub(crate) content_type: Option<String>,
    pub(crate) metadata: Metadata,
}

impl StoredMeta {
    /// The attribute value.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            String::with_capacity(64 + self.metadata.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>());
        out.push_str(HEADER);
        out.push('\n');
        out.push_str(self.etag.as_str());
        out.push('\n');
        out.push_str(self.content_type.as_deref().unwrap_or_default());
        out.push('\n');
        for (name, value) in &self.metadata {
            out.push_str(name);
            out.push('=');
            out.push_str(value);
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Parses an attribute value written by [`encode`](Self::encode).
    pub(crate) fn decode(raw: &[u8]) -> Result<Self> {
        let corrupt = |what: &str| {
            Error::new(
                ErrorKind::Other,
                format!("the {XATTR} attribute of the object's file is not valid ({what}); rewrite the object"),
            )
        };
        let text = std::str::from_utf8(raw).map_err(|_| corrupt("not UTF-8"))?;
        let mut lines = text.split_terminator('\n');
        match lines.next() {
            Some(HEADER) => {}
            Some(h) if h.starts_with("cloudport-meta/") => {
                return Err(corrupt("written by a newer cloudport; upgrade to read it"));
            }
            _ => return Err(corrupt("unknown format")),
        }
        let etag = lines.next().filter(|e| !e.is_empty()).ok_or_else(|| corrupt("no etag"))?;
        let content_type = lines.next().ok_or_else(|| corrupt("no content type line"))?;
        let mut metadata = Metadata::new();
        for line in lines {
            let (name, value) = line.split_once('=').ok_or_else(|| corrupt("metadata line without '='"))?;
            metadata.insert(name.to_owned(), value.to_owned());
        }
        Ok(Self {
            etag: ETag::new(etag),
            content_type: (!content_type.is_empty()).then(|| content_type.to_owned()),
            metadata,
        })
    }

    /// Reads the metadata of the open object `file`, whose `fstat` is `md`.
    pub(crate) fn read(file: &File, md: &FsMetadata) -> Result<Self> {
        match file.get_xattr(XATTR).map_err(Error::from)? {
            Some(raw) => Self::decode(&raw),
            None => Ok(Self { etag: derived_etag(md), content_type: None, metadata: Metadata::new() }),
        }
    }

    /// Sets the attribute on `file` (a temporary file about to be renamed into place).
    pub(crate) fn write(&self, file: &File) -> Result<()> {
        let value = self.encode();
        file.set_xattr(XATTR, &value).map_err(|e| set_error(e, value.len()))
    }

    /// The full metadata of an object with this record and file status.
    pub(crate) fn object_meta(self, key: BlobKey, md: &FsMetadata) -> ObjectMeta {
        let mut meta = ObjectMeta::new(key, md.len(), self.etag, modified(md));
        meta.content_type = self.content_type;
        meta.metadata = self.metadata;
        meta
    }

    /// What a listing reports about an object with this record and file status.
    pub(crate) fn summary(self, key: BlobKey, md: &FsMetadata) -> ObjectSummary {
        ObjectSummary::new(key, md.len(), self.etag, modified(md))
    }
}

fn modified(md: &FsMetadata) -> SystemTime {
    md.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The etag of a file written without the store: it changes whenever the file is replaced or
/// modified, as long as the filesystem's timestamps do.
fn derived_etag(md: &FsMetadata) -> ETag {
    ETag::new(format!("fs-{:x}-{:x}.{:x}-{:x}", md.ino(), md.mtime(), md.mtime_nsec(), md.len()))
}

fn set_error(e: io::Error, len: usize) -> Error {
    let too_large =
        e.kind() == io::ErrorKind::ArgumentListTooLong || (e.kind() == io::ErrorKind::StorageFull && len > 1024);
    if too_large {
        Error::new(
            ErrorKind::TooLarge,
            format!(
                "content type and user metadata take {len} bytes, more than this filesystem keeps in an extended attribute (use less metadata)"
            ),
        )
        .with_source(e)
    } else {
        Error::from(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut metadata = Metadata::new();
        metadata.insert("owner".into(), "a=b c".into());
        metadata.insert("empty".into(), String::new());
        for meta in [
            StoredMeta { etag: ETag::new("abc"), content_type: None, metadata: Metadata::new() },
            StoredMeta { etag: ETag::new("abc"), content_type: Some("text/plain; charset=utf-8".into()), metadata },
        ] {
            assert_eq!(StoredMeta::decode(&meta.encode()).unwrap(), meta);
        }
    }

    #[test]
    fn foreign_records_are_rejected() {
        for raw in
            [&b"garbage"[..], b"cloudport-meta/9\nx\n\n", b"cloudport-meta/1\n", b"cloudport-meta/1\ne\n\nnoequals\n"]
        {
            assert_eq!(StoredMeta::decode(raw).unwrap_err().kind(), ErrorKind::Other);
        }
    }
}
