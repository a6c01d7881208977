//! The app-state keys a device holds: several by id, the newest unexpired one used for sending,
//! older ones still opening what was made with them.
//!
//! Keys rotate when a device is unlinked (the unlinked device still holds the old keys): the
//! device that rotates mints a key at the next epoch and shares it with the remaining own
//! devices, and [`AppStateKeyRing::expire_through`] retires every key with an epoch up to the
//! old one. Retiring is in two stages, because a collection's log may still hold patches under
//! the old key that every device must apply alike (spec 08.7):
//!
//! - **expired**: never sent with again, and a snapshot under it is refused; the key is kept to
//!   open what was written under it before each collection moved on to a newer key;
//! - **forgotten** ([`AppStateKeyRing::forget_through`], which
//!   [`super::AppStateSync::forget_expired_keys`] calls once no collection can need the key):
//!   dropped and zeroized; its id is refused as [`ApplyError::ExpiredKey`] and a share of it is
//!   not taken back.

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
    forgotten_through: Option<u32>,
}

impl core::fmt::Debug for AppStateKeyRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppStateKeyRing")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("expired_through", &self.expired_through)
            .field("forgotten_through", &self.forgotten_through)
            .finish()
    }
}

impl AppStateKeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key. `Ok(true)` if it is new, `Ok(false)` if the same key was already held. A key
    /// of an expired epoch is taken (a device that joins late may still need it to open older
    /// patches); one of a forgotten epoch is refused.
    pub fn insert(&mut self, key: AppStateKey) -> Result<bool, KeyRingError> {
        let id = key.id();
        if self.is_forgotten(&id) {
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

    /// Whether the id's epoch has been expired (forgotten ones included).
    pub fn is_expired(&self, id: &AppStateKeyId) -> bool {
        self.expired_through.is_some_and(|e| id.epoch() <= e)
    }

    /// Whether the id's epoch has been forgotten (its keys dropped).
    pub fn is_forgotten(&self, id: &AppStateKeyId) -> bool {
        self.forgotten_through.is_some_and(|e| id.epoch() <= e)
    }

    /// The highest expired epoch, if any.
    pub fn expired_through(&self) -> Option<u32> {
        self.expired_through
    }

    /// The highest forgotten epoch, if any (never above [`Self::expired_through`]).
    pub fn forgotten_through(&self) -> Option<u32> {
        self.forgotten_through
    }

    /// The expanded keys for a held id (expired or not): [`ApplyError::ExpiredKey`] for a
    /// forgotten epoch, [`ApplyError::UnknownKey`] for an id never held.
    pub fn mutation_keys(&self, id: &AppStateKeyId) -> Result<&MutationKeys, ApplyError> {
        if let Some((_, k)) = self.keys.get(id) {
            return Ok(k);
        }
        if self.is_forgotten(id) {
            return Err(ApplyError::ExpiredKey(*id));
        }
        Err(ApplyError::UnknownKey(*id))
    }

    /// The key to send with: the highest unexpired epoch (then the highest device id).
    pub fn sending_key(&self) -> Option<&AppStateKey> {
        self.keys
            .values()
            .map(|(k, _)| k)
            .filter(|k| !self.is_expired(&k.id()))
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

    /// Expires every key with an epoch up to `epoch`: none of them is sent with again, and a
    /// snapshot under one is refused; they still open patches and records until forgotten. An
    /// expiry never moves back.
    pub fn expire_through(&mut self, epoch: u32) {
        let through = self.expired_through.map_or(epoch, |e| e.max(epoch));
        self.expired_through = Some(through);
    }

    /// Forgets (drops and zeroizes) every key with an epoch up to `epoch`, at most the expired
    /// epoch; a forgotten id is refused as [`ApplyError::ExpiredKey`] from then on. Returns how
    /// many keys were dropped. Call it when no collection can need them
    /// ([`super::AppStateSync::forget_expired_keys`] decides that).
    pub fn forget_through(&mut self, epoch: u32) -> usize {
        let Some(expired) = self.expired_through else {
            return 0;
        };
        let epoch = epoch.min(expired);
        if self.forgotten_through.is_some_and(|f| f >= epoch) {
            return 0;
        }
        self.forgotten_through = Some(epoch);
        let before = self.keys.len();
        self.keys.retain(|id, _| id.epoch() > epoch);
        before - self.keys.len()
    }

    /// The ring as bytes for the device's store (secret: zeroized on drop).
    ///
    /// `0x02 ‖ expired ‖ forgotten ‖ u32BE count ‖ count × (id(6) ‖ key(32) ‖ i64BE timestamp)`,
    /// `expired` and `forgotten` each `0x00` (none) or `0x01 ‖ u32BE epoch`, keys in id order.
    /// Format 1 (`0x01 ‖ expired ‖ count ‖ keys`, from before expired keys were kept) is still
    /// read, as a ring whose expired keys were all forgotten.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(14 + self.keys.len() * 46));
        out.push(2);
        for epoch in [self.expired_through, self.forgotten_through] {
            match epoch {
                None => out.push(0),
                Some(e) => {
                    out.push(1);
                    out.extend_from_slice(&e.to_be_bytes());
                }
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

    /// Parses [`Self::to_bytes`] strictly: ids ascending, none forgotten, the forgotten epoch
    /// at most the expired one, no trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader(bytes);
        let format = r.take::<1>()?;
        if format != [1] && format != [2] {
            return Err(ParseError::Malformed);
        }
        let expired_through = r.optional_epoch()?;
        let forgotten_through = if format == [1] {
            expired_through
        } else {
            r.optional_epoch()?
        };
        let consistent = match (expired_through, forgotten_through) {
            (_, None) => true,
            (Some(e), Some(f)) => f <= e,
            (None, Some(_)) => false,
        };
        if !consistent {
            return Err(ParseError::Malformed);
        }
        let count = usize::try_from(u32::from_be_bytes(r.take()?)).map_err(|_| ParseError::Malformed)?;
        if count > MAX_KEYS {
            return Err(ParseError::Malformed);
        }
        let mut ring = Self {
            keys: BTreeMap::new(),
            expired_through,
            forgotten_through,
        };
        let mut last: Option<AppStateKeyId> = None;
        for _ in 0..count {
            let id = AppStateKeyId::from_bytes(r.take()?);
            let data = Secret::new(r.take::<32>()?);
            let ts = i64::from_be_bytes(r.take()?);
            if last.is_some_and(|l| l >= id) || ring.is_forgotten(&id) {
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
    /// `0x00` (none) or `0x01 ‖ u32BE epoch`.
    fn optional_epoch(&mut self) -> Result<Option<u32>, ParseError> {
        match self.take::<1>()? {
            [0] => Ok(None),
            [1] => Ok(Some(u32::from_be_bytes(self.take()?))),
            _ => Err(ParseError::Malformed),
        }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(ParseError::Malformed)?;
        self.0 = rest;
        head.try_into().map_err(|_| ParseError::Malformed)
    }
}
