//! Why a backup could not be made or restored.

use super::argon2id::{Argon2Error, ParamsError};

/// Why a backup could not be made. Nothing is drawn from the caller's generator before the
/// inputs are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// No lock was given: nobody could ever open the backup.
    #[error("a backup needs at least one lock (a recovery code or a password)")]
    NoLock,
    /// More locks than a header holds ([`super::MAX_LOCKS`]).
    #[error("too many locks")]
    TooManyLocks,
    /// A password lock with an empty password.
    #[error("empty password")]
    EmptyPassword,
    /// Argon2id parameters outside tandem's bounds (a restore would refuse them).
    #[error("Argon2id parameters out of bounds: {0}")]
    Params(ParamsError),
    /// A chunk size outside [`super::MIN_CHUNK_SIZE`]..=[`super::MAX_CHUNK_SIZE`].
    #[error("chunk size out of range")]
    BadChunkSize,
    /// More chunks than a 32-bit chunk index counts.
    #[error("backup too large for its chunk size")]
    TooLarge,
    /// Argon2id refused (memory could not be allocated).
    #[error("password key derivation failed: {0}")]
    Argon2(Argon2Error),
}

/// Why a backup could not be restored. Restoring is a pure function of its inputs: a refusal
/// leaves nothing behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The bytes do not start with the backup magic.
    #[error("not a tandem backup")]
    NotABackup,
    /// A format version this build does not read.
    #[error("unsupported backup version {0}")]
    UnknownVersion(u8),
    /// The header is not well formed (a field out of range, an unknown lock kind).
    #[error("malformed backup header")]
    Malformed,
    /// The bytes end early: inside the header, or after the last chunk that opens as a
    /// non-final chunk (whole chunks cut off the end).
    #[error("backup truncated")]
    Truncated,
    /// The backup has no lock of the kind offered (a password for a code-only backup).
    #[error("the backup has no lock of this kind")]
    NoMatchingLock,
    /// A password lock's Argon2id parameters are below [`super::Argon2Params::FLOOR`]:
    /// refused before deriving anything (a downgrade).
    #[error("the backup's Argon2id parameters are too weak")]
    WeakParams,
    /// A password lock's Argon2id parameters are above [`super::Argon2Params::CEILING`].
    #[error("the backup's Argon2id parameters are too costly")]
    ParamsTooCostly,
    /// No lock of the offered kind opens with this code or password: it is wrong, or that
    /// lock's bytes were altered (the two cannot be told apart).
    #[error("wrong recovery code or password")]
    WrongKey,
    /// The key opened but a chunk does not authenticate: the header or body was altered,
    /// chunks were reordered, swapped in from another backup, or cut in the middle.
    #[error("backup tampered with")]
    Tampered,
    /// Everything authenticated, but the plaintext is not valid backup contents (only a
    /// faulty or hostile writer that held the key makes these).
    #[error("backup contents malformed")]
    BadContents,
    /// Argon2id failed (memory could not be allocated).
    #[error("password key derivation failed: {0}")]
    Argon2(Argon2Error),
}
