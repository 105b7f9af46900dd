//! Listing: a lazy depth-first walk that yields keys in byte-wise order, page by page.
//!
//! Only the directories on the current path are held in memory (each one's entries, sorted),
//! never the whole tree. Sorting a directory's entries by name alone would not give key order: a
//! directory `a` stands for keys `a/...`, which sort after `a-b` because `/` (0x2F) comes after
//! `-` (0x2D). So directories sort by their name plus `/`, files by their name; with that order a
//! depth-first walk yields exactly the sorted key order (no entry's sort name is a prefix of a
//! sibling's unless it is a file, whose key then sorts first anyway).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use cloudport_core::{BlobKey, ListEntry, Result};

use super::Shared;
use super::meta::StoredMeta;
use super::paths;
use crate::blob::common::ListPlan;

/// One directory on the walk's current path.
#[derive(Debug)]
struct Frame {
    /// The key prefix of the directory's entries (`""` or ending in `/`).
    key_prefix: String,
    dir: PathBuf,
    children: Vec<Child>,
    next: usize,
}

#[derive(Debug)]
struct Child {
    /// The name, plus `/` for a directory: what the entry contributes to its keys.
    sort_name: String,
    is_dir: bool,
}

/// A listing in progress; each [`next_page`](FsLister::next_page) runs in one blocking call.
#[derive(Debug)]
pub(crate) struct FsLister {
    plan: ListPlan,
    started: bool,
    stack: Vec<Frame>,
}

impl FsLister {
    pub(crate) fn new(plan: ListPlan) -> Self {
        Self { plan, started: false, stack: Vec::new() }
    }

    /// The next page of entries; an empty page means the listing is complete.
    pub(crate) fn next_page(&mut self, shared: &Shared) -> Result<Vec<ListEntry>> {
        if !self.started {
            self.started = true;
            self.open_start(shared)?;
        }
        let mut page = Vec::new();
        while page.len() < self.plan.page_size {
            let Some(frame) = self.stack.last_mut() else { break };
            let Some(child) = frame.children.get(frame.next) else {
                self.stack.pop();
                continue;
            };
            frame.next += 1;
            let name = format!("{}{}", frame.key_prefix, child.sort_name);
            let path = frame.dir.join(child.sort_name.trim_end_matches('/'));
            if !child.is_dir {
                if self.plan.after_start(&name)
                    && let Some(entry) = object_entry(&name, &path)?
                {
                    page.push(entry);
                }
                continue;
            }
            if self.plan.delimited {
                // A delimited listing never descends: the directory is one common prefix.
                if self.plan.after_start(&name) && holds_objects(&shared.root, &path)? {
                    page.push(ListEntry::Prefix(name));
                }
                continue;
            }
            // Skip subtrees that sort wholly before start_after.
            let skip = self
                .plan
                .start_after
                .as_deref()
                .is_some_and(|after| name.as_str() <= after && !after.starts_with(&name));
            if !skip {
                let children = read_children(&shared.root, &path, "")?;
                self.stack.push(Frame { key_prefix: name, dir: path, children, next: 0 });
            }
        }
        Ok(page)
    }

    /// Opens the deepest directory the prefix names completely; its entries are filtered by the
    /// prefix's last, partial segment.
    fn open_start(&mut self, shared: &Shared) -> Result<()> {
        let (dir_key, partial) = match self.plan.prefix.rfind('/') {
            Some(i) => self.plan.prefix.split_at(i + 1),
            None => ("", self.plan.prefix.as_str()),
        };
        let segments: Vec<&str> = dir_key.split_terminator('/').collect();
        let Some(dir) = paths::locate_dir(&shared.root, &segments)? else { return Ok(()) };
        let children = read_children(&shared.root, &dir, partial)?;
        self.stack.push(Frame { key_prefix: dir_key.to_owned(), dir, children, next: 0 });
        Ok(())
    }
}

/// The entries of `dir` that can hold keys, whose names start with `partial`, in key order.
fn read_children(root: &Path, dir: &Path, partial: &str) -> Result<Vec<Child>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // Removed since we saw it (a concurrent delete): nothing under it any more.
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(Vec::new()),
        Err(e) => return Err(paths::io_error(e)),
    };
    let mut children = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(paths::io_error(e)),
        };
        let Ok(name) = entry.file_name().into_string() else { continue };
        if !name.starts_with(partial) || !paths::valid_segment(&name) {
            continue;
        }
        let Some(is_dir) = entry_kind(root, &entry)? else { continue };
        let sort_name = if is_dir { name + "/" } else { name };
        children.push(Child { sort_name, is_dir });
    }
    children.sort_unstable_by(|a, b| a.sort_name.cmp(&b.sort_name));
    Ok(children)
}

/// `Some(true)` for a directory to walk, `Some(false)` for a file, `None` to skip: special
/// files, symlinks out of the root, and symlinks to directories (never walked, so a link cannot
/// make the walk loop).
fn entry_kind(root: &Path, entry: &fs::DirEntry) -> Result<Option<bool>> {
    let kind = match entry.file_type() {
        Ok(kind) => kind,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(paths::io_error(e)),
    };
    if kind.is_symlink() {
        let target = paths::checked_type(root, &entry.path(), kind).ok();
        return Ok(target.filter(fs::FileType::is_file).map(|_| false));
    }
    Ok(if kind.is_dir() {
        Some(true)
    } else if kind.is_file() {
        Some(false)
    } else {
        None
    })
}

/// The listing entry of the file at `path`, or `None` if it vanished or cannot be a key.
fn object_entry(name: &str, path: &Path) -> Result<Option<ListEntry>> {
    let Ok(key) = BlobKey::new(name) else { return Ok(None) };
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(paths::io_error(e)),
    };
    let md = file.metadata().map_err(paths::io_error)?;
    if !md.is_file() {
        return Ok(None);
    }
    let stored = StoredMeta::read(&file, &md)?;
    Ok(Some(ListEntry::Object(stored.summary(key, &md))))
}

/// Whether any object lives somewhere under `dir` (a directory holding only temporary files, or
/// nothing, is not a common prefix). Stops at the first object found.
fn holds_objects(root: &Path, dir: &Path) -> Result<bool> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for child in read_children(root, &dir, "")? {
            if !child.is_dir {
                return Ok(true);
            }
            pending.push(dir.join(child.sort_name.trim_end_matches('/')));
        }
    }
    Ok(false)
}
