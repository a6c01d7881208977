//! Seekable media: a MAC per 64 KiB chunk (tandem's "streaming sidecar"), and range reads that
//! decrypt and authenticate only the chunks a range needs.
//!
//! ```text
//! S          = iv ‖ ciphertext                      (the blob without its final 10-byte MAC)
//! chunks     = ceil(len(ciphertext) / 65536)
//! window n   = S[n·65536 .. min((n+1)·65536 + 16, len(S))]       for n in 0..chunks
//! sidecar    = ‖ over n of HMAC-SHA256(mac_key, window n)[..10]
//! ```
//!
//! Window n's first 16 bytes are the CBC IV (the previous ciphertext block) of the 65536
//! ciphertext bytes that follow, which decrypt to plaintext bytes `n·65536 .. (n+1)·65536`
//! (the last chunk is shorter and ends with the padding).

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::crypto::verify_hmac_sha256;

use super::cbc_stream::{BLOCK, CbcDecryptor, unpadded_length};
use super::{MAC_LENGTH, MediaError, MediaKey, MediaKind};

/// Plaintext bytes per seekable chunk (64 KiB).
pub const SIDECAR_CHUNK: usize = 65_536;

const CHUNK: u64 = SIDECAR_CHUNK as u64;
const OVERLAP: u64 = BLOCK as u64;

type HmacSha256 = Hmac<Sha256>;

/// The per-chunk MACs of one blob: 10 bytes per 64 KiB of ciphertext. Not secret (it travels
/// in the pointer, next to the hashes); it is authentic only as far as the pointer is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Sidecar(Vec<u8>);

impl Sidecar {
    /// A sidecar from its bytes: a whole number of 10-byte MACs.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, MediaError> {
        if bytes.len() % MAC_LENGTH != 0 {
            return Err(MediaError::BadSidecar);
        }
        Ok(Self(bytes))
    }

    /// The sidecar bytes (the concatenated 10-byte MACs).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// How many chunks it covers.
    pub fn chunk_count(&self) -> u64 {
        (self.0.len() / MAC_LENGTH) as u64
    }

    /// How many chunks a blob of `blob_length` bytes has (`None` if that is not a valid blob
    /// length: at least 26 bytes and `blob_length − 10` a multiple of 16).
    pub fn chunks_for_blob(blob_length: u64) -> Option<u64> {
        let enc = ciphertext_length(blob_length)?;
        Some(enc.div_ceil(CHUNK))
    }

    /// Computes the sidecar of an existing blob (without decrypting it).
    pub fn compute(kind: MediaKind, key: &MediaKey, blob: &[u8]) -> Result<Self, MediaError> {
        let enc_len = ciphertext_length(blob.len() as u64).ok_or(MediaError::BadBlobLength)?;
        let ciphertext = blob.get(..enc_len as usize).ok_or(MediaError::BadBlobLength)?;
        let keys = key.expand(kind);
        let mut builder = SidecarBuilder::new(keys.mac_key.expose());
        builder.update(keys.iv.expose());
        builder.update(ciphertext);
        Ok(builder.finish())
    }

    /// A sidecar of no chunks.
    pub(super) fn empty() -> Self {
        Self(Vec::new())
    }

    fn mac(&self, chunk: u64) -> Option<&[u8]> {
        let start = usize::try_from(chunk).ok()?.checked_mul(MAC_LENGTH)?;
        self.0.get(start..start.checked_add(MAC_LENGTH)?)
    }
}

/// `len(ciphertext)` of a blob of this length, if the length is valid.
fn ciphertext_length(blob_length: u64) -> Option<u64> {
    let enc = blob_length.checked_sub(MAC_LENGTH as u64)?;
    (enc >= OVERLAP && enc % OVERLAP == 0).then_some(enc)
}

/// Builds a sidecar from the stream `S = iv ‖ ciphertext`, fed in pieces of any size.
pub(super) struct SidecarBuilder {
    keyed: HmacSha256,
    /// Bytes of S seen so far.
    pos: u64,
    /// Windows still open: (start offset in S, running MAC). At most two (they overlap by 16).
    open: Vec<(u64, HmacSha256)>,
    macs: Vec<u8>,
}

impl SidecarBuilder {
    #[allow(
        clippy::expect_used,
        reason = "HMAC takes keys of every length; new_from_slice cannot fail"
    )]
    pub(super) fn new(mac_key: &[u8; 32]) -> Self {
        Self {
            keyed: <HmacSha256 as KeyInit>::new_from_slice(mac_key).expect("HMAC accepts any key length"),
            pos: 0,
            open: Vec::with_capacity(2),
            macs: Vec::new(),
        }
    }

    pub(super) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.pos % CHUNK == 0 {
                self.open.push((self.pos, self.keyed.clone()));
            }
            let mut stop = (self.pos / CHUNK + 1) * CHUNK;
            if let Some((start, _)) = self.open.first() {
                stop = stop.min(start + CHUNK + OVERLAP);
            }
            let take = usize::try_from(stop - self.pos)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let Some((now, rest)) = data.split_at_checked(take) else {
                return;
            };
            for (_, mac) in &mut self.open {
                mac.update(now);
            }
            self.pos += take as u64;
            data = rest;
            while self
                .open
                .first()
                .is_some_and(|(start, _)| start + CHUNK + OVERLAP == self.pos)
            {
                let (_, mac) = self.open.remove(0);
                self.push(mac);
            }
        }
    }

    pub(super) fn finish(mut self) -> Sidecar {
        let open = core::mem::take(&mut self.open);
        for (start, mac) in open {
            // A window holding only the 16-byte IV of nothing is not a chunk.
            if self.pos - start > OVERLAP {
                self.push(mac);
            }
        }
        Sidecar(self.macs)
    }

    fn push(&mut self, mac: HmacSha256) {
        let tag = mac.finalize().into_bytes();
        self.macs
            .extend_from_slice(tag.get(..MAC_LENGTH).unwrap_or_default());
    }
}

/// Decrypts plaintext bytes `range` of a blob of `kind` read from `reader`, reading and
/// authenticating only the 64 KiB chunks the range touches (each against its sidecar MAC, in
/// constant time), so a player can seek without the whole file.
///
/// `reader` must hold exactly the blob (`ciphertext ‖ mac`), starting at offset 0. The blob's
/// final MAC and SHA-256 are not checked (that needs the whole blob); the sidecar MACs stand in
/// for them, so the sidecar must come from the authenticated pointer. PKCS#7 padding is checked
/// only in the final chunk, which is also read when the range ends within its last 16 bytes
/// (to learn the plaintext length).
///
/// Errors: [`MediaError::BadBlobLength`] (the blob's length is not a valid blob length),
/// [`MediaError::BadSidecar`] (the sidecar has not exactly one MAC per chunk),
/// [`MediaError::RangeOutOfBounds`] (`start > end`, or `end` past the plaintext),
/// [`MediaError::BadMac`] (a chunk fails its MAC), [`MediaError::BadPadding`], and
/// [`MediaError::Io`]. No plaintext is returned unless every chunk read verified.
pub fn decrypt_range<R: Read + Seek + ?Sized>(
    kind: MediaKind,
    key: &MediaKey,
    sidecar: &Sidecar,
    reader: &mut R,
    range: Range<u64>,
) -> Result<Vec<u8>, MediaError> {
    let blob_len = reader.seek(SeekFrom::End(0))?;
    let enc_len = ciphertext_length(blob_len).ok_or(MediaError::BadBlobLength)?;
    let chunks = enc_len.div_ceil(CHUNK);
    if sidecar.chunk_count() != chunks {
        return Err(MediaError::BadSidecar);
    }
    // The plaintext is enc_len − 16 + (1..=16 − padding) bytes long: at most enc_len − 1.
    if range.start > range.end || range.end >= enc_len {
        return Err(MediaError::RangeOutOfBounds);
    }
    let keys = key.expand(kind);
    let last = chunks - 1;
    // The chunks overlapping the range, then the last chunk if the range ends within the last
    // 16 bytes of ciphertext (only the last chunk tells the exact plaintext length).
    let overlapping = if range.start < range.end {
        range.start / CHUNK..(range.end - 1) / CHUNK + 1
    } else {
        0..0
    };
    let extra = (range.end > enc_len - OVERLAP && overlapping.end <= last).then_some(last);
    let wanted = overlapping.chain(extra);

    let capacity = usize::try_from(range.end - range.start).map_err(|_| MediaError::RangeOutOfBounds)?;
    let mut out = Vec::with_capacity(capacity.min(16 << 20));
    let mut window = Vec::with_capacity(SIDECAR_CHUNK + BLOCK);
    for n in wanted {
        // Window n of S = iv ‖ ciphertext, in blob offsets (S offset − 16).
        let s_start = n * CHUNK;
        let s_end = ((n + 1) * CHUNK + OVERLAP).min(enc_len + OVERLAP);
        window.clear();
        if n == 0 {
            window.extend_from_slice(keys.iv.expose());
        }
        let blob_start = s_start.saturating_sub(OVERLAP);
        let to_read = usize::try_from(s_end - OVERLAP - blob_start).map_err(|_| MediaError::BadBlobLength)?;
        let have = window.len();
        window.resize(have + to_read, 0);
        reader.seek(SeekFrom::Start(blob_start))?;
        reader.read_exact(window.get_mut(have..).unwrap_or_default())?;
        let tag = sidecar.mac(n).ok_or(MediaError::BadSidecar)?;
        verify_hmac_sha256(keys.mac_key.expose(), &[&window], tag).map_err(|_| MediaError::BadMac)?;

        let (iv, body) = window
            .split_at_mut_checked(BLOCK)
            .ok_or(MediaError::BadBlobLength)?;
        let iv: [u8; BLOCK] = (&*iv).try_into().map_err(|_| MediaError::BadBlobLength)?;
        CbcDecryptor::new(&keys.cipher_key, &iv).decrypt_blocks(body);
        let plain_len = if n == last {
            let last_block = body.len().checked_sub(BLOCK).and_then(|i| body.get(i..));
            let tail = unpadded_length(last_block.ok_or(MediaError::BadBlobLength)?)?;
            body.len() - BLOCK + tail
        } else {
            body.len()
        };
        let chunk_plain = body.get(..plain_len).unwrap_or_default();
        if n == last && range.end > s_start + plain_len as u64 {
            return Err(MediaError::RangeOutOfBounds);
        }
        // The part of this chunk's plaintext [s_start, s_start + plain_len) inside the range.
        let from = range.start.max(s_start) - s_start;
        let to = range.end.min(s_start + plain_len as u64).saturating_sub(s_start);
        if from < to {
            out.extend_from_slice(chunk_plain.get(from as usize..to as usize).unwrap_or_default());
        }
    }
    Ok(out)
}
