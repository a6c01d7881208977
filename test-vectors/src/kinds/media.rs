//! The `media` kind: WhatsApp's media encryption (per-kind HKDF info string, AES-256-CBC,
//! 10-byte HMAC-SHA256, SHA-256 digests) and tandem's seekable sidecar (`spec/07-media.md`).
//!
//! Fields: `media_kind` (tandem's kind name, e.g. `image`, `app-state`), `media_key` (32 bytes);
//! the plaintext as `plaintext` (hex) or `plaintext_length` N (byte i is i mod 251);
//! `file_sha256`, `file_enc_sha256`, `file_length` (the pointer's digest); `blob`
//! (`ciphertext ‖ mac`); optional `sidecar` (10 bytes per 64 KiB chunk).
//!
//! Valid cases also carry `info` (the HKDF info string) and `expanded` (the 112-byte HKDF
//! output), may leave out `blob` when `plaintext_length` is given (`file_enc_sha256` pins it),
//! and may list `ranges` (`[start, end]` plaintext ranges; needs `sidecar`). The checker
//! requires: the kind's info string and expansion; one-shot, streamed and sidecar encryption all
//! give `blob` (or its hash), the digest and `sidecar`; one-shot, streamed and verify-first
//! decryption give the plaintext; every range read gives its slice of the plaintext.
//!
//! Invalid cases: without `range`, decrypting `blob` as `decrypt_as` (default `media_kind`)
//! against the digest must fail with `error` in all three decryptions (one-shot, one-pass
//! stream, verify-first). With `range` (`[start, end]`) and `sidecar`, the range read must fail
//! with `error`; the blob is then `blob`, or the encryption of the `plaintext_length` pattern
//! changed by `blob_xor` (`[[offset, byte], …]`, XORed in) and cut to `blob_truncate` bytes.

use std::io::Cursor;

use serde::Deserialize;
use tandem::media::{
    self, MediaDigest, MediaError, MediaKey, MediaKind, Sidecar, decrypt_range, decrypt_stream,
    decrypt_verify_first, encrypt_stream, encrypt_stream_with_sidecar, encrypt_with_sidecar,
};

use super::{Hex, fields, same};
use crate::file::{Case, Expect};

/// Plaintexts larger than this are refused (keeps a hostile file from exhausting memory).
const MAX_PLAINTEXT: u64 = 16 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaCase {
    media_kind: String,
    media_key: Hex,
    info: Option<String>,
    expanded: Option<Hex>,
    plaintext: Option<Hex>,
    plaintext_length: Option<u64>,
    blob: Option<Hex>,
    file_sha256: Hex,
    file_enc_sha256: Hex,
    file_length: u64,
    sidecar: Option<Hex>,
    ranges: Option<Vec<(u64, u64)>>,
    decrypt_as: Option<String>,
    range: Option<(u64, u64)>,
    blob_xor: Option<Vec<(usize, u8)>>,
    blob_truncate: Option<usize>,
}

fn kind(name: &str) -> Result<MediaKind, String> {
    MediaKind::from_name(name).ok_or_else(|| format!("unknown media kind `{name}`"))
}

fn pattern(n: u64) -> Result<Vec<u8>, String> {
    if n > MAX_PLAINTEXT {
        return Err(format!("`plaintext_length` {n} is too large"));
    }
    Ok((0..n).map(|i| (i % 251) as u8).collect())
}

impl MediaCase {
    fn plaintext(&self) -> Result<Vec<u8>, String> {
        match (&self.plaintext, self.plaintext_length) {
            (Some(p), None) => Ok(p.0.clone()),
            (None, Some(n)) => pattern(n),
            _ => Err("exactly one of `plaintext` and `plaintext_length` is needed".into()),
        }
    }

    fn digest(&self) -> Result<MediaDigest, String> {
        Ok(MediaDigest {
            file_sha256: self.file_sha256.array("file_sha256")?,
            file_enc_sha256: self.file_enc_sha256.array("file_enc_sha256")?,
            file_length: self.file_length,
        })
    }

    fn key(&self) -> Result<MediaKey, String> {
        MediaKey::from_bytes(&self.media_key.0).map_err(|e| format!("media_key: {e}"))
    }
}

pub(super) fn media(case: &Case) -> Result<(), String> {
    let c: MediaCase = fields(case)?;
    match &case.expect {
        Expect::Valid => valid(&c),
        Expect::Invalid { error } => invalid(&c, error),
    }
}

fn valid(c: &MediaCase) -> Result<(), String> {
    if c.decrypt_as.is_some() || c.range.is_some() || c.blob_xor.is_some() || c.blob_truncate.is_some() {
        return Err("`decrypt_as`, `range`, `blob_xor`, `blob_truncate` are for invalid cases".into());
    }
    let kind = kind(&c.media_kind)?;
    let key = c.key()?;
    let digest = c.digest()?;
    let plaintext = c.plaintext()?;
    let info = c.info.as_deref().ok_or("valid cases need `info`")?;
    if kind.info() != info {
        return Err(format!("info: tandem has `{}`, file has `{info}`", kind.info()));
    }
    let keys = key.expand(kind);
    let mut expanded = Vec::with_capacity(112);
    for part in [
        &keys.iv.expose()[..],
        keys.cipher_key.expose(),
        keys.mac_key.expose(),
        keys.ref_key.expose(),
    ] {
        expanded.extend_from_slice(part);
    }
    same(
        "expanded",
        &expanded,
        &c.expanded.as_ref().ok_or("valid cases need `expanded`")?.0,
    )?;

    // Encryption, three ways.
    let (blob, got) = media::encrypt(kind, &key, &plaintext);
    if let Some(want) = &c.blob {
        same("blob", &blob, &want.0)?;
    } else if c.plaintext.is_some() {
        return Err("`blob` may be left out only with `plaintext_length`".into());
    }
    check_digest(&got, &digest)?;
    let mut streamed = Vec::new();
    let got = encrypt_stream(kind, &key, &mut plaintext.as_slice(), &mut streamed)
        .map_err(|e| format!("encrypt_stream: {e:?}"))?;
    same("streamed blob", &streamed, &blob)?;
    check_digest(&got, &digest)?;

    // Decryption, three ways.
    let out = media::decrypt(kind, &key, &blob, &digest).map_err(|e| format!("decrypt: {e:?}"))?;
    same("decrypted", &out, &plaintext)?;
    let mut out = Vec::new();
    decrypt_stream(kind, &key, &mut blob.as_slice(), &mut out, &digest)
        .map_err(|e| format!("decrypt_stream: {e:?}"))?;
    same("stream-decrypted", &out, &plaintext)?;
    let mut out = Vec::new();
    decrypt_verify_first(kind, &key, &mut Cursor::new(&blob), &mut out, &digest)
        .map_err(|e| format!("decrypt_verify_first: {e:?}"))?;
    same("verify-first-decrypted", &out, &plaintext)?;

    // The sidecar and range reads.
    let Some(want) = &c.sidecar else {
        return if c.ranges.is_some() {
            Err("`ranges` needs `sidecar`".into())
        } else {
            Ok(())
        };
    };
    let computed = Sidecar::compute(kind, &key, &blob).map_err(|e| format!("Sidecar::compute: {e:?}"))?;
    same("sidecar", computed.as_bytes(), &want.0)?;
    let (_, _, one_shot) = encrypt_with_sidecar(kind, &key, &plaintext);
    same("encrypt_with_sidecar sidecar", one_shot.as_bytes(), &want.0)?;
    let (_, streamed) =
        encrypt_stream_with_sidecar(kind, &key, &mut plaintext.as_slice(), &mut std::io::sink())
            .map_err(|e| format!("encrypt_stream_with_sidecar: {e:?}"))?;
    same("streamed sidecar", streamed.as_bytes(), &want.0)?;
    let sidecar = Sidecar::from_bytes(want.0.clone()).map_err(|e| format!("sidecar: {e:?}"))?;
    for &(start, end) in c.ranges.as_deref().unwrap_or_default() {
        let got = decrypt_range(kind, &key, &sidecar, &mut Cursor::new(&blob), start..end)
            .map_err(|e| format!("range {start}..{end}: {e:?}"))?;
        let want = plaintext
            .get(start as usize..end as usize)
            .ok_or_else(|| format!("range {start}..{end} is outside the plaintext"))?;
        same(&format!("range {start}..{end}"), &got, want)?;
    }
    Ok(())
}

fn check_digest(got: &MediaDigest, want: &MediaDigest) -> Result<(), String> {
    same("file_sha256", &got.file_sha256, &want.file_sha256)?;
    same("file_enc_sha256", &got.file_enc_sha256, &want.file_enc_sha256)?;
    if got.file_length != want.file_length {
        return Err(format!(
            "file_length: got {}, want {}",
            got.file_length, want.file_length
        ));
    }
    Ok(())
}

fn invalid(c: &MediaCase, error: &str) -> Result<(), String> {
    if c.ranges.is_some() {
        return Err("`ranges` is for valid cases".into());
    }
    let encrypted_as = kind(&c.media_kind)?;
    let kind = kind(c.decrypt_as.as_deref().unwrap_or(&c.media_kind))?;
    let key = c.key()?;
    let digest = c.digest()?;
    let mut blob = match (&c.blob, c.plaintext_length) {
        (Some(b), _) => b.0.clone(),
        (None, Some(n)) => media::encrypt(encrypted_as, &key, &pattern(n)?).0,
        (None, None) => return Err("invalid cases need `blob` or `plaintext_length`".into()),
    };
    for &(offset, byte) in c.blob_xor.as_deref().unwrap_or_default() {
        *blob.get_mut(offset).ok_or("`blob_xor` offset outside the blob")? ^= byte;
    }
    if let Some(n) = c.blob_truncate {
        blob.truncate(n);
    }
    let expect = |what: &str, result: Result<(), MediaError>| match result {
        Err(e) if e.name() == error => Ok(()),
        Err(e) => Err(format!("{what}: expected error {error}, got {e:?}")),
        Ok(()) => Err(format!("{what}: expected error {error}, but it succeeded")),
    };
    if let Some((start, end)) = c.range {
        let sidecar = Sidecar::from_bytes(c.sidecar.as_ref().ok_or("`range` needs `sidecar`")?.0.clone());
        let result = sidecar
            .and_then(|s| decrypt_range(kind, &key, &s, &mut Cursor::new(&blob), start..end).map(drop));
        return expect("decrypt_range", result);
    }
    expect("decrypt", media::decrypt(kind, &key, &blob, &digest).map(drop))?;
    let mut sink = Vec::new();
    expect(
        "decrypt_stream",
        decrypt_stream(kind, &key, &mut blob.as_slice(), &mut sink, &digest),
    )?;
    let mut out = Vec::new();
    expect(
        "decrypt_verify_first",
        decrypt_verify_first(kind, &key, &mut Cursor::new(&blob), &mut out, &digest),
    )?;
    // Verify-first must not have written anything: the input cannot change between its passes.
    if !out.is_empty() && !matches!(error, "BadPadding" | "PlainHashMismatch" | "LengthMismatch") {
        return Err(format!(
            "decrypt_verify_first wrote {} bytes before refusing",
            out.len()
        ));
    }
    Ok(())
}
