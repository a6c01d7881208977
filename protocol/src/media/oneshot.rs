//! Whole-blob encryption and decryption, for blobs that fit in memory.
//!
//! These make whole-buffer passes with tandem's one-shot primitives, independently of the
//! streaming code in `stream.rs` (tests check that both give the same bytes and errors).

use subtle::ConstantTimeEq;

use crate::crypto::{
    CbcError, aes256_cbc_decrypt, aes256_cbc_encrypt, hmac_sha256_parts, sha256, verify_hmac_sha256,
};

use super::{MAC_LENGTH, MediaDigest, MediaError, MediaKey, MediaKind};

/// Encrypts `plaintext` as a blob of `kind` under `key`.
///
/// Returns the blob, `AES-256-CBC(cipher_key, iv, PKCS7(plaintext)) ‖ mac` with
/// `mac = HMAC-SHA256(mac_key, iv ‖ ciphertext)[..10]`, and its [`MediaDigest`].
pub fn encrypt(kind: MediaKind, key: &MediaKey, plaintext: &[u8]) -> (Vec<u8>, MediaDigest) {
    let keys = key.expand(kind);
    let mut blob = aes256_cbc_encrypt(&keys.cipher_key, keys.iv.expose(), plaintext);
    let mac = hmac_sha256_parts(keys.mac_key.expose(), &[keys.iv.expose(), &blob]);
    blob.extend_from_slice(mac.get(..MAC_LENGTH).unwrap_or_default());
    let digest = MediaDigest {
        file_sha256: sha256(&[plaintext]),
        file_enc_sha256: sha256(&[&blob]),
        file_length: plaintext.len() as u64,
    };
    (blob, digest)
}

/// Decrypts a blob of `kind` under `key`, checking it against the pointer's `expected` digest.
///
/// Checks, in order, and refuses at the first failure: SHA-256 of the whole blob
/// ([`MediaError::EncHashMismatch`]); blob shape ([`MediaError::BadBlobLength`]); the 10-byte
/// MAC, in constant time ([`MediaError::BadMac`]); then decrypts and checks the PKCS#7 padding
/// ([`MediaError::BadPadding`]), the plaintext's SHA-256 ([`MediaError::PlainHashMismatch`]) and
/// its length ([`MediaError::LengthMismatch`]). Plaintext is returned only when every check
/// passed.
pub fn decrypt(
    kind: MediaKind,
    key: &MediaKey,
    blob: &[u8],
    expected: &MediaDigest,
) -> Result<Vec<u8>, MediaError> {
    if !bool::from(sha256(&[blob]).ct_eq(&expected.file_enc_sha256)) {
        return Err(MediaError::EncHashMismatch);
    }
    let split = blob
        .len()
        .checked_sub(MAC_LENGTH)
        .ok_or(MediaError::BadBlobLength)?;
    let (ciphertext, mac) = blob.split_at_checked(split).ok_or(MediaError::BadBlobLength)?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(MediaError::BadBlobLength);
    }
    let keys = key.expand(kind);
    verify_hmac_sha256(keys.mac_key.expose(), &[keys.iv.expose(), ciphertext], mac)
        .map_err(|_| MediaError::BadMac)?;
    let plaintext =
        aes256_cbc_decrypt(&keys.cipher_key, keys.iv.expose(), ciphertext).map_err(|e| match e {
            CbcError::BadLength => MediaError::BadBlobLength,
            _ => MediaError::BadPadding,
        })?;
    check_plaintext(&sha256(&[&plaintext]), plaintext.len() as u64, expected)?;
    Ok(plaintext)
}

/// The last two checks of every decryption: plaintext SHA-256, then length.
pub(super) fn check_plaintext(
    hash: &[u8; 32],
    length: u64,
    expected: &MediaDigest,
) -> Result<(), MediaError> {
    if !bool::from(hash.ct_eq(&expected.file_sha256)) {
        return Err(MediaError::PlainHashMismatch);
    }
    if length != expected.file_length {
        return Err(MediaError::LengthMismatch);
    }
    Ok(())
}
