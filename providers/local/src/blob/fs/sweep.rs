//! Removing the temporary files of writers that crashed.
//!
//! A writer that dies between creating its temporary file and renaming it leaves the file
//! behind. Listings never show it; [`build`](super::FsBlobStoreBuilder::build) starts a
//! best-effort background sweep that removes such files once they are [`STALE_AFTER`] old
//! (a live upload touches its file with every batch it writes), and then any directory the
//! removal left empty.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cloudport_core::RESERVED_SEGMENT_PREFIX;

use super::write::{TEMP_PREFIX, remove_empty_dirs};

/// Temporary files untouched for this long belong to writers that are gone.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// Sweeps `root` on a background thread; failures are ignored (the files stay hidden anyway).
pub(crate) fn spawn(root: PathBuf) {
    let _ = std::thread::Builder::new().name("cloudport-fs-sweep".into()).spawn(move || sweep(&root, STALE_AFTER));
}

/// Removes temporary files under `root` not modified for `older_than`; returns how many.
pub(crate) fn sweep(root: &Path, older_than: Duration) -> usize {
    let cutoff = SystemTime::now().checked_sub(older_than).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut removed = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let mut removed_here = false;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && !name.starts_with(RESERVED_SEGMENT_PREFIX) {
                dirs.push(entry.path());
            } else if kind.is_file() && name.starts_with(TEMP_PREFIX) {
                let stale = entry.metadata().and_then(|md| md.modified()).is_ok_and(|t| t < cutoff);
                if stale && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                    removed_here = true;
                }
            }
        }
        if removed_here {
            remove_empty_dirs(root, &dir);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_stale_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        let stale = root.join("a/b").join(format!("{TEMP_PREFIX}old"));
        let fresh = root.join("a").join(format!("{TEMP_PREFIX}new"));
        let object = root.join("a/object");
        for path in [&stale, &fresh, &object] {
            fs::write(path, "x").unwrap();
        }
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        fs::File::options().write(true).open(&stale).unwrap().set_modified(two_hours_ago).unwrap();
        fs::File::options().write(true).open(&object).unwrap().set_modified(two_hours_ago).unwrap();
        assert_eq!(sweep(root, STALE_AFTER), 1);
        assert!(!stale.exists());
        assert!(!root.join("a/b").exists(), "the emptied directory stays");
        assert!(fresh.exists() && object.exists());
    }
}
