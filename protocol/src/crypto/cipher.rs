//! AES-256-CBC with PKCS#7 padding, and AES-256-GCM.

use aes::Aes256;
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use super::Secret;

/// Why a CBC decryption was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CbcError {
    /// The ciphertext is empty or not a whole number of 16-byte blocks.
    #[error("ciphertext length is not a positive multiple of the block size")]
    BadLength,
    /// The PKCS#7 padding is malformed.
    #[error("bad PKCS#7 padding")]
    BadPadding,
}

/// Why an AEAD operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AeadError {
    /// The tag does not authenticate the ciphertext and associated data.
    #[error("AEAD tag verification failed")]
    BadTag,
    /// The plaintext exceeds GCM's limit (2^36 − 32 bytes).
    #[error("plaintext too long for AES-GCM")]
    TooLong,
}

/// AES-256-CBC encryption with PKCS#7 padding.
pub fn aes256_cbc_encrypt(key: &Secret<32>, iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes256>::new(key.expose().into(), iv.into()).encrypt_padded_vec::<Pkcs7>(plaintext)
}

/// AES-256-CBC decryption with strict PKCS#7 unpadding.
pub fn aes256_cbc_decrypt(key: &Secret<32>, iv: &[u8; 16], ciphertext: &[u8]) -> Result<Vec<u8>, CbcError> {
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(CbcError::BadLength);
    }
    cbc::Decryptor::<Aes256>::new(key.expose().into(), iv.into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map_err(|_| CbcError::BadPadding)
}

/// AES-256-GCM seal: returns `ciphertext ‖ 16-byte tag`.
pub fn aes256_gcm_seal(
    key: &Secret<32>,
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let cipher = Aes256Gcm::new(key.expose().into());
    cipher
        .encrypt(nonce.into(), Payload { msg: plaintext, aad })
        .map_err(|_| AeadError::TooLong)
}

/// AES-256-GCM open of `ciphertext ‖ tag`.
pub fn aes256_gcm_open(
    key: &Secret<32>,
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let cipher = Aes256Gcm::new(key.expose().into());
    cipher
        .decrypt(nonce.into(), Payload { msg: sealed, aad })
        .map_err(|_| AeadError::BadTag)
}
