//! Signatures by Curve25519 identity keys, exactly as libsignal makes and checks them.
//!
//! This is libsignal's "curve25519 signature" (libsignal-protocol-c `curve_sigs.c`,
//! `curve25519_sign`/`curve25519_verify`), not the XEdDSA of Signal's specification:
//!
//! - Signing uses the clamped X25519 scalar `a` directly as the Ed25519 secret scalar, with the
//!   Edwards public key `A = aB` as it comes out (not negated to a canonical sign).
//!   `r = SHA-512(0xFE ‖ 0xFF×31 ‖ a ‖ M ‖ Z) mod ℓ` with 64 random bytes `Z`;
//!   `R = rB`; `h = SHA-512(R ‖ A ‖ M) mod ℓ`; `s = h·a + r mod ℓ`.
//!   The signature is `R ‖ s` with the sign bit of `A` written into the top bit of byte 63
//!   (which is always clear in a reduced `s`).
//! - Verification converts the Montgomery u to the Edwards point whose sign is that top bit,
//!   clears the bit, refuses an `s` with any of its top three bits set, and checks
//!   `R == encode(s·B − h·A)`. A spec XEdDSA signature (sign bit 0, key negated) verifies too.
//!
//! Only group operations from `curve25519-dalek` are used; nothing below them is written here.

use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::Secret;
use super::keys::PublicKey;

/// Length of a signature in bytes.
pub const SIGNATURE_LENGTH: usize = 64;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature does not verify under the key (or is malformed: wrong length,
    /// non-canonical `s`, or a key with no Edwards counterpart).
    #[error("signature verification failed")]
    BadSignature,
}

/// A 64-byte libsignal-style signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LENGTH]);

impl Signature {
    /// The signature bytes.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LENGTH] {
        self.0
    }
}

impl AsRef<[u8]> for Signature {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// Nonce-hash domain separator: 2^256 − 2 little-endian (XEdDSA's `hash_1` prefix).
const NONCE_PREFIX: [u8; 32] = {
    let mut p = [0xFFu8; 32];
    p[0] = 0xFE;
    p
};

pub(crate) fn sign(clamped_key: &[u8; 32], parts: &[&[u8]], random: &Secret<64>) -> Signature {
    let mut a = Scalar::from_bytes_mod_order(*clamped_key);
    let ed_public = (&a * ED25519_BASEPOINT_TABLE).compress();
    let sign_bit = ed_public.as_bytes()[31] & 0x80;

    let mut nonce_hash = Sha512::new();
    nonce_hash.update(NONCE_PREFIX);
    nonce_hash.update(clamped_key);
    for p in parts {
        nonce_hash.update(p);
    }
    nonce_hash.update(random.expose());
    let mut r = Scalar::from_hash(nonce_hash);
    let cap_r = (&r * ED25519_BASEPOINT_TABLE).compress();

    let h = challenge(cap_r.as_bytes(), ed_public.as_bytes(), parts);
    let s = h * a + r;
    a.zeroize();
    r.zeroize();

    let mut out = [0u8; SIGNATURE_LENGTH];
    let (r_half, s_half) = out.split_at_mut(32);
    r_half.copy_from_slice(cap_r.as_bytes());
    s_half.copy_from_slice(s.as_bytes());
    out[63] = (out[63] & 0x7F) | sign_bit;
    Signature(out)
}

pub(crate) fn verify(key: &PublicKey, parts: &[&[u8]], signature: &[u8]) -> Result<(), SignatureError> {
    let sig: &[u8; SIGNATURE_LENGTH] = signature.try_into().map_err(|_| SignatureError::BadSignature)?;
    let (r_bytes, s_half) = sig.split_at(32);
    let mut s_bytes: [u8; 32] = s_half.try_into().map_err(|_| SignatureError::BadSignature)?;
    let sign_bit = s_bytes[31] >> 7;
    s_bytes[31] &= 0x7F;
    if s_bytes[31] & 0xE0 != 0 {
        return Err(SignatureError::BadSignature);
    }
    let ed_public = MontgomeryPoint(*key.as_raw())
        .to_edwards(sign_bit)
        .ok_or(SignatureError::BadSignature)?;
    let ed_public_bytes = ed_public.compress();
    let h = challenge(r_bytes, ed_public_bytes.as_bytes(), parts);
    let expected_r = EdwardsPoint::vartime_double_scalar_mul_basepoint(
        &h,
        &-ed_public,
        &Scalar::from_bytes_mod_order(s_bytes),
    )
    .compress();
    if bool::from(expected_r.as_bytes().ct_eq(r_bytes)) {
        Ok(())
    } else {
        Err(SignatureError::BadSignature)
    }
}

fn challenge(cap_r: &[u8], ed_public: &[u8; 32], parts: &[&[u8]]) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(cap_r);
    hash.update(ed_public);
    for p in parts {
        hash.update(p);
    }
    Scalar::from_hash(hash)
}
