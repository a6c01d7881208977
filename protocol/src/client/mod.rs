//! One device's client: sends (fanout to every device of the recipient and to our own other
//! devices), receives, groups with sender keys, retries. Sans-IO: calls take the directory, the
//! caller's RNG and the time, and return envelopes for the caller to hand to the server.

mod content;
mod directory;
mod envelope;
mod padding;
mod relay;
pub mod state;

pub use content::{DataMessage, SelfMessage};
pub use directory::{AccountDevices, Directory, DirectoryError};
pub use envelope::{Envelope, EnvelopeKind};
pub use padding::{BadPadding, PADDING_BLOCK, pad, unpad};
pub use relay::{DeviceUpload, MemoryRelay};
pub use state::{
    DeviceListStore, DeviceRole, GroupRecord, GroupStore, KnownAccountRecord, LocalDeviceRecord,
    LocalDeviceStore, ReceivedMessageStore, RetryCounter, SentMessageRecord, SentMessageStore,
};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand_core::CryptoRng;

use self::content::{Content, RetryRequest};
use crate::account::{
    AccountView, DEFAULT_DEVICE_LIST_LIFETIME_MS, DeviceListError, DeviceRefusal, DeviceSet, TrustedDevice,
    verify_devices,
};
use crate::address::Address;
use crate::consts::{MAX_RETRIES, MAX_SENT_MESSAGES};
use crate::crypto::{KeyPair, PublicKey};
use crate::group;
use crate::linking::{Approval, LinkError, LinkRequest, PendingLink, PrimaryAccount};
use crate::session::{self, DecryptError, PreKeyBundle, PreKeyRecord, SignedPreKeyRecord};
use crate::store::{MemoryStore, ProtocolStore, SenderKeyStore, StepTransaction, StoreError};
use crate::wire::SenderKeyMessage;

/// A conversation: with one account, or a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Conversation {
    /// 1:1 with this account.
    Direct(String),
    /// A group.
    Group([u8; 16]),
}

/// What happened for one device during a send.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceOutcome {
    /// Encrypted on an existing session.
    Encrypted,
    /// A new session was built from the device's prekey bundle first.
    NewSession,
    /// Not encrypted to: the device failed verification.
    Refused(DeviceRefusal),
    /// Not encrypted to: something else failed (no bundle, a key the directory swapped…).
    Failed(String),
}

/// The result of a send.
#[derive(Clone, Debug)]
pub struct SendReport {
    /// The message id.
    pub message_id: [u8; 16],
    /// The envelopes to hand to the server.
    pub envelopes: Vec<Envelope>,
    /// Per device: what happened.
    pub devices: Vec<(Address, DeviceOutcome)>,
}

/// What a received envelope was.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// A message for us (1:1, or group when `message.group_id` is set).
    Message {
        /// The sending device.
        from: Address,
        /// The message.
        message: DataMessage,
    },
    /// A message one of our own other devices sent, so this device shows it too.
    SentCopy {
        /// Our device that sent it.
        from: Address,
        /// The conversation it was sent to.
        conversation: Conversation,
        /// The message.
        message: DataMessage,
    },
    /// A sender key for a group (nothing to show).
    GroupKey {
        /// The sending device.
        from: Address,
        /// The group.
        group_id: [u8; 16],
    },
    /// A protocol message from one of our own other devices (history sync, app-state keys).
    FromOwnDevice {
        /// Our device that sent it.
        from: Address,
        /// The message.
        message: SelfMessage,
    },
    /// We re-sent a message to a device that asked (the reply is in `replies`).
    RetryServed {
        /// The device that asked.
        to: Address,
        /// The message.
        message_id: [u8; 16],
    },
    /// Already received: ignore.
    Duplicate,
    /// Could not be read; a retry request may be in `replies`.
    Failed(ReceiveFailure),
}

/// Why an envelope could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveFailure {
    /// The sending device is not a verified device of its account.
    UnverifiedSender,
    /// Decryption failed.
    Decrypt(DecryptError),
    /// Group decryption failed.
    GroupDecrypt(group::GroupDecryptError),
    /// The content is malformed or badly padded.
    BadContent,
    /// A sent copy or group message from someone not entitled to send it.
    NotAllowed,
    /// A retry request that is malformed, over the bound, not signed by the device, or for a
    /// message we no longer hold.
    BadRetry,
    /// The directory could not be asked.
    Directory(DirectoryError),
    /// The local store failed; nothing of this envelope was kept.
    Store(String),
}

impl ReceiveFailure {
    /// Whether the envelope may be readable later, as it is: nothing of it was kept, and the
    /// cause can pass — a sender not (yet) on the device list the directory served (a stale
    /// answer, or a device linked a moment ago), a directory that could not be asked, a store
    /// that failed. Keep such an envelope (do not acknowledge it to the server) and offer it
    /// again after the directory or store recovers, within a bound of the application's choosing
    /// (a device that never appears on its account's list is a ghost). Every other failure is
    /// final for this envelope: a retry request, if one was due, is in the receipt's replies.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::UnverifiedSender | Self::Directory(_) | Self::Store(_))
    }
}

/// The result of receiving one envelope.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// What the envelope was.
    pub received: Received,
    /// Envelopes to send back (retry requests, re-sent messages).
    pub replies: Vec<Envelope>,
}

/// Why a send could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The directory failed.
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
    /// The account's device list is signed by a new account key (re-registration, or a forged
    /// list): accept it with [`Client::accept_account_key`] after asking the user.
    #[error("the account key of {0} changed")]
    AccountKeyChanged(String),
    /// The account's device list does not verify.
    #[error("bad device list for {0}: {1}")]
    BadDeviceList(String, DeviceListError),
    /// No such group.
    #[error("unknown group")]
    UnknownGroup,
    /// The message is no longer held (beyond `MAX_SENT_MESSAGES`).
    #[error("unknown message")]
    UnknownMessage,
    /// Only the primary device can do this.
    #[error("only the primary device can do this")]
    NotPrimary,
    /// A linking step failed.
    #[error("linking: {0}")]
    Link(#[from] LinkError),
    /// The local store failed.
    #[error("store: {0}")]
    Store(String),
}

/// Why [`Client::receive_with`] kept nothing (the step rolled back; the envelope can be received
/// again).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveWithError<E> {
    /// The application's `keep` failed.
    #[error("the application could not keep the message")]
    Keep(E),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

struct KnownAccount {
    view: AccountView,
    trusted: Vec<TrustedDevice>,
    /// What the directory served last and what verifying it gave: served again unchanged, and
    /// the list not expired, the answer is the same without checking signatures again.
    last: Option<(AccountDevices, DeviceSet)>,
}

/// Everything a client keeps: pairwise and sender-key state and the client state (its own
/// record, device lists, groups, sent messages), with steps that commit as one transaction.
/// [`MemoryStore`] is one; `SqliteStore` is another.
pub trait ClientStore:
    ProtocolStore
    + SenderKeyStore
    + StepTransaction
    + LocalDeviceStore
    + DeviceListStore
    + GroupStore
    + SentMessageStore
    + ReceivedMessageStore
{
}

impl<T> ClientStore for T where
    T: ProtocolStore
        + SenderKeyStore
        + StepTransaction
        + LocalDeviceStore
        + DeviceListStore
        + GroupStore
        + SentMessageStore
        + ReceivedMessageStore
{
}

/// One device of an account, over its store `S`.
///
/// Its state lives in the store: [`Client::open`] carries on from it after a restart. The maps
/// here are caches of the store's device lists and groups, written through in the same store
/// step as the protocol records, and reloaded when a step rolls back.
pub struct Client<S = MemoryStore> {
    local: LocalDeviceRecord,
    identity: KeyPair,
    store: S,
    registration_id: u32,
    accounts: HashMap<String, KnownAccount>,
    groups: HashMap<[u8; 16], GroupRecord>,
}

impl<S> core::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.local.address)
            .finish_non_exhaustive()
    }
}

/// A companion waiting for the primary's approval.
#[derive(Debug)]
pub struct PendingClient {
    name: String,
    pending: PendingLink,
}

impl PendingClient {
    /// The QR payload to show the primary.
    pub fn qr_payload(&self) -> String {
        self.pending.request().to_qr_payload()
    }

    /// Completes linking with the primary's approval message (in-memory store).
    pub fn finish<R: CryptoRng + ?Sized>(&self, approval: &[u8], rng: &mut R) -> Result<Client, ClientError> {
        self.finish_with(approval, rng, |identity, registration_id| {
            Ok(MemoryStore::new(identity.clone(), registration_id))
        })
    }

    /// Completes linking, keeping the device's state in the store `make_store` opens for its
    /// identity key pair and registration id.
    pub fn finish_with<S: ClientStore, R: CryptoRng + ?Sized>(
        &self,
        approval: &[u8],
        rng: &mut R,
        make_store: impl FnOnce(&KeyPair, u32) -> Result<S, StoreError>,
    ) -> Result<Client<S>, ClientError> {
        let linked = self.pending.complete(approval, rng)?;
        let address = Address::new(self.name.clone(), linked.device_id());
        let identity = linked.identity().clone();
        let account_key = *linked.account_key();
        let mut client = Client::with_role(
            address,
            identity,
            DeviceRole::Companion(Box::new(linked)),
            rng,
            make_store,
        )?;
        client.accept_account_key(&self.name, account_key)?;
        Ok(client)
    }
}

fn store_err(e: impl core::fmt::Display) -> ClientError {
    ClientError::Store(e.to_string())
}

impl Client<MemoryStore> {
    /// Starts linking a new companion device of account `name`
    /// (the store is chosen when it finishes: [`PendingClient::finish_with`]).
    pub fn begin_link<R: CryptoRng + ?Sized>(name: &str, now: u64, rng: &mut R) -> PendingClient {
        PendingClient {
            name: name.to_string(),
            pending: PendingLink::new(KeyPair::generate(rng), now, rng),
        }
    }
    /// A new account's primary device (device 0), in memory; its identity key is the account key.
    pub fn new_primary<R: CryptoRng + ?Sized>(name: &str, now: u64, rng: &mut R) -> Self {
        let identity = KeyPair::generate(rng);
        let primary = PrimaryAccount::new(identity.clone(), now, rng);
        let registration_id = session::generate_registration_id(rng);
        let mut store = MemoryStore::new(identity.clone(), registration_id);
        let signed = SignedPreKeyRecord::generate(1, &identity, 0, rng);
        // MemoryStore writes cannot fail.
        let _ = crate::store::SignedPreKeyStore::save_signed_pre_key(&mut store, signed);
        let account = identity.public;
        let mut client = Self::from_parts(
            Address::new(name, 0),
            identity,
            DeviceRole::Primary(Box::new(primary)),
            store,
            registration_id,
        );
        // MemoryStore writes cannot fail.
        let _ = client.save_local();
        let _ = client.accept_account_key(name, account);
        client
    }
}

impl<S: ClientStore> Client<S> {
    fn from_parts(
        address: Address,
        identity: KeyPair,
        role: DeviceRole,
        store: S,
        registration_id: u32,
    ) -> Self {
        Self {
            local: LocalDeviceRecord {
                address,
                role,
                signed_pre_key_id: 1,
                next_pre_key_id: 1,
                device_list_lifetime_ms: DEFAULT_DEVICE_LIST_LIFETIME_MS,
            },
            identity,
            store,
            registration_id,
            accounts: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    /// Carries on as the device whose state `store` holds (after a restart, or a crash: every
    /// step the device completed is there, and nothing of a step it did not).
    pub fn open(store: S) -> Result<Self, ClientError> {
        let local = store
            .local_device()
            .map_err(store_err)?
            .ok_or_else(|| ClientError::Store("no device in this store".into()))?;
        let identity = store.identity_key_pair().map_err(store_err)?;
        let registration_id = store.local_registration_id().map_err(store_err)?;
        let mut client = Self {
            local,
            identity,
            store,
            registration_id,
            accounts: HashMap::new(),
            groups: HashMap::new(),
        };
        client.reload()?;
        Ok(client)
    }

    /// Reloads the caches (device lists, groups, this device's record) from the store.
    fn reload(&mut self) -> Result<(), ClientError> {
        if let Some(local) = self.store.local_device().map_err(store_err)? {
            self.local = local;
        }
        self.accounts.clear();
        for (name, record) in self.store.known_accounts().map_err(store_err)? {
            let mut view = AccountView::new(record.account_key);
            if let Some(list) = &record.device_list {
                view.update(list)
                    .map_err(|e| ClientError::Store(format!("stored device list of {name}: {e}")))?;
            }
            self.accounts.insert(
                name,
                KnownAccount {
                    view,
                    trusted: record.trusted,
                    last: None,
                },
            );
        }
        self.groups = self.store.groups().map_err(store_err)?.into_iter().collect();
        Ok(())
    }

    /// Writes this device's record.
    fn save_local(&mut self) -> Result<(), ClientError> {
        self.store.save_local_device(&self.local).map_err(store_err)
    }

    /// The primary's view of its own account takes the list it just signed: the newest there
    /// is. A directory that still serves an older list (a stale cache, or a server withholding
    /// the change) is then a rollback and ignored, so the primary never trusts a companion it
    /// unlinked — `send_to_own_devices` (new app-state keys after an unlink) and fanout leave it
    /// out at once.
    fn adopt_own_list(&mut self, list: &[u8]) -> Result<(), ClientError> {
        let own = self.local.address.name.clone();
        let mut known = self.accounts.remove(&own).unwrap_or_else(|| KnownAccount {
            view: AccountView::new(self.identity.public),
            trusted: Vec::new(),
            last: None,
        });
        let adopted = match known.view.update(list) {
            Ok(_) | Err(DeviceListError::Rollback) => Ok(()),
            Err(e) => Err(ClientError::BadDeviceList(own.clone(), e)),
        };
        // Verified again at the next lookup, against what the directory serves.
        known.last = None;
        self.accounts.insert(own.clone(), known);
        adopted?;
        self.save_account(&own)
    }

    /// Writes what we know of `account` (from the cache).
    fn save_account(&mut self, account: &str) -> Result<(), ClientError> {
        let Some(known) = self.accounts.get(account) else {
            return Ok(());
        };
        let record = KnownAccountRecord {
            account_key: *known.view.account_key(),
            device_list: known.view.list().map(|l| l.serialize().to_vec()),
            trusted: known.trusted.clone(),
        };
        self.store.save_known_account(account, &record).map_err(store_err)
    }

    /// Writes a group (from the cache).
    fn save_group(&mut self, group_id: &[u8; 16]) -> Result<(), ClientError> {
        let Some(group) = self.groups.get(group_id) else {
            return Ok(());
        };
        self.store.save_group(group_id, group).map_err(store_err)
    }

    fn with_role<R: CryptoRng + ?Sized>(
        address: Address,
        identity: KeyPair,
        role: DeviceRole,
        rng: &mut R,
        make_store: impl FnOnce(&KeyPair, u32) -> Result<S, StoreError>,
    ) -> Result<Self, ClientError> {
        let registration_id = session::generate_registration_id(rng);
        let mut store = make_store(&identity, registration_id).map_err(store_err)?;
        let signed = SignedPreKeyRecord::generate(1, &identity, 0, rng);
        store.save_signed_pre_key(signed).map_err(store_err)?;
        let mut client = Self::from_parts(address, identity, role, store, registration_id);
        client.save_local()?;
        Ok(client)
    }

    /// A new account's primary device (device 0) over the store `make_store` opens for its
    /// identity key pair and registration id; its identity key is the account key.
    pub fn new_primary_with<R: CryptoRng + ?Sized>(
        name: &str,
        now: u64,
        rng: &mut R,
        make_store: impl FnOnce(&KeyPair, u32) -> Result<S, StoreError>,
    ) -> Result<Self, ClientError> {
        let identity = KeyPair::generate(rng);
        let primary = PrimaryAccount::new(identity.clone(), now, rng);
        let mut client = Self::with_role(
            Address::new(name, 0),
            identity.clone(),
            DeviceRole::Primary(Box::new(primary)),
            rng,
            make_store,
        )?;
        client.accept_account_key(name, identity.public)?;
        Ok(client)
    }

    /// The primary approves a companion from its QR payload; publish the returned device list.
    pub fn approve_link<R: CryptoRng + ?Sized>(
        &mut self,
        qr: &str,
        now: u64,
        rng: &mut R,
    ) -> Result<Approval, ClientError> {
        let request = LinkRequest::from_qr_payload(qr)?;
        self.in_step(|client| {
            let DeviceRole::Primary(primary) = &mut client.local.role else {
                return Err(ClientError::NotPrimary);
            };
            let approval = primary.approve(&request, now, rng)?;
            let list = primary.device_list().serialize().to_vec();
            client.save_local()?;
            client.adopt_own_list(&list)?;
            Ok(approval)
        })
    }

    /// The primary unlinks a companion; publish the returned device list.
    pub fn unlink<R: CryptoRng + ?Sized>(
        &mut self,
        device_id: u32,
        now: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>, ClientError> {
        self.in_step(|client| {
            let DeviceRole::Primary(primary) = &mut client.local.role else {
                return Err(ClientError::NotPrimary);
            };
            let list = primary.unlink(device_id, now, rng)?.serialize().to_vec();
            client.save_local()?;
            client.adopt_own_list(&list)?;
            Ok(list)
        })
    }

    /// The primary's current signed device list.
    pub fn device_list(&self) -> Option<&[u8]> {
        match &self.local.role {
            DeviceRole::Primary(p) => Some(p.device_list().serialize()),
            DeviceRole::Companion(_) => None,
        }
    }

    /// This device's address.
    pub fn address(&self) -> &Address {
        &self.local.address
    }

    /// The device's stores (for inspection, migration, or simulating loss in tests).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// This device's identity key.
    pub fn identity_key(&self) -> &PublicKey {
        &self.identity.public
    }

    /// Whether a served device list still lists this (companion) device.
    pub fn link_status(&self, signed_list: &[u8]) -> Option<crate::linking::LinkStatus> {
        match &self.local.role {
            DeviceRole::Companion(linked) => linked.status(signed_list).ok(),
            DeviceRole::Primary(_) => Some(crate::linking::LinkStatus::Linked),
        }
    }

    /// What this device publishes: its keys and `count` fresh one-time prekeys.
    pub fn upload<R: CryptoRng + ?Sized>(
        &mut self,
        count: u32,
        rng: &mut R,
    ) -> Result<DeviceUpload, ClientError> {
        self.in_step(|client| client.upload_step(count, rng))
    }

    fn upload_step<R: CryptoRng + ?Sized>(
        &mut self,
        count: u32,
        rng: &mut R,
    ) -> Result<DeviceUpload, ClientError> {
        let signed = self
            .store
            .signed_pre_key(self.local.signed_pre_key_id)
            .map_err(store_err)?
            .ok_or(ClientError::Store("no signed prekey".into()))?;
        let mut one_time = Vec::new();
        for _ in 0..count {
            let record = PreKeyRecord::generate(self.local.next_pre_key_id, rng);
            self.local.next_pre_key_id += 1;
            one_time.push((record.id, record.key_pair.public));
            self.store.save_pre_key(record).map_err(store_err)?;
        }
        self.save_local()?;
        Ok(DeviceUpload {
            address: self.local.address.clone(),
            registration_id: self.registration_id,
            identity_key: self.identity.public,
            signed_pre_key: (
                signed.id,
                signed.key_pair.public,
                signed.signature.to_bytes().to_vec(),
            ),
            one_time_pre_keys: one_time,
            signed_identity: self.signed_identity(),
        })
    }

    fn signed_identity(&self) -> Option<Vec<u8>> {
        match &self.local.role {
            DeviceRole::Companion(linked) => Some(linked.signed_identity().serialize().to_vec()),
            DeviceRole::Primary(_) => None,
        }
    }

    /// Drops what we hold of a device that left (unlinked, re-keyed, its account re-registered):
    /// its sessions and its sender keys, so nothing it sent as that installation is read any more.
    fn forget_device(&mut self, address: &Address) {
        let _ = self.store.remove_session(address);
        let distribution_ids: Vec<[u8; 16]> = self
            .groups
            .keys()
            .copied()
            .chain([Self::status_id(&address.name)])
            .collect();
        for id in distribution_ids {
            if self.store.sender_key(address, &id).ok().flatten().is_some() {
                let _ = self
                    .store
                    .save_sender_key(address, &id, group::SenderKeyRecord::new());
            }
        }
    }

    /// Accepts a new account key for `account` (after a re-registration the user confirmed).
    /// The devices trusted under the old key are forgotten (sessions and sender keys).
    pub fn accept_account_key(&mut self, account: &str, key: PublicKey) -> Result<(), ClientError> {
        self.in_step(|client| {
            let old: Vec<u32> = client
                .accounts
                .get(account)
                .filter(|known| known.view.account_key() != &key)
                .map(|known| known.trusted.iter().map(|t| t.device_id).collect())
                .unwrap_or_default();
            for device_id in old {
                client.forget_device(&Address::new(account, device_id));
            }
            client.accounts.insert(
                account.to_string(),
                KnownAccount {
                    view: AccountView::new(key),
                    trusted: Vec::new(),
                    last: None,
                },
            );
            client.save_account(account)
        })
    }

    /// Sets how long a device list stays valid for companions.
    pub fn set_device_list_lifetime(&mut self, ms: u64) -> Result<(), ClientError> {
        self.local.device_list_lifetime_ms = ms;
        self.in_step(|client| client.save_local())
    }

    /// The verified devices of `account`, refreshed from the directory. Sessions with devices
    /// that left the list are removed.
    pub fn refresh_devices<D: Directory + ?Sized>(
        &mut self,
        directory: &D,
        account: &str,
        now: u64,
    ) -> Result<DeviceSet, ClientError> {
        self.in_step(|client| client.refresh_devices_step(directory, account, now))
    }

    /// The body of [`Self::refresh_devices`], inside one store step.
    fn refresh_devices_step<D: Directory + ?Sized>(
        &mut self,
        directory: &D,
        account: &str,
        now: u64,
    ) -> Result<DeviceSet, ClientError> {
        let served = directory.devices(account)?;
        let known = match self.accounts.remove(account) {
            Some(k) => k,
            None => {
                // First contact: trust on first use of the account key, which must be the
                // primary's identity key.
                let primary = served
                    .devices
                    .iter()
                    .find(|d| d.device_id == 0)
                    .ok_or(DirectoryError::NotFound)?;
                KnownAccount {
                    view: AccountView::new(primary.identity_key),
                    trusted: Vec::new(),
                    last: None,
                }
            }
        };
        let mut known = known;
        if let (Some((served_before, set)), Some(list)) = (&known.last, known.view.list()) {
            if served_before == &served && !list.is_expired(now, self.local.device_list_lifetime_ms) {
                let set = set.clone();
                self.accounts.insert(account.to_string(), known);
                return Ok(set);
            }
        }
        let result = match known.view.update(&served.signed_list) {
            Ok(_) | Err(DeviceListError::Rollback) => Ok(()),
            Err(DeviceListError::AccountKeyChanged) => {
                Err(ClientError::AccountKeyChanged(account.to_string()))
            }
            Err(e) => Err(ClientError::BadDeviceList(account.to_string(), e)),
        };
        if let Err(e) = result {
            self.accounts.insert(account.to_string(), known);
            return Err(e);
        }
        let Some(list) = known.view.list() else {
            self.accounts.insert(account.to_string(), known);
            return Err(ClientError::BadDeviceList(
                account.to_string(),
                DeviceListError::Malformed,
            ));
        };
        let set = verify_devices(list, &served.devices, now, self.local.device_list_lifetime_ms);
        // Sessions with devices that are no longer trusted go (unlinked, re-keyed, expired).
        for old in &known.trusted {
            let still = set
                .trusted
                .iter()
                .any(|t| t.device_id == old.device_id && t.identity_key == old.identity_key);
            if !still {
                self.forget_device(&Address::new(account, old.device_id));
            }
        }
        known.trusted = set.trusted.clone();
        known.last = Some((served, set.clone()));
        self.accounts.insert(account.to_string(), known);
        self.save_account(account)?;
        Ok(set)
    }

    /// Makes sure we have a session with a verified device, building one from its bundle.
    fn ensure_session<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        device: &TrustedDevice,
        account: &str,
        rng: &mut R,
    ) -> DeviceOutcome {
        let address = Address::new(account, device.device_id);
        let current = self.store.session(&address).ok().flatten();
        if current
            .as_ref()
            .and_then(|r| r.current())
            .is_some_and(|s| s.remote_identity() == &device.identity_key)
        {
            return DeviceOutcome::Encrypted;
        }
        let bundle = match directory.prekey_bundle(&address) {
            Ok(b) => b,
            Err(e) => return DeviceOutcome::Failed(e.to_string()),
        };
        self.build_session(&address, device, &bundle, rng)
    }

    fn build_session<R: CryptoRng + ?Sized>(
        &mut self,
        address: &Address,
        device: &TrustedDevice,
        bundle: &PreKeyBundle,
        rng: &mut R,
    ) -> DeviceOutcome {
        if bundle.identity_key != device.identity_key {
            return DeviceOutcome::Failed("the bundle's identity key is not the verified one".into());
        }
        // The device's key is vouched for by its account's signatures (or is the account key):
        // a changed key is accepted here, as the verified device list says.
        if self
            .store
            .identity(address)
            .ok()
            .flatten()
            .is_some_and(|k| k != device.identity_key)
        {
            let _ = self.store.save_identity(address, &device.identity_key);
        }
        match session::process_prekey_bundle(&mut self.store, address, bundle, rng) {
            Ok(()) => DeviceOutcome::NewSession,
            Err(e) => DeviceOutcome::Failed(format!("{e:?}")),
        }
    }

    /// Encrypts `content` for one verified device, building the session if needed.
    fn encrypt_for<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        (account, device): (&str, &TrustedDevice),
        content: &Content,
        (message_id, now): ([u8; 16], u64),
        rng: &mut R,
    ) -> (DeviceOutcome, Option<Envelope>) {
        let outcome = self.ensure_session(directory, device, account, rng);
        if matches!(outcome, DeviceOutcome::Failed(_) | DeviceOutcome::Refused(_)) {
            return (outcome, None);
        }
        let address = Address::new(account, device.device_id);
        match session::encrypt(&mut self.store, &address, &pad(&content.encode())) {
            Ok(m) => {
                let kind = match m.message_type() {
                    crate::wire::MessageType::PreKey => EnvelopeKind::PreKey,
                    _ => EnvelopeKind::Whisper,
                };
                let envelope = Envelope {
                    sender: self.local.address.clone(),
                    recipient: address,
                    kind,
                    message_id,
                    timestamp: now,
                    payload: m.serialized().to_vec(),
                };
                (outcome, Some(envelope))
            }
            Err(e) => (DeviceOutcome::Failed(format!("{e:?}")), None),
        }
    }

    fn remember(
        &mut self,
        id: [u8; 16],
        conversation: Conversation,
        message: DataMessage,
        report: &SendReport,
    ) -> Result<(), ClientError> {
        let recipients = report.envelopes.iter().map(|e| e.recipient.clone()).collect();
        let members = match &conversation {
            Conversation::Group(g) => self.groups.get(g).map(|g| g.members.clone()).unwrap_or_default(),
            Conversation::Direct(_) => BTreeSet::new(),
        };
        let mut record = SentMessageRecord {
            conversation,
            message,
            recipients,
            members,
            account_keys: BTreeMap::new(),
        };
        self.note_account_keys(&mut record);
        self.store.save_sent_message(&id, &record).map_err(store_err)
    }

    /// Records, for each account a sent message was encrypted to and not yet noted, the account
    /// key we hold for it now (the installation it went to).
    fn note_account_keys(&self, record: &mut SentMessageRecord) {
        for r in &record.recipients {
            if let Some(known) = self.accounts.get(&r.name) {
                record
                    .account_keys
                    .entry(r.name.clone())
                    .or_insert(*known.view.account_key());
            }
        }
    }

    /// Whether a sent message may still be encrypted to `account`'s devices: only while we hold
    /// the account key it was first encrypted under (never to a later installation: accepting a
    /// new account key must not hand it messages sent before). An account it never reached yet
    /// is open.
    fn same_installation(&self, sent: &SentMessageRecord, account: &str) -> bool {
        match (
            sent.account_keys.get(account),
            self.accounts.get(account).map(|k| k.view.account_key()),
        ) {
            (None, _) => true,
            (Some(then), Some(now)) => then == now,
            (Some(_), None) => false,
        }
    }

    /// Runs `steps` — any client calls, and the application's own writes through
    /// [`Self::store_mut`] — as one store transaction: committed if `steps` returns `Ok`, rolled
    /// back (client caches included) if it returns `Err`. The calls inside run as nested steps
    /// (savepoints in SQLite).
    ///
    /// The outbox: a send commits the session advances and `has_key` before the application has
    /// handed the envelopes to the server; a crash in between would lose them while the client
    /// believes them sent (a group key it thinks delivered). Saving the envelopes in the
    /// application's outbox inside the same `atomically` makes the two one: after a crash either
    /// both are on disk (the outbox is sent on restart) or neither is.
    pub fn atomically<T, E: From<ClientError>>(
        &mut self,
        steps: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        self.store.begin_step().map_err(|e| E::from(store_err(e)))?;
        let result = steps(self);
        let ended = self.store.end_step(result.is_ok());
        if result.is_err() || ended.is_err() {
            let _ = self.reload();
        }
        ended.map_err(|e| E::from(store_err(e)))?;
        result
    }

    /// Runs `step` as one store transaction: committed if it succeeds, rolled back if not.
    fn in_step<T>(
        &mut self,
        step: impl FnOnce(&mut Self) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        self.store.begin_step().map_err(store_err)?;
        let result = step(self);
        let ended = self.store.end_step(result.is_ok());
        if result.is_err() || ended.is_err() {
            // The store rolled back: so do the caches.
            let _ = self.reload();
        }
        match ended {
            Ok(()) => result,
            Err(e) => Err(store_err(e)),
        }
    }

    /// Sends `body` to `account`: one envelope per verified device of theirs, and a sent copy
    /// per other verified device of ours.
    pub fn send<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        account: &str,
        body: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        self.in_step(|client| client.send_step(directory, account, (body, None), now, rng))
    }

    /// Sends a message with an attachment (an encoded [`MediaPointer`](crate::media::MediaPointer),
    /// whose encrypted blob the caller uploaded to the blob store) to a conversation; `body` is
    /// the caption. Same fanout as [`Self::send`] / [`Self::send_group`].
    pub fn send_attachment<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        to: &Conversation,
        body: &[u8],
        attachment: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        match to {
            Conversation::Direct(account) => self
                .in_step(|client| client.send_step(directory, account, (body, Some(attachment)), now, rng)),
            Conversation::Group(group_id) => self.in_step(|client| {
                client.send_group_step(directory, *group_id, (body, Some(attachment)), now, rng)
            }),
        }
    }

    /// Sends a protocol message to our own other devices only — every verified one, or just
    /// device `only` — over pairwise sessions. A history-sync notification and app-state keys
    /// may only be sent by the primary (the keys' authority: its own device list is the one it
    /// signed, so an unlinked companion never gets a key, even while a stale directory still
    /// lists it to a sibling). Self messages are not kept for retries (history sync and
    /// app-state keys have their own recovery: re-upload, key request).
    pub fn send_to_own_devices<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        message: &SelfMessage,
        only: Option<u32>,
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        if matches!(
            message,
            SelfMessage::HistorySync(_) | SelfMessage::AppStateKeys(_)
        ) && self.local.address.device_id != 0
        {
            return Err(ClientError::NotPrimary);
        }
        // A chunk request goes to the primary only.
        let only = match message {
            SelfMessage::HistoryChunkRequest(_) => Some(0),
            _ => only,
        };
        self.in_step(|client| {
            let mut id = [0u8; 16];
            rng.fill_bytes(&mut id);
            let own = client.local.address.name.clone();
            let mut report = SendReport {
                message_id: id,
                envelopes: Vec::new(),
                devices: Vec::new(),
            };
            let DeviceSet { trusted, refused } = client.refresh_devices_step(directory, &own, now)?;
            for (device_id, why) in refused {
                report
                    .devices
                    .push((Address::new(own.clone(), device_id), DeviceOutcome::Refused(why)));
            }
            let content = Content::Own(message.clone());
            for device in trusted {
                if device.device_id == client.local.address.device_id
                    || only.is_some_and(|d| d != device.device_id)
                {
                    continue;
                }
                let (outcome, envelope) =
                    client.encrypt_for(directory, (&own, &device), &content, (id, now), rng);
                report
                    .devices
                    .push((Address::new(own.clone(), device.device_id), outcome));
                report.envelopes.extend(envelope);
            }
            Ok(report)
        })
    }

    /// The body of [`Self::send`], inside one store step.
    fn send_step<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        account: &str,
        (body, attachment): (&[u8], Option<&[u8]>),
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let message = DataMessage {
            id,
            timestamp: now,
            body: body.to_vec(),
            group_id: None,
            attachment: attachment.map(<[u8]>::to_vec),
        };
        let mut report = SendReport {
            message_id: id,
            envelopes: Vec::new(),
            devices: Vec::new(),
        };
        let own = self.local.address.name.clone();
        let mut targets: Vec<(String, Content)> = vec![(account.to_string(), Content::Data(message.clone()))];
        if account != own {
            targets.push((
                own.clone(),
                Content::SentCopy {
                    destination: account.to_string(),
                    message: message.clone(),
                },
            ));
        }
        for (target, content) in targets {
            let DeviceSet { trusted, refused } = self.refresh_devices(directory, &target, now)?;
            for (device_id, why) in refused {
                report.devices.push((
                    Address::new(target.clone(), device_id),
                    DeviceOutcome::Refused(why),
                ));
            }
            for device in trusted {
                if target == own && device.device_id == self.local.address.device_id {
                    continue;
                }
                let (outcome, envelope) =
                    self.encrypt_for(directory, (&target, &device), &content, (id, now), rng);
                report
                    .devices
                    .push((Address::new(target.clone(), device.device_id), outcome));
                report.envelopes.extend(envelope);
            }
        }
        self.remember(id, Conversation::Direct(account.to_string()), message, &report)?;
        Ok(report)
    }

    /// After the server reported that a message missed devices (the recipient's device set
    /// changed): refreshes and verifies the device lists and sends the message, pairwise, only to
    /// the verified devices that did not get it.
    pub fn resend_to_missing<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        message_id: [u8; 16],
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        self.in_step(|client| client.resend_to_missing_step(directory, message_id, now, rng))
    }

    /// The body of [`Self::resend_to_missing`], inside one store step.
    fn resend_to_missing_step<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        message_id: [u8; 16],
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        let mut sent = self
            .store
            .sent_message(&message_id)
            .map_err(store_err)?
            .ok_or(ClientError::UnknownMessage)?;
        let (conversation, message, recipients) = (
            sent.conversation.clone(),
            sent.message.clone(),
            sent.recipients.clone(),
        );
        let own = self.local.address.name.clone();
        let accounts: Vec<(String, Content)> = match &conversation {
            Conversation::Direct(to) => {
                let mut v = vec![(to.clone(), Content::Data(message.clone()))];
                if to != &own {
                    v.push((
                        own.clone(),
                        Content::SentCopy {
                            destination: to.clone(),
                            message: message.clone(),
                        },
                    ));
                }
                v
            }
            // Members when it was sent that still are: a member added since never gets an
            // earlier message, a member removed since gets nothing more.
            Conversation::Group(g) => self
                .groups
                .get(g)
                .ok_or(ClientError::UnknownGroup)?
                .members
                .iter()
                .filter(|m| sent.members.contains(*m))
                .map(|m| (m.clone(), Content::Data(message.clone())))
                .collect(),
        };
        let mut report = SendReport {
            message_id,
            envelopes: Vec::new(),
            devices: Vec::new(),
        };
        for (account, content) in accounts {
            let DeviceSet { trusted, refused } = self.refresh_devices(directory, &account, now)?;
            if !self.same_installation(&sent, &account) {
                // The account was reinstalled since: its new devices never get this message.
                continue;
            }
            for (device_id, why) in refused {
                report.devices.push((
                    Address::new(account.clone(), device_id),
                    DeviceOutcome::Refused(why),
                ));
            }
            for device in trusted {
                let address = Address::new(account.clone(), device.device_id);
                if recipients.contains(&address) || address == self.local.address {
                    continue;
                }
                let (outcome, envelope) =
                    self.encrypt_for(directory, (&account, &device), &content, (message_id, now), rng);
                report.devices.push((address, outcome));
                report.envelopes.extend(envelope);
            }
        }
        sent.recipients
            .extend(report.envelopes.iter().map(|e| e.recipient.clone()));
        self.note_account_keys(&mut sent);
        self.store
            .save_sent_message(&message_id, &sent)
            .map_err(store_err)?;
        Ok(report)
    }

    /// The distribution id of `account`'s status broadcasts (derived from the account name, so
    /// every contact recognises them).
    pub fn status_id(account: &str) -> [u8; 16] {
        let digest = crate::crypto::sha256(&[b"tandem status broadcast", account.as_bytes()]);
        let mut id = [0u8; 16];
        id.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        id
    }

    /// Sets who sees our status updates. Removing someone rotates the status key.
    pub fn set_status_audience(&mut self, contacts: &[&str]) -> Result<(), ClientError> {
        let own = self.local.address.name.clone();
        let mut members: Vec<&str> = contacts.to_vec();
        members.push(&own);
        self.set_group_members(Self::status_id(&own), &members)
    }

    /// Posts a status update to the audience, through the same sender-key mechanism as groups.
    pub fn send_status<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        body: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        let id = Self::status_id(&self.local.address.name);
        self.send_group(directory, id, body, now, rng)
    }

    /// Whether `sender` may send on distribution id `group_id`: a member of that group, or the
    /// owner of that status broadcast.
    fn may_send_on(&self, sender: &str, group_id: &[u8; 16]) -> bool {
        self.groups
            .get(group_id)
            .is_some_and(|g| g.members.contains(sender))
            || &Self::status_id(sender) == group_id
    }

    /// Creates (or replaces the membership of) a group. Removing a member rotates our sender key
    /// before our next message.
    pub fn set_group_members(&mut self, group_id: [u8; 16], members: &[&str]) -> Result<(), ClientError> {
        let members: BTreeSet<String> = members.iter().map(|m| m.to_string()).collect();
        let group = self.groups.entry(group_id).or_default();
        if group.members.iter().any(|m| !members.contains(m)) {
            group.rotate = true;
        }
        group.members = members;
        self.in_step(|client| client.save_group(&group_id))
    }

    /// Sends `body` to a group: our sender key goes (in pairwise envelopes) only to member
    /// devices that lack it; the message is encrypted once and addressed to every member device.
    pub fn send_group<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        group_id: [u8; 16],
        body: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        self.in_step(|client| client.send_group_step(directory, group_id, (body, None), now, rng))
    }

    /// The body of [`Self::send_group`], inside one store step.
    fn send_group_step<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        group_id: [u8; 16],
        (body, attachment): (&[u8], Option<&[u8]>),
        now: u64,
        rng: &mut R,
    ) -> Result<SendReport, ClientError> {
        let members: Vec<String> = self
            .groups
            .get(&group_id)
            .ok_or(ClientError::UnknownGroup)?
            .members
            .iter()
            .cloned()
            .collect();
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let mut report = SendReport {
            message_id: id,
            envelopes: Vec::new(),
            devices: Vec::new(),
        };
        let mut targets: Vec<(String, TrustedDevice)> = Vec::new();
        for member in &members {
            let DeviceSet { trusted, refused } = self.refresh_devices(directory, member, now)?;
            for (device_id, why) in refused {
                report.devices.push((
                    Address::new(member.clone(), device_id),
                    DeviceOutcome::Refused(why),
                ));
            }
            for d in trusted {
                if !(member == &self.local.address.name && d.device_id == self.local.address.device_id) {
                    targets.push((member.clone(), d));
                }
            }
        }
        let target_keys: BTreeMap<Address, PublicKey> = targets
            .iter()
            .map(|(m, d)| (Address::new(m.clone(), d.device_id), d.identity_key))
            .collect();
        let group = self.groups.get_mut(&group_id).ok_or(ClientError::UnknownGroup)?;
        // Rotate when a member left or a device that holds our key is no longer a target.
        if group.rotate || group.has_key.iter().any(|(a, k)| target_keys.get(a) != Some(k)) {
            group::reset_own_sender_key(&mut self.store, &self.local.address, group_id).map_err(store_err)?;
            group.has_key.clear();
            group.rotate = false;
        }
        let lacking: Vec<(String, TrustedDevice)> = targets
            .iter()
            .filter(|(m, d)| {
                group.has_key.get(&Address::new(m.clone(), d.device_id)) != Some(&d.identity_key)
            })
            .cloned()
            .collect();
        let distribution =
            group::create_distribution_message(&mut self.store, &self.local.address, group_id, rng)
                .map_err(|e| store_err(format!("{e:?}")))?;
        let content = Content::Distribution {
            group_id,
            message: distribution.serialized().to_vec(),
        };
        let mut delivered_key = Vec::new();
        let mut new_sessions = BTreeSet::new();
        for (member, device) in &lacking {
            let (outcome, envelope) = self.encrypt_for(directory, (member, device), &content, (id, now), rng);
            if let Some(e) = envelope {
                report.envelopes.push(e);
                let address = Address::new(member.clone(), device.device_id);
                if outcome == DeviceOutcome::NewSession {
                    new_sessions.insert(address.clone());
                }
                delivered_key.push((address, device.identity_key));
            } else {
                report
                    .devices
                    .push((Address::new(member.clone(), device.device_id), outcome));
            }
        }
        if let Some(g) = self.groups.get_mut(&group_id) {
            g.has_key.extend(delivered_key);
        }
        self.save_group(&group_id)?;
        let message = DataMessage {
            id,
            timestamp: now,
            body: body.to_vec(),
            group_id: Some(group_id),
            attachment: attachment.map(<[u8]>::to_vec),
        };
        let sealed = group::encrypt(
            &mut self.store,
            &self.local.address,
            group_id,
            &pad(&Content::Data(message.clone()).encode()),
            rng,
        )
        .map_err(|e| store_err(format!("{e:?}")))?;
        let has_key = self
            .groups
            .get(&group_id)
            .map(|g| g.has_key.clone())
            .unwrap_or_default();
        for address in target_keys.into_keys().filter(|a| has_key.contains_key(a)) {
            let outcome = if new_sessions.contains(&address) {
                DeviceOutcome::NewSession
            } else {
                DeviceOutcome::Encrypted
            };
            report.devices.push((address.clone(), outcome));
            report.envelopes.push(Envelope {
                sender: self.local.address.clone(),
                recipient: address,
                kind: EnvelopeKind::SenderKey,
                message_id: id,
                timestamp: now,
                payload: sealed.serialized().to_vec(),
            });
        }
        self.remember(id, Conversation::Group(group_id), message, &report)?;
        Ok(report)
    }

    fn sender_is_trusted<D: Directory + ?Sized>(
        &mut self,
        directory: &D,
        sender: &Address,
        now: u64,
    ) -> Result<Option<TrustedDevice>, ReceiveFailure> {
        // Always against the directory's current list (re-verified only when it changed), so a
        // device unlinked since we last looked is no longer accepted.
        match self.refresh_devices(directory, &sender.name, now) {
            Ok(set) => Ok(set.trusted.into_iter().find(|t| t.device_id == sender.device_id)),
            Err(ClientError::Directory(e)) => Err(ReceiveFailure::Directory(e)),
            Err(_) => Ok(None),
        }
    }

    /// Receives one envelope and lets the application keep what it got in the same store step:
    /// `keep` runs after the decrypt and before the commit, with the receipt and the store (a
    /// `SqliteStore` application writes its own rows through [`SqliteStore::connection`], which
    /// are then committed in the same transaction). If `keep` fails, the whole step rolls back —
    /// the envelope was not read, and delivering it again decrypts it again — so a crash between
    /// decrypting and saving can lose nothing: either both are on disk or neither is.
    ///
    /// [`SqliteStore::connection`]: crate::store::SqliteStore::connection
    pub fn receive_with<D: Directory + ?Sized, R: CryptoRng + ?Sized, E>(
        &mut self,
        directory: &mut D,
        envelope: &Envelope,
        now: u64,
        rng: &mut R,
        keep: impl FnOnce(&Receipt, &mut S) -> Result<(), E>,
    ) -> Result<Receipt, ReceiveWithError<E>> {
        self.store
            .begin_step()
            .map_err(|e| ReceiveWithError::Store(e.to_string()))?;
        let receipt = self.receive_step(directory, envelope, now, rng);
        let kept = keep(&receipt, &mut self.store);
        let ended = self.store.end_step(kept.is_ok());
        if kept.is_err() || ended.is_err() {
            let _ = self.reload();
        }
        kept.map_err(ReceiveWithError::Keep)?;
        ended.map_err(|e| ReceiveWithError::Store(e.to_string()))?;
        Ok(receipt)
    }

    /// Receives one envelope addressed to this device.
    pub fn receive<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        envelope: &Envelope,
        now: u64,
        rng: &mut R,
    ) -> Receipt {
        if let Err(e) = self.store.begin_step() {
            return Receipt {
                received: Received::Failed(ReceiveFailure::Store(e.to_string())),
                replies: Vec::new(),
            };
        }
        let receipt = self.receive_step(directory, envelope, now, rng);
        match self.store.end_step(true) {
            Ok(()) => receipt,
            Err(e) => {
                let _ = self.reload();
                Receipt {
                    received: Received::Failed(ReceiveFailure::Store(e.to_string())),
                    replies: Vec::new(),
                }
            }
        }
    }

    /// The body of [`Self::receive`], inside one store step.
    fn receive_step<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        envelope: &Envelope,
        now: u64,
        rng: &mut R,
    ) -> Receipt {
        let mut replies = Vec::new();
        let received = self.receive_inner(directory, envelope, now, rng, &mut replies);
        Receipt { received, replies }
    }

    fn receive_inner<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        envelope: &Envelope,
        now: u64,
        rng: &mut R,
        replies: &mut Vec<Envelope>,
    ) -> Received {
        let sender = envelope.sender.clone();
        let device = match self.sender_is_trusted(directory, &sender, now) {
            Ok(Some(d)) => d,
            Ok(None) => return Received::Failed(ReceiveFailure::UnverifiedSender),
            Err(e) => return Received::Failed(e),
        };
        if envelope.kind == EnvelopeKind::RetryRequest {
            return self.serve_retry(directory, envelope, &device, now, rng, replies);
        }
        let plaintext = match envelope.kind {
            EnvelopeKind::SenderKey => {
                let allowed = SenderKeyMessage::parse(&envelope.payload)
                    .ok()
                    .is_some_and(|m| self.may_send_on(&sender.name, m.distribution_id()));
                if !allowed {
                    return Received::Failed(ReceiveFailure::NotAllowed);
                }
                let distribution = SenderKeyMessage::parse(&envelope.payload)
                    .ok()
                    .map(|m| *m.distribution_id());
                match group::decrypt(&mut self.store, &sender, &envelope.payload) {
                    Ok(p) => {
                        // The group a message claims must be the one whose key carried it.
                        let claimed = unpad(&p).ok().and_then(|c| Content::decode(c).ok());
                        match claimed {
                            Some(Content::Data(m)) if m.group_id.is_some() && m.group_id == distribution => {}
                            _ => return Received::Failed(ReceiveFailure::NotAllowed),
                        }
                        p
                    }
                    Err(group::GroupDecryptError::Duplicate) => {
                        // Older than our copy of the sender's chain: a replay of a message we
                        // showed, or one we never read because our copy of the chain began after
                        // it (a redistribution after a retry overtook it in flight). Only the
                        // first is a duplicate; the second is asked for again, pairwise.
                        if self.store.was_received(&sender.name, &envelope.message_id).ok() == Some(false) {
                            replies.extend(self.retry_request(envelope, now, rng));
                            return Received::Failed(ReceiveFailure::GroupDecrypt(
                                group::GroupDecryptError::Duplicate,
                            ));
                        }
                        return Received::Duplicate;
                    }
                    Err(e) => {
                        replies.extend(self.retry_request(envelope, now, rng));
                        return Received::Failed(ReceiveFailure::GroupDecrypt(e));
                    }
                }
            }
            _ => {
                // The session's identity must be the verified one; a verified new key (a
                // re-linked device) replaces the old.
                if self.store.identity(&sender).ok().flatten() != Some(device.identity_key) {
                    let _ = self.store.save_identity(&sender, &device.identity_key);
                }
                let result = if envelope.kind == EnvelopeKind::PreKey {
                    session::decrypt_prekey_message(&mut self.store, &sender, &envelope.payload, rng)
                } else {
                    session::decrypt_message(&mut self.store, &sender, &envelope.payload, rng)
                };
                match result {
                    Ok(p) => p,
                    Err(DecryptError::Duplicate) => return Received::Duplicate,
                    Err(e) => {
                        replies.extend(self.retry_request(envelope, now, rng));
                        return Received::Failed(ReceiveFailure::Decrypt(e));
                    }
                }
            }
        };
        let Ok(content) = unpad(&plaintext)
            .map_err(|_| ())
            .and_then(|p| Content::decode(p).map_err(|_| ()))
        else {
            return Received::Failed(ReceiveFailure::BadContent);
        };
        self.handle_content(sender, envelope.kind, content)
    }

    /// `Some(Duplicate)` if a message with this id from this account was shown already (a
    /// re-send after a retry, and a late original); otherwise remembers it and returns `None`.
    fn seen_before(&mut self, from: &Address, message: &DataMessage) -> Option<Received> {
        match self.store.was_received(&from.name, &message.id) {
            Ok(true) => Some(Received::Duplicate),
            Ok(false) => match self.store.remember_received(&from.name, &message.id) {
                Ok(()) => None,
                Err(e) => Some(Received::Failed(ReceiveFailure::Store(e.to_string()))),
            },
            Err(e) => Some(Received::Failed(ReceiveFailure::Store(e.to_string()))),
        }
    }

    fn handle_content(&mut self, from: Address, kind: EnvelopeKind, content: Content) -> Received {
        match content {
            Content::Data(message) => {
                if let Some(g) = message.group_id {
                    if !self.may_send_on(&from.name, &g) {
                        return Received::Failed(ReceiveFailure::NotAllowed);
                    }
                } else if kind == EnvelopeKind::SenderKey {
                    return Received::Failed(ReceiveFailure::NotAllowed);
                }
                if let Some(seen) = self.seen_before(&from, &message) {
                    return seen;
                }
                Received::Message { from, message }
            }
            Content::SentCopy { destination, message } => {
                if from.name != self.local.address.name || kind == EnvelopeKind::SenderKey {
                    return Received::Failed(ReceiveFailure::NotAllowed);
                }
                if let Some(seen) = self.seen_before(&from, &message) {
                    return seen;
                }
                let conversation = match message.group_id {
                    Some(g) => Conversation::Group(g),
                    None => Conversation::Direct(destination),
                };
                Received::SentCopy {
                    from,
                    conversation,
                    message,
                }
            }
            Content::Own(message) => {
                let own_account = from.name == self.local.address.name;
                // History and app-state keys come only from our primary, to a companion; chunk
                // requests only from a companion, to the primary.
                let we_are_primary = self.local.address.device_id == 0;
                let history_ok = match message {
                    SelfMessage::HistorySync(_) | SelfMessage::AppStateKeys(_) => {
                        from.device_id == 0 && !we_are_primary
                    }
                    SelfMessage::HistoryChunkRequest(_) => from.device_id != 0 && we_are_primary,
                    _ => true,
                };
                if !own_account || !history_ok || kind == EnvelopeKind::SenderKey {
                    return Received::Failed(ReceiveFailure::NotAllowed);
                }
                Received::FromOwnDevice { from, message }
            }
            Content::Distribution { group_id, message } => {
                let member = self.may_send_on(&from.name, &group_id);
                let parsed = crate::wire::SenderKeyDistributionMessage::parse(&message);
                match parsed {
                    Ok(m)
                        if member && kind != EnvelopeKind::SenderKey && m.distribution_id() == &group_id =>
                    {
                        if group::process_distribution_message(&mut self.store, &from, &m).is_err() {
                            return Received::Failed(ReceiveFailure::BadContent);
                        }
                        Received::GroupKey { from, group_id }
                    }
                    Ok(_) => Received::Failed(ReceiveFailure::NotAllowed),
                    Err(_) => Received::Failed(ReceiveFailure::BadContent),
                }
            }
        }
    }

    /// A retry request for an envelope we could not read: fresh key material (a new one-time
    /// prekey only for this), signed identity. At most `MAX_RETRIES` per message.
    fn retry_request<R: CryptoRng + ?Sized>(
        &mut self,
        failed: &Envelope,
        now: u64,
        rng: &mut R,
    ) -> Option<Envelope> {
        let (peer, id) = (&failed.sender, &failed.message_id);
        let asked = self.store.retry_count(RetryCounter::Asked, peer, id).ok()?;
        // Junk under random message ids must not make us mint prekeys without bound.
        if asked.is_none() && self.store.retry_count_len(RetryCounter::Asked).ok()? >= MAX_SENT_MESSAGES {
            return None;
        }
        let count = asked.unwrap_or(0);
        if count >= MAX_RETRIES {
            return None;
        }
        let retry_count = count + 1;
        self.store
            .save_retry_count(RetryCounter::Asked, peer, id, retry_count)
            .ok()?;
        let signed = self
            .store
            .signed_pre_key(self.local.signed_pre_key_id)
            .ok()
            .flatten()?;
        let one_time = PreKeyRecord::generate(self.local.next_pre_key_id, rng);
        self.local.next_pre_key_id += 1;
        let pre_key = (one_time.id, one_time.key_pair.public);
        self.store.save_pre_key(one_time).ok()?;
        self.save_local().ok()?;
        let request = RetryRequest {
            message_id: failed.message_id,
            retry_count,
            bundle: PreKeyBundle {
                registration_id: self.registration_id,
                device_id: self.local.address.device_id,
                pre_key: Some(pre_key),
                signed_pre_key_id: signed.id,
                signed_pre_key: signed.key_pair.public,
                signed_pre_key_signature: signed.signature.to_bytes().to_vec(),
                identity_key: self.identity.public,
            },
            signed_identity: self.signed_identity(),
        };
        Some(Envelope {
            sender: self.local.address.clone(),
            recipient: failed.sender.clone(),
            kind: EnvelopeKind::RetryRequest,
            message_id: failed.message_id,
            timestamp: now,
            payload: request.encode(),
        })
    }

    /// Serves a retry request from a verified device: a fresh session from the key material it
    /// sent, and the message re-encrypted for that device only.
    fn serve_retry<D: Directory + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        directory: &mut D,
        envelope: &Envelope,
        device: &TrustedDevice,
        now: u64,
        rng: &mut R,
        replies: &mut Vec<Envelope>,
    ) -> Received {
        let Ok(request) = RetryRequest::decode(&envelope.payload, envelope.sender.device_id) else {
            return Received::Failed(ReceiveFailure::BadRetry);
        };
        let Ok(served) = self
            .store
            .retry_count(RetryCounter::Served, &envelope.sender, &request.message_id)
        else {
            return Received::Failed(ReceiveFailure::Store("retry counter".into()));
        };
        let served = served.unwrap_or(0);
        if served >= MAX_RETRIES || request.message_id != envelope.message_id {
            return Received::Failed(ReceiveFailure::BadRetry);
        }
        // The key material must be the verified device's: its identity is vouched for by the
        // account (device list and signed identity); the bundle's signature is checked when the
        // session is built. Another key is the device as our (possibly stale) list does not know
        // it — a reinstalled device asking before the directory caught up: unverified, which is
        // transient; offered again once the list is fresh, it is served. Counted only after this
        // check, so re-offers do not use up the bound.
        if request.bundle.identity_key != device.identity_key {
            return Received::Failed(ReceiveFailure::UnverifiedSender);
        }
        if let Err(e) = self.store.save_retry_count(
            RetryCounter::Served,
            &envelope.sender,
            &request.message_id,
            served + 1,
        ) {
            return Received::Failed(ReceiveFailure::Store(e.to_string()));
        }
        let Some(sent) = self
            .store
            .sent_message(&request.message_id)
            .ok()
            .flatten()
            .filter(|m| {
                m.recipients.contains(&envelope.sender) && self.same_installation(m, &envelope.sender.name)
            })
            .map(|m| (m.conversation, m.message))
        else {
            // Not sent to that device, or sent to a previous installation of its account (a
            // reinstall since, whose new key we accepted): never re-encrypted to the new one.
            return Received::Failed(ReceiveFailure::BadRetry);
        };
        let to = envelope.sender.clone();
        if let DeviceOutcome::Failed(_) = self.build_session(&to, device, &request.bundle, rng) {
            return Received::Failed(ReceiveFailure::BadRetry);
        }
        let (conversation, message) = sent;
        let content = match (&conversation, to.name == self.local.address.name) {
            (Conversation::Direct(dest), true) => Content::SentCopy {
                destination: dest.clone(),
                message,
            },
            _ => Content::Data(message),
        };
        if let Conversation::Group(g) = &conversation {
            // It lacked our sender key: it gets the current one with our next group message.
            if let Some(group) = self.groups.get_mut(g) {
                group.has_key.remove(&to);
            }
            if let Err(e) = self.save_group(g) {
                return Received::Failed(ReceiveFailure::Store(e.to_string()));
            }
        }
        let (_, reply) = self.encrypt_for(
            directory,
            (&to.name.clone(), device),
            &content,
            (request.message_id, now),
            rng,
        );
        replies.extend(reply);
        Received::RetryServed {
            to,
            message_id: request.message_id,
        }
    }
}

#[cfg(test)]
mod tests;
