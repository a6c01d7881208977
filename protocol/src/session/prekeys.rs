//! Prekeys, signed prekeys, registration ids and the bundle a directory hands out.

use rand_core::CryptoRng;

use crate::crypto::{KeyPair, PublicKey, Signature};

/// A one-time prekey as its owner stores it.
#[derive(Clone, Debug)]
pub struct PreKeyRecord {
    /// Its id (published in the bundle, echoed in the first message).
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
}

/// A signed prekey as its owner stores it.
#[derive(Clone, Debug)]
pub struct SignedPreKeyRecord {
    /// Its id.
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
    /// The identity key's signature over the serialized (33-byte) public key.
    pub signature: Signature,
    /// When it was made (caller's clock, milliseconds since the Unix epoch).
    pub timestamp: u64,
}

impl PreKeyRecord {
    /// A fresh one-time prekey.
    pub fn generate<R: CryptoRng + ?Sized>(id: u32, rng: &mut R) -> Self {
        Self {
            id,
            key_pair: KeyPair::generate(rng),
        }
    }
}

impl SignedPreKeyRecord {
    /// A fresh signed prekey, signed by `identity` as libsignal signs it.
    pub fn generate<R: CryptoRng + ?Sized>(id: u32, identity: &KeyPair, timestamp: u64, rng: &mut R) -> Self {
        let key_pair = KeyPair::generate(rng);
        let signature = identity.private.sign(&key_pair.public.serialize(), rng);
        Self {
            id,
            key_pair,
            signature,
            timestamp,
        }
    }
}

/// A fresh registration id: 14 bits, never zero (libsignal's range, 1..=16380).
pub fn generate_registration_id<R: CryptoRng + ?Sized>(rng: &mut R) -> u32 {
    (rng.next_u32() % 16380) + 1
}

/// What a directory publishes for one device so that others can start sessions with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyBundle {
    /// The device's registration id.
    pub registration_id: u32,
    /// The device id.
    pub device_id: u32,
    /// A one-time prekey (id and key), if the directory had one left.
    pub pre_key: Option<(u32, PublicKey)>,
    /// The signed prekey's id.
    pub signed_pre_key_id: u32,
    /// The signed prekey.
    pub signed_pre_key: PublicKey,
    /// The identity key's signature over the serialized signed prekey.
    pub signed_pre_key_signature: Vec<u8>,
    /// The device's identity key.
    pub identity_key: PublicKey,
}
