//! Per-key write locks that hold across threads and processes.
//!
//! Every change of a key (put, copy, delete) holds the lock of the key's stripe while it swaps
//! the file into place, so a compare-and-swap reads the current etag and renames without any
//! other writer in between. Keys hash (FNV-1a, stable across builds and processes) onto
//! [`STRIPES`] lock files under `<root>/.cloudport/locks/`. A stripe is an in-process mutex
//! (threads of this store) plus an exclusive `flock` on the stripe's file (other processes, and
//! other stores opened on the same root); the kernel drops the `flock` if the process dies.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use cloudport_core::{Error, Result};

/// How many lock files the keys share.
pub(crate) const STRIPES: usize = 64;

/// The directory of the lock files, relative to the root.
pub(crate) const LOCK_DIR: &str = ".cloudport/locks";

/// The lock files of one store, opened on first use and kept open.
#[derive(Debug)]
pub(crate) struct StripedLocks {
    dir: PathBuf,
    stripes: Box<[Mutex<Option<File>>]>,
}

/// An exclusive hold on one stripe; released when dropped.
#[derive(Debug)]
pub(crate) struct KeyLock<'a> {
    slot: MutexGuard<'a, Option<File>>,
}

impl StripedLocks {
    /// The locks of the store rooted at `root` (the directory must exist).
    pub(crate) fn new(root: &Path) -> Self {
        Self { dir: root.join(LOCK_DIR), stripes: (0..STRIPES).map(|_| Mutex::new(None)).collect() }
    }

    /// Blocks until this thread holds the lock of `key`'s stripe.
    ///
    /// # Errors
    /// When the lock file cannot be opened or locked.
    pub(crate) fn lock(&self, key: &str) -> Result<KeyLock<'_>> {
        let stripe = stripe_of(key);
        let mut slot = self.stripes[stripe].lock().unwrap_or_else(PoisonError::into_inner);
        let file = match &mut *slot {
            Some(file) => file,
            empty @ None => empty.insert(self.open(stripe)?),
        };
        file.lock().map_err(|e| Error::from(e).with_target(self.dir.display().to_string()))?;
        Ok(KeyLock { slot })
    }

    fn open(&self, stripe: usize) -> Result<File> {
        let path = self.dir.join(format!("{stripe:02}.lock"));
        let open = || OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path);
        match open() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Someone removed the lock directory; it only ever holds these files.
                fs::create_dir_all(&self.dir)?;
                Ok(open()?)
            }
            other => Ok(other?),
        }
    }
}

impl Drop for KeyLock<'_> {
    fn drop(&mut self) {
        // Unlocking keeps the file open for reuse; if that ever fails, closing it releases the
        // lock instead (the next writer opens the file again).
        if self.slot.as_ref().is_some_and(|file| file.unlock().is_err()) {
            *self.slot = None;
        }
    }
}

/// The stripe of `key`: FNV-1a of its bytes, so every process maps a key to the same file.
fn stripe_of(key: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % STRIPES as u64) as usize
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn stripes_are_stable_and_spread() {
        // Fixed values: other processes (and other versions) must agree on them.
        assert_eq!(stripe_of(""), (0xcbf2_9ce4_8422_2325_u64 % 64) as usize);
        let used: std::collections::HashSet<usize> = (0..1000).map(|i| stripe_of(&format!("k{i}"))).collect();
        assert_eq!(used.len(), STRIPES);
    }

    #[test]
    fn two_stores_on_one_root_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(LOCK_DIR)).unwrap();
        let a = Arc::new(StripedLocks::new(dir.path()));
        let b = Arc::new(StripedLocks::new(dir.path()));
        let held = a.lock("key").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let b2 = Arc::clone(&b);
        let waiter = std::thread::spawn(move || {
            let _lock = b2.lock("key").unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "second store got a held lock");
        drop(held);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
    }
}
