//! An in-memory server: directory (device lists, identities, prekeys) and per-device queues.
//! Used by tests and the demo, behind the same [`Directory`] trait a real server implements.
//! It trusts nothing and checks nothing, like a server the clients do not trust.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::directory::{AccountDevices, Directory, DirectoryError};
use super::envelope::Envelope;
use crate::account::DirectoryDevice;
use crate::address::Address;
use crate::crypto::PublicKey;
use crate::session::PreKeyBundle;

/// What a device publishes about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceUpload {
    /// The device.
    pub address: Address,
    /// Its registration id.
    pub registration_id: u32,
    /// Its identity key.
    pub identity_key: PublicKey,
    /// Its signed prekey: id, key, signature by the identity key.
    pub signed_pre_key: (u32, PublicKey, Vec<u8>),
    /// One-time prekeys to hand out, each once.
    pub one_time_pre_keys: Vec<(u32, PublicKey)>,
    /// Its signed device identity (companions).
    pub signed_identity: Option<Vec<u8>>,
}

/// The in-memory server.
#[derive(Debug, Default)]
pub struct MemoryRelay {
    lists: HashMap<String, Vec<u8>>,
    devices: HashMap<String, BTreeMap<u32, DeviceUpload>>,
    queues: HashMap<Address, VecDeque<Envelope>>,
    delivered: u64,
}

impl MemoryRelay {
    /// An empty server.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes (or replaces) a device's keys.
    pub fn upload_device(&mut self, upload: DeviceUpload) {
        self.devices
            .entry(upload.address.name.clone())
            .or_default()
            .insert(upload.address.device_id, upload);
    }

    /// Adds one-time prekeys to a device's stock.
    pub fn add_pre_keys(&mut self, device: &Address, keys: &[(u32, PublicKey)]) {
        if let Some(d) = self
            .devices
            .get_mut(&device.name)
            .and_then(|a| a.get_mut(&device.device_id))
        {
            d.one_time_pre_keys.extend_from_slice(keys);
        }
    }

    /// Forgets a device (unlinked) and its queue.
    pub fn remove_device(&mut self, device: &Address) {
        if let Some(a) = self.devices.get_mut(&device.name) {
            a.remove(&device.device_id);
        }
        self.queues.remove(device);
    }

    /// Forgets every device of an account (the primary re-registers).
    pub fn remove_account(&mut self, account: &str) {
        self.devices.remove(account);
        self.lists.remove(account);
        self.queues.retain(|a, _| a.name != account);
    }

    /// Publishes an account's signed device list.
    pub fn set_device_list(&mut self, account: &str, signed_list: &[u8]) {
        self.lists.insert(account.to_string(), signed_list.to_vec());
    }

    /// Queues envelopes for their recipients.
    pub fn post(&mut self, envelopes: impl IntoIterator<Item = Envelope>) {
        for e in envelopes {
            self.queues.entry(e.recipient.clone()).or_default().push_back(e);
        }
    }

    /// Takes everything queued for a device, oldest first.
    pub fn fetch(&mut self, device: &Address) -> Vec<Envelope> {
        let out: Vec<Envelope> = self.queues.remove(device).map(Vec::from).unwrap_or_default();
        self.delivered += out.len() as u64;
        out
    }

    /// How many envelopes are waiting for a device.
    pub fn pending(&self, device: &Address) -> usize {
        self.queues.get(device).map_or(0, VecDeque::len)
    }

    /// Envelopes handed out so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

impl Directory for MemoryRelay {
    fn devices(&self, account: &str) -> Result<AccountDevices, DirectoryError> {
        let signed_list = self.lists.get(account).ok_or(DirectoryError::NotFound)?.clone();
        let devices = self
            .devices
            .get(account)
            .map(|a| {
                a.values()
                    .map(|d| DirectoryDevice {
                        device_id: d.address.device_id,
                        identity_key: d.identity_key,
                        signed_identity: d.signed_identity.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(AccountDevices { signed_list, devices })
    }

    fn prekey_bundle(&mut self, device: &Address) -> Result<PreKeyBundle, DirectoryError> {
        let d = self
            .devices
            .get_mut(&device.name)
            .and_then(|a| a.get_mut(&device.device_id))
            .ok_or(DirectoryError::NotFound)?;
        let pre_key = if d.one_time_pre_keys.is_empty() {
            None
        } else {
            Some(d.one_time_pre_keys.remove(0))
        };
        Ok(PreKeyBundle {
            registration_id: d.registration_id,
            device_id: device.device_id,
            pre_key,
            signed_pre_key_id: d.signed_pre_key.0,
            signed_pre_key: d.signed_pre_key.1,
            signed_pre_key_signature: d.signed_pre_key.2.clone(),
            identity_key: d.identity_key,
        })
    }
}
