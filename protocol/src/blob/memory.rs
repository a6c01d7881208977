//! Blobs in a map in memory (tests, the simulator).

use std::collections::HashMap;
use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

use super::{BlobError, BlobId, BlobReader, BlobStore};

/// A [`BlobStore`] in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryBlobStore {
    blobs: HashMap<BlobId, Vec<u8>>,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many blobs it holds.
    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    /// Whether it holds no blob.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Replaces a stored blob's bytes without any check: for tests that play a hostile server.
    pub fn tamper(&mut self, id: &BlobId, f: impl FnOnce(&mut Vec<u8>)) -> Result<(), BlobError> {
        f(self.blobs.get_mut(id).ok_or(BlobError::NotFound)?);
        Ok(())
    }
}

impl BlobStore for MemoryBlobStore {
    fn put(&mut self, id: &BlobId, blob: &[u8]) -> Result<(), BlobError> {
        if BlobId::of_blob(blob) != *id {
            return Err(BlobError::HashMismatch);
        }
        self.blobs.insert(*id, blob.to_vec());
        Ok(())
    }

    fn put_from(&mut self, id: &BlobId, reader: &mut dyn Read) -> Result<u64, BlobError> {
        let mut blob = Vec::new();
        reader.read_to_end(&mut blob)?;
        let hash: [u8; 32] = Sha256::digest(&blob).into();
        if hash != *id.sha256() {
            return Err(BlobError::HashMismatch);
        }
        let length = blob.len() as u64;
        self.blobs.insert(*id, blob);
        Ok(length)
    }

    fn get(&self, id: &BlobId) -> Result<Vec<u8>, BlobError> {
        self.blobs.get(id).cloned().ok_or(BlobError::NotFound)
    }

    fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader + '_>, BlobError> {
        let blob = self.blobs.get(id).ok_or(BlobError::NotFound)?;
        Ok(Box::new(Cursor::new(blob.as_slice())))
    }

    fn contains(&self, id: &BlobId) -> Result<bool, BlobError> {
        Ok(self.blobs.contains_key(id))
    }

    fn delete(&mut self, id: &BlobId) -> Result<(), BlobError> {
        self.blobs.remove(id).map(drop).ok_or(BlobError::NotFound)
    }
}
