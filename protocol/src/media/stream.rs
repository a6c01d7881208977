//! Streaming encryption and decryption through `Read`/`Write` with bounded memory: one
//! 64 KiB buffer, whatever the file size. The `_with` forms dispatch to `threaded_stream.rs`
//! when asked for threads.

use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cbc_stream::{BLOCK, CbcDecryptor, CbcEncryptor, unpadded_length};
use super::oneshot::check_plaintext;
use super::sidecar::{Sidecar, SidecarBuilder};
use super::{MAC_LENGTH, MediaDigest, MediaError, MediaKey, MediaKind, MediaOptions, threaded_stream};

/// Bytes read per step (a multiple of the block size).
pub const STREAM_BUFFER: usize = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

#[allow(
    clippy::expect_used,
    reason = "HMAC takes keys of every length; new_from_slice cannot fail"
)]
pub(super) fn keyed(key: &[u8; 32]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length")
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
pub(super) fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> Result<usize, MediaError> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}

/// Encrypts everything `reader` yields as a blob of `kind` and writes the blob to `writer`.
/// Produces the same bytes as [`encrypt`](super::encrypt) with one 64 KiB buffer.
pub fn encrypt_stream<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
) -> Result<MediaDigest, MediaError> {
    encrypt_stream_inner(kind, key, reader, writer, None)
}

/// [`encrypt_stream`] that also computes the blob's [`Sidecar`] for seekable playback (10 bytes
/// of memory per 64 KiB of input).
pub fn encrypt_stream_with_sidecar<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
) -> Result<(MediaDigest, Sidecar), MediaError> {
    let keys = key.expand(kind);
    let mut builder = SidecarBuilder::new(keys.mac_key.expose());
    let digest = encrypt_stream_inner(kind, key, reader, writer, Some(&mut builder))?;
    Ok((digest, builder.finish()))
}

/// [`encrypt`](super::encrypt) that also returns the blob's [`Sidecar`].
pub fn encrypt_with_sidecar(
    kind: MediaKind,
    key: &MediaKey,
    plaintext: &[u8],
) -> (Vec<u8>, MediaDigest, Sidecar) {
    let (blob, digest) = super::encrypt(kind, key, plaintext);
    // The blob was just made, so its length is valid and `compute` cannot fail.
    let sidecar = Sidecar::compute(kind, key, &blob).unwrap_or_else(|_| Sidecar::empty());
    (blob, digest, sidecar)
}

fn encrypt_stream_inner<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    mut sidecar: Option<&mut SidecarBuilder>,
) -> Result<MediaDigest, MediaError> {
    let keys = key.expand(kind);
    let mut cipher = CbcEncryptor::new(&keys.cipher_key, keys.iv.expose());
    let mut mac = keyed(keys.mac_key.expose());
    mac.update(keys.iv.expose());
    if let Some(s) = sidecar.as_deref_mut() {
        s.update(keys.iv.expose());
    }
    let mut plain_hash = Sha256::new();
    let mut enc_hash = Sha256::new();
    let mut length: u64 = 0;
    let mut buf = zeroize::Zeroizing::new(vec![0u8; STREAM_BUFFER]);

    let mut emit = |ciphertext: &[u8], writer: &mut W| -> Result<(), MediaError> {
        mac.update(ciphertext);
        enc_hash.update(ciphertext);
        if let Some(s) = sidecar.as_deref_mut() {
            s.update(ciphertext);
        }
        writer.write_all(ciphertext)?;
        Ok(())
    };
    loop {
        let n = read_full(reader, &mut buf)?;
        let whole = n - n % BLOCK;
        let (blocks, tail) = buf.split_at_mut_checked(whole).ok_or(MediaError::BadBlobLength)?;
        plain_hash.update(&*blocks);
        length += whole as u64;
        cipher.encrypt_blocks(blocks);
        emit(blocks, writer)?;
        if n < STREAM_BUFFER {
            let tail = tail.get(..n - whole).unwrap_or_default();
            plain_hash.update(tail);
            length += tail.len() as u64;
            let last = cipher.encrypt_final(tail);
            emit(&last, writer)?;
            break;
        }
    }
    let tag = mac.finalize().into_bytes();
    let tag = tag.get(..MAC_LENGTH).unwrap_or_default();
    enc_hash.update(tag);
    writer.write_all(tag)?;
    writer.flush()?;
    Ok(MediaDigest {
        file_sha256: plain_hash.finalize().into(),
        file_enc_sha256: enc_hash.finalize().into(),
        file_length: length,
    })
}

/// Decrypts a blob read from `reader` in one pass, writing plaintext to `writer` as it goes,
/// with one 64 KiB buffer.
///
/// **The blob is authenticated only at its end.** Plaintext is written before the MAC and
/// hashes have been checked; if this returns `Err`, everything already written is
/// unauthenticated and must be discarded (write to a temporary file and keep it only on `Ok`).
/// Use [`decrypt_verify_first`] when the input is seekable and nothing unauthenticated may
/// reach `writer`. The checks and their order are those of [`decrypt`](super::decrypt); the
/// final block is written only after the MAC verified.
pub fn decrypt_stream<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    expected: &MediaDigest,
) -> Result<(), MediaError> {
    /// Held back until the end: the MAC and the final (padded) block.
    const HOLD: usize = MAC_LENGTH + BLOCK;
    let keys = key.expand(kind);
    let mut cipher = CbcDecryptor::new(&keys.cipher_key, keys.iv.expose());
    let mut mac = keyed(keys.mac_key.expose());
    mac.update(keys.iv.expose());
    let mut plain_hash = Sha256::new();
    let mut enc_hash = Sha256::new();
    let mut length: u64 = 0;
    let mut buf = zeroize::Zeroizing::new(vec![0u8; STREAM_BUFFER + HOLD]);
    let mut filled = 0;
    loop {
        let n = read_full(reader, buf.get_mut(filled..).unwrap_or_default())?;
        filled += n;
        if filled < buf.len() {
            break;
        }
        // Full buffer: process all whole blocks that leave at least HOLD bytes behind.
        let process = (filled - HOLD) / BLOCK * BLOCK;
        let chunk = buf.get_mut(..process).unwrap_or_default();
        enc_hash.update(&*chunk);
        mac.update(&*chunk);
        cipher.decrypt_blocks(chunk);
        plain_hash.update(&*chunk);
        length += process as u64;
        writer.write_all(chunk)?;
        buf.copy_within(process..filled, 0);
        filled -= process;
    }

    // The input ended: buf[..filled] is the rest of the ciphertext and the MAC.
    let rest = buf.get_mut(..filled).unwrap_or_default();
    enc_hash.update(&*rest);
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
    mac.update(ciphertext);
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
    for part in plain_rest {
        plain_hash.update(part);
        length += part.len() as u64;
    }
    check_plaintext(&plain_hash.finalize().into(), length, expected)?;
    for part in plain_rest {
        writer.write_all(part)?;
    }
    writer.flush()?;
    Ok(())
}

/// Decrypts a blob from a seekable `reader` in two passes, so that nothing unauthenticated
/// reaches `writer`: first the blob's SHA-256 and MAC are checked without decrypting; only if
/// both hold does the second pass decrypt (checking everything again, which catches an input
/// that changed in between, and the plaintext hash and length).
///
/// The blob is read from the reader's current position to its end; the reader is left at the
/// end. If the underlying file can change between the passes (another writer), a second-pass
/// error still means the written output must be discarded; with a stable input (a file only
/// this process writes, a buffer) an `Err` means nothing was written.
pub fn decrypt_verify_first<R: Read + Seek + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    expected: &MediaDigest,
) -> Result<(), MediaError> {
    let start = reader.stream_position()?;
    verify_blob(kind, key, reader, expected)?;
    reader.seek(SeekFrom::Start(start))?;
    decrypt_stream(kind, key, reader, writer, expected)
}

/// Checks a blob's SHA-256, shape and MAC (not the plaintext) while reading it once.
pub fn verify_blob<R: Read + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    expected: &MediaDigest,
) -> Result<(), MediaError> {
    let keys = key.expand(kind);
    let mut mac = keyed(keys.mac_key.expose());
    mac.update(keys.iv.expose());
    let mut enc_hash = Sha256::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; STREAM_BUFFER + MAC_LENGTH];
    let mut filled = 0;
    loop {
        let n = read_full(reader, buf.get_mut(filled..).unwrap_or_default())?;
        filled += n;
        if filled < buf.len() {
            break;
        }
        let process = filled - MAC_LENGTH;
        let chunk = buf.get(..process).unwrap_or_default();
        enc_hash.update(chunk);
        mac.update(chunk);
        total += process as u64;
        buf.copy_within(process..filled, 0);
        filled -= process;
    }
    let rest = buf.get(..filled).unwrap_or_default();
    enc_hash.update(rest);
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
    mac.update(ciphertext);
    mac.verify_truncated_left(tag).map_err(|_| MediaError::BadMac)
}

/// [`encrypt_stream`] with `options`. With [`Hashing::Threads`](super::Hashing::Threads) the
/// SHA-256 of the plaintext, the MAC and the SHA-256 of the blob each run on a scoped worker
/// thread, fed [`THREADED_PIECE`](super::THREADED_PIECE)-byte pieces through bounded channels;
/// this thread reads, encrypts and writes. Same bytes, digest and errors as [`encrypt_stream`];
/// memory stays bounded (two rings of 6 pieces, 768 KiB, whatever the size).
pub fn encrypt_stream_with<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    options: MediaOptions,
) -> Result<MediaDigest, MediaError> {
    if options.threaded() {
        threaded_stream::encrypt_stream(kind, key, reader, writer, true)
    } else {
        encrypt_stream(kind, key, reader, writer)
    }
}

/// [`decrypt_stream`] with `options`. With [`Hashing::Threads`](super::Hashing::Threads) the
/// SHA-256 of the blob, the MAC and the SHA-256 of the plaintext each run on a scoped worker
/// thread while this one reads, decrypts and writes. Same output, checks, order and errors as
/// [`decrypt_stream`], and the same caveat: **plaintext is written before the blob is
/// authenticated**; on `Err` discard everything written.
pub fn decrypt_stream_with<R: Read + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    expected: &MediaDigest,
    options: MediaOptions,
) -> Result<(), MediaError> {
    if options.threaded() {
        threaded_stream::decrypt_stream(kind, key, reader, writer, expected, true)
    } else {
        decrypt_stream(kind, key, reader, writer, expected)
    }
}

/// [`decrypt_verify_first`] with `options` (both passes use them).
pub fn decrypt_verify_first_with<R: Read + Seek + ?Sized, W: Write + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    writer: &mut W,
    expected: &MediaDigest,
    options: MediaOptions,
) -> Result<(), MediaError> {
    let start = reader.stream_position()?;
    verify_blob_with(kind, key, reader, expected, options)?;
    reader.seek(SeekFrom::Start(start))?;
    decrypt_stream_with(kind, key, reader, writer, expected, options)
}

/// [`verify_blob`] with `options`: with [`Hashing::Threads`](super::Hashing::Threads) the blob's
/// SHA-256 and the MAC run on two worker threads while this one reads. Same result.
pub fn verify_blob_with<R: Read + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    reader: &mut R,
    expected: &MediaDigest,
    options: MediaOptions,
) -> Result<(), MediaError> {
    if options.threaded() {
        threaded_stream::verify_blob(kind, key, reader, expected, true)
    } else {
        verify_blob(kind, key, reader, expected)
    }
}
