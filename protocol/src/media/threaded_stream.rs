//! [`Hashing::Threads`](super::Hashing::Threads) for the streaming functions: the calling thread
//! reads, runs AES-CBC and writes; the SHA-256 of the plaintext, the SHA-256 of the blob and the
//! HMAC each run on a scoped worker, fed shared [`THREADED_PIECE`]-byte buffers through bounded
//! channels. The bytes, digests, checks and their order are those of `stream.rs`.
//!
//! With `threaded = false` the same code hashes on the calling thread (what happens when no
//! thread can be started; the unit tests run both).

use std::io::{Read, Write};
use std::thread;

use hmac::Mac;
use sha2::digest::Update;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cbc_stream::{BLOCK, CbcDecryptor, CbcEncryptor, unpadded_length};
use super::lane::{Lane, Piece, Ring};
use super::oneshot::check_plaintext;
use super::stream::{keyed, read_full};
use super::{MAC_LENGTH, MediaDigest, MediaError, MediaKey, MediaKind};

/// Bytes per piece handed to the hashing threads (a multiple of the block size).
pub const THREADED_PIECE: usize = 64 * 1024;

/// Held back at the end of a decryption: the final (padded) block and the MAC.
const HOLD: usize = MAC_LENGTH + BLOCK;

/// `encrypt_stream` with the hashes on workers (`threaded`) or on this thread.
pub(super) fn encrypt_stream<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    threaded: bool,
) -> Result<MediaDigest, MediaError> {
    let keys = key.expand(kind);
    let mut cipher = CbcEncryptor::new(&keys.cipher_key, keys.iv.expose());
    let mut mac = keyed(keys.mac_key.expose());
    Mac::update(&mut mac, keys.iv.expose());
    thread::scope(|s| {
        let mut plain_hash = Lane::fed(s, Sha256::new(), threaded);
        let mut mac = Lane::fed(s, mac, threaded);
        let mut enc_hash = Lane::fed(s, Sha256::new(), threaded);
        let mut plain_ring = Ring::new(THREADED_PIECE);
        let mut cipher_ring = Ring::new(THREADED_PIECE);
        let mut length: u64 = 0;
        let (plain, whole) = loop {
            let mut buf = plain_ring.take();
            let n = read_full(reader, &mut buf)?;
            length += n as u64;
            let plain = plain_ring.share(buf, n);
            plain_hash.feed(plain.clone())?;
            let whole = n - n % BLOCK;
            if whole > 0 {
                let mut out = cipher_ring.take();
                let blocks = plain.as_ref().get(..whole).unwrap_or_default();
                let to = out.get_mut(..whole).ok_or(MediaError::BadBlobLength)?;
                cipher.encrypt_blocks_to(blocks, to)?;
                let piece = cipher_ring.share(out, whole);
                mac.feed(piece.clone())?;
                enc_hash.feed(piece.clone())?;
                writer.write_all(piece.as_ref())?;
            }
            if n < THREADED_PIECE {
                break (plain, whole);
            }
        };
        let last = cipher.encrypt_final(plain.as_ref().get(whole..).unwrap_or_default());
        drop(plain);
        let mut mac = mac.finish()?;
        Mac::update(&mut mac, &last);
        let tag = mac.finalize().into_bytes();
        let tag = tag.get(..MAC_LENGTH).unwrap_or_default();
        let mut enc_hash = enc_hash.finish()?;
        Digest::update(&mut enc_hash, last);
        Digest::update(&mut enc_hash, tag);
        writer.write_all(&last)?;
        writer.write_all(tag)?;
        writer.flush()?;
        Ok(MediaDigest {
            file_sha256: plain_hash.finish()?.finalize().into(),
            file_enc_sha256: enc_hash.finalize().into(),
            file_length: length,
        })
    })
}

/// `decrypt_stream` with the hashes on workers (`threaded`) or on this thread. Plaintext is
/// written before the blob is authenticated, exactly as there.
pub(super) fn decrypt_stream<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    expected: &MediaDigest,
    threaded: bool,
) -> Result<(), MediaError> {
    let keys = key.expand(kind);
    let mut cipher = CbcDecryptor::new(&keys.cipher_key, keys.iv.expose());
    let mut mac = keyed(keys.mac_key.expose());
    Mac::update(&mut mac, keys.iv.expose());
    thread::scope(|s| {
        let mut enc_hash = Lane::fed(s, Sha256::new(), threaded);
        let mut mac = Lane::fed(s, mac, threaded);
        let mut plain_hash = Lane::fed(s, Sha256::new(), threaded);
        let mut cipher_ring = Ring::new(THREADED_PIECE + HOLD);
        let mut plain_ring = Ring::new(THREADED_PIECE);
        let mut length: u64 = 0;
        // Bytes read but not yet processed: at most HOLD + 15 (whole blocks are processed).
        let mut carry = [0u8; HOLD + BLOCK];
        let mut carried = 0;
        let (mut buf, filled) = loop {
            let mut buf = cipher_ring.take();
            let (head, free) = buf
                .split_at_mut_checked(carried)
                .ok_or(MediaError::BadBlobLength)?;
            head.copy_from_slice(carry.get(..carried).unwrap_or_default());
            let filled = carried + read_full(reader, free)?;
            if filled < buf.len() {
                break (buf, filled);
            }
            // Full buffer: process all whole blocks that leave at least HOLD bytes behind.
            let process = (filled - HOLD) / BLOCK * BLOCK;
            let rest = buf.get(process..filled).unwrap_or_default();
            carried = rest.len();
            carry
                .get_mut(..carried)
                .ok_or(MediaError::BadBlobLength)?
                .copy_from_slice(rest);
            let ciphertext = cipher_ring.share(buf, process);
            enc_hash.feed(ciphertext.clone())?;
            mac.feed(ciphertext.clone())?;
            let mut out = plain_ring.take();
            let to = out.get_mut(..process).ok_or(MediaError::BadBlobLength)?;
            cipher.decrypt_blocks_to(ciphertext.as_ref(), to)?;
            length += process as u64;
            let plaintext = plain_ring.share(out, process);
            plain_hash.feed(plaintext.clone())?;
            writer.write_all(plaintext.as_ref())?;
        };

        // The input ended: buf[..filled] is the rest of the ciphertext and the MAC.
        let rest = buf.get_mut(..filled).unwrap_or_default();
        let mut enc_hash = enc_hash.finish()?;
        Digest::update(&mut enc_hash, &*rest);
        let enc_sha256: [u8; 32] = enc_hash.finalize().into();
        if !bool::from(enc_sha256.ct_eq(&expected.file_enc_sha256)) {
            return Err(MediaError::EncHashMismatch);
        }
        let split = filled.checked_sub(MAC_LENGTH).ok_or(MediaError::BadBlobLength)?;
        let (ciphertext, tag) = rest
            .split_at_mut_checked(split)
            .ok_or(MediaError::BadBlobLength)?;
        if ciphertext.len() % BLOCK != 0 || length + (ciphertext.len() as u64) < BLOCK as u64 {
            return Err(MediaError::BadBlobLength);
        }
        let mut mac = mac.finish()?;
        Mac::update(&mut mac, ciphertext);
        mac.verify_truncated_left(tag).map_err(|_| MediaError::BadMac)?;
        cipher.decrypt_blocks(ciphertext);
        // HOLD keeps the final block back, so `ciphertext` holds at least that block.
        let last_at = ciphertext
            .len()
            .checked_sub(BLOCK)
            .ok_or(MediaError::BadBlobLength)?;
        let (done, last) = ciphertext
            .split_at_checked(last_at)
            .ok_or(MediaError::BadBlobLength)?;
        let tail = unpadded_length(last)?;
        let plain_rest = [done, last.get(..tail).unwrap_or_default()];
        let mut plain_hash = plain_hash.finish()?;
        for part in plain_rest {
            Digest::update(&mut plain_hash, part);
            length += part.len() as u64;
        }
        check_plaintext(&plain_hash.finalize().into(), length, expected)?;
        for part in plain_rest {
            writer.write_all(part)?;
        }
        writer.flush()?;
        Ok(())
    })
}

/// `verify_blob` with the blob's SHA-256 and the MAC on two workers (`threaded`) or on this
/// thread.
pub(super) fn verify_blob<R: Read + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    expected: &MediaDigest,
    threaded: bool,
) -> Result<(), MediaError> {
    let keys = key.expand(kind);
    let mut mac = keyed(keys.mac_key.expose());
    Mac::update(&mut mac, keys.iv.expose());
    thread::scope(|s| {
        let mut enc_hash = Lane::fed(s, Sha256::new(), threaded);
        let mut mac = Lane::fed(s, mac, threaded);
        let mut ring = Ring::new(THREADED_PIECE + MAC_LENGTH);
        let mut total: u64 = 0;
        let mut carry = [0u8; MAC_LENGTH];
        let mut carried = 0;
        let (buf, filled) = loop {
            let mut buf = ring.take();
            let (head, free) = buf
                .split_at_mut_checked(carried)
                .ok_or(MediaError::BadBlobLength)?;
            head.copy_from_slice(carry.get(..carried).unwrap_or_default());
            let filled = carried + read_full(reader, free)?;
            if filled < buf.len() {
                break (buf, filled);
            }
            let process = filled - MAC_LENGTH;
            let rest = buf.get(process..filled).unwrap_or_default();
            carried = rest.len();
            carry
                .get_mut(..carried)
                .ok_or(MediaError::BadBlobLength)?
                .copy_from_slice(rest);
            let piece: Piece = ring.share(buf, process);
            enc_hash.feed(piece.clone())?;
            mac.feed(piece)?;
            total += process as u64;
        };
        let rest = buf.get(..filled).unwrap_or_default();
        let mut enc_hash = enc_hash.finish()?;
        Digest::update(&mut enc_hash, rest);
        let enc_sha256: [u8; 32] = enc_hash.finalize().into();
        if !bool::from(enc_sha256.ct_eq(&expected.file_enc_sha256)) {
            return Err(MediaError::EncHashMismatch);
        }
        let split = filled.checked_sub(MAC_LENGTH).ok_or(MediaError::BadBlobLength)?;
        let (ciphertext, tag) = rest.split_at_checked(split).ok_or(MediaError::BadBlobLength)?;
        let enc_len = total + ciphertext.len() as u64;
        if enc_len == 0 || enc_len % BLOCK as u64 != 0 {
            return Err(MediaError::BadBlobLength);
        }
        let mut mac = mac.finish()?;
        Update::update(&mut mac, ciphertext);
        mac.verify_truncated_left(tag).map_err(|_| MediaError::BadMac)
    })
}

#[cfg(test)]
mod tests {
    //! The pipeline with its hashes on this thread (`threaded = false`, what happens when no
    //! thread can be started) and on workers, against the plain streaming functions.

    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[test]
    fn both_lane_kinds_give_the_inline_bytes_and_errors() {
        let key = MediaKey::from([9u8; 32]);
        let kind = MediaKind::Document;
        for n in [
            0,
            1,
            15,
            16,
            17,
            THREADED_PIECE - 16,
            THREADED_PIECE - 1,
            THREADED_PIECE,
            THREADED_PIECE + 1,
            2 * THREADED_PIECE + 5,
        ] {
            let plaintext = pattern(n);
            let mut blob = Vec::new();
            let digest =
                super::super::encrypt_stream(kind, &key, &mut plaintext.as_slice(), &mut blob).unwrap();
            let mut bad_mac = blob.clone();
            if let Some(b) = bad_mac.last_mut() {
                *b ^= 1;
            }
            let relabeled = MediaDigest {
                file_enc_sha256: Sha256::digest(&bad_mac).into(),
                ..digest
            };
            for threaded in [false, true] {
                let mut out = Vec::new();
                let got = encrypt_stream(kind, &key, &mut plaintext.as_slice(), &mut out, threaded).unwrap();
                assert_eq!((&out, got), (&blob, digest), "n={n} threaded={threaded}");

                let mut out = Vec::new();
                decrypt_stream(kind, &key, &mut blob.as_slice(), &mut out, &digest, threaded).unwrap();
                assert_eq!(out, plaintext);
                verify_blob(kind, &key, &mut blob.as_slice(), &digest, threaded).unwrap();

                let mut sink = Vec::new();
                let e = decrypt_stream(
                    kind,
                    &key,
                    &mut bad_mac.as_slice(),
                    &mut sink,
                    &relabeled,
                    threaded,
                );
                assert_eq!(e, Err(MediaError::BadMac));
                let e = verify_blob(kind, &key, &mut bad_mac.as_slice(), &digest, threaded);
                assert_eq!(e, Err(MediaError::EncHashMismatch));
            }
        }
    }
}
