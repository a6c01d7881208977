//! Restoring a backup.

use zeroize::Zeroizing;

use super::argon2id::{Argon2Params, ParamsError};
use super::body;
use super::contents::BackupContents;
use super::error::RestoreError;
use super::header::{self, LockDescriptor};
use super::lock::{BackupUnlock, code_kek, password_kek, unwrap};
use crate::crypto::{Secret, sha256};

/// A lock as [`inspect_backup`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockInfo {
    /// Opened by a recovery code.
    RecoveryCode,
    /// Opened by a password, with these Argon2id costs (not yet checked against the bounds).
    Password(Argon2Params),
}

/// What a backup's header says, read without any key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// The locks, in header order.
    pub locks: Vec<LockInfo>,
}

/// Reads a backup's header (which locks it has: ask the user for a code or a password). The
/// header is not authenticated until a lock opens.
pub fn inspect_backup(backup: &[u8]) -> Result<BackupInfo, RestoreError> {
    let parsed = header::parse(backup)?;
    Ok(BackupInfo {
        chunk_size: parsed.chunk_size,
        locks: parsed
            .locks
            .iter()
            .map(|lock| match lock {
                LockDescriptor::RecoveryCode { .. } => LockInfo::RecoveryCode,
                LockDescriptor::Password { params, .. } => LockInfo::Password(*params),
            })
            .collect(),
    })
}

/// Restores a backup made by [`super::create_backup`].
pub fn restore_backup(backup: &[u8], unlock: &BackupUnlock<'_>) -> Result<BackupContents, RestoreError> {
    let plaintext = open_backup(backup, unlock)?;
    BackupContents::decode(&plaintext).map_err(|_| RestoreError::BadContents)
}

/// Opens a backup made by [`super::seal_backup`] and returns its plaintext bytes.
///
/// Order of checks: header (magic, version, ranges); the locks of the offered kind (none:
/// [`RestoreError::NoMatchingLock`]; for passwords, every such lock's costs against the floor
/// and ceiling before any Argon2 work); each such lock in header order until one unwraps the
/// backup key (none: [`RestoreError::WrongKey`]); then every chunk, in order.
pub fn open_backup(backup: &[u8], unlock: &BackupUnlock<'_>) -> Result<Zeroizing<Vec<u8>>, RestoreError> {
    let parsed = header::parse(backup)?;
    let candidates: Vec<(usize, &LockDescriptor)> = parsed
        .locks
        .iter()
        .enumerate()
        .filter(|(_, lock)| {
            matches!(
                (lock, unlock),
                (LockDescriptor::RecoveryCode { .. }, BackupUnlock::RecoveryCode(_))
                    | (LockDescriptor::Password { .. }, BackupUnlock::Password(_))
            )
        })
        .collect();
    if candidates.is_empty() {
        return Err(RestoreError::NoMatchingLock);
    }
    for (_, lock) in &candidates {
        if let LockDescriptor::Password { params, .. } = lock {
            params.check().map_err(|e| match e {
                ParamsError::Weak => RestoreError::WeakParams,
                _ => RestoreError::ParamsTooCostly,
            })?;
        }
    }
    let mut backup_key: Option<Secret<32>> = None;
    for (index, lock) in candidates {
        let kek = match (lock, unlock) {
            (LockDescriptor::RecoveryCode { salt }, BackupUnlock::RecoveryCode(code)) => code_kek(code, salt),
            (LockDescriptor::Password { params, salt }, BackupUnlock::Password(password)) => {
                password_kek(password, salt, params).map_err(RestoreError::Argon2)?
            }
            _ => continue,
        };
        let index = u8::try_from(index).map_err(|_| RestoreError::Malformed)?;
        let wrapped = parsed
            .wrapped
            .get(usize::from(index))
            .ok_or(RestoreError::Malformed)?;
        if let Some(key) = unwrap(&kek, parsed.descriptor, index, wrapped) {
            backup_key = Some(key);
            break;
        }
    }
    let backup_key = backup_key.ok_or(RestoreError::WrongKey)?;
    let chunk_size = usize::try_from(parsed.chunk_size).map_err(|_| RestoreError::Malformed)?;
    body::open(&backup_key, &sha256(&[parsed.header]), parsed.body, chunk_size)
}
