//! The in-memory store.

use std::collections::{BTreeMap, HashMap, VecDeque};

use zeroize::Zeroizing;

use super::{
    IdentityStore, PreKeyStore, ProtocolStore, SenderKeyStore, SessionStore, SignedPreKeyStore, StoreError,
};
use crate::address::Address;
use crate::client::state::{
    DeviceListStore, GroupRecord, GroupStore, KnownAccountRecord, LocalDeviceRecord, LocalDeviceStore,
    ReceivedMessageStore, RetryCounter, SentMessageRecord, SentMessageStore, decode_local_device,
    encode_local_device,
};
use crate::consts::{MAX_RECEIVED_MESSAGE_IDS, MAX_SENT_MESSAGES};
use crate::crypto::{KeyPair, PublicKey};
use crate::group::SenderKeyRecord;
use crate::session::{PreKeyRecord, SessionRecord, SignedPreKeyRecord};

/// Every store in memory. Its writes cannot fail, so the default commit is atomic.
///
/// Records keyed by address are in ordered maps: a lookup compares a few names instead of
/// hashing one with SipHash, which showed in the per-message profile.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    identity: KeyPair,
    registration_id: u32,
    identities: BTreeMap<Address, PublicKey>,
    pre_keys: HashMap<u32, PreKeyRecord>,
    signed_pre_keys: HashMap<u32, SignedPreKeyRecord>,
    sessions: BTreeMap<Address, SessionRecord>,
    sender_keys: BTreeMap<(Address, [u8; 16]), SenderKeyRecord>,
    /// This device's record, encoded (its role holds state that is not `Clone`).
    local_device: Option<Zeroizing<Vec<u8>>>,
    known_accounts: BTreeMap<String, KnownAccountRecord>,
    groups: BTreeMap<[u8; 16], GroupRecord>,
    sent: HashMap<[u8; 16], SentMessageRecord>,
    /// Sent message ids, oldest first (to drop the oldest beyond the bound).
    sent_order: VecDeque<[u8; 16]>,
    retry_counts: HashMap<(RetryCounter, Address, [u8; 16]), u32>,
    received: std::collections::HashSet<(String, [u8; 16])>,
    /// Received ids, oldest first.
    received_order: VecDeque<(String, [u8; 16])>,
}

impl MemoryStore {
    /// An empty store for a device with this identity and registration id.
    pub fn new(identity: KeyPair, registration_id: u32) -> Self {
        Self {
            identity,
            registration_id,
            identities: BTreeMap::new(),
            pre_keys: HashMap::new(),
            signed_pre_keys: HashMap::new(),
            sessions: BTreeMap::new(),
            sender_keys: BTreeMap::new(),
            local_device: None,
            known_accounts: BTreeMap::new(),
            groups: BTreeMap::new(),
            sent: HashMap::new(),
            sent_order: VecDeque::new(),
            retry_counts: HashMap::new(),
            received: std::collections::HashSet::new(),
            received_order: VecDeque::new(),
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
        // In place when the peer is known: no key copy, no tree node to move or allocate.
        match self.sessions.get_mut(address) {
            Some(slot) => *slot = record,
            None => {
                self.sessions.insert(address.clone(), record);
            }
        }
        Ok(())
    }
    fn remove_session(&mut self, address: &Address) -> Result<(), StoreError> {
        self.sessions.remove(address);
        Ok(())
    }
    /// Moves the record out, leaving an empty one in its slot until the step commits or gives it
    /// back (the map keeps its shape: nothing is reallocated per message).
    fn take_session(&mut self, address: &Address) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.sessions.get_mut(address).map(core::mem::take))
    }
    fn restore_session(&mut self, address: &Address, record: SessionRecord) {
        let _ = self.save_session(address, record);
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

impl LocalDeviceStore for MemoryStore {
    fn local_device(&self) -> Result<Option<LocalDeviceRecord>, StoreError> {
        self.local_device
            .as_ref()
            .map(|bytes| decode_local_device(bytes).map_err(|e| StoreError(e.to_string())))
            .transpose()
    }
    fn save_local_device(&mut self, record: &LocalDeviceRecord) -> Result<(), StoreError> {
        self.local_device = Some(encode_local_device(record));
        Ok(())
    }
}

impl DeviceListStore for MemoryStore {
    fn known_account(&self, account: &str) -> Result<Option<KnownAccountRecord>, StoreError> {
        Ok(self.known_accounts.get(account).cloned())
    }
    fn save_known_account(&mut self, account: &str, record: &KnownAccountRecord) -> Result<(), StoreError> {
        self.known_accounts.insert(account.to_string(), record.clone());
        Ok(())
    }
    fn known_accounts(&self) -> Result<Vec<(String, KnownAccountRecord)>, StoreError> {
        Ok(self
            .known_accounts
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

impl GroupStore for MemoryStore {
    fn group(&self, group_id: &[u8; 16]) -> Result<Option<GroupRecord>, StoreError> {
        Ok(self.groups.get(group_id).cloned())
    }
    fn save_group(&mut self, group_id: &[u8; 16], record: &GroupRecord) -> Result<(), StoreError> {
        self.groups.insert(*group_id, record.clone());
        Ok(())
    }
    fn groups(&self) -> Result<Vec<([u8; 16], GroupRecord)>, StoreError> {
        Ok(self.groups.iter().map(|(k, v)| (*k, v.clone())).collect())
    }
}

impl SentMessageStore for MemoryStore {
    fn sent_message(&self, message_id: &[u8; 16]) -> Result<Option<SentMessageRecord>, StoreError> {
        Ok(self.sent.get(message_id).cloned())
    }
    fn save_sent_message(
        &mut self,
        message_id: &[u8; 16],
        record: &SentMessageRecord,
    ) -> Result<(), StoreError> {
        if self.sent.insert(*message_id, record.clone()).is_none() {
            self.sent_order.push_back(*message_id);
            while self.sent_order.len() > MAX_SENT_MESSAGES {
                if let Some(oldest) = self.sent_order.pop_front() {
                    self.sent.remove(&oldest);
                }
            }
        }
        Ok(())
    }
    fn retry_count(
        &self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
    ) -> Result<Option<u32>, StoreError> {
        Ok(self
            .retry_counts
            .get(&(counter, peer.clone(), *message_id))
            .copied())
    }
    fn save_retry_count(
        &mut self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
        count: u32,
    ) -> Result<(), StoreError> {
        self.retry_counts
            .insert((counter, peer.clone(), *message_id), count);
        Ok(())
    }
    fn retry_count_len(&self, counter: RetryCounter) -> Result<usize, StoreError> {
        Ok(self.retry_counts.keys().filter(|(c, _, _)| *c == counter).count())
    }
}

impl ReceivedMessageStore for MemoryStore {
    fn was_received(&self, sender_account: &str, message_id: &[u8; 16]) -> Result<bool, StoreError> {
        Ok(self.received.contains(&(sender_account.to_string(), *message_id)))
    }
    fn remember_received(&mut self, sender_account: &str, message_id: &[u8; 16]) -> Result<(), StoreError> {
        let key = (sender_account.to_string(), *message_id);
        if self.received.insert(key.clone()) {
            self.received_order.push_back(key);
            while self.received_order.len() > MAX_RECEIVED_MESSAGE_IDS {
                if let Some(oldest) = self.received_order.pop_front() {
                    self.received.remove(&oldest);
                }
            }
        }
        Ok(())
    }
}
