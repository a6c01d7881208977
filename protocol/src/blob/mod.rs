//! Where encrypted blobs are kept: the server's media store, as a trait with an in-memory and a
//! folder-on-disk implementation.
//!
//! A blob is named by its [`BlobId`], the unpadded base64url of its SHA-256 (`file_enc_sha256`
//! in the pointer), which is how WhatsApp names uploads (`/mms/<type>/<base64url(hash)>`).
//! Stores are content-addressed: a put whose bytes do not hash to the id is refused, so a store
//! never holds a blob under the wrong name. Stores see only ciphertext; they are not trusted
//! (receivers check every blob against the pointer's hashes and MAC).

mod folder;
mod id;
mod memory;

use std::io::{Read, Seek};

pub use folder::FolderBlobStore;
pub use id::{BLOB_ID_LENGTH, BlobId};
pub use memory::MemoryBlobStore;

/// Why a blob-store operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// No blob with this id.
    #[error("no such blob")]
    NotFound,
    /// A string is not a blob id: exactly 43 characters of unpadded, canonical base64url
    /// encoding 32 bytes.
    #[error("not a blob id")]
    InvalidId,
    /// The bytes put do not hash (SHA-256) to the id they were put under. Nothing was stored.
    #[error("blob bytes do not match the blob id")]
    HashMismatch,
    /// The underlying storage failed (the I/O error's kind).
    #[error("blob store I/O error: {0:?}")]
    Io(std::io::ErrorKind),
}

impl From<std::io::Error> for BlobError {
    fn from(e: std::io::Error) -> Self {
        BlobError::Io(e.kind())
    }
}

/// A reader over one stored blob that can also seek (for range reads of seekable media).
pub trait BlobReader: Read + Seek {}

impl<T: Read + Seek + ?Sized> BlobReader for T {}

/// A store of encrypted blobs by id.
pub trait BlobStore {
    /// Stores `blob` under `id`. Refused with [`BlobError::HashMismatch`] (nothing stored) if
    /// `SHA-256(blob)` is not `id`. Putting a blob that is already there succeeds.
    fn put(&mut self, id: &BlobId, blob: &[u8]) -> Result<(), BlobError>;

    /// Stores everything `reader` yields under `id`, without holding it all in memory (for the
    /// folder store), checking the hash as it goes; returns the number of bytes stored. On any
    /// error nothing is stored.
    fn put_from(&mut self, id: &BlobId, reader: &mut dyn Read) -> Result<u64, BlobError>;

    /// The whole blob.
    fn get(&self, id: &BlobId) -> Result<Vec<u8>, BlobError>;

    /// A seekable reader over the blob, for streaming or range reads.
    fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader + '_>, BlobError>;

    /// Whether a blob with this id is stored.
    fn contains(&self, id: &BlobId) -> Result<bool, BlobError>;

    /// Removes the blob. [`BlobError::NotFound`] if there was none.
    fn delete(&mut self, id: &BlobId) -> Result<(), BlobError>;
}
