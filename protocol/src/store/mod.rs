//! Narrow store traits, one per concern, and the one call that commits a protocol step.
//!
//! The session layer reads through the per-concern traits and writes everything a step changes
//! with one [`ProtocolStore::commit`], so a store that can fail (SQLite) can make each encrypt,
//! decrypt or session setup a single transaction.

mod memory;
pub mod serialize;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, SqliteStoreError, StorageKey};

use crate::address::Address;
use crate::crypto::{KeyPair, PublicKey};
use crate::group::SenderKeyRecord;
use crate::session::{PreKeyRecord, SessionRecord, SignedPreKeyRecord};

/// A store failed (I/O, corruption). Protocol state is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store failure: {0}")]
pub struct StoreError(pub String);

/// Our identity and what we know of others' identities.
pub trait IdentityStore {
    /// This device's identity key pair.
    fn identity_key_pair(&self) -> Result<KeyPair, StoreError>;
    /// This device's registration id.
    fn local_registration_id(&self) -> Result<u32, StoreError>;
    /// The identity key last accepted for `address`, if any.
    fn identity(&self, address: &Address) -> Result<Option<PublicKey>, StoreError>;
    /// Remembers (or, when the user accepted a change, replaces) the identity of `address`.
    fn save_identity(&mut self, address: &Address, key: &PublicKey) -> Result<(), StoreError>;
}

/// Our one-time prekeys.
pub trait PreKeyStore {
    /// The prekey with this id, if we still have it.
    fn pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError>;
    /// Stores a prekey.
    fn save_pre_key(&mut self, record: PreKeyRecord) -> Result<(), StoreError>;
    /// Deletes a prekey (after the first message that used it decrypted).
    fn remove_pre_key(&mut self, id: u32) -> Result<(), StoreError>;
}

/// Our signed prekeys.
pub trait SignedPreKeyStore {
    /// The signed prekey with this id, if we still have it.
    fn signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError>;
    /// Stores a signed prekey.
    fn save_signed_pre_key(&mut self, record: SignedPreKeyRecord) -> Result<(), StoreError>;
}

/// Session records per peer device.
pub trait SessionStore {
    /// The record for `address`, if any.
    fn session(&self, address: &Address) -> Result<Option<SessionRecord>, StoreError>;
    /// Stores the record for `address`.
    fn save_session(&mut self, address: &Address, record: SessionRecord) -> Result<(), StoreError>;
    /// Lends the record for `address` to one protocol step, which ends either with
    /// [`ProtocolStore::commit`] (the new record) or with [`Self::restore_session`] (the record
    /// unchanged, the step failed). The default copies it, leaving the stored one in place; a
    /// store that keeps records as values (memory) moves it out instead of copying.
    fn take_session(&mut self, address: &Address) -> Result<Option<SessionRecord>, StoreError> {
        self.session(address)
    }
    /// Gives back, unchanged, a record [`Self::take_session`] lent to a step that failed. The
    /// default drops it (the stored one never left).
    fn restore_session(&mut self, address: &Address, record: SessionRecord) {
        let _ = (address, record);
    }
    /// Deletes every session with `address` (the device left its account's device list).
    fn remove_session(&mut self, address: &Address) -> Result<(), StoreError> {
        self.save_session(address, SessionRecord::new())
    }
}

/// Sender-key chains per (sender device, distribution id).
pub trait SenderKeyStore {
    /// The record of `sender`'s chains for `distribution_id`, if any.
    fn sender_key(
        &self,
        sender: &Address,
        distribution_id: &[u8; 16],
    ) -> Result<Option<SenderKeyRecord>, StoreError>;
    /// Stores the record.
    fn save_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: &[u8; 16],
        record: SenderKeyRecord,
    ) -> Result<(), StoreError>;
}

/// Everything one protocol step writes.
#[derive(Debug)]
pub struct SessionCommit {
    /// The peer device.
    pub address: Address,
    /// Its new session record.
    pub record: SessionRecord,
    /// Its identity key, to remember (first use) — already checked against what was known.
    pub identity: Option<PublicKey>,
    /// Our one-time prekey that the step used up.
    pub consumed_pre_key: Option<u32>,
}

/// Stores that can make several protocol steps one transaction (a fanout: every session advance
/// for one message; a receive: the decrypt and what it triggers). The defaults do nothing, which
/// is right for stores whose writes cannot fail and that do not survive a crash (memory).
pub trait StepTransaction {
    /// Starts a step; everything written until [`Self::end_step`] commits or rolls back together.
    fn begin_step(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Ends the step: commits when `commit` is true, rolls back otherwise.
    fn end_step(&mut self, commit: bool) -> Result<(), StoreError> {
        let _ = commit;
        Ok(())
    }
}

impl StepTransaction for MemoryStore {}

/// All the stores a device needs for pairwise sessions, and the atomic commit.
pub trait ProtocolStore: IdentityStore + PreKeyStore + SignedPreKeyStore + SessionStore {
    /// Applies all of `commit` or none of it.
    ///
    /// The default writes one piece after another; that is all-or-nothing only for stores whose
    /// writes cannot fail, like [`MemoryStore`]. A fallible store must override it with a
    /// transaction.
    fn commit(&mut self, commit: SessionCommit) -> Result<(), StoreError> {
        if let Some(key) = &commit.identity {
            self.save_identity(&commit.address, key)?;
        }
        if let Some(id) = commit.consumed_pre_key {
            self.remove_pre_key(id)?;
        }
        self.save_session(&commit.address, commit.record)
    }
}
