//! The locks on a backup key: what the user holds, the key-encryption key it derives, and the
//! wrapped backup key.
//!
//! - Recovery code: `kek = HKDF-SHA256(ikm = the 64 ASCII digits, salt = the lock's salt,
//!   info = "tandem backup recovery code v1", L = 32)`. The code has ≈ 212.6 bits of entropy,
//!   so no stretching is needed; the salt keeps keks of different backups unrelated.
//! - Password: `kek = Argon2id(password, salt = the lock's salt, m, t, p, tag length 32, no
//!   secret, no associated data)`, version 0x13.
//! - Wrap: `AES-256-GCM(kek, nonce = 0^12, aad = descriptor ‖ lock index (1 byte),
//!   backup_key)`. Every kek comes from a fresh random salt and wraps exactly one key, so the
//!   fixed nonce is never reused under a key.

use super::argon2id::{Argon2Error, Argon2Params, argon2id};
use super::recovery_code::RecoveryCode;
use crate::crypto::{Secret, aes256_gcm_open, aes256_gcm_seal, hkdf_sha256};

/// HKDF info for a recovery code's key-encryption key.
pub const RECOVERY_CODE_INFO: &[u8] = b"tandem backup recovery code v1";

const WRAP_NONCE: [u8; 12] = [0; 12];

/// A lock to put on a new backup.
#[derive(Debug, Clone, Copy)]
pub enum BackupLock<'a> {
    /// Opened by this recovery code.
    RecoveryCode(&'a RecoveryCode),
    /// Opened by this password (bytes as the client has them; normalize Unicode first, e.g.
    /// to NFC, so the same typed password gives the same bytes on every device).
    Password {
        /// The password.
        password: &'a [u8],
        /// Argon2id costs (checked against [`Argon2Params::FLOOR`] and
        /// [`Argon2Params::CEILING`]).
        params: Argon2Params,
    },
}

/// What the user offers to restore a backup.
#[derive(Clone, Copy)]
pub enum BackupUnlock<'a> {
    /// A recovery code.
    RecoveryCode(&'a RecoveryCode),
    /// A password.
    Password(&'a [u8]),
}

impl core::fmt::Debug for BackupUnlock<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::RecoveryCode(_) => f.write_str("BackupUnlock::RecoveryCode(redacted)"),
            Self::Password(_) => f.write_str("BackupUnlock::Password(redacted)"),
        }
    }
}

/// The key-encryption key of a recovery-code lock.
pub(crate) fn code_kek(code: &RecoveryCode, salt: &[u8]) -> Secret<32> {
    // 32 bytes of output never exceed HKDF's limit; the fallback is unreachable.
    hkdf_sha256::<32>(code.digits(), salt, RECOVERY_CODE_INFO).unwrap_or_else(|_| Secret::new([0; 32]))
}

/// The key-encryption key of a password lock.
pub(crate) fn password_kek(
    password: &[u8],
    salt: &[u8],
    params: &Argon2Params,
) -> Result<Secret<32>, Argon2Error> {
    argon2id(password, salt, params, &[], &[])
}

/// Wraps the backup key under `kek` for lock `index`.
pub(crate) fn wrap(kek: &Secret<32>, descriptor: &[u8], index: u8, backup_key: &Secret<32>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(descriptor.len() + 1);
    aad.extend_from_slice(descriptor);
    aad.push(index);
    // 32 bytes are far below GCM's length limit; the error cannot happen.
    aes256_gcm_seal(kek, &WRAP_NONCE, &aad, backup_key.expose()).unwrap_or_default()
}

/// Unwraps lock `index`'s backup key, or `None` when the tag does not verify.
pub(crate) fn unwrap(kek: &Secret<32>, descriptor: &[u8], index: u8, wrapped: &[u8]) -> Option<Secret<32>> {
    let mut aad = Vec::with_capacity(descriptor.len() + 1);
    aad.extend_from_slice(descriptor);
    aad.push(index);
    let plain = zeroize::Zeroizing::new(aes256_gcm_open(kek, &WRAP_NONCE, &aad, wrapped).ok()?);
    let key: [u8; 32] = plain.as_slice().try_into().ok()?;
    Some(Secret::new(key))
}
