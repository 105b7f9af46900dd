//! Atomic writes: stage a temporary file beside the target, then swap it into place.
//!
//! A write creates `.cloudport-tmp-<random>` in the target's directory (keys cannot contain
//! segments starting with `.cloudport`, so the name never collides and listings skip it), fills
//! it, sets the metadata attribute, fsyncs it, and then, holding the key's lock:
//!
//! - `Overwrite`: renames it over the target;
//! - `Create`: hard-links it to the target, which fails atomically if the target exists, and
//!   removes the temporary name;
//! - `IfMatch`: reads the current etag, compares, renames.
//!
//! and finally fsyncs the directory (and the parents of directories it created). A crash at any
//! point leaves either the old object or the new one, plus at worst a hidden temporary file that
//! the next [`build`](super::FsBlobStoreBuilder::build) sweeps away once it is an hour old.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use cloudport_core::{BlobKey, ETag, Error, ErrorKind, Metadata, PutMode, Result};

use super::Shared;
use super::meta::StoredMeta;
use super::paths::{self, Existing, Location};
use super::read;
use crate::blob::common;

/// Every temporary file's name starts with this.
pub(crate) const TEMP_PREFIX: &str = ".cloudport-tmp-";

/// How often a write retries when a concurrent delete removes the directory it is creating.
const ATTEMPTS: usize = 16;

/// Removes a temporary file when dropped, unless it was renamed into place.
#[derive(Debug)]
pub(crate) struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A temporary file beside a key's target, ready to be filled and committed; dropping it
/// removes the file.
#[derive(Debug)]
pub(crate) struct Staged {
    loc: Location,
    created: Vec<PathBuf>,
    guard: TempGuard,
    file: File,
}

impl Staged {
    /// Creates the temporary file for `key`, and the directories it needs.
    ///
    /// # Errors
    /// `Unsupported` when the key's path is taken by a directory or lies under an object; as
    /// [`paths::locate`] otherwise.
    pub(crate) fn create(shared: &Shared, key: &BlobKey) -> Result<Self> {
        let loc = paths::locate(&shared.root, key)?;
        match loc.existing {
            Existing::Dir => return Err(paths::dir_error(key)),
            Existing::UnderFile { depth } => return Err(paths::under_file_error(key, depth)),
            _ => {}
        }
        let mut created = Vec::new();
        let mut make_dirs = matches!(loc.existing, Existing::Missing { parent_exists: false });
        for _ in 0..ATTEMPTS {
            if make_dirs {
                create_dirs(&shared.root, key, &mut created)?;
            }
            let path = loc.parent.join(format!("{TEMP_PREFIX}{:032x}", rand::random::<u128>()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(Self { loc, created, guard: TempGuard { path, armed: true }, file }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => make_dirs = true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(blocked(shared, key)),
                Err(e) => return Err(paths::io_error(e)),
            }
        }
        Err(vanishing_dirs())
    }

    /// Appends `chunks` to the temporary file.
    ///
    /// # Errors
    /// Disk failures.
    pub(crate) fn write_all(&mut self, chunks: &[Bytes]) -> Result<()> {
        for chunk in chunks {
            self.file.write_all(chunk).map_err(paths::io_error)?;
        }
        Ok(())
    }

    /// Seals the file with fresh metadata and swaps it into place as `mode` allows.
    ///
    /// # Errors
    /// `AlreadyExists` / `PreconditionFailed` as `mode` requires (nothing becomes visible then);
    /// disk failures.
    pub(crate) fn commit(
        self,
        shared: &Shared,
        key: &BlobKey,
        content_type: Option<String>,
        metadata: Metadata,
        mode: &PutMode,
    ) -> Result<ETag> {
        let Self { loc, created, mut guard, file } = self;
        let stored = StoredMeta { etag: common::new_etag(), content_type, metadata };
        stored.write(&file)?;
        if shared.fsync {
            file.sync_all().map_err(paths::io_error)?;
        }
        drop(file);
        {
            let _lock = shared.locks.lock(key.as_str())?;
            match mode {
                PutMode::Create => match fs::hard_link(&guard.path, &loc.path) {
                    // The guard removes the temporary name; the object keeps the inode.
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Err(match paths::locate(&shared.root, key)?.existing {
                            Existing::Dir => paths::dir_error(key),
                            _ => Error::new(
                                ErrorKind::AlreadyExists,
                                "an object already exists at this key (create-only write refused)",
                            ),
                        });
                    }
                    Err(e) => return Err(swap_error(shared, key, e)),
                },
                PutMode::IfMatch(want) => {
                    check_etag(&loc.path, want)?;
                    rename(shared, key, &mut guard, &loc.path)?;
                }
                _ => rename(shared, key, &mut guard, &loc.path)?,
            }
        }
        drop(guard);
        if shared.fsync {
            sync_dir(&loc.parent)?;
            for dir in created.iter().rev() {
                sync_dir(dir.parent().unwrap_or(&shared.root))?;
            }
        }
        Ok(stored.etag)
    }
}

fn rename(shared: &Shared, key: &BlobKey, guard: &mut TempGuard, target: &Path) -> Result<()> {
    fs::rename(&guard.path, target).map_err(|e| swap_error(shared, key, e))?;
    guard.armed = false;
    Ok(())
}

/// Fails unless the object at `path` exists with etag `want`; the caller holds the key's lock.
fn check_etag(path: &Path, want: &ETag) -> Result<()> {
    let current = match File::open(path) {
        Ok(file) => {
            let md = file.metadata().map_err(paths::io_error)?;
            md.is_file().then(|| StoredMeta::read(&file, &md)).transpose()?
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => None,
        Err(e) => return Err(paths::io_error(e)),
    };
    match current {
        None => Err(Error::new(
            ErrorKind::PreconditionFailed,
            "no object at this key to compare the etag with (it was deleted or never written)",
        )),
        Some(have) if have.etag != *want => Err(Error::new(
            ErrorKind::PreconditionFailed,
            format!("etag is {}, not {want} (read the object again to get the current version)", have.etag),
        )),
        Some(_) => Ok(()),
    }
}

/// Maps a failed rename or link: a directory in the way is the file-versus-prefix conflict.
fn swap_error(shared: &Shared, key: &BlobKey, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty => paths::dir_error(key),
        io::ErrorKind::NotADirectory => blocked(shared, key),
        _ => paths::io_error(e),
    }
}

/// The error for a key whose path runs through a file.
fn blocked(shared: &Shared, key: &BlobKey) -> Error {
    match paths::locate(&shared.root, key) {
        Ok(Location { existing: Existing::UnderFile { depth }, .. }) => paths::under_file_error(key, depth),
        Ok(_) => vanishing_dirs(),
        Err(e) => e,
    }
}

fn vanishing_dirs() -> Error {
    Error::new(
        ErrorKind::Conflict,
        "the key's directory kept changing while the object was written (concurrent deletes or writes); retry",
    )
}

/// Creates the directories between the root and `key`'s file, recording the ones it made.
fn create_dirs(root: &Path, key: &BlobKey, created: &mut Vec<PathBuf>) -> Result<()> {
    let segments: Vec<&str> = key.segments().collect();
    let dirs = &segments[..segments.len() - 1];
    'attempt: for _ in 0..ATTEMPTS {
        let mut path = root.to_path_buf();
        for (depth, segment) in dirs.iter().enumerate() {
            path.push(segment);
            match fs::create_dir(&path) {
                Ok(()) => created.push(path.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let md = fs::symlink_metadata(&path).map_err(paths::io_error)?;
                    if !paths::checked_type(root, &path, md.file_type())?.is_dir() {
                        return Err(paths::under_file_error(key, depth));
                    }
                }
                // A concurrent delete removed a parent we made or saw: start again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue 'attempt,
                Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                    return Err(paths::under_file_error(key, depth.saturating_sub(1)));
                }
                Err(e) => return Err(paths::io_error(e)),
            }
        }
        return Ok(());
    }
    Err(vanishing_dirs())
}

/// Makes a directory's entries durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(paths::io_error)
}

/// Writes `data` to `key` in one go: the whole of `put_opts`.
pub(crate) fn put(
    shared: &Shared,
    key: &BlobKey,
    data: &Bytes,
    content_type: Option<String>,
    metadata: Metadata,
    mode: &PutMode,
) -> Result<ETag> {
    let mut staged = Staged::create(shared, key)?;
    staged.write_all(std::slice::from_ref(data))?;
    staged.commit(shared, key, content_type, metadata, mode)
}

/// Copies `from` to `to` with `from`'s content type and metadata and a new etag.
pub(crate) fn copy(shared: &Shared, from: &BlobKey, to: &BlobKey, mode: &PutMode) -> Result<ETag> {
    let Some(source) = read::open_object(shared, from)? else {
        return Err(Error::new(ErrorKind::NotFound, format!("copy source {:?} does not exist", from.as_str())));
    };
    let mut staged = Staged::create(shared, to)?;
    // Within one filesystem this becomes copy_file_range: the kernel copies, or shares extents.
    io::copy(&mut &source.file, &mut staged.file).map_err(paths::io_error)?;
    let StoredMeta { content_type, metadata, .. } = source.stored;
    staged.commit(shared, to, content_type, metadata, mode)
}

/// Deletes `key` if it is an object, then removes directories the deletion left empty.
pub(crate) fn delete(shared: &Shared, key: &BlobKey) -> Result<()> {
    let loc = paths::locate(&shared.root, key)?;
    if loc.existing != Existing::File {
        return Ok(());
    }
    {
        let _lock = shared.locks.lock(key.as_str())?;
        match fs::remove_file(&loc.path) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::IsADirectory) => return Ok(()),
            Err(e) => return Err(paths::io_error(e)),
        }
    }
    if shared.fsync {
        sync_dir(&loc.parent)?;
    }
    remove_empty_dirs(&shared.root, &loc.parent);
    Ok(())
}

/// Removes `dir` and its ancestors while they are empty, never the root itself.
pub(crate) fn remove_empty_dirs(root: &Path, dir: &Path) {
    let mut dir = dir;
    while dir != root && dir.starts_with(root) {
        if fs::remove_dir(dir).is_err() {
            return;
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return,
        }
    }
}
