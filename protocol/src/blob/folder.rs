//! Blobs as files in one folder, named by their id.
//!
//! A put writes to a temporary file in the same folder (`.tmp-<id>-<process>-<n>`), checks the
//! hash, flushes it to disk and renames it onto `<id>`: a reader sees either no blob or the
//! whole blob, never a partial one, and a crash leaves at most a temporary file (names that
//! start with `.tmp-` are never blobs and may be deleted).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::{BlobError, BlobId, BlobReader, BlobStore};

/// Bytes copied per step by [`FolderBlobStore::put_from`].
const COPY_BUFFER: usize = 64 * 1024;

/// Distinguishes the temporary files of concurrent puts in one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// A [`BlobStore`] in a folder on disk: one file per blob, named by its [`BlobId`]. Blobs of any
/// size stream through a 64 KiB buffer.
#[derive(Debug, Clone)]
pub struct FolderBlobStore {
    dir: PathBuf,
}

impl FolderBlobStore {
    /// A store in `dir`, creating the folder if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ids of every stored blob (files whose names are not ids are skipped), sorted.
    pub fn ids(&self) -> Result<Vec<BlobId>, BlobError> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|name| BlobId::parse(name).ok())
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn path_of(&self, id: &BlobId) -> PathBuf {
        // An id's text is 43 characters of [A-Za-z0-9_-]: always one plain file name.
        self.dir.join(id.to_string())
    }

    fn write_temp(&self, temp: &Path, id: &BlobId, reader: &mut dyn Read) -> Result<u64, BlobError> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
        let mut hash = Sha256::new();
        let mut length: u64 = 0;
        let mut buf = vec![0u8; COPY_BUFFER];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            let chunk = buf.get(..n).unwrap_or_default();
            hash.update(chunk);
            file.write_all(chunk)?;
            length += n as u64;
        }
        let hash: [u8; 32] = hash.finalize().into();
        if hash != *id.sha256() {
            return Err(BlobError::HashMismatch);
        }
        file.sync_all()?;
        Ok(length)
    }
}

fn not_found(e: std::io::Error) -> BlobError {
    if e.kind() == ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        e.into()
    }
}

impl BlobStore for FolderBlobStore {
    fn put(&mut self, id: &BlobId, blob: &[u8]) -> Result<(), BlobError> {
        self.put_from(id, &mut &*blob).map(drop)
    }

    fn put_from(&mut self, id: &BlobId, reader: &mut dyn Read) -> Result<u64, BlobError> {
        let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(".tmp-{id}-{}-{n}", std::process::id()));
        let written = self.write_temp(&temp, id, reader).and_then(|length| {
            fs::rename(&temp, self.path_of(id))?;
            Ok(length)
        });
        if written.is_err() {
            // Best effort: the temporary file may not exist (create failed) or be gone already.
            let _ = fs::remove_file(&temp);
        }
        written
    }

    fn get(&self, id: &BlobId) -> Result<Vec<u8>, BlobError> {
        fs::read(self.path_of(id)).map_err(not_found)
    }

    fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader + '_>, BlobError> {
        let file = File::open(self.path_of(id)).map_err(not_found)?;
        Ok(Box::new(file))
    }

    fn contains(&self, id: &BlobId) -> Result<bool, BlobError> {
        Ok(self.path_of(id).try_exists()?)
    }

    fn delete(&mut self, id: &BlobId) -> Result<(), BlobError> {
        fs::remove_file(self.path_of(id)).map_err(not_found)
    }
}
