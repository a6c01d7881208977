//! What can go wrong in the SQLite store.

use rusqlite::ErrorCode;

use crate::store::StoreError;
use crate::store::serialize::RecordError;

/// Why the SQLite store refused or failed. Nothing was written when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteStoreError {
    /// SQLite failed (I/O, a constraint, a full disk, a corrupt file).
    #[error("sqlite: {0}")]
    Database(String),
    /// Another connection held the write lock longer than the busy timeout.
    #[error("sqlite: the database is locked by another connection")]
    Busy,
    /// A row was changed by another connection since this one read it: the write was refused
    /// (optimistic check; see [`super::SqliteStore`]). Re-run the whole step.
    #[error("sqlite: conflict, the row changed since it was read")]
    Conflict,
    /// A stored record does not decode.
    #[error("sqlite: stored record: {0}")]
    Record(#[from] RecordError),
    /// A stored value does not open under the storage key: the key is wrong, or the value was
    /// moved from another row or altered.
    #[error("sqlite: a stored value does not open under the storage key")]
    BadSeal,
    /// The database encrypts its secrets and no storage key was given.
    #[error("sqlite: the database is encrypted, a storage key is needed")]
    KeyRequired,
    /// A storage key was given but the database keeps its secrets unencrypted.
    #[error("sqlite: the database is not encrypted, but a storage key was given")]
    NotEncrypted,
    /// The database has no identity yet: create it with [`super::SqliteStore::create`].
    #[error("sqlite: the database has no identity")]
    NotInitialized,
    /// [`super::SqliteStore::create`] on a database that already has an identity.
    #[error("sqlite: the database already has an identity")]
    AlreadyInitialized,
    /// The database was written by a newer build (a schema this build does not know).
    #[error("sqlite: schema version {found} is newer than this build's {supported}")]
    NewerSchema {
        /// The database's schema version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
}

impl SqliteStoreError {
    /// True if `error` (as the store traits return it) is a [`SqliteStoreError::Conflict`]: the
    /// protocol step wrote nothing and can be re-run from the start.
    pub fn is_conflict(error: &StoreError) -> bool {
        error.0 == Self::Conflict.to_string()
    }

    /// True if `error` (as the store traits return it) is a [`SqliteStoreError::Busy`].
    pub fn is_busy(error: &StoreError) -> bool {
        error.0 == Self::Busy.to_string()
    }
}

impl From<rusqlite::Error> for SqliteStoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy,
            _ => Self::Database(e.to_string()),
        }
    }
}

impl From<SqliteStoreError> for StoreError {
    fn from(e: SqliteStoreError) -> Self {
        StoreError(e.to_string())
    }
}
