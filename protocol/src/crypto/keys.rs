//! Curve25519 key pairs with libsignal's encoding, and X25519 agreement.
//!
//! A public key travels as `0x05 ‖ u` (33 bytes): the type byte libsignal calls `DJB_TYPE`,
//! then the 32-byte little-endian Montgomery u-coordinate. A private key is the 32-byte X25519
//! scalar, stored clamped (as libsignal stores it), so the same bytes serve agreement and
//! signing.

use core::fmt;

use curve25519_dalek::montgomery::MontgomeryPoint;
use x25519_dalek::StaticSecret;

use super::Secret;
use super::signature::{self, Signature};

/// The type byte that prefixes a serialized Curve25519 public key.
pub const DJB_KEY_TYPE: u8 = 0x05;

/// Why key bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The first byte is not [`DJB_KEY_TYPE`].
    #[error("unknown public key type byte")]
    BadKeyType,
    /// The bytes are not exactly the length the encoding needs.
    #[error("key has the wrong length")]
    BadKeyLength,
}

/// Why a Diffie-Hellman agreement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgreementError {
    /// The result is all zeros: the peer's key is of small order, so the "shared" secret would be
    /// known to anyone. Honest peers never produce such keys.
    #[error("the peer's public key gives a non-contributory (all-zero) shared secret")]
    NonContributory,
}

/// A Curve25519 public key (Montgomery u-coordinate).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Length of the serialized form, type byte included.
    pub const SERIALIZED_LENGTH: usize = 33;

    /// Parses libsignal's encoding: exactly `0x05 ‖ 32 bytes`.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, KeyError> {
        match bytes.split_first() {
            None => Err(KeyError::BadKeyLength),
            Some((&DJB_KEY_TYPE, rest)) => {
                let raw: [u8; 32] = rest.try_into().map_err(|_| KeyError::BadKeyLength)?;
                Ok(Self(raw))
            }
            Some(_) => Err(KeyError::BadKeyType),
        }
    }

    /// The 33-byte encoding, `0x05 ‖ u`.
    pub fn serialize(&self) -> [u8; 33] {
        let mut out = [DJB_KEY_TYPE; 33];
        if let Some(tail) = out.get_mut(1..) {
            tail.copy_from_slice(&self.0);
        }
        out
    }

    /// A key from its raw 32-byte u-coordinate (no type byte).
    pub const fn from_raw(u: [u8; 32]) -> Self {
        Self(u)
    }

    /// The raw 32-byte u-coordinate.
    pub const fn as_raw(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks a libsignal-style signature by this key over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), signature::SignatureError> {
        signature::verify(self, &[message], signature)
    }

    /// Checks a signature over the concatenation of `parts` (without building it).
    pub fn verify_parts(&self, parts: &[&[u8]], signature: &[u8]) -> Result<(), signature::SignatureError> {
        signature::verify(self, parts, signature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A Curve25519 private key: a clamped X25519 scalar. Zeroized on drop; `Debug` prints nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(Secret<32>);

impl PrivateKey {
    /// A fresh key from the caller's CSPRNG.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut raw = Secret::<32>::random(rng);
        clamp(raw.expose_mut());
        Self(raw)
    }

    /// A key from 32 bytes; they are clamped as X25519 clamps, as libsignal does on import.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadKeyLength)?;
        let mut secret = Secret::new(raw);
        clamp(secret.expose_mut());
        Ok(Self(secret))
    }

    /// The 32 clamped scalar bytes (libsignal's private-key serialization).
    pub fn to_bytes(&self) -> Secret<32> {
        self.0.clone()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(MontgomeryPoint::mul_base_clamped(*self.0.expose()).to_bytes())
    }

    /// X25519 agreement with a peer's public key. An all-zero result is refused.
    pub fn agree(&self, theirs: &PublicKey) -> Result<Secret<32>, AgreementError> {
        let ours = StaticSecret::from(*self.0.expose());
        let shared = ours.diffie_hellman(&x25519_dalek::PublicKey::from(theirs.0));
        if !shared.was_contributory() {
            return Err(AgreementError::NonContributory);
        }
        Ok(Secret::new(*shared.as_bytes()))
    }

    /// Signs `message` as libsignal does, with 64 fresh random bytes from `rng`.
    pub fn sign<R: rand_core::CryptoRng + ?Sized>(&self, message: &[u8], rng: &mut R) -> Signature {
        signature::SigningKey::new(self).sign_parts(&[message], &Secret::<64>::random(rng))
    }

    /// Signs the concatenation of `parts` (without building it).
    pub fn sign_parts<R: rand_core::CryptoRng + ?Sized>(&self, parts: &[&[u8]], rng: &mut R) -> Signature {
        signature::SigningKey::new(self).sign_parts(parts, &Secret::<64>::random(rng))
    }

    /// Deterministic signing with caller-chosen randomness: reproduces known answers. Use
    /// [`PrivateKey::sign`] otherwise; reusing `random` across messages is safe only because the
    /// nonce also hashes the key and message, but fresh randomness is the rule.
    pub fn sign_with_randomness(&self, message: &[u8], random: &Secret<64>) -> Signature {
        signature::SigningKey::new(self).sign_parts(&[message], random)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(redacted)")
    }
}

/// A private key with its public key.
#[derive(Clone)]
pub struct KeyPair {
    /// The public half.
    pub public: PublicKey,
    /// The private half.
    pub private: PrivateKey,
}

impl KeyPair {
    /// A fresh key pair from the caller's CSPRNG.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_private(PrivateKey::generate(rng))
    }

    /// The key pair of an existing private key.
    pub fn from_private(private: PrivateKey) -> Self {
        Self {
            public: private.public_key(),
            private,
        }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// X25519 clamping (RFC 7748 §5): clear the three low bits, clear bit 255, set bit 254.
fn clamp(bytes: &mut [u8; 32]) {
    bytes[0] &= 248;
    bytes[31] &= 127;
    bytes[31] |= 64;
}
