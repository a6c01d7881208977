//! Encrypted backups of message history and app state, under a recovery code or a password.
//!
//! A backup holds [`BackupContents`]: messages (the same [`HistoryItem`](crate::history::HistoryItem)
//! that history sync carries), contacts' names and an opaque app-state export. It never holds
//! session, ratchet, sender-key or identity private state: restoring an old ratchet state would
//! reuse message keys and chain keys that the live conversation has since moved past (and
//! deleted for forward secrecy), and anyone who later obtained the backup and its code could
//! decrypt traffic recorded after the backup was made. A restored device therefore registers
//! fresh identity and prekeys and builds new sessions (the primary then relinks its companions).
//!
//! Keys (`spec/10-backup.md` has the byte layout):
//! - a fresh random 32-byte **backup key** per backup encrypts the body: AES-256-GCM in chunks
//!   whose nonce binds the chunk index and a last-chunk flag (truncation, reordering and chunk
//!   swaps are detected) and whose associated data is the SHA-256 of the header;
//! - the user holds a **recovery code** of 64 random decimal digits ([`RecoveryCode`];
//!   ≈ 212.6 bits, so it cannot *be* a 256-bit key: HKDF-SHA256 with a per-backup salt derives
//!   a key-encryption key from it) and/or a **password**, stretched with Argon2id
//!   ([`Argon2Params`], stored in the header, refused on restore when below a floor or above a
//!   ceiling);
//! - the header wraps the backup key once per lock (AES-256-GCM, the header's lock descriptions
//!   as associated data).
//!
//! A wrong code or password is [`RestoreError::WrongKey`]; an altered header or body
//! [`RestoreError::Tampered`] (or `WrongKey` when the altered bytes are the lock that was
//! tried); cut short [`RestoreError::Truncated`]; another version
//! [`RestoreError::UnknownVersion`]. Restoring never panics on any input.

mod argon2id;
mod body;
mod contents;
mod create;
mod error;
mod header;
mod lock;
mod recovery_code;
mod restore;

pub use argon2id::{Argon2Error, Argon2Params, ParamsError, argon2id};
pub use body::TAG_LENGTH;
pub use contents::{AppStateExport, BackupContents, ContentsError};
pub use create::{
    BackupOptions, DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, create_backup, seal_backup,
};
pub use error::{CreateError, RestoreError};
pub use header::{BACKUP_MAGIC, BACKUP_VERSION, MAX_LOCKS, SALT_LENGTH, WRAPPED_KEY_LENGTH};
pub use lock::{BackupLock, BackupUnlock, RECOVERY_CODE_INFO};
pub use recovery_code::{RECOVERY_CODE_DIGITS, RECOVERY_CODE_GROUP, RecoveryCode, RecoveryCodeError};
pub use restore::{BackupInfo, LockInfo, inspect_backup, open_backup, restore_backup};
