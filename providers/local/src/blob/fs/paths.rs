//! Mapping keys to paths under the root, without ever leaving it.
//!
//! [`BlobKey`] already rules out `..`, `.`, empty and absolute segments. What remains is
//! symlinks: every existing component of a key's path is checked with `symlink_metadata`, and a
//! symlink is followed only if its canonical target lies inside the root (and outside the
//! store's reserved `.cloudport*` names). The checks and the later open are separate system
//! calls, so someone who can already write inside the root could race them; the store defends
//! against links left in the tree, not against a hostile writer of the root.

use std::fs::{self, FileType};
use std::io;
use std::path::{Path, PathBuf};

use cloudport_core::{BlobKey, Error, ErrorKind, RESERVED_SEGMENT_PREFIX, Result};

/// What exists at a key's path right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// A regular file: the object.
    File,
    /// A directory: keys live under this one.
    Dir,
    /// Something else (a FIFO, socket or device): never an object, never opened.
    Other,
    /// Nothing; `parent_exists` says whether the directory that would hold it exists.
    Missing { parent_exists: bool },
    /// Component `depth` (0-based) of the key is a file, so nothing can exist below it.
    UnderFile { depth: usize },
}

/// A key's place on disk.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    /// `root/key`.
    pub(crate) path: PathBuf,
    /// The directory holding `path`.
    pub(crate) parent: PathBuf,
    /// What is there now.
    pub(crate) existing: Existing,
}

/// Resolves `key` under the canonical `root`, checking every existing component.
///
/// # Errors
/// `PermissionDenied` for a symlink leading out of the root; `InvalidInput` for a segment longer
/// than the filesystem allows; other I/O failures as their kinds.
pub(crate) fn locate(root: &Path, key: &BlobKey) -> Result<Location> {
    let segments: Vec<&str> = key.segments().collect();
    let mut path = root.to_path_buf();
    let mut existing = Existing::Missing { parent_exists: true };
    for (depth, segment) in segments.iter().enumerate() {
        path.push(segment);
        let last = depth + 1 == segments.len();
        let kind = match fs::symlink_metadata(&path) {
            Ok(md) => checked_type(root, &path, md.file_type())?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                existing = Existing::Missing { parent_exists: last };
                segments[depth + 1..].iter().for_each(|s| path.push(s));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                // A component turned into a file since we looked at it.
                existing = Existing::UnderFile { depth: depth.saturating_sub(1) };
                segments[depth + 1..].iter().for_each(|s| path.push(s));
                break;
            }
            Err(e) => return Err(io_error(e)),
        };
        if last {
            existing = if kind.is_file() {
                Existing::File
            } else if kind.is_dir() {
                Existing::Dir
            } else {
                Existing::Other
            };
        } else if !kind.is_dir() {
            existing = Existing::UnderFile { depth };
            segments[depth + 1..].iter().for_each(|s| path.push(s));
            break;
        }
    }
    let parent = path.parent().map_or_else(|| root.to_path_buf(), Path::to_path_buf);
    Ok(Location { path, parent, existing })
}

/// Resolves the directory `root/dir_key` (segments of a listing prefix) for reading. `None`
/// when no key can live under it: a segment is missing, a file, or not a valid key segment.
///
/// # Errors
/// As [`locate`].
pub(crate) fn locate_dir(root: &Path, segments: &[&str]) -> Result<Option<PathBuf>> {
    let mut path = root.to_path_buf();
    for segment in segments {
        if !valid_segment(segment) {
            return Ok(None);
        }
        path.push(segment);
        match fs::symlink_metadata(&path) {
            Ok(md) => {
                if !checked_type(root, &path, md.file_type())?.is_dir() {
                    return Ok(None);
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(None),
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(Some(path))
}

/// The type of what `path` is, following a symlink only if it stays inside `root`.
///
/// # Errors
/// `PermissionDenied` for a symlink out of the root, or one whose target is missing.
pub(crate) fn checked_type(root: &Path, path: &Path, kind: FileType) -> Result<FileType> {
    if !kind.is_symlink() {
        return Ok(kind);
    }
    let escape = || {
        Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{} is a symlink that does not lead to a place inside the store root {} (the filesystem store never follows links out of its root; remove the link or point it inside)",
                path.display(),
                root.display()
            ),
        )
    };
    let target = fs::canonicalize(path).map_err(|e| escape().with_source(e))?;
    let inside = target.strip_prefix(root).map_err(|_| escape())?;
    let reserved = inside.iter().any(|c| c.to_str().is_none_or(|s| s.starts_with(RESERVED_SEGMENT_PREFIX)));
    if reserved {
        return Err(escape());
    }
    Ok(fs::metadata(&target).map_err(io_error)?.file_type())
}

/// Whether a directory entry's name can be a key segment (see [`BlobKey`]'s rules).
pub(crate) fn valid_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with(RESERVED_SEGMENT_PREFIX)
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

/// Maps an I/O error, explaining the filesystem-specific cases.
pub(crate) fn io_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::InvalidFilename => Error::invalid_input(
            "a segment of the key is longer than this filesystem allows in a file name (usually 255 bytes; use shorter segments)",
        )
        .with_source(e),
        _ => Error::from(e),
    }
}

/// The error for writing `key` where component `depth` is already an object: `Unsupported`, as
/// [`BlobCapabilities::file_and_prefix_coexist`](cloudport_core::BlobCapabilities) says.
pub(crate) fn under_file_error(key: &BlobKey, depth: usize) -> Error {
    let blocker: Vec<&str> = key.segments().take(depth + 1).collect();
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "{:?} is an object, so no key can be stored under it: the filesystem store cannot hold both a key and keys under it (delete {:?} first, or use the memory store)",
            blocker.join("/"),
            blocker.join("/")
        ),
    )
}

/// The error for writing `key` where keys already live under `key/` (`Unsupported`, as above).
pub(crate) fn dir_error(key: &BlobKey) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "keys exist under \"{key}/\", so {:?} cannot be an object too: the filesystem store cannot hold both a key and keys under it (delete the keys under it first, or use the memory store)",
            key.as_str()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_reports_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/f"), "x").unwrap();
        let at = |k: &str| locate(&root, &BlobKey::new(k).unwrap()).unwrap();
        assert_eq!(at("a/f").existing, Existing::File);
        assert_eq!(at("a/b").existing, Existing::Dir);
        assert_eq!(at("a/g").existing, Existing::Missing { parent_exists: true });
        assert_eq!(at("a/g/h").existing, Existing::Missing { parent_exists: false });
        assert_eq!(at("a/f/x/y").existing, Existing::UnderFile { depth: 1 });
        assert_eq!(at("a/f/x/y").path, root.join("a/f/x/y"));
        assert_eq!(at("a/g/h").parent, root.join("a/g"));
    }

    #[test]
    fn long_segments_are_invalid_input() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        let err = locate(&root, &BlobKey::new("x".repeat(300)).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }

    #[test]
    fn segment_rules_match_blob_keys() {
        for ok in ["a", "...", ".hidden", "sp ace"] {
            assert!(valid_segment(ok), "{ok}");
            assert!(BlobKey::new(ok).is_ok());
        }
        for bad in ["", ".", "..", ".cloudport-tmp-1", "nl\n"] {
            assert!(!valid_segment(bad), "{bad:?}");
        }
    }
}
