//! App-state keys: the 6-byte key id, the 32-byte shared key, and its expansion into the five
//! keys that encrypt and MAC mutations, snapshots and patches.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;
use subtle::ConstantTimeEq;

use super::lthash::LtHash;
use super::mutation::Operation;
use crate::crypto::{
    CbcError, Secret, aes256_cbc_decrypt, aes256_cbc_encrypt, hkdf_sha256_into, hmac_sha256_parts,
};

/// HKDF info for [`MutationKeys`] (WhatsApp's constant).
pub const MUTATION_KEYS_INFO: &[u8] = b"WhatsApp Mutation Keys";

/// The length of an app-state key id.
pub const KEY_ID_LENGTH: usize = 6;

/// An app-state key id: 6 bytes, `device_id (u16 BE) ‖ epoch (u32 BE)`.
///
/// WhatsApp's key ids are 6 bytes; a secondary source says they combine a 4-byte epoch and a
/// 2-byte device id, with the epoch drawn at random in 1..=65536 at the first companion
/// registration and incremented on each rotation. The order is not published; the one key id
/// seen in public logs, `00000000EAFD`, fits device 0 (the primary) and epoch 0xEAFD, so tandem
/// puts the device id first. Only the epoch has a meaning here (expiry); the id as a whole is
/// an opaque name that goes into the value MAC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppStateKeyId([u8; KEY_ID_LENGTH]);

impl AppStateKeyId {
    /// The id of the key minted by `device_id` at `epoch`.
    pub fn new(device_id: u16, epoch: u32) -> Self {
        let mut id = [0u8; KEY_ID_LENGTH];
        let (device, rest) = id.split_at_mut(2);
        device.copy_from_slice(&device_id.to_be_bytes());
        rest.copy_from_slice(&epoch.to_be_bytes());
        Self(id)
    }

    /// The id as sent (`KeyId.ID`).
    pub fn from_bytes(bytes: [u8; KEY_ID_LENGTH]) -> Self {
        Self(bytes)
    }

    /// The 6 bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LENGTH] {
        &self.0
    }

    /// The device that minted the key (bytes 0..2).
    pub fn device_id(&self) -> u16 {
        let [a, b, ..] = self.0;
        u16::from_be_bytes([a, b])
    }

    /// The key's epoch (bytes 2..6).
    pub fn epoch(&self) -> u32 {
        let [_, _, a, b, c, d] = self.0;
        u32::from_be_bytes([a, b, c, d])
    }
}

impl fmt::Debug for AppStateKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppStateKeyId({self})")
    }
}

impl fmt::Display for AppStateKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// One app-state key: its id and 32 secret bytes (`AppStateSyncKeyData.keyData`), and when it
/// was minted (ms since the Unix epoch, as the key share carries it).
#[derive(Clone, PartialEq, Eq)]
pub struct AppStateKey {
    id: AppStateKeyId,
    data: Secret<32>,
    timestamp_ms: i64,
}

impl AppStateKey {
    /// A key from its parts (e.g. from a key share received from an own device).
    pub fn new(id: AppStateKeyId, data: Secret<32>, timestamp_ms: i64) -> Self {
        Self {
            id,
            data,
            timestamp_ms,
        }
    }

    /// A fresh key for `device_id` at `epoch`, 32 bytes from the caller's CSPRNG.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(
        rng: &mut R,
        device_id: u16,
        epoch: u32,
        timestamp_ms: i64,
    ) -> Self {
        Self::new(
            AppStateKeyId::new(device_id, epoch),
            Secret::random(rng),
            timestamp_ms,
        )
    }

    /// The key id.
    pub fn id(&self) -> AppStateKeyId {
        self.id
    }

    /// The secret key bytes, for sharing with an own device over a pairwise session.
    pub fn data(&self) -> &Secret<32> {
        &self.data
    }

    /// When the key was minted.
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }

    /// Expands the key (HKDF-SHA256, no salt, [`MUTATION_KEYS_INFO`], 160 bytes).
    pub fn expand(&self) -> MutationKeys {
        MutationKeys::expand(&self.data)
    }
}

impl fmt::Debug for AppStateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppStateKey")
            .field("id", &self.id)
            .field("timestamp_ms", &self.timestamp_ms)
            .finish_non_exhaustive()
    }
}

/// The five keys expanded from an [`AppStateKey`]: `HKDF-SHA256(keyData, salt = none,
/// "WhatsApp Mutation Keys", 160)` split as index ‖ value encryption ‖ value MAC ‖ snapshot MAC
/// ‖ patch MAC, 32 bytes each.
#[derive(Clone)]
pub struct MutationKeys {
    index: Secret<32>,
    value_encryption: Secret<32>,
    value_mac: Secret<32>,
    snapshot_mac: Secret<32>,
    patch_mac: Secret<32>,
}

impl MutationKeys {
    /// Expands 32 key bytes.
    pub fn expand(key_data: &Secret<32>) -> Self {
        let mut okm = Secret::new([0u8; 160]);
        // 160 bytes is far below HKDF-SHA256's limit; the call cannot fail.
        let _ = hkdf_sha256_into(key_data.expose(), &[], MUTATION_KEYS_INFO, okm.expose_mut());
        let part = |i: usize| {
            let mut k = Secret::new([0u8; 32]);
            if let Some(src) = okm.expose().get(i * 32..(i + 1) * 32) {
                k.expose_mut().copy_from_slice(src);
            }
            k
        };
        Self {
            index: part(0),
            value_encryption: part(1),
            value_mac: part(2),
            snapshot_mac: part(3),
            patch_mac: part(4),
        }
    }

    /// The five keys in expansion order (index, value encryption, value MAC, snapshot MAC,
    /// patch MAC), for known-answer tests.
    pub fn expose_all(&self) -> [&[u8; 32]; 5] {
        [
            self.index.expose(),
            self.value_encryption.expose(),
            self.value_mac.expose(),
            self.snapshot_mac.expose(),
            self.patch_mac.expose(),
        ]
    }

    /// `HMAC-SHA256(indexKey, index JSON bytes)`.
    pub fn index_mac(&self, index_json: &[u8]) -> [u8; 32] {
        hmac_sha256_parts(self.index.expose(), &[index_json])
    }

    /// `HMAC-SHA512(valueMacKey, (op + 1) ‖ keyID ‖ iv ‖ ciphertext ‖ u64BE(len(keyID) + 1))`,
    /// truncated to 32 bytes.
    pub fn value_mac(
        &self,
        operation: Operation,
        key_id: &AppStateKeyId,
        iv_and_ciphertext: &[u8],
    ) -> [u8; 32] {
        let mut mac = hmac512(self.value_mac.expose());
        mac.update(&[operation.mac_byte()]);
        mac.update(key_id.as_bytes());
        mac.update(iv_and_ciphertext);
        mac.update(&((KEY_ID_LENGTH as u64) + 1).to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 32];
        if let Some(left) = full.get(..32) {
            out.copy_from_slice(left);
        }
        out
    }

    /// `HMAC-SHA256(snapshotMacKey, ltHash ‖ u64BE(version) ‖ collection name)`.
    pub fn snapshot_mac(&self, lthash: &LtHash, version: u64, name: &str) -> [u8; 32] {
        hmac_sha256_parts(
            self.snapshot_mac.expose(),
            &[lthash.as_bytes(), &version.to_be_bytes(), name.as_bytes()],
        )
    }

    /// `HMAC-SHA256(patchMacKey, snapshotMAC ‖ valueMAC₁ ‖ … ‖ valueMACₙ ‖ u64BE(version) ‖
    /// collection name)`.
    pub fn patch_mac<'a>(
        &self,
        snapshot_mac: &[u8; 32],
        value_macs: impl IntoIterator<Item = &'a [u8; 32]>,
        version: u64,
        name: &str,
    ) -> [u8; 32] {
        let mut parts: Vec<&[u8]> = vec![snapshot_mac];
        parts.extend(value_macs.into_iter().map(|m| m.as_slice()));
        let v = version.to_be_bytes();
        parts.push(&v);
        parts.push(name.as_bytes());
        hmac_sha256_parts(self.patch_mac.expose(), &parts)
    }

    /// Encrypts a plaintext `SyncActionData` with AES-256-CBC under `iv` and returns the value
    /// blob `iv ‖ ciphertext ‖ valueMAC`.
    pub fn encrypt_value(
        &self,
        operation: Operation,
        key_id: &AppStateKeyId,
        iv: &[u8; 16],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let ct = aes256_cbc_encrypt(&self.value_encryption, iv, plaintext);
        let mut blob = Vec::with_capacity(16 + ct.len() + 32);
        blob.extend_from_slice(iv);
        blob.extend_from_slice(&ct);
        let mac = self.value_mac(operation, key_id, &blob);
        blob.extend_from_slice(&mac);
        blob
    }

    /// Checks a value blob's MAC (constant time) and decrypts it.
    pub fn decrypt_value(
        &self,
        operation: Operation,
        key_id: &AppStateKeyId,
        blob: &[u8],
    ) -> Result<Vec<u8>, ValueError> {
        let split = blob.len().checked_sub(32).ok_or(ValueError::BadLength)?;
        let (iv_ct, mac) = blob.split_at_checked(split).ok_or(ValueError::BadLength)?;
        let (iv, ct) = iv_ct.split_at_checked(16).ok_or(ValueError::BadLength)?;
        let expected = self.value_mac(operation, key_id, iv_ct);
        if !bool::from(expected.ct_eq(mac)) {
            return Err(ValueError::BadMac);
        }
        let iv: &[u8; 16] = iv.try_into().map_err(|_| ValueError::BadLength)?;
        aes256_cbc_decrypt(&self.value_encryption, iv, ct).map_err(|e| match e {
            CbcError::BadLength => ValueError::BadLength,
            _ => ValueError::BadCiphertext,
        })
    }
}

impl fmt::Debug for MutationKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MutationKeys(redacted)")
    }
}

/// Why a value blob did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Shorter than `iv ‖ one block ‖ MAC`, or not whole blocks.
    #[error("value blob has the wrong length")]
    BadLength,
    /// The value MAC does not match.
    #[error("value MAC mismatch")]
    BadMac,
    /// The MAC matched but the padding is bad.
    #[error("value does not decrypt")]
    BadCiphertext,
}

#[allow(
    clippy::expect_used,
    reason = "HMAC takes keys of every length; new_from_slice cannot fail"
)]
fn hmac512(key: &[u8]) -> Hmac<Sha512> {
    <Hmac<Sha512> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_layout_is_device_then_epoch() {
        let id = AppStateKeyId::new(0, 0xEAFD);
        assert_eq!(id.as_bytes(), &[0, 0, 0, 0, 0xEA, 0xFD]);
        assert_eq!(id.to_string(), "00000000EAFD");
        assert_eq!((id.device_id(), id.epoch()), (0, 0xEAFD));
        let id = AppStateKeyId::new(0x0102, 0x0304_0506);
        assert_eq!(id.as_bytes(), &[1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let key = AppStateKey::new(AppStateKeyId::new(1, 2), Secret::new([0xAB; 32]), 5);
        let printed = format!("{key:?} {:?}", key.expand());
        assert!(
            !printed.contains("171") && !printed.to_lowercase().contains("ab"),
            "{printed}"
        );
    }
}
