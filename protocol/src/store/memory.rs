//! The in-memory store.

use std::collections::HashMap;

use super::{
    IdentityStore, PreKeyStore, ProtocolStore, SenderKeyStore, SessionStore, SignedPreKeyStore, StoreError,
};
use crate::address::Address;
use crate::crypto::{KeyPair, PublicKey};
use crate::group::SenderKeyRecord;
use crate::session::{PreKeyRecord, SessionRecord, SignedPreKeyRecord};

/// Every store in memory. Its writes cannot fail, so the default commit is atomic.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    identity: KeyPair,
    registration_id: u32,
    identities: HashMap<Address, PublicKey>,
    pre_keys: HashMap<u32, PreKeyRecord>,
    signed_pre_keys: HashMap<u32, SignedPreKeyRecord>,
    sessions: HashMap<Address, SessionRecord>,
    sender_keys: HashMap<(Address, [u8; 16]), SenderKeyRecord>,
}

impl MemoryStore {
    /// An empty store for a device with this identity and registration id.
    pub fn new(identity: KeyPair, registration_id: u32) -> Self {
        Self {
            identity,
            registration_id,
            identities: HashMap::new(),
            pre_keys: HashMap::new(),
            signed_pre_keys: HashMap::new(),
            sessions: HashMap::new(),
            sender_keys: HashMap::new(),
        }
    }

    /// How many one-time prekeys are left.
    pub fn pre_key_count(&self) -> usize {
        self.pre_keys.len()
    }
}

impl IdentityStore for MemoryStore {
    fn identity_key_pair(&self) -> Result<KeyPair, StoreError> {
        Ok(self.identity.clone())
    }
    fn local_registration_id(&self) -> Result<u32, StoreError> {
        Ok(self.registration_id)
    }
    fn identity(&self, address: &Address) -> Result<Option<PublicKey>, StoreError> {
        Ok(self.identities.get(address).copied())
    }
    fn save_identity(&mut self, address: &Address, key: &PublicKey) -> Result<(), StoreError> {
        self.identities.insert(address.clone(), *key);
        Ok(())
    }
}

impl PreKeyStore for MemoryStore {
    fn pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        Ok(self.pre_keys.get(&id).cloned())
    }
    fn save_pre_key(&mut self, record: PreKeyRecord) -> Result<(), StoreError> {
        self.pre_keys.insert(record.id, record);
        Ok(())
    }
    fn remove_pre_key(&mut self, id: u32) -> Result<(), StoreError> {
        self.pre_keys.remove(&id);
        Ok(())
    }
}

impl SignedPreKeyStore for MemoryStore {
    fn signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        Ok(self.signed_pre_keys.get(&id).cloned())
    }
    fn save_signed_pre_key(&mut self, record: SignedPreKeyRecord) -> Result<(), StoreError> {
        self.signed_pre_keys.insert(record.id, record);
        Ok(())
    }
}

impl SessionStore for MemoryStore {
    fn session(&self, address: &Address) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.sessions.get(address).cloned())
    }
    fn save_session(&mut self, address: &Address, record: SessionRecord) -> Result<(), StoreError> {
        self.sessions.insert(address.clone(), record);
        Ok(())
    }
    fn remove_session(&mut self, address: &Address) -> Result<(), StoreError> {
        self.sessions.remove(address);
        Ok(())
    }
}

impl SenderKeyStore for MemoryStore {
    fn sender_key(
        &self,
        sender: &Address,
        distribution_id: &[u8; 16],
    ) -> Result<Option<SenderKeyRecord>, StoreError> {
        Ok(self.sender_keys.get(&(sender.clone(), *distribution_id)).cloned())
    }
    fn save_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: &[u8; 16],
        record: SenderKeyRecord,
    ) -> Result<(), StoreError> {
        self.sender_keys
            .insert((sender.clone(), *distribution_id), record);
        Ok(())
    }
}

impl ProtocolStore for MemoryStore {}
