//! Making a backup.

use super::body;
use super::contents::BackupContents;
use super::error::CreateError;
use super::header::{LockDescriptor, MAX_LOCKS, SALT_LENGTH, write_descriptor};
use super::lock::{BackupLock, code_kek, password_kek, wrap};
use crate::crypto::{Secret, sha256};

/// Plaintext bytes per chunk for new backups: 1 MiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 20;

/// The smallest chunk size a header may carry (64 bytes: below that the tags outweigh the data).
pub const MIN_CHUNK_SIZE: u32 = 64;

/// The largest chunk size a header may carry (16 MiB: bounds what a reader holds per chunk).
pub const MAX_CHUNK_SIZE: u32 = 16 << 20;

/// How a backup is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupOptions {
    /// Plaintext bytes per chunk, [`MIN_CHUNK_SIZE`]..=[`MAX_CHUNK_SIZE`].
    pub chunk_size: u32,
}

impl Default for BackupOptions {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

/// Makes an encrypted backup of `contents` under a fresh random backup key, wrapped by each of
/// `locks`. See [`seal_backup`] for the randomness drawn.
pub fn create_backup<R: rand_core::CryptoRng + ?Sized>(
    rng: &mut R,
    contents: &BackupContents,
    locks: &[BackupLock<'_>],
    options: &BackupOptions,
) -> Result<Vec<u8>, CreateError> {
    seal_backup(rng, &contents.encode(), locks, options)
}

/// Makes an encrypted backup of arbitrary plaintext bytes (what [`create_backup`] does with
/// the encoded contents).
///
/// Checks every input first, then draws from `rng`, in order: the backup key (32 bytes), then
/// each lock's salt (32 bytes), in the order of `locks`.
pub fn seal_backup<R: rand_core::CryptoRng + ?Sized>(
    rng: &mut R,
    plaintext: &[u8],
    locks: &[BackupLock<'_>],
    options: &BackupOptions,
) -> Result<Vec<u8>, CreateError> {
    if locks.is_empty() {
        return Err(CreateError::NoLock);
    }
    if locks.len() > MAX_LOCKS {
        return Err(CreateError::TooManyLocks);
    }
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&options.chunk_size) {
        return Err(CreateError::BadChunkSize);
    }
    let chunk_size = usize::try_from(options.chunk_size).map_err(|_| CreateError::BadChunkSize)?;
    if (plaintext.len() as u64).div_ceil(u64::from(options.chunk_size)) > 1 << 32 {
        return Err(CreateError::TooLarge);
    }
    for lock in locks {
        if let BackupLock::Password { password, params } = lock {
            if password.is_empty() {
                return Err(CreateError::EmptyPassword);
            }
            params.check().map_err(CreateError::Params)?;
        }
    }

    let backup_key = Secret::<32>::random(rng);
    let mut descriptors = Vec::with_capacity(locks.len());
    let mut keks = Vec::with_capacity(locks.len());
    for lock in locks {
        let mut salt = [0u8; SALT_LENGTH];
        rng.fill_bytes(&mut salt);
        match lock {
            BackupLock::RecoveryCode(code) => {
                descriptors.push(LockDescriptor::RecoveryCode { salt });
                keks.push(code_kek(code, &salt));
            }
            BackupLock::Password { password, params } => {
                descriptors.push(LockDescriptor::Password {
                    params: *params,
                    salt,
                });
                keks.push(password_kek(password, &salt, params).map_err(CreateError::Argon2)?);
            }
        }
    }
    let mut descriptor = Vec::new();
    write_descriptor(&mut descriptor, options.chunk_size, &descriptors);
    let mut header = descriptor.clone();
    for (index, kek) in keks.iter().enumerate() {
        let index = u8::try_from(index).map_err(|_| CreateError::TooManyLocks)?;
        header.extend_from_slice(&wrap(kek, &descriptor, index, &backup_key));
    }
    let aad = sha256(&[&header]);
    let sealed = body::seal(&backup_key, &aad, plaintext, chunk_size).ok_or(CreateError::TooLarge)?;
    header.extend_from_slice(&sealed);
    Ok(header)
}
