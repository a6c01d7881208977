//! The media drivers, shared (through `#[path]`) by the `media_decrypt`, `media_pointer` and
//! `media_range` fuzz targets and `protocol/tests/fuzz_corpus_media.rs`, which replays
//! `fuzz/seeds/media_*`.
//!
//! # `media_decrypt`: garbage blob, digest and key
//!
//! ```text
//! byte 0        bits 0-1: mode; bits 2-7: kind (index into MediaKind::ALL, modulo 13)
//! bytes 1..33   media key
//! bytes 33..65  file_sha256
//! bytes 65..97  file_enc_sha256
//! bytes 97..105 file_length, little-endian
//! bytes 105..   the blob
//! mode 0: all as given; 1: file_enc_sha256 replaced by the blob's hash (reaches the shape and
//!         MAC checks); 2: also the blob's last 10 bytes replaced by its correct MAC (reaches
//!         padding, plaintext hash and length); 3: like 2, and file_sha256 and file_length set
//!         from the plaintext when it unpads (reaches success).
//! ```
//!
//! Properties: no panic; one-shot, one-pass stream and verify-first decryption give the same
//! result; verify-first writes nothing when the blob's hash, shape or MAC is refused; what
//! decrypts re-encrypts to exactly the blob and digest.
//!
//! # `media_pointer`: the pointer parser
//!
//! Any bytes: no panic; a pointer that parses encodes to bytes that parse to the same pointer,
//! and those bytes encode to themselves.
//!
//! # `media_range`: range reads of a real seekable file
//!
//! The fixture: a video of three 64 KiB chunks and 1000 bytes, encrypted with its sidecar.
//!
//! ```text
//! byte 0        mode: 0 genuine sidecar and blob; 1 the sidecar is bytes 17.. of the input;
//!               2 genuine sidecar, blob changed by bytes 17.. read as 5-byte edits
//!               [offset u32 LE (modulo the blob length), xor]; 3 the blob cut to
//!               (offset u32 LE from bytes 17..21) modulo its length
//! bytes 1..9    range start, u64 LE    bytes 9..17   range end, u64 LE
//! ```
//!
//! (Mode 0 and 2 ranges are taken modulo a little more than the plaintext length, so that both
//! in- and out-of-bounds ranges occur.) Properties: no panic; any range that reads gives exactly
//! the plaintext's bytes at that range; with the genuine sidecar and blob every in-bounds range
//! reads and every other is refused as `RangeOutOfBounds`.

#![allow(dead_code)]

use std::io::Cursor;
use std::sync::OnceLock;

use tandem::crypto::{hmac_sha256_parts, sha256};
use tandem::media::{
    self, MediaDigest, MediaError, MediaKey, MediaKind, MediaPointer, Sidecar, decrypt_range, decrypt_stream,
    decrypt_verify_first,
};

/// What a `media_decrypt` input did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Too short to hold the header.
    Short,
    /// Decrypted (and re-encrypted to the same blob).
    Decrypted,
    /// Refused with this error (the same from every path).
    Refused(MediaError),
}

pub const HEADER: usize = 105;

pub fn run_decrypt(data: &[u8]) -> Outcome {
    let Some((header, blob)) = data.split_at_checked(HEADER) else {
        return Outcome::Short;
    };
    let mode = header[0] & 3;
    let kind = MediaKind::ALL[usize::from(header[0] >> 2) % MediaKind::ALL.len()];
    let key = MediaKey::from_bytes(&header[1..33]).unwrap();
    let mut digest = MediaDigest {
        file_sha256: header[33..65].try_into().unwrap(),
        file_enc_sha256: header[65..97].try_into().unwrap(),
        file_length: u64::from_le_bytes(header[97..105].try_into().unwrap()),
    };
    let mut blob = blob.to_vec();
    if mode >= 2 && blob.len() >= 10 {
        let keys = key.expand(kind);
        let split = blob.len() - 10;
        let mac = hmac_sha256_parts(keys.mac_key.expose(), &[keys.iv.expose(), &blob[..split]]);
        blob[split..].copy_from_slice(&mac[..10]);
        if mode == 3 && split > 0 && split % 16 == 0 {
            if let Ok(plain) = aes_cbc_unpad(&keys, &blob[..split]) {
                digest.file_sha256 = sha256(&[&plain]);
                digest.file_length = plain.len() as u64;
            }
        }
    }
    if mode >= 1 {
        digest.file_enc_sha256 = sha256(&[&blob]);
    }
    check_decrypt(kind, &key, &blob, &digest)
}

/// Decrypts with tandem's one-shot CBC (the unpadding only; MAC already made right).
fn aes_cbc_unpad(keys: &media::MediaKeys, ciphertext: &[u8]) -> Result<Vec<u8>, ()> {
    tandem::crypto::aes256_cbc_decrypt(&keys.cipher_key, keys.iv.expose(), ciphertext).map_err(drop)
}

/// Runs the three decryptions, checks that they agree, and the re-encryption of a success.
pub fn check_decrypt(kind: MediaKind, key: &MediaKey, blob: &[u8], digest: &MediaDigest) -> Outcome {
    let one_shot = media::decrypt(kind, key, blob, digest);
    let mut streamed = Vec::new();
    let stream = decrypt_stream(kind, key, &mut &*blob, &mut streamed, digest).map(|()| streamed);
    let mut written = Vec::new();
    let first = decrypt_verify_first(kind, key, &mut Cursor::new(blob), &mut written, digest);
    assert_eq!(one_shot, stream, "one-shot and one-pass stream disagree");
    match (&one_shot, first) {
        (Ok(plain), Ok(())) => assert_eq!(plain, &written, "verify-first gave other bytes"),
        (Err(a), Err(b)) => {
            assert_eq!(*a, b, "verify-first refused with another error");
            if matches!(
                a,
                MediaError::EncHashMismatch | MediaError::BadBlobLength | MediaError::BadMac
            ) {
                assert!(written.is_empty(), "verify-first wrote unauthenticated bytes");
            }
        }
        (a, b) => panic!("one-shot {a:?}, verify-first {b:?}"),
    }
    match one_shot {
        Ok(plain) => {
            let (again, again_digest) = media::encrypt(kind, key, &plain);
            assert_eq!(again, blob, "a decrypted blob must re-encrypt to itself");
            assert_eq!(&again_digest, digest);
            Outcome::Decrypted
        }
        Err(e) => Outcome::Refused(e),
    }
}

/// The header of a `media_decrypt` input (mode, kind, key, digest); the blob follows it.
pub fn decrypt_input(
    mode: u8,
    kind: MediaKind,
    key: &[u8; 32],
    digest: &MediaDigest,
    blob: &[u8],
) -> Vec<u8> {
    let index = MediaKind::ALL.iter().position(|k| *k == kind).unwrap() as u8;
    let mut out = vec![(index << 2) | (mode & 3)];
    out.extend_from_slice(key);
    out.extend_from_slice(&digest.file_sha256);
    out.extend_from_slice(&digest.file_enc_sha256);
    out.extend_from_slice(&digest.file_length.to_le_bytes());
    out.extend_from_slice(blob);
    out
}

/// Whether the pointer parsed.
pub fn run_pointer(data: &[u8]) -> bool {
    let Ok(pointer) = MediaPointer::from_bytes(data) else {
        return false;
    };
    let bytes = pointer.to_bytes();
    let again = MediaPointer::from_bytes(&bytes).expect("an encoded pointer parses");
    assert_eq!(again, pointer);
    assert_eq!(again.to_bytes(), bytes);
    true
}

/// The `media_range` fixture.
pub struct RangeFixture {
    pub key: MediaKey,
    pub plaintext: Vec<u8>,
    pub blob: Vec<u8>,
    pub sidecar: Sidecar,
}

pub const RANGE_KIND: MediaKind = MediaKind::Video;

pub fn range_fixture() -> &'static RangeFixture {
    static FIXTURE: OnceLock<RangeFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = MediaKey::from([0x5A; 32]);
        let plaintext: Vec<u8> = (0..3 * 65_536 + 1000)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let (blob, _, sidecar) = media::encrypt_with_sidecar(RANGE_KIND, &key, &plaintext);
        RangeFixture {
            key,
            plaintext,
            blob,
            sidecar,
        }
    })
}

/// What a `media_range` input did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    Short,
    Read(u64, u64),
    Refused(MediaError),
}

pub fn run_range(data: &[u8]) -> RangeOutcome {
    let Some((header, rest)) = data.split_at_checked(17) else {
        return RangeOutcome::Short;
    };
    let f = range_fixture();
    let mode = header[0] & 3;
    let mut start = u64::from_le_bytes(header[1..9].try_into().unwrap());
    let mut end = u64::from_le_bytes(header[9..17].try_into().unwrap());
    let len = f.plaintext.len() as u64;
    if mode == 0 || mode == 2 {
        start %= len + 20;
        end %= len + 20;
    }
    let mut blob = f.blob.clone();
    let mut sidecar = f.sidecar.clone();
    match mode {
        1 => match Sidecar::from_bytes(rest.to_vec()) {
            Ok(s) => sidecar = s,
            Err(e) => return RangeOutcome::Refused(e),
        },
        2 => {
            for edit in rest.chunks_exact(5) {
                let at = u32::from_le_bytes(edit[..4].try_into().unwrap()) as usize % blob.len();
                blob[at] ^= edit[4];
            }
        }
        3 => {
            let cut = rest
                .get(..4)
                .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap())) as usize;
            blob.truncate(cut % blob.len());
        }
        _ => {}
    }
    let result = decrypt_range(RANGE_KIND, &f.key, &sidecar, &mut Cursor::new(&blob), start..end);
    let in_bounds = start <= end && end <= len;
    match result {
        Ok(bytes) => {
            assert!(in_bounds, "an out-of-bounds range {start}..{end} read");
            assert_eq!(
                bytes,
                f.plaintext[start as usize..end as usize],
                "range {start}..{end} gave other bytes"
            );
            RangeOutcome::Read(start, end)
        }
        Err(e) => {
            if mode == 0 {
                assert!(
                    !in_bounds && e == MediaError::RangeOutOfBounds,
                    "genuine range {start}..{end}: {e:?}"
                );
            }
            RangeOutcome::Refused(e)
        }
    }
}

/// A `media_range` input.
pub fn range_input(mode: u8, start: u64, end: u64, rest: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&end.to_le_bytes());
    out.extend_from_slice(rest);
    out
}
