//! AES-256-CBC over a stream of whole blocks, with PKCS#7 on the final block only: thin
//! wrappers over the `cbc` crate's block-mode API (the cipher itself is RustCrypto's).

use aes::Aes256;
use cbc::cipher::block_padding::{Padding, Pkcs7};
use cbc::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, consts::U16};

use crate::crypto::Secret;

use super::MediaError;

/// The cipher block length.
pub(super) const BLOCK: usize = 16;

type Block = Array<u8, U16>;

/// CBC encryption that keeps its chaining state between calls. Zeroized on drop (by `cbc`).
pub(super) struct CbcEncryptor(cbc::Encryptor<Aes256>);

impl CbcEncryptor {
    pub(super) fn new(key: &Secret<32>, iv: &[u8; 16]) -> Self {
        Self(cbc::Encryptor::<Aes256>::new(key.expose().into(), iv.into()))
    }

    /// Encrypts `buf` in place. Bytes after the last whole block are left as they are; callers
    /// pass whole blocks.
    pub(super) fn encrypt_blocks(&mut self, buf: &mut [u8]) {
        let (blocks, _) = Block::slice_as_chunks_mut(buf);
        self.0.encrypt_blocks(blocks);
    }

    /// Encrypts the whole blocks of `input` into `output` (of the same length), without a copy.
    pub(super) fn encrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]) -> Result<(), MediaError> {
        let (from, _) = Block::slice_as_chunks(input);
        let (to, _) = Block::slice_as_chunks_mut(output);
        self.0
            .encrypt_blocks_b2b(from, to)
            .map_err(|_| MediaError::BadBlobLength)
    }

    /// Pads the last `tail` bytes (fewer than 16) with PKCS#7 and encrypts that final block.
    pub(super) fn encrypt_final(mut self, tail: &[u8]) -> [u8; BLOCK] {
        let mut block = Block::default();
        let pos = tail.len().min(BLOCK - 1);
        if let (Some(dst), Some(src)) = (block.get_mut(..pos), tail.get(..pos)) {
            dst.copy_from_slice(src);
        }
        Pkcs7::pad(&mut block, pos);
        self.0.encrypt_blocks(core::slice::from_mut(&mut block));
        block.into()
    }
}

/// CBC decryption that keeps its chaining state between calls. Zeroized on drop (by `cbc`).
pub(super) struct CbcDecryptor(cbc::Decryptor<Aes256>);

impl CbcDecryptor {
    pub(super) fn new(key: &Secret<32>, iv: &[u8; 16]) -> Self {
        Self(cbc::Decryptor::<Aes256>::new(key.expose().into(), iv.into()))
    }

    /// Decrypts `buf` (whole blocks) in place.
    pub(super) fn decrypt_blocks(&mut self, buf: &mut [u8]) {
        let (blocks, _) = Block::slice_as_chunks_mut(buf);
        self.0.decrypt_blocks(blocks);
    }

    /// Decrypts the whole blocks of `input` into `output` (of the same length), many blocks at
    /// a time as in place, without a copy.
    pub(super) fn decrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]) -> Result<(), MediaError> {
        let (from, _) = Block::slice_as_chunks(input);
        let (to, _) = Block::slice_as_chunks_mut(output);
        self.0
            .decrypt_blocks_b2b(from, to)
            .map_err(|_| MediaError::BadBlobLength)
    }
}

/// The length of the message bytes in a decrypted final block (strict PKCS#7: 1..=16 padding
/// bytes, all equal to their count).
pub(super) fn unpadded_length(last_block: &[u8]) -> Result<usize, MediaError> {
    Pkcs7::raw_unpad(last_block)
        .map(<[u8]>::len)
        .map_err(|_| MediaError::BadPadding)
}
