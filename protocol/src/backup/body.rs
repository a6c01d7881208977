//! The backup body: the plaintext cut into chunks, each sealed with AES-256-GCM under the
//! backup key.
//!
//! ```text
//! body      = sealed[0] ‖ … ‖ sealed[k-1]           k = max(1, ⌈len / chunk_size⌉)
//! sealed[i] = AES-256-GCM(backup_key, nonce(i, i = k-1), aad = SHA-256(header), chunk[i])
//! nonce(i, last) = 0^7 ‖ i (u32 big-endian) ‖ (0x01 if last else 0x00)
//! ```
//!
//! Every chunk but the last holds exactly `chunk_size` plaintext bytes (`chunk_size + 16`
//! sealed); the last holds the rest (0 ..= `chunk_size`). A reader therefore knows each
//! chunk's bounds from the length alone, and the nonce (the STREAM construction of Hoang,
//! Reyhanitabar, Rogaway and Vizár) pins each chunk's position and whether it ends the
//! stream: a reordered or repeated chunk fails its tag, a chunk from another backup fails
//! (another key), a body cut at a chunk boundary fails on its new last chunk (sealed as not
//! last), and an appended chunk fails on the old last one. The header hash in every chunk's
//! associated data makes any change to the header (even to a lock not used) fail the body.

use zeroize::Zeroizing;

use super::error::RestoreError;
use crate::crypto::{Secret, aes256_gcm_open, aes256_gcm_seal};

/// Bytes of GCM tag per chunk.
pub const TAG_LENGTH: usize = 16;

fn nonce(index: u32, last: bool) -> [u8; 12] {
    let i = index.to_be_bytes();
    [0, 0, 0, 0, 0, 0, 0, i[0], i[1], i[2], i[3], u8::from(last)]
}

/// Seals `plaintext` chunk by chunk; `None` when the chunks would outnumber a u32 index.
pub(crate) fn seal(key: &Secret<32>, aad: &[u8; 32], plaintext: &[u8], chunk_size: usize) -> Option<Vec<u8>> {
    let count = plaintext.len().div_ceil(chunk_size).max(1);
    let last_index = u32::try_from(count - 1).ok()?;
    let mut out = Vec::with_capacity(plaintext.len() + count * TAG_LENGTH);
    let mut chunks = plaintext.chunks(chunk_size);
    for index in 0..=last_index {
        let chunk = chunks.next().unwrap_or(&[]);
        let sealed = aes256_gcm_seal(key, &nonce(index, index == last_index), aad, chunk).ok()?;
        out.extend_from_slice(&sealed);
    }
    Some(out)
}

/// Opens a body sealed by [`seal`] with the same chunk size and header hash.
pub(crate) fn open(
    key: &Secret<32>,
    aad: &[u8; 32],
    body: &[u8],
    chunk_size: usize,
) -> Result<Zeroizing<Vec<u8>>, RestoreError> {
    let full = chunk_size + TAG_LENGTH;
    let mut out = Zeroizing::new(Vec::with_capacity(body.len()));
    let mut rest = body;
    let mut index: u32 = 0;
    loop {
        if rest.len() < TAG_LENGTH {
            return Err(RestoreError::Truncated);
        }
        let last = rest.len() <= full;
        let (sealed, tail) = rest
            .split_at_checked(if last { rest.len() } else { full })
            .ok_or(RestoreError::Truncated)?;
        match aes256_gcm_open(key, &nonce(index, last), aad, sealed) {
            Ok(plain) => out.extend_from_slice(&Zeroizing::new(plain)),
            Err(_) if last && aes256_gcm_open(key, &nonce(index, false), aad, sealed).is_ok() => {
                // A chunk sealed as not last ends the bytes: whole chunks were cut off.
                return Err(RestoreError::Truncated);
            }
            Err(_) => return Err(RestoreError::Tampered),
        }
        if last {
            return Ok(out);
        }
        rest = tail;
        index = index.checked_add(1).ok_or(RestoreError::Malformed)?;
    }
}
