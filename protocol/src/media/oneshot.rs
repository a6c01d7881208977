//! Whole-blob encryption and decryption, for blobs that fit in memory.
//!
//! Both go through the input piece by piece (64 KiB inline, [`THREADED_PIECE`] with threads):
//! each piece is encrypted or decrypted and hashed while it is in cache, instead of four passes
//! over the whole buffer. With [`Hashing::Threads`](super::Hashing::Threads) the hashes run on
//! scoped workers that borrow the input (nothing is copied). The code is separate from the
//! streaming code in `stream.rs`; tests check that both give the same bytes and errors.

use std::thread;

use hmac::Mac;
use sha2::digest::Update;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::{aes256_cbc_encrypt, hmac_sha256_parts, sha256};

use super::cbc_stream::{BLOCK, CbcDecryptor, CbcEncryptor, unpadded_length};
use super::lane::Lane;
use super::stream::keyed;
use super::{
    MAC_LENGTH, MediaDigest, MediaError, MediaKey, MediaKind, MediaOptions, STREAM_BUFFER, THREADED_PIECE,
};

/// Encrypts `plaintext` as a blob of `kind` under `key`.
///
/// Returns the blob, `AES-256-CBC(cipher_key, iv, PKCS7(plaintext)) ‖ mac` with
/// `mac = HMAC-SHA256(mac_key, iv ‖ ciphertext)[..10]`, and its [`MediaDigest`].
pub fn encrypt(kind: MediaKind, key: &MediaKey, plaintext: &[u8]) -> (Vec<u8>, MediaDigest) {
    encrypt_with(kind, key, plaintext, MediaOptions::INLINE)
}

/// [`encrypt`] with `options`: with [`Hashing::Threads`](super::Hashing::Threads) the three
/// hashes run on scoped worker threads beside the cipher. Same blob and digest.
pub fn encrypt_with(
    kind: MediaKind,
    key: &MediaKey,
    plaintext: &[u8],
    options: MediaOptions,
) -> (Vec<u8>, MediaDigest) {
    let threaded = options.threaded();
    let piece = if threaded { THREADED_PIECE } else { STREAM_BUFFER };
    let keys = key.expand(kind);
    let whole = plaintext.len() - plaintext.len() % BLOCK;
    let mut blob = vec![0u8; whole + BLOCK + MAC_LENGTH];
    let mut mac = keyed(keys.mac_key.expose());
    Mac::update(&mut mac, keys.iv.expose());
    let mut cipher = CbcEncryptor::new(&keys.cipher_key, keys.iv.expose());
    let digest = thread::scope(|s| -> Result<_, MediaError> {
        let (blocks, tail) = plaintext
            .split_at_checked(whole)
            .ok_or(MediaError::BadBlobLength)?;
        let (body, end) = blob
            .split_at_mut_checked(whole)
            .ok_or(MediaError::BadBlobLength)?;
        let (last, tag_slot) = end.split_at_mut_checked(BLOCK).ok_or(MediaError::BadBlobLength)?;
        // Threads: the plaintext hash starts over the whole input at once. Inline: it follows
        // the pieces below.
        let mut plain_hash = match threaded {
            true => Lane::whole(s, Sha256::new(), blocks, true),
            false => Lane::fed(s, Sha256::new(), false),
        };
        let mut mac = Lane::fed(s, mac, threaded);
        let mut enc_hash = Lane::fed(s, Sha256::new(), threaded);
        for (from, to) in blocks.chunks(piece).zip(body.chunks_mut(piece)) {
            if !threaded {
                plain_hash.feed(from)?;
            }
            cipher.encrypt_blocks_to(from, to)?;
            let to: &[u8] = to;
            mac.feed(to)?;
            enc_hash.feed(to)?;
        }
        let final_block = cipher.encrypt_final(tail);
        last.copy_from_slice(&final_block);
        let mut mac = mac.finish()?;
        Update::update(&mut mac, &final_block);
        let tag = mac.finalize().into_bytes();
        for (slot, byte) in tag_slot.iter_mut().zip(tag) {
            *slot = byte;
        }
        let mut enc_hash = enc_hash.finish()?;
        Digest::update(&mut enc_hash, final_block);
        Digest::update(&mut enc_hash, &*tag_slot);
        let mut plain_hash = plain_hash.finish()?;
        Digest::update(&mut plain_hash, tail);
        Ok(MediaDigest {
            file_sha256: plain_hash.finalize().into(),
            file_enc_sha256: enc_hash.finalize().into(),
            file_length: plaintext.len() as u64,
        })
    });
    match digest {
        Ok(digest) => (blob, digest),
        // Cannot happen: the lengths above are consistent by construction and a worker only
        // hashes. Should it ever, the whole-buffer passes give the answer.
        Err(_) => encrypt_in_passes(kind, key, plaintext),
    }
}

/// [`encrypt`] as four passes over whole buffers with tandem's one-shot primitives: the
/// fallback of [`encrypt_with`], and the reference its tests compare against.
pub(super) fn encrypt_in_passes(kind: MediaKind, key: &MediaKey, plaintext: &[u8]) -> (Vec<u8>, MediaDigest) {
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
/// MAC, in constant time ([`MediaError::BadMac`]); the PKCS#7 padding
/// ([`MediaError::BadPadding`]), the plaintext's SHA-256 ([`MediaError::PlainHashMismatch`]) and
/// its length ([`MediaError::LengthMismatch`]). Plaintext is returned only when every check
/// passed.
///
/// To make one pass over the blob, pieces are decrypted as they are hashed, into a buffer that is
/// zeroized and dropped if any check fails; the padding is looked at only after the MAC verified.
pub fn decrypt(
    kind: MediaKind,
    key: &MediaKey,
    blob: &[u8],
    expected: &MediaDigest,
) -> Result<Vec<u8>, MediaError> {
    decrypt_with(kind, key, blob, expected, MediaOptions::INLINE)
}

/// [`decrypt`] with `options`: with [`Hashing::Threads`](super::Hashing::Threads) the blob's
/// SHA-256 and the MAC run on worker threads over the whole blob while this one decrypts, and
/// the plaintext's SHA-256 on a third. The checks are then read in the order of [`decrypt`] and
/// give the same error; the plaintext is returned only when every check passed.
pub fn decrypt_with(
    kind: MediaKind,
    key: &MediaKey,
    blob: &[u8],
    expected: &MediaDigest,
    options: MediaOptions,
) -> Result<Vec<u8>, MediaError> {
    let threaded = options.threaded();
    let piece = if threaded { THREADED_PIECE } else { STREAM_BUFFER };
    let Some(split) = blob
        .len()
        .checked_sub(MAC_LENGTH)
        .filter(|&n| n >= BLOCK && n % BLOCK == 0)
    else {
        // Not a blob's shape: the blob's hash decides which error comes first.
        if !bool::from(sha256(&[blob]).ct_eq(&expected.file_enc_sha256)) {
            return Err(MediaError::EncHashMismatch);
        }
        return Err(MediaError::BadBlobLength);
    };
    let (ciphertext, tag) = blob.split_at_checked(split).ok_or(MediaError::BadBlobLength)?;
    let (blocks, last) = ciphertext
        .split_at_checked(split - BLOCK)
        .ok_or(MediaError::BadBlobLength)?;
    let keys = key.expand(kind);
    let mut mac = keyed(keys.mac_key.expose());
    Mac::update(&mut mac, keys.iv.expose());
    let mut cipher = CbcDecryptor::new(&keys.cipher_key, keys.iv.expose());
    let mut plaintext = Zeroizing::new(vec![0u8; split]);
    let length = thread::scope(|s| {
        let (body, end) = plaintext
            .split_at_mut_checked(split - BLOCK)
            .ok_or(MediaError::BadBlobLength)?;
        // Threads: the blob hash and the MAC start over the whole blob at once. Inline: they
        // follow the pieces below.
        let mut enc_hash = match threaded {
            true => Lane::whole(s, Sha256::new(), blob, true),
            false => Lane::fed(s, Sha256::new(), false),
        };
        let mut mac = match threaded {
            true => Lane::whole(s, mac, ciphertext, true),
            false => Lane::fed(s, mac, false),
        };
        let mut plain_hash = Lane::fed(s, Sha256::new(), threaded);
        for (from, to) in blocks.chunks(piece).zip(body.chunks_mut(piece)) {
            if !threaded {
                enc_hash.feed(from)?;
                mac.feed(from)?;
            }
            cipher.decrypt_blocks_to(from, to)?;
            let to: &[u8] = to;
            plain_hash.feed(to)?;
        }
        if !threaded {
            enc_hash.feed(last)?;
            enc_hash.feed(tag)?;
            mac.feed(last)?;
        }
        cipher.decrypt_blocks_to(last, end)?;

        // The checks, in order.
        let enc_sha256: [u8; 32] = enc_hash.finish()?.finalize().into();
        if !bool::from(enc_sha256.ct_eq(&expected.file_enc_sha256)) {
            return Err(MediaError::EncHashMismatch);
        }
        mac.finish()?
            .verify_truncated_left(tag)
            .map_err(|_| MediaError::BadMac)?;
        let tail = unpadded_length(end)?;
        let mut plain_hash = plain_hash.finish()?;
        Digest::update(&mut plain_hash, end.get(..tail).unwrap_or_default());
        let length = blocks.len() + tail;
        check_plaintext(&plain_hash.finalize().into(), length as u64, expected)?;
        Ok(length)
    })?;
    let mut plaintext = std::mem::take(&mut *plaintext);
    plaintext.truncate(length);
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
