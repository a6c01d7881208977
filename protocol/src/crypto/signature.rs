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
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::Secret;
use super::keys::{PrivateKey, PublicKey};

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

/// A private key made ready for repeated signing: its Edwards public key is computed once
/// instead of on every signature. Zeroized on drop; `Debug` prints only the public half.
#[derive(Clone)]
pub struct SigningKey {
    clamped: Secret<32>,
    ed_public: CompressedEdwardsY,
}

impl SigningKey {
    /// Prepares `key` for signing (one base-point multiplication).
    pub fn new(key: &PrivateKey) -> Self {
        let clamped = key.to_bytes();
        let mut a = Scalar::from_bytes_mod_order(*clamped.expose());
        let ed_public = (&a * ED25519_BASEPOINT_TABLE).compress();
        a.zeroize();
        Self { clamped, ed_public }
    }

    /// The clamped private scalar bytes it signs with (for storage; `SigningKey::new` of
    /// `PrivateKey::from_bytes` of them gives this key back).
    pub(crate) fn private_bytes(&self) -> &Secret<32> {
        &self.clamped
    }

    /// Signs `message` with 64 fresh random bytes from `rng`.
    pub fn sign<R: rand_core::CryptoRng + ?Sized>(&self, message: &[u8], rng: &mut R) -> Signature {
        self.sign_parts(&[message], &Secret::<64>::random(rng))
    }

    /// Signs the concatenation of `parts` with the given 64 random bytes.
    pub(crate) fn sign_parts(&self, parts: &[&[u8]], random: &Secret<64>) -> Signature {
        let clamped_key = self.clamped.expose();
        let mut a = Scalar::from_bytes_mod_order(*clamped_key);
        let sign_bit = self.ed_public.as_bytes()[31] & 0x80;

        let mut nonce_hash = Sha512::new();
        nonce_hash.update(NONCE_PREFIX);
        nonce_hash.update(clamped_key);
        for p in parts {
            nonce_hash.update(p);
        }
        nonce_hash.update(random.expose());
        let mut r = Scalar::from_hash(nonce_hash);
        let cap_r = (&r * ED25519_BASEPOINT_TABLE).compress();

        let h = challenge(cap_r.as_bytes(), self.ed_public.as_bytes(), parts);
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
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

/// A public key made ready for repeated verification: the Edwards point for each value of the
/// sign bit a signature may carry is computed once (a square root each) instead of on every
/// verification.
#[derive(Clone, Copy, Debug)]
pub struct VerifyingKey {
    key: PublicKey,
    /// Index = the sign bit; `None` when the u-coordinate has no Edwards point.
    points: [Option<(EdwardsPoint, CompressedEdwardsY)>; 2],
}

impl VerifyingKey {
    /// Prepares `key` for verification.
    pub fn new(key: PublicKey) -> Self {
        let point = |sign: u8| {
            MontgomeryPoint(*key.as_raw())
                .to_edwards(sign)
                .map(|p| (p, p.compress()))
        };
        Self {
            key,
            points: [point(0), point(1)],
        }
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// Checks a signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        self.verify_parts(&[message], signature)
    }

    /// Checks a signature over the concatenation of `parts`.
    pub fn verify_parts(&self, parts: &[&[u8]], signature: &[u8]) -> Result<(), SignatureError> {
        let sig: &[u8; SIGNATURE_LENGTH] = signature.try_into().map_err(|_| SignatureError::BadSignature)?;
        let (r_bytes, s_half) = sig.split_at(32);
        let mut s_bytes: [u8; 32] = s_half.try_into().map_err(|_| SignatureError::BadSignature)?;
        let sign_bit = usize::from(s_bytes[31] >> 7);
        s_bytes[31] &= 0x7F;
        if s_bytes[31] & 0xE0 != 0 {
            return Err(SignatureError::BadSignature);
        }
        let (ed_public, ed_public_bytes) = self
            .points
            .get(sign_bit)
            .copied()
            .flatten()
            .ok_or(SignatureError::BadSignature)?;
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
}

/// One-off verification: converts the key for just the sign bit the signature carries.
pub(crate) fn verify(key: &PublicKey, parts: &[&[u8]], signature: &[u8]) -> Result<(), SignatureError> {
    let sign_bit = signature.get(SIGNATURE_LENGTH - 1).map_or(0, |b| b >> 7);
    let point = MontgomeryPoint(*key.as_raw())
        .to_edwards(sign_bit)
        .map(|p| (p, p.compress()));
    let mut points = [None, None];
    if let Some(slot) = points.get_mut(usize::from(sign_bit)) {
        *slot = point;
    }
    VerifyingKey { key: *key, points }.verify_parts(parts, signature)
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
