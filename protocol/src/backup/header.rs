//! The backup header: which locks wrap the backup key, with their salts and costs.
//!
//! ```text
//! header     = descriptor ‖ wrapped[0] ‖ … ‖ wrapped[n-1]
//! descriptor = magic "TANDEMBK" (8) ‖ version 0x01 ‖ chunk_size u32 LE ‖ n u8 (1..=4) ‖ lock[0..n]
//! lock       = 0x01 ‖ salt[32]                                   recovery code
//!            | 0x02 ‖ m_kib u32 LE ‖ t u32 LE ‖ p u32 LE ‖ salt[32] password (Argon2id)
//! wrapped[i] = AES-256-GCM(kek_i, nonce = 0^12, aad = descriptor ‖ i, backup_key) (32 + 16)
//! ```

use super::argon2id::Argon2Params;
use super::error::RestoreError;

/// The first 8 bytes of every backup.
pub const BACKUP_MAGIC: [u8; 8] = *b"TANDEMBK";

/// The format version this build writes and reads.
pub const BACKUP_VERSION: u8 = 1;

/// Locks a header holds at most.
pub const MAX_LOCKS: usize = 4;

/// Bytes of each lock's salt.
pub const SALT_LENGTH: usize = 32;

/// Bytes of a wrapped backup key: 32 of ciphertext, 16 of GCM tag.
pub const WRAPPED_KEY_LENGTH: usize = 48;

const KIND_RECOVERY_CODE: u8 = 0x01;
const KIND_PASSWORD: u8 = 0x02;

/// One lock as the header describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockDescriptor {
    /// Opened by a recovery code.
    RecoveryCode {
        /// The HKDF salt.
        salt: [u8; SALT_LENGTH],
    },
    /// Opened by a password.
    Password {
        /// The Argon2id costs.
        params: Argon2Params,
        /// The Argon2id salt.
        salt: [u8; SALT_LENGTH],
    },
}

/// Appends the descriptor (everything the wraps authenticate) to `out`.
pub(crate) fn write_descriptor(out: &mut Vec<u8>, chunk_size: u32, locks: &[LockDescriptor]) {
    out.extend_from_slice(&BACKUP_MAGIC);
    out.push(BACKUP_VERSION);
    out.extend_from_slice(&chunk_size.to_le_bytes());
    out.push(u8::try_from(locks.len()).unwrap_or(u8::MAX));
    for lock in locks {
        match lock {
            LockDescriptor::RecoveryCode { salt } => {
                out.push(KIND_RECOVERY_CODE);
                out.extend_from_slice(salt);
            }
            LockDescriptor::Password { params, salt } => {
                out.push(KIND_PASSWORD);
                out.extend_from_slice(&params.m_cost_kib.to_le_bytes());
                out.extend_from_slice(&params.t_cost.to_le_bytes());
                out.extend_from_slice(&params.p_cost.to_le_bytes());
                out.extend_from_slice(salt);
            }
        }
    }
}

/// A parsed header, borrowing from the backup bytes.
pub(crate) struct ParsedHeader<'a> {
    /// The descriptor bytes (the wraps' associated data, without the index).
    pub descriptor: &'a [u8],
    /// The whole header (descriptor and wraps): its hash binds every chunk.
    pub header: &'a [u8],
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// The locks, in header order.
    pub locks: Vec<LockDescriptor>,
    /// The wrapped key of each lock.
    pub wrapped: Vec<&'a [u8]>,
    /// Everything after the header.
    pub body: &'a [u8],
}

/// Reads `n` bytes or reports truncation.
fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], RestoreError> {
    let (head, rest) = bytes.split_at_checked(n).ok_or(RestoreError::Truncated)?;
    *bytes = rest;
    Ok(head)
}

fn take_u32(bytes: &mut &[u8]) -> Result<u32, RestoreError> {
    let raw: [u8; 4] = take(bytes, 4)?.try_into().map_err(|_| RestoreError::Truncated)?;
    Ok(u32::from_le_bytes(raw))
}

fn take_salt(bytes: &mut &[u8]) -> Result<[u8; SALT_LENGTH], RestoreError> {
    take(bytes, SALT_LENGTH)?
        .try_into()
        .map_err(|_| RestoreError::Truncated)
}

/// Parses a backup's header. Checks the magic, then the version, then the fields' ranges
/// (chunk size, lock count, lock kinds); the Argon2 costs are the restore's business.
pub(crate) fn parse(backup: &[u8]) -> Result<ParsedHeader<'_>, RestoreError> {
    let magic_len = BACKUP_MAGIC.len().min(backup.len());
    if backup.get(..magic_len) != BACKUP_MAGIC.get(..magic_len) {
        return Err(RestoreError::NotABackup);
    }
    let mut rest = backup;
    take(&mut rest, BACKUP_MAGIC.len())?;
    let version = *take(&mut rest, 1)?.first().ok_or(RestoreError::Truncated)?;
    if version != BACKUP_VERSION {
        return Err(RestoreError::UnknownVersion(version));
    }
    let chunk_size = take_u32(&mut rest)?;
    if !(super::MIN_CHUNK_SIZE..=super::MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(RestoreError::Malformed);
    }
    let count = usize::from(*take(&mut rest, 1)?.first().ok_or(RestoreError::Truncated)?);
    if count == 0 || count > MAX_LOCKS {
        return Err(RestoreError::Malformed);
    }
    let mut locks = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = *take(&mut rest, 1)?.first().ok_or(RestoreError::Truncated)?;
        let lock = match kind {
            KIND_RECOVERY_CODE => LockDescriptor::RecoveryCode {
                salt: take_salt(&mut rest)?,
            },
            KIND_PASSWORD => {
                let params = Argon2Params {
                    m_cost_kib: take_u32(&mut rest)?,
                    t_cost: take_u32(&mut rest)?,
                    p_cost: take_u32(&mut rest)?,
                };
                LockDescriptor::Password {
                    params,
                    salt: take_salt(&mut rest)?,
                }
            }
            _ => return Err(RestoreError::Malformed),
        };
        locks.push(lock);
    }
    let descriptor_len = backup.len() - rest.len();
    let mut wrapped = Vec::with_capacity(count);
    for _ in 0..count {
        wrapped.push(take(&mut rest, WRAPPED_KEY_LENGTH)?);
    }
    let header_len = backup.len() - rest.len();
    Ok(ParsedHeader {
        descriptor: backup.get(..descriptor_len).ok_or(RestoreError::Truncated)?,
        header: backup.get(..header_len).ok_or(RestoreError::Truncated)?,
        chunk_size,
        locks,
        wrapped,
        body: rest,
    })
}
