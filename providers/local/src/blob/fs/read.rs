//! Reads: one blocking call opens the file, checks it, reads its metadata and its first chunk;
//! the rest streams in large chunks, each read ahead while the previous one is consumed.
//!
//! An object's file is never modified in place (writers rename a new file over it), so the open
//! handle reads one consistent version even while the key is rewritten.

use std::fs::{File, Metadata as FsMetadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use cloudport_core::{BlobKey, ByteStream, Error, ErrorKind, GetOptions, ObjectMeta, Result};
use futures::stream::{self, StreamExt};
use tokio::task::JoinHandle;

use super::Shared;
use super::meta::StoredMeta;
use super::paths::{self, Existing};

/// Bytes read by the opening call: objects up to this size arrive in one chunk.
pub(crate) const FIRST_READ: u64 = 4 << 20;

/// Bytes per chunk after the first. Two chunks are in memory at most (one being consumed, one
/// read ahead), so streaming any object stays within a few MiB.
pub(crate) const CHUNK: u64 = 4 << 20;

/// An object's open file, its status and its metadata, all of one version.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) md: FsMetadata,
    pub(crate) stored: StoredMeta,
}

/// Opens the object at `key`; `None` when there is none.
///
/// # Errors
/// As [`paths::locate`], and when the metadata attribute cannot be read.
pub(crate) fn open_object(shared: &Shared, key: &BlobKey) -> Result<Option<Opened>> {
    let loc = paths::locate(&shared.root, key)?;
    if loc.existing != Existing::File {
        return Ok(None);
    }
    let file = match File::open(&loc.path) {
        Ok(file) => file,
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(None),
        Err(e) => return Err(paths::io_error(e)),
    };
    let md = file.metadata().map_err(paths::io_error)?;
    if !md.is_file() {
        return Ok(None);
    }
    let stored = StoredMeta::read(&file, &md)?;
    Ok(Some(Opened { file, md, stored }))
}

/// The error for a key with no object.
pub(crate) fn not_found() -> Error {
    Error::new(ErrorKind::NotFound, "no object at this key (list the prefix to see what exists)")
}

/// The metadata of the object at `key`.
pub(crate) fn head(shared: &Shared, key: &BlobKey) -> Result<ObjectMeta> {
    let opened = open_object(shared, key)?.ok_or_else(not_found)?;
    Ok(opened.stored.object_meta(key.clone(), &opened.md))
}

/// A read whose conditions held: metadata, the range, and the body.
pub(crate) struct Started {
    pub(crate) meta: ObjectMeta,
    pub(crate) range: Range<u64>,
    pub(crate) body: ByteStream,
}

/// Opens `key`, checks `opts`, and reads the first chunk of the range.
pub(crate) fn start(shared: &Shared, key: &BlobKey, opts: &GetOptions) -> Result<Started> {
    let Opened { file, md, stored } = open_object(shared, key)?.ok_or_else(not_found)?;
    let meta = stored.object_meta(key.clone(), &md);
    opts.check_conditions(&meta)?;
    let range = match opts.range {
        Some(r) => r.resolve(meta.size)?,
        None => 0..meta.size,
    };
    let len = range.end - range.start;
    if len == 0 {
        return Ok(Started { meta, range, body: stream::empty().boxed() });
    }
    if range.start > 0 {
        (&file).seek(SeekFrom::Start(range.start)).map_err(paths::io_error)?;
    }
    let first_len = len.min(FIRST_READ);
    let first = read_chunk(&file, first_len).map_err(paths::io_error)?;
    let body = if first_len == len {
        stream::once(async move { Ok(first) }).boxed()
    } else {
        ReadAhead { first: Some(first), file: Arc::new(file), remaining: len - first_len, inflight: None }.into_stream()
    };
    Ok(Started { meta, range, body })
}

/// Reads exactly `len` bytes at the file's position, without zero-filling the buffer first.
fn read_chunk(file: &File, len: u64) -> io::Result<Bytes> {
    let capacity = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut buf = Vec::with_capacity(capacity);
    file.take(len).read_to_end(&mut buf)?;
    if buf.len() != capacity {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the object's file shrank while it was read (was it modified outside the store?)",
        ));
    }
    Ok(Bytes::from(buf))
}

/// The rest of a large read: one chunk read ahead in a blocking task while the previous one is
/// consumed. Reads run one at a time, so they share the file's position.
struct ReadAhead {
    first: Option<Bytes>,
    file: Arc<File>,
    remaining: u64,
    inflight: Option<JoinHandle<io::Result<Bytes>>>,
}

impl ReadAhead {
    fn read_next(&mut self) {
        if self.remaining == 0 {
            return;
        }
        let len = self.remaining.min(CHUNK);
        self.remaining -= len;
        let file = Arc::clone(&self.file);
        self.inflight = Some(tokio::task::spawn_blocking(move || read_chunk(&file, len)));
    }

    fn into_stream(self) -> ByteStream {
        stream::unfold(self, |mut this| async move {
            if let Some(first) = this.first.take() {
                this.read_next();
                return Some((Ok(first), this));
            }
            let out = match this.inflight.take()?.await {
                Ok(Ok(chunk)) => {
                    this.read_next();
                    return Some((Ok(chunk), this));
                }
                Ok(Err(e)) => paths::io_error(e),
                Err(e) => Error::new(ErrorKind::Other, "the filesystem read task failed").with_source(e),
            };
            this.remaining = 0;
            Some((Err(out), this))
        })
        .boxed()
    }
}
