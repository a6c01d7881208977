//! The app-state keys a device holds: several by id, the newest used for sending, older ones
//! still opening what was made with them until their epoch is expired.
//!
//! Keys rotate when a device is unlinked (the unlinked device still holds the old keys): the
//! device that rotates mints a key at the next epoch and shares it with the remaining own
//! devices; once every live value has been re-written under it ([`super::AppStateSync::rekey`]),
//! [`AppStateKeyRing::expire_through`] retires every key with an epoch up to the old one. An
//! expired key is forgotten (zeroized), its id refused as [`ApplyError::ExpiredKey`], and a share
//! of it is not taken back.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::keys::{AppStateKey, AppStateKeyId, MutationKeys};
use super::{ApplyError, KeyRingError, ParseError};
use crate::crypto::Secret;

/// The highest epoch drawn for a first key (WhatsApp draws 1..=65536, per a secondary source).
pub const FIRST_EPOCH_RANGE: u32 = 65_536;

/// The most keys a persisted ring may hold (a bound on parsing, far above real use).
const MAX_KEYS: usize = 4096;

/// Several app-state keys by id.
#[derive(Clone, Default)]
pub struct AppStateKeyRing {
    keys: BTreeMap<AppStateKeyId, (AppStateKey, MutationKeys)>,
    expired_through: Option<u32>,
}

impl core::fmt::Debug for AppStateKeyRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppStateKeyRing")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("expired_through", &self.expired_through)
            .finish()
    }
}

impl AppStateKeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key. `Ok(true)` if it is new, `Ok(false)` if the same key was already held.
    pub fn insert(&mut self, key: AppStateKey) -> Result<bool, KeyRingError> {
        let id = key.id();
        if self.expired_through.is_some_and(|e| id.epoch() <= e) {
            return Err(KeyRingError::Expired(id));
        }
        if let Some((held, _)) = self.keys.get(&id) {
            return if held.data() == key.data() {
                Ok(false)
            } else {
                Err(KeyRingError::Conflict(id))
            };
        }
        let expanded = key.expand();
        self.keys.insert(id, (key, expanded));
        Ok(true)
    }

    /// The key with this id, if held.
    pub fn get(&self, id: &AppStateKeyId) -> Option<&AppStateKey> {
        self.keys.get(id).map(|(k, _)| k)
    }

    /// Every key held, by id.
    pub fn keys(&self) -> impl Iterator<Item = &AppStateKey> {
        self.keys.values().map(|(k, _)| k)
    }

    /// Whether the id's epoch has been expired.
    pub fn is_expired(&self, id: &AppStateKeyId) -> bool {
        self.expired_through.is_some_and(|e| id.epoch() <= e)
    }

    /// The highest expired epoch, if any.
    pub fn expired_through(&self) -> Option<u32> {
        self.expired_through
    }

    /// The expanded keys for an id: [`ApplyError::ExpiredKey`] or [`ApplyError::UnknownKey`]
    /// if there are none.
    pub fn mutation_keys(&self, id: &AppStateKeyId) -> Result<&MutationKeys, ApplyError> {
        if self.is_expired(id) {
            return Err(ApplyError::ExpiredKey(*id));
        }
        self.keys
            .get(id)
            .map(|(_, k)| k)
            .ok_or(ApplyError::UnknownKey(*id))
    }

    /// The key to send with: the highest epoch (then the highest device id).
    pub fn sending_key(&self) -> Option<&AppStateKey> {
        self.keys
            .values()
            .map(|(k, _)| k)
            .max_by_key(|k| (k.id().epoch(), k.id().device_id()))
    }

    /// Mints the next key for `device_id`: the epoch after the highest held or expired, or a
    /// random epoch in 1..=65536 for a ring that never held one. The caller shares it with the
    /// account's other devices.
    pub fn rotate<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        device_id: u16,
        timestamp_ms: i64,
    ) -> Result<AppStateKey, KeyRingError> {
        let highest = self
            .keys
            .keys()
            .map(AppStateKeyId::epoch)
            .chain(self.expired_through)
            .max();
        let epoch = match highest {
            Some(e) => e.checked_add(1).ok_or(KeyRingError::EpochOverflow)?,
            None => {
                let mut b = [0u8; 4];
                rng.fill_bytes(&mut b);
                1 + u32::from_be_bytes(b) % FIRST_EPOCH_RANGE
            }
        };
        let key = AppStateKey::generate(rng, device_id, epoch, timestamp_ms);
        self.insert(key.clone())?;
        Ok(key)
    }

    /// Expires every key with an epoch up to `epoch` (keys are dropped and zeroized). An
    /// expiry never moves back.
    pub fn expire_through(&mut self, epoch: u32) {
        let through = self.expired_through.map_or(epoch, |e| e.max(epoch));
        self.expired_through = Some(through);
        self.keys.retain(|id, _| id.epoch() > through);
    }

    /// The ring as bytes for the device's store (secret: zeroized on drop).
    ///
    /// `0x01 ‖ expired (0x00, or 0x01 ‖ u32BE epoch) ‖ u32BE count ‖ count × (id(6) ‖ key(32) ‖
    /// i64BE timestamp)`, keys in id order.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(10 + self.keys.len() * 46));
        out.push(1);
        match self.expired_through {
            None => out.push(0),
            Some(e) => {
                out.push(1);
                out.extend_from_slice(&e.to_be_bytes());
            }
        }
        out.extend_from_slice(&u32::try_from(self.keys.len()).unwrap_or(u32::MAX).to_be_bytes());
        for (key, _) in self.keys.values() {
            out.extend_from_slice(key.id().as_bytes());
            out.extend_from_slice(key.data().expose());
            out.extend_from_slice(&key.timestamp_ms().to_be_bytes());
        }
        out
    }

    /// Parses [`Self::to_bytes`] strictly: ids ascending, none expired, no trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader(bytes);
        if r.take::<1>()? != [1] {
            return Err(ParseError::Malformed);
        }
        let expired_through = match r.take::<1>()? {
            [0] => None,
            [1] => Some(u32::from_be_bytes(r.take()?)),
            _ => return Err(ParseError::Malformed),
        };
        let count = usize::try_from(u32::from_be_bytes(r.take()?)).map_err(|_| ParseError::Malformed)?;
        if count > MAX_KEYS {
            return Err(ParseError::Malformed);
        }
        let mut ring = Self {
            keys: BTreeMap::new(),
            expired_through,
        };
        let mut last: Option<AppStateKeyId> = None;
        for _ in 0..count {
            let id = AppStateKeyId::from_bytes(r.take()?);
            let data = Secret::new(r.take::<32>()?);
            let ts = i64::from_be_bytes(r.take()?);
            if last.is_some_and(|l| l >= id) || ring.is_expired(&id) {
                return Err(ParseError::Malformed);
            }
            last = Some(id);
            ring.insert(AppStateKey::new(id, data, ts))
                .map_err(|_| ParseError::Malformed)?;
        }
        if !r.0.is_empty() {
            return Err(ParseError::Malformed);
        }
        Ok(ring)
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(ParseError::Malformed)?;
        self.0 = rest;
        head.try_into().map_err(|_| ParseError::Malformed)
    }
}
