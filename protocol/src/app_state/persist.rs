//! A collection's state as bytes, for the device's store and for backups.
//!
//! ```text
//! state = 0x02                              format version
//!       ‖ u8 name length ‖ name             e.g. "regular_high"
//!       ‖ u64BE version ‖ ltHash(128)
//!       ‖ key epoch                         0x00 (none), or 0x01 ‖ u32BE epoch
//!       ‖ u32BE count ‖ count × entry       entries in ascending index-MAC order
//! entry = indexMAC(32) ‖ valueMAC(32) ‖ keyID(6) ‖ u32BE length ‖ SyncActionData protobuf
//! ```
//!
//! Format 1 (the same without the key epoch) is still read; its key epoch is taken as the
//! newest epoch among its entries' keys.
//!
//! Nothing here is secret beyond what the device shows its user (the decrypted values); no key
//! is stored. Reading is strict: unknown collection, entries out of order or repeated, a
//! plaintext that is not the canonical protobuf encoding (as written) or whose index is not a
//! JSON array of strings, trailing bytes, and an LTHash that is not the sum of the entries'
//! value MACs are all refused.

use std::collections::BTreeMap;

use prost::Message;

use super::index::parse_index;
use super::value::SyncActionData;
use super::{AppStateKeyId, CollectionName, CollectionState, Entry, LtHash, MAX_RECORDS, ParseError};

/// The largest persisted plaintext of one entry.
const MAX_ENTRY_DATA: usize = 1 << 20;

impl CollectionState {
    /// The state as bytes (layout in the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let name = self.name.as_str().as_bytes();
        let mut out = Vec::with_capacity(1 + 1 + name.len() + 8 + 128 + 4 + self.entries.len() * 128);
        out.push(2);
        out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(name);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(self.lthash.as_bytes());
        match self.key_epoch {
            None => out.push(0),
            Some(e) => {
                out.push(1);
                out.extend_from_slice(&e.to_be_bytes());
            }
        }
        out.extend_from_slice(
            &u32::try_from(self.entries.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for (mac, e) in &self.entries {
            out.extend_from_slice(mac);
            out.extend_from_slice(&e.value_mac);
            out.extend_from_slice(e.key_id.as_bytes());
            let data = e.data.encode_to_vec();
            out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(&data);
        }
        out
    }

    /// Parses [`Self::to_bytes`] strictly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader(bytes);
        let [format] = r.take::<1>()?;
        if format != 1 && format != 2 {
            return Err(ParseError::Malformed);
        }
        let name = r.collection_name()?;
        let version = u64::from_be_bytes(r.take()?);
        let lthash = LtHash::from_bytes(r.take()?);
        let stored_epoch = if format == 1 {
            None
        } else {
            match r.take::<1>()? {
                [0] => None,
                [1] => Some(u32::from_be_bytes(r.take()?)),
                _ => return Err(ParseError::Malformed),
            }
        };
        let count = usize::try_from(u32::from_be_bytes(r.take()?)).map_err(|_| ParseError::Malformed)?;
        if count > MAX_RECORDS {
            return Err(ParseError::Malformed);
        }
        let mut entries = BTreeMap::new();
        let mut last: Option<[u8; 32]> = None;
        for _ in 0..count {
            let index_mac: [u8; 32] = r.take()?;
            if last.is_some_and(|l| l >= index_mac) {
                return Err(ParseError::Malformed);
            }
            last = Some(index_mac);
            let value_mac = r.take()?;
            let key_id = AppStateKeyId::from_bytes(r.take()?);
            let (data, index) = r.action_data()?;
            entries.insert(
                index_mac,
                Entry {
                    value_mac,
                    key_id,
                    index,
                    data,
                },
            );
        }
        if !r.0.is_empty() {
            return Err(ParseError::Malformed);
        }
        let key_epoch = if format == 1 {
            entries.values().map(|e| e.key_id.epoch()).max()
        } else {
            stored_epoch
        };
        let state = Self {
            name,
            version,
            lthash,
            key_epoch,
            entries,
        };
        if state.recomputed_lthash() != state.lthash {
            return Err(ParseError::Malformed);
        }
        Ok(state)
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    /// `u8 length ‖ name` of a known collection.
    fn collection_name(&mut self) -> Result<CollectionName, ParseError> {
        let [len] = self.take::<1>()?;
        core::str::from_utf8(self.slice(usize::from(len))?)
            .ok()
            .and_then(CollectionName::parse)
            .ok_or(ParseError::Malformed)
    }

    /// `u32BE length ‖ SyncActionData`: at most 1 MiB, only the canonical encoding (what
    /// `encode_to_vec` writes: no unknown or repeated fields, no padded varints, so nothing
    /// read is silently dropped), with a non-empty JSON index; the data and the parsed index.
    fn action_data(&mut self) -> Result<(SyncActionData, Vec<String>), ParseError> {
        let len = usize::try_from(u32::from_be_bytes(self.take()?)).map_err(|_| ParseError::Malformed)?;
        if len > MAX_ENTRY_DATA {
            return Err(ParseError::Malformed);
        }
        let raw = self.slice(len)?;
        let data = SyncActionData::decode(raw).map_err(|_| ParseError::Malformed)?;
        if data.encode_to_vec() != raw {
            return Err(ParseError::Malformed);
        }
        let index = data
            .index
            .as_deref()
            .and_then(parse_index)
            .filter(|i| !i.is_empty())
            .ok_or(ParseError::Malformed)?;
        Ok((data, index))
    }
}

impl<'a> Reader<'a> {
    fn slice(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(ParseError::Malformed)?;
        self.0 = rest;
        Ok(head)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        self.slice(N)?.try_into().map_err(|_| ParseError::Malformed)
    }
}

/// The pending (not yet pushed) mutations as bytes, so that a change made on the device
/// survives a restart before it reaches the server:
///
/// ```text
/// pending  = 0x01 ‖ u32BE count ‖ count × mutation      collections in sync order, queue order
/// mutation = u8 name length ‖ name ‖ u8 operation (0 SET, 1 REMOVE)
///          ‖ u32BE length ‖ SyncActionData protobuf (canonical: index JSON, value, version)
/// ```
pub(crate) fn pending_to_bytes<'a>(
    pending: impl Iterator<Item = (CollectionName, &'a [super::Mutation])>,
) -> Vec<u8> {
    let mut body = Vec::new();
    let mut count: u32 = 0;
    for (name, mutations) in pending {
        for m in mutations {
            let name = name.as_str().as_bytes();
            body.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            body.extend_from_slice(name);
            body.push(match m.operation {
                super::Operation::Set => 0,
                super::Operation::Remove => 1,
            });
            let data = m.to_data().encode_to_vec();
            body.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
            body.extend_from_slice(&data);
            count = count.saturating_add(1);
        }
    }
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(1);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Parses [`pending_to_bytes`] strictly: known collections in sync order, each mutation within the index
/// bounds and (if tandem knows its index) in the collection it names, at most one pending
/// mutation per index and collection, canonical plaintext with an index, a value and a version,
/// no trailing bytes.
pub(crate) fn pending_from_bytes(bytes: &[u8]) -> Result<Vec<(CollectionName, super::Mutation)>, ParseError> {
    let mut r = Reader(bytes);
    if r.take::<1>()? != [1] {
        return Err(ParseError::Malformed);
    }
    let count = usize::try_from(u32::from_be_bytes(r.take()?)).map_err(|_| ParseError::Malformed)?;
    if count > MAX_RECORDS {
        return Err(ParseError::Malformed);
    }
    let mut out: Vec<(CollectionName, super::Mutation)> = Vec::new();
    let position = |n: CollectionName| CollectionName::ALL.iter().position(|c| *c == n);
    for _ in 0..count {
        let name = r.collection_name()?;
        let operation = match r.take::<1>()? {
            [0] => super::Operation::Set,
            [1] => super::Operation::Remove,
            _ => return Err(ParseError::Malformed),
        };
        let (data, index) = r.action_data()?;
        let (Some(index_json), Some(value), Some(version)) = (&data.index, &data.value, data.version) else {
            return Err(ParseError::Malformed);
        };
        let mutation = super::Mutation {
            operation,
            index,
            value: value.clone(),
            version,
        };
        // As `AppStateSync::queue_in` would have taken it, and written back as read.
        let canonical = mutation.index_json() == *index_json;
        let placed = mutation.collection().is_none_or(|c| c == name);
        let repeated = out.iter().any(|(n, m)| *n == name && m.index == mutation.index);
        let in_order = out
            .last()
            .is_none_or(|(last, _)| position(*last) <= position(name));
        if !mutation.index_ok() || !canonical || !placed || repeated || !in_order {
            return Err(ParseError::Malformed);
        }
        out.push((name, mutation));
    }
    if !r.0.is_empty() {
        return Err(ParseError::Malformed);
    }
    Ok(out)
}
