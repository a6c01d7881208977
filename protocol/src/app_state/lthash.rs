//! WhatsApp's LTHash: a homomorphic hash of the set of value MACs a collection holds.
//!
//! The state is 128 bytes read as 64 little-endian u16 words, zero for an empty collection.
//! Each value MAC is expanded with `HKDF-SHA256(valueMAC, salt = none, "WhatsApp Patch
//! Integrity", 128)` and added (or subtracted) word by word modulo 2^16, so the hash depends
//! only on which value MACs are held, not on the order they came in.

use crate::crypto::hkdf_sha256_into;

/// HKDF info for the per-item expansion (WhatsApp's constant).
pub const LTHASH_INFO: &[u8] = b"WhatsApp Patch Integrity";

/// The LTHash state length in bytes.
pub const LTHASH_LENGTH: usize = 128;

/// A 128-byte LTHash.
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash([u8; LTHASH_LENGTH]);

impl Default for LtHash {
    fn default() -> Self {
        Self::zero()
    }
}

impl LtHash {
    /// The hash of the empty set (all zero).
    pub fn zero() -> Self {
        Self([0u8; LTHASH_LENGTH])
    }

    /// A hash from its 128 bytes.
    pub fn from_bytes(bytes: [u8; LTHASH_LENGTH]) -> Self {
        Self(bytes)
    }

    /// The 128 bytes.
    pub fn as_bytes(&self) -> &[u8; LTHASH_LENGTH] {
        &self.0
    }

    /// Adds one item (a value MAC).
    pub fn add(&mut self, item: &[u8]) {
        let h = expand(item);
        self.combine(&h, u16::wrapping_add);
    }

    /// Subtracts one item (a value MAC).
    pub fn subtract(&mut self, item: &[u8]) {
        let h = expand(item);
        self.combine(&h, u16::wrapping_sub);
    }

    fn combine(&mut self, h: &[u8; LTHASH_LENGTH], op: fn(u16, u16) -> u16) {
        for (word, other) in self.0.chunks_exact_mut(2).zip(h.chunks_exact(2)) {
            let (&[a0, a1], &[b0, b1]) = (&*word, other) else {
                continue;
            };
            let sum = op(u16::from_le_bytes([a0, a1]), u16::from_le_bytes([b0, b1]));
            word.copy_from_slice(&sum.to_le_bytes());
        }
    }
}

impl core::fmt::Debug for LtHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LtHash(")?;
        for b in self.0.get(..8).unwrap_or_default() {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

fn expand(item: &[u8]) -> [u8; LTHASH_LENGTH] {
    let mut out = [0u8; LTHASH_LENGTH];
    // 128 bytes is within HKDF-SHA256's limit; the call cannot fail.
    let _ = hkdf_sha256_into(item, &[], LTHASH_INFO, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_subtract_is_identity_in_any_order() {
        let mut h = LtHash::zero();
        h.add(b"one");
        h.add(b"two");
        let mut g = LtHash::zero();
        g.add(b"two");
        g.add(b"one");
        assert_eq!(h, g);
        h.subtract(b"one");
        h.subtract(b"two");
        assert_eq!(h, LtHash::zero());
    }

    #[test]
    fn words_are_little_endian_and_wrap() {
        // Reference computed word by word in u32 and masked, apart from `combine`.
        let e = expand(b"x");
        let mut start = [0u8; LTHASH_LENGTH];
        start[0] = 0xFF;
        start[1] = 0xFF;
        let mut h = LtHash::from_bytes(start);
        h.add(b"x");
        let want = (0xFFFFu32 + (u32::from(e[0]) | (u32::from(e[1]) << 8))) & 0xFFFF;
        assert_eq!(h.as_bytes()[0], (want & 0xFF) as u8);
        assert_eq!(h.as_bytes()[1], (want >> 8) as u8);
    }
}
