//! Cryptographic building blocks, as thin typed wrappers over dalek and RustCrypto.
//!
//! Nothing here implements a primitive: X25519 and the Edwards group come from
//! `curve25519-dalek`/`x25519-dalek`, hashes, MACs, KDFs and ciphers from RustCrypto. What this
//! module adds is libsignal's key encoding and signature scheme on top of the group operations,
//! one secret type ([`Secret`]) and small error enums per operation.

mod cipher;
mod hash;
mod kdf;
mod keys;
mod mac;
mod secret;
mod signature;

pub use cipher::{
    AeadError, CbcError, aes256_cbc_decrypt, aes256_cbc_encrypt, aes256_gcm_open, aes256_gcm_seal,
};
pub use hash::{sha256, sha512};
pub use kdf::{KdfError, hkdf_sha256, hkdf_sha256_into};
pub use keys::{AgreementError, DJB_KEY_TYPE, KeyError, KeyPair, PrivateKey, PublicKey};
pub use mac::{HmacKey, MacError, hmac_sha256, hmac_sha256_parts, verify_hmac_sha256};
pub use secret::Secret;
pub use signature::{SIGNATURE_LENGTH, Signature, SignatureError, SigningKey, VerifyingKey};
