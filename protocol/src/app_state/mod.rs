//! App-state sync ("syncd"): settings, contacts and the call log kept the same on every device
//! of an account, through a server that can neither read nor silently alter them.
//!
//! WhatsApp's construction, with its constants (see `spec/08-app-state.md`):
//!
//! - An account shares 32-byte [`AppStateKey`]s among its own devices, each named by a 6-byte
//!   [`AppStateKeyId`]; a device holds them in an [`AppStateKeyRing`] (newest sends, older ones
//!   open until expired). Each key expands (HKDF, `"WhatsApp Mutation Keys"`) into five
//!   [`MutationKeys`].
//! - A [`Mutation`] is a SET or REMOVE of an index (a JSON array like `["mute","<chat>"]`) with a
//!   value ([`SyncAction`] typed, [`value::SyncActionValue`] on the wire). It travels as a record:
//!   the index MAC, and the value AES-256-CBC encrypted with its value MAC.
//! - Each of the five collections ([`CollectionName`]) has a version and an [`LtHash`] of the
//!   value MACs it holds. A patch takes a collection from version `v` to `v + 1`; its snapshot
//!   MAC binds the LTHash after it, the version and the name, and its patch MAC binds that and
//!   every value MAC, so a server that drops, reorders, replays or alters patches is caught.
//! - [`CollectionState`] applies patches and snapshots (staged, verified, then merged) and
//!   encodes local mutations; [`AppStateSync`] is one device's five collections with pending
//!   mutations, syncing against an [`AppStateServer`] and resolving conflicts.
//! - [`MemoryAppStateServer`] is a test double of the server; [`TamperingServer`] attacks.
//!
//! Not here: sharing keys between devices (pairwise sessions, in the client), external
//! mutation blobs (downloaded and inlined by the caller).

mod action;
mod collection;
mod error;
mod index;
mod key_ring;
mod keys;
mod lthash;
mod mutation;
mod persist;
mod server;
mod strict;
mod sync;
pub mod value;
mod wire;

pub use action::{
    CallDirection, CallLogEntry, CallMedia, CallOutcome, StatusPrivacyMode, SyncAction, action_schema,
};
pub use collection::{ApplyReport, Change, CollectionName, CollectionState, EncodedPatch, Entry};
pub use error::{ApplyError, EncodeError, KeyRingError, ParseError, SyncError};
pub use index::{encode_index, parse_index};
pub use key_ring::{AppStateKeyRing, FIRST_EPOCH_RANGE};
pub use keys::{AppStateKey, AppStateKeyId, KEY_ID_LENGTH, MUTATION_KEYS_INFO, MutationKeys, ValueError};
pub use lthash::{LTHASH_INFO, LTHASH_LENGTH, LtHash};
pub use mutation::{Mutation, Operation};
pub use server::{AppStateServer, Attack, Fetched, MemoryAppStateServer, PushRefused, TamperingServer};
pub use sync::{AppStateSync, MAX_PUSH_ATTEMPTS, SyncReport};
pub use wire::{SyncdMutation, SyncdPatch, SyncdRecord, SyncdSnapshot};

/// The largest patch or snapshot parsed: 64 MiB (tandem's message bound).
///
/// Snapshots of real accounts run to a few MiB; the bound stops hostile input from making the
/// parser copy without limit.
pub const MAX_PATCH_BYTES: usize = crate::consts::MAX_MESSAGE_BYTES;

/// The most mutations in one patch, or records in one snapshot or persisted state: 100,000.
///
/// Each costs an HKDF, two HMACs and a decryption; the bound caps the work one patch can cause.
pub const MAX_RECORDS: usize = 100_000;

/// The most parts in an index (WhatsApp's longest, a message label, has six).
pub const MAX_INDEX_PARTS: usize = 16;

/// The largest index JSON, in bytes (addresses and message ids are short).
pub const MAX_INDEX_BYTES: usize = 4096;
