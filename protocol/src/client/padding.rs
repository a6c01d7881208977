//! Plaintext padding before encryption (Signal's scheme), stripped strictly on receipt.
//!
//! `padded = plaintext ‖ 0x80 ‖ 0x00…` up to the next multiple of [`PADDING_BLOCK`] bytes, so
//! ciphertext lengths reveal only a 160-byte bucket.

/// Padded plaintexts are a multiple of this many bytes (Signal's transport padding).
pub const PADDING_BLOCK: usize = 160;

/// Why a padded plaintext was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad padding")]
pub struct BadPadding;

/// Pads `plaintext`.
pub fn pad(plaintext: &[u8]) -> Vec<u8> {
    let len = (plaintext.len() + 1).div_ceil(PADDING_BLOCK) * PADDING_BLOCK;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(plaintext);
    out.push(0x80);
    out.resize(len, 0);
    out
}

/// Strips padding: the length must be a positive multiple of the block, and the bytes after the
/// plaintext must be exactly `0x80` then zeros.
pub fn unpad(padded: &[u8]) -> Result<&[u8], BadPadding> {
    if padded.is_empty() || padded.len() % PADDING_BLOCK != 0 {
        return Err(BadPadding);
    }
    let end = padded.iter().rposition(|&b| b != 0).ok_or(BadPadding)?;
    match padded.get(end) {
        Some(0x80) => padded.get(..end).ok_or(BadPadding),
        _ => Err(BadPadding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_length_in_buckets() {
        for n in [0usize, 1, 158, 159, 160, 161, 1000] {
            let p = vec![0xAB; n];
            let padded = pad(&p);
            assert_eq!(padded.len() % PADDING_BLOCK, 0);
            assert!(padded.len() > n);
            assert_eq!(unpad(&padded).unwrap(), &p[..]);
        }
        assert_eq!(pad(b"").len(), 160);
        assert_eq!(pad(&[1; 159]).len(), 160);
        assert_eq!(pad(&[1; 160]).len(), 320);
    }

    #[test]
    fn refuses_anything_but_exact_padding() {
        assert_eq!(unpad(&[]), Err(BadPadding));
        assert_eq!(unpad(&[0u8; 160]), Err(BadPadding));
        let mut p = pad(b"hi");
        p[100] = 1;
        assert_eq!(unpad(&p), Err(BadPadding));
        let mut q = pad(b"hi");
        q.pop();
        assert_eq!(unpad(&q), Err(BadPadding));
        let mut r = pad(b"hi");
        r[2] = 0x81;
        assert_eq!(unpad(&r), Err(BadPadding));
    }
}
