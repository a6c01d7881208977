//! Media encryption: photos, videos, documents, history chunks and app-state blobs.
//!
//! WhatsApp's construction (see `spec/07-media.md`):
//!
//! ```text
//! expanded   = HKDF-SHA256(ikm = media_key[32], salt = none, info = kind.info(), L = 112)
//! iv         = expanded[0..16]     cipher_key = expanded[16..48]
//! mac_key    = expanded[48..80]    ref_key    = expanded[80..112] (unused)
//! ciphertext = AES-256-CBC(cipher_key, iv, PKCS7(plaintext))
//! blob       = ciphertext ‖ HMAC-SHA256(mac_key, iv ‖ ciphertext)[..10]
//! digest     = { SHA-256(plaintext), SHA-256(blob), len(plaintext) }
//! ```
//!
//! The blob goes to an untrusted store; the key and digest travel end to end encrypted in a
//! [`MediaPointer`]. Whole blobs: [`encrypt`] / [`decrypt`]. Streams with bounded memory:
//! [`encrypt_stream`], [`decrypt_stream`] (one pass, authenticates only at the end) and
//! [`decrypt_verify_first`] (two passes over a seekable input, writes nothing unauthenticated).
//! Seekable playback: a [`Sidecar`] of per-64-KiB-chunk MACs and [`decrypt_range`].
//!
//! [`encrypt`], [`decrypt`], the three stream functions and [`verify_blob`] each have a `_with`
//! form taking [`MediaOptions`]; with [`Hashing::Threads`] the hashes run on scoped worker
//! threads beside the cipher (same bytes, same errors, bounded memory; spec §7.3.1). The plain
//! forms never start a thread.

mod cbc_stream;
mod digest;
mod error;
mod key;
mod kind;
mod lane;
mod oneshot;
mod options;
mod pointer;
mod sidecar;
mod stream;
mod threaded_stream;

pub use digest::MediaDigest;
pub use error::MediaError;
pub use key::{EXPANDED_LENGTH, MEDIA_KEY_LENGTH, MediaKey, MediaKeys};
pub use kind::MediaKind;
pub use oneshot::{decrypt, decrypt_with, encrypt, encrypt_with};
pub use options::{Hashing, MediaOptions};
pub use pointer::{MediaPointer, PointerError};
pub use sidecar::{SIDECAR_CHUNK, Sidecar, decrypt_range};
pub use stream::{
    STREAM_BUFFER, decrypt_stream, decrypt_stream_with, decrypt_verify_first, decrypt_verify_first_with,
    encrypt_stream, encrypt_stream_with, encrypt_stream_with_sidecar, encrypt_with_sidecar, verify_blob,
    verify_blob_with,
};
pub use threaded_stream::THREADED_PIECE;

/// Length of the truncated HMAC that ends a blob (and of each sidecar entry).
pub const MAC_LENGTH: usize = 10;
