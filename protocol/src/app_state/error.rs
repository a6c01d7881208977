//! Small error enums, one per operation.

use super::AppStateKeyId;

/// Why patch, snapshot, key or state bytes were refused before any MAC was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not the protobuf tandem expects: truncated, an unknown field, a singular field repeated,
    /// a wrong wire type, an operation other than SET/REMOVE, or bytes above the size bound.
    #[error("malformed app-state bytes")]
    Malformed,
    /// A required field is absent (a patch's version, MACs or key id; a record's index, value
    /// or key id).
    #[error("a required field is missing")]
    MissingField,
    /// A field has the wrong length: a MAC that is not 32 bytes, a key id that is not 6, an
    /// LTHash that is not 128, or a value blob that cannot be `iv ‖ AES-CBC blocks ‖ MAC`.
    #[error("a field has the wrong length")]
    BadLength,
    /// A patch whose mutations live in an external blob (`externalMutations`), or that carries
    /// a server `exitCode`: the caller downloads and inlines external mutations first.
    #[error("external mutations or exit codes are not supported here")]
    Unsupported,
}

/// Why a patch or snapshot was refused. A refusal changes no state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The bytes do not parse (see [`ParseError`]).
    #[error("unparsable patch or snapshot: {0}")]
    Parse(#[from] ParseError),
    /// The patch's version is not above the held version: a replayed or old patch.
    #[error("patch version {got} is not above the held version {held} (replayed or old)")]
    StaleVersion {
        /// The version the collection holds.
        held: u64,
        /// The patch's version.
        got: u64,
    },
    /// The patch's version skips at least one: a patch was dropped or the patches were
    /// reordered.
    #[error("patch version {got} does not follow the held version {held} (dropped or reordered)")]
    VersionGap {
        /// The version the collection holds.
        held: u64,
        /// The patch's version.
        got: u64,
    },
    /// A snapshot older than the state already held.
    #[error("snapshot version {got} is below the held version {held}")]
    OldSnapshot {
        /// The version the collection holds.
        held: u64,
        /// The snapshot's version.
        got: u64,
    },
    /// A patch, snapshot or mutation under a key id this device does not hold (ask the
    /// account's other devices for it).
    #[error("no app-state key {0}")]
    UnknownKey(AppStateKeyId),
    /// A snapshot under an expired key, or a patch or mutation under a forgotten one (spec
    /// 08.1, 08.6).
    #[error("app-state key {0} has expired")]
    ExpiredKey(AppStateKeyId),
    /// A mutation's value MAC does not match its operation, key id and ciphertext.
    #[error("value MAC mismatch")]
    BadValueMac,
    /// A mutation's value decrypts, but its index MAC is not the MAC of the index inside.
    #[error("index MAC mismatch")]
    BadIndexMac,
    /// The patch MAC does not match the snapshot MAC, the value MACs, the version and the name.
    #[error("patch MAC mismatch")]
    BadPatchMac,
    /// The LTHash after the mutations does not give the patch's (or snapshot's) snapshot MAC:
    /// the server left out, added or changed mutations.
    #[error("snapshot MAC mismatch")]
    BadSnapshotMac,
    /// The value MAC verified but the ciphertext does not decrypt (bad padding).
    #[error("value does not decrypt")]
    BadCiphertext,
    /// The value decrypted but is not a `SyncActionData` with a JSON index of strings.
    #[error("decrypted value is malformed")]
    BadPlaintext,
}

/// Why local mutations could not be encoded as a patch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The key ring holds no unexpired key to send with.
    #[error("no app-state key to send with")]
    NoSendingKey,
    /// A mutation belongs to another collection (or to none tandem knows).
    #[error("mutation for another collection")]
    WrongCollection,
    /// A mutation's index is empty or above the bounds (parts, bytes).
    #[error("mutation index is empty or too large")]
    BadIndex,
    /// The collection is at the largest version.
    #[error("collection version overflow")]
    VersionOverflow,
}

/// Why the key ring refused a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// A different key is already held under this id.
    #[error("another key is held under id {0}")]
    Conflict(AppStateKeyId),
    /// The key's epoch has been forgotten (expired and dropped); it is not taken back.
    #[error("app-state key {0} has expired")]
    Expired(AppStateKeyId),
    /// The epoch counter is exhausted.
    #[error("epoch overflow")]
    EpochOverflow,
}

/// Why one collection's sync with the server stopped. The collection keeps the state it had
/// before the failing step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A patch or snapshot the server served was refused.
    #[error("{collection}: {error}")]
    Apply {
        /// The collection.
        collection: super::CollectionName,
        /// Why.
        error: ApplyError,
    },
    /// Pending mutations could not be encoded.
    #[error("{collection}: {error}")]
    Encode {
        /// The collection.
        collection: super::CollectionName,
        /// Why.
        error: EncodeError,
    },
    /// The server refused a push for another reason than a stale base version.
    #[error("{collection}: the server refused the patch")]
    Refused {
        /// The collection.
        collection: super::CollectionName,
    },
    /// The server answered with conflicts more times than the bound allows.
    #[error("{collection}: too many conflicts")]
    TooManyConflicts {
        /// The collection.
        collection: super::CollectionName,
    },
}
