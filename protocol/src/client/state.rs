//! What a client keeps beyond the protocol records, so a device restarted from its store carries
//! on where it stopped: its own role and counters, what it knows of other accounts' devices, its
//! groups, and the messages it sent (to serve retries) with the retry counters.
//!
//! One narrow store trait per concern, like the protocol stores; each record has one storage
//! encoding (the client-state section of `wire.proto`), decoded as strictly as the others (see
//! [`crate::store::serialize`]). The client writes these inside the same store step as the
//! protocol records a send or receive changes, so they commit or roll back together.

use std::collections::{BTreeMap, BTreeSet};

use zeroize::Zeroizing;

use super::Conversation;
use super::content::DataMessage;
use crate::account::TrustedDevice;
use crate::address::Address;
use crate::crypto::PublicKey;
use crate::linking::{LinkedDevice, PrimaryAccount};
use crate::store::StoreError;
use crate::store::serialize::{RecordError, decode_canonical, public_key, required};
use crate::wire::proto::{
    AccountKeyRecordProto, AddressRecordProto, GroupRecordProto, KeyHolderRecordProto,
    KnownAccountRecordProto, LocalDeviceRecordProto, SentMessageRecordProto, TrustedDeviceRecordProto,
};
use prost::Message;

/// The client-state record format version this build writes (and the only one it reads).
const CLIENT_RECORD_VERSION: u32 = 1;

/// What this device is in its account.
#[derive(Debug)]
pub enum DeviceRole {
    /// The primary: holds the account key, links and unlinks companions.
    Primary(Box<PrimaryAccount>),
    /// A linked companion.
    Companion(Box<LinkedDevice>),
}

/// This device: its address, role and counters.
#[derive(Debug)]
pub struct LocalDeviceRecord {
    /// Our address.
    pub address: Address,
    /// Primary or companion, with the state that goes with it (private keys: keep it sealed).
    pub role: DeviceRole,
    /// The signed prekey in use.
    pub signed_pre_key_id: u32,
    /// The next one-time prekey id to mint.
    pub next_pre_key_id: u32,
    /// How long a device list stays valid.
    pub device_list_lifetime_ms: u64,
}

/// What we know of one account's devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownAccountRecord {
    /// The account key (trusted on first use, or accepted after a change).
    pub account_key: PublicKey,
    /// The newest device list it signed that we verified, as served.
    pub device_list: Option<Vec<u8>>,
    /// Its devices we trusted at the last refresh (their sessions go when they leave).
    pub trusted: Vec<TrustedDevice>,
}

/// One group (or status audience) as this device keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupRecord {
    /// The member accounts.
    pub members: BTreeSet<String>,
    /// Devices that hold our current sender key, with the identity key each had then.
    pub has_key: BTreeMap<Address, PublicKey>,
    /// A member left: our sender key rotates before our next message.
    pub rotate: bool,
}

/// A message we sent, kept to re-send it to a device that asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessageRecord {
    /// Where it went.
    pub conversation: Conversation,
    /// The message.
    pub message: DataMessage,
    /// The devices it was encrypted to.
    pub recipients: BTreeSet<Address>,
    /// For a group message, the group's members when it was sent: a re-send goes only to those
    /// still members (never to members added since). Empty for 1:1 messages.
    pub members: BTreeSet<String>,
    /// The account key we held for each account it was encrypted to: a re-send or a served
    /// retry goes only to the installation it was sent to, never to a later one (spec 05.7).
    pub account_keys: BTreeMap<String, PublicKey>,
}

/// Which retry counter: requests we made, or requests we served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RetryCounter {
    /// Retry requests we sent for a message we could not read.
    Asked,
    /// Retry requests from others that we served.
    Served,
}

/// This device's own record.
pub trait LocalDeviceStore {
    /// The record, if one was saved.
    fn local_device(&self) -> Result<Option<LocalDeviceRecord>, StoreError>;
    /// Saves the record (replacing the previous one).
    fn save_local_device(&mut self, record: &LocalDeviceRecord) -> Result<(), StoreError>;
}

/// Other accounts' keys and device lists.
pub trait DeviceListStore {
    /// What we know of `account`.
    fn known_account(&self, account: &str) -> Result<Option<KnownAccountRecord>, StoreError>;
    /// Saves what we know of `account`.
    fn save_known_account(&mut self, account: &str, record: &KnownAccountRecord) -> Result<(), StoreError>;
    /// Every account we know.
    fn known_accounts(&self) -> Result<Vec<(String, KnownAccountRecord)>, StoreError>;
}

/// Groups: membership and who holds our sender key.
pub trait GroupStore {
    /// The group, if we know it.
    fn group(&self, group_id: &[u8; 16]) -> Result<Option<GroupRecord>, StoreError>;
    /// Saves the group.
    fn save_group(&mut self, group_id: &[u8; 16], record: &GroupRecord) -> Result<(), StoreError>;
    /// Every group.
    fn groups(&self) -> Result<Vec<([u8; 16], GroupRecord)>, StoreError>;
}

/// Sent messages (for retries) and retry counters.
///
/// A store keeps at most [`MAX_SENT_MESSAGES`](crate::consts::MAX_SENT_MESSAGES) sent messages:
/// saving a new one beyond that drops the one saved first; saving one again (new recipients)
/// keeps its place.
pub trait SentMessageStore {
    /// The sent message with this id, if still held.
    fn sent_message(&self, message_id: &[u8; 16]) -> Result<Option<SentMessageRecord>, StoreError>;
    /// Saves a sent message.
    fn save_sent_message(
        &mut self,
        message_id: &[u8; 16],
        record: &SentMessageRecord,
    ) -> Result<(), StoreError>;
    /// The counter for (`peer`, `message_id`), if it was ever set.
    fn retry_count(
        &self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
    ) -> Result<Option<u32>, StoreError>;
    /// Sets the counter for (`peer`, `message_id`).
    fn save_retry_count(
        &mut self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
        count: u32,
    ) -> Result<(), StoreError>;
    /// How many (peer, message) pairs have this counter.
    fn retry_count_len(&self, counter: RetryCounter) -> Result<usize, StoreError>;
}

/// The ids of messages this device has shown, per sender account (at most
/// [`MAX_RECEIVED_MESSAGE_IDS`](crate::consts::MAX_RECEIVED_MESSAGE_IDS): remembering one more
/// drops the one remembered first).
pub trait ReceivedMessageStore {
    /// Whether a message with this id from this account was shown already.
    fn was_received(&self, sender_account: &str, message_id: &[u8; 16]) -> Result<bool, StoreError>;
    /// Remembers that it was.
    fn remember_received(&mut self, sender_account: &str, message_id: &[u8; 16]) -> Result<(), StoreError>;
}

// ---- Encodings ----

/// Encodes this device's record (holds private keys).
pub fn encode_local_device(record: &LocalDeviceRecord) -> Zeroizing<Vec<u8>> {
    let (primary, companion) = match &record.role {
        DeviceRole::Primary(p) => (Some(p.to_record()), None),
        DeviceRole::Companion(c) => (None, Some(c.to_record())),
    };
    let proto = LocalDeviceRecordProto {
        version: Some(CLIENT_RECORD_VERSION),
        name: Some(record.address.name.clone()),
        device_id: Some(record.address.device_id),
        signed_pre_key_id: Some(record.signed_pre_key_id),
        next_pre_key_id: Some(record.next_pre_key_id),
        device_list_lifetime_ms: Some(record.device_list_lifetime_ms),
        primary,
        companion,
    };
    Zeroizing::new(proto.encode_to_vec())
}

/// Decodes [`encode_local_device`]'s bytes; signed parts are verified again.
pub fn decode_local_device(bytes: &[u8]) -> Result<LocalDeviceRecord, RecordError> {
    let mut proto: LocalDeviceRecordProto = decode_canonical(bytes)?;
    check_client_version(proto.version)?;
    let role = match (proto.primary.take(), proto.companion.take()) {
        (Some(p), None) => DeviceRole::Primary(Box::new(PrimaryAccount::from_record(p)?)),
        (None, Some(c)) => DeviceRole::Companion(Box::new(LinkedDevice::from_record(c)?)),
        _ => return Err(RecordError::InvalidField("local_device.role")),
    };
    Ok(LocalDeviceRecord {
        address: Address::new(
            required(proto.name.take(), "local_device.name")?,
            required(proto.device_id, "local_device.device_id")?,
        ),
        role,
        signed_pre_key_id: required(proto.signed_pre_key_id, "local_device.signed_pre_key_id")?,
        next_pre_key_id: required(proto.next_pre_key_id, "local_device.next_pre_key_id")?,
        device_list_lifetime_ms: required(
            proto.device_list_lifetime_ms,
            "local_device.device_list_lifetime_ms",
        )?,
    })
}

/// Encodes what we know of an account.
pub fn encode_known_account(record: &KnownAccountRecord) -> Vec<u8> {
    KnownAccountRecordProto {
        version: Some(CLIENT_RECORD_VERSION),
        account_key: Some(record.account_key.serialize().to_vec()),
        device_list: record.device_list.clone(),
        trusted: record
            .trusted
            .iter()
            .map(|t| TrustedDeviceRecordProto {
                device_id: Some(t.device_id),
                identity_key: Some(t.identity_key.serialize().to_vec()),
                key_index: Some(t.key_index),
            })
            .collect(),
    }
    .encode_to_vec()
}

/// Decodes [`encode_known_account`]'s bytes.
pub fn decode_known_account(bytes: &[u8]) -> Result<KnownAccountRecord, RecordError> {
    let proto: KnownAccountRecordProto = decode_canonical(bytes)?;
    check_client_version(proto.version)?;
    Ok(KnownAccountRecord {
        account_key: public_key(proto.account_key.as_deref(), "known_account.account_key")?,
        device_list: proto.device_list.clone(),
        trusted: proto
            .trusted
            .iter()
            .map(|t| {
                Ok(TrustedDevice {
                    device_id: required(t.device_id, "trusted.device_id")?,
                    identity_key: public_key(t.identity_key.as_deref(), "trusted.identity_key")?,
                    key_index: required(t.key_index, "trusted.key_index")?,
                })
            })
            .collect::<Result<_, RecordError>>()?,
    })
}

/// Encodes a group.
pub fn encode_group(record: &GroupRecord) -> Vec<u8> {
    GroupRecordProto {
        version: Some(CLIENT_RECORD_VERSION),
        members: record.members.iter().cloned().collect(),
        has_key: record
            .has_key
            .iter()
            .map(|(a, k)| KeyHolderRecordProto {
                name: Some(a.name.clone()),
                device_id: Some(a.device_id),
                identity_key: Some(k.serialize().to_vec()),
            })
            .collect(),
        rotate: Some(record.rotate),
    }
    .encode_to_vec()
}

/// Decodes [`encode_group`]'s bytes (members and key holders must be in ascending order).
pub fn decode_group(bytes: &[u8]) -> Result<GroupRecord, RecordError> {
    let proto: GroupRecordProto = decode_canonical(bytes)?;
    check_client_version(proto.version)?;
    let members: BTreeSet<String> = proto.members.iter().cloned().collect();
    let mut has_key = BTreeMap::new();
    for h in &proto.has_key {
        let address = Address::new(
            required(h.name.clone(), "has_key.name")?,
            required(h.device_id, "has_key.device_id")?,
        );
        has_key.insert(
            address,
            public_key(h.identity_key.as_deref(), "has_key.identity_key")?,
        );
    }
    let record = GroupRecord {
        members,
        has_key,
        rotate: required(proto.rotate, "group.rotate")?,
    };
    // One encoding per group: sorted, no duplicates.
    if encode_group(&record) != bytes {
        return Err(RecordError::Malformed);
    }
    Ok(record)
}

/// Encodes a sent message.
pub fn encode_sent_message(record: &SentMessageRecord) -> Vec<u8> {
    let (direct, group_id) = match &record.conversation {
        Conversation::Direct(account) => (Some(account.clone()), None),
        Conversation::Group(g) => (None, Some(g.to_vec())),
    };
    SentMessageRecordProto {
        version: Some(CLIENT_RECORD_VERSION),
        direct,
        group_id,
        message: Some(record.message.to_proto()),
        recipients: record
            .recipients
            .iter()
            .map(|a| AddressRecordProto {
                name: Some(a.name.clone()),
                device_id: Some(a.device_id),
            })
            .collect(),
        members: record.members.iter().cloned().collect(),
        account_keys: record
            .account_keys
            .iter()
            .map(|(name, key)| AccountKeyRecordProto {
                name: Some(name.clone()),
                account_key: Some(key.serialize().to_vec()),
            })
            .collect(),
    }
    .encode_to_vec()
}

/// Decodes [`encode_sent_message`]'s bytes.
pub fn decode_sent_message(bytes: &[u8]) -> Result<SentMessageRecord, RecordError> {
    let proto: SentMessageRecordProto = decode_canonical(bytes)?;
    check_client_version(proto.version)?;
    let conversation = match (proto.direct.clone(), proto.group_id.as_deref()) {
        (Some(account), None) => Conversation::Direct(account),
        (None, Some(g)) => Conversation::Group(
            g.try_into()
                .map_err(|_| RecordError::InvalidField("sent.group_id"))?,
        ),
        _ => return Err(RecordError::InvalidField("sent.conversation")),
    };
    let message = DataMessage::from_proto(required(proto.message.clone(), "sent.message")?)
        .map_err(|_| RecordError::InvalidField("sent.message"))?;
    let recipients = proto
        .recipients
        .iter()
        .map(|a| {
            Ok(Address::new(
                required(a.name.clone(), "recipient.name")?,
                required(a.device_id, "recipient.device_id")?,
            ))
        })
        .collect::<Result<BTreeSet<_>, RecordError>>()?;
    let account_keys = proto
        .account_keys
        .iter()
        .map(|k| {
            Ok((
                required(k.name.clone(), "account_key.name")?,
                public_key(k.account_key.as_deref(), "account_key.account_key")?,
            ))
        })
        .collect::<Result<BTreeMap<_, _>, RecordError>>()?;
    let record = SentMessageRecord {
        conversation,
        message,
        recipients,
        members: proto.members.iter().cloned().collect(),
        account_keys,
    };
    if encode_sent_message(&record) != bytes {
        return Err(RecordError::Malformed);
    }
    Ok(record)
}

fn check_client_version(version: Option<u32>) -> Result<(), RecordError> {
    match required(version, "version")? {
        CLIENT_RECORD_VERSION => Ok(()),
        other => Err(RecordError::UnknownVersion(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PublicKey {
        let mut raw = [byte; 32];
        raw[31] &= 0x7f;
        let mut bytes = vec![0x05];
        bytes.extend_from_slice(&raw);
        PublicKey::deserialize(&bytes).unwrap()
    }

    #[test]
    fn records_round_trip_and_refuse_other_encodings() {
        let group = GroupRecord {
            members: ["alice".to_string(), "bob".to_string()].into(),
            has_key: [
                (Address::new("bob", 1), key(3)),
                (Address::new("alice", 2), key(4)),
            ]
            .into(),
            rotate: true,
        };
        let bytes = encode_group(&group);
        assert_eq!(decode_group(&bytes).unwrap(), group);
        // Members out of order: another encoding of the same set, refused.
        let mut proto = GroupRecordProto::decode(bytes.as_slice()).unwrap();
        proto.members.reverse();
        assert_eq!(decode_group(&proto.encode_to_vec()), Err(RecordError::Malformed));

        let sent = SentMessageRecord {
            conversation: Conversation::Group([7; 16]),
            message: DataMessage {
                id: [1; 16],
                timestamp: 9,
                body: b"hi".to_vec(),
                group_id: Some([7; 16]),
                attachment: Some(b"pointer".to_vec()),
            },
            recipients: [Address::new("bob", 0), Address::new("bob", 3)].into(),
            members: ["alice".to_string(), "bob".to_string()].into(),
            account_keys: [("alice".to_string(), key(3)), ("bob".to_string(), key(4))].into(),
        };
        assert_eq!(decode_sent_message(&encode_sent_message(&sent)).unwrap(), sent);

        let account = KnownAccountRecord {
            account_key: key(5),
            device_list: None,
            trusted: vec![TrustedDevice {
                device_id: 0,
                identity_key: key(5),
                key_index: 0,
            }],
        };
        let bytes = encode_known_account(&account);
        assert_eq!(decode_known_account(&bytes).unwrap(), account);
        let mut wrong_version = KnownAccountRecordProto::decode(bytes.as_slice()).unwrap();
        wrong_version.version = Some(2);
        assert_eq!(
            decode_known_account(&wrong_version.encode_to_vec()),
            Err(RecordError::UnknownVersion(2))
        );
        assert!(decode_known_account(&bytes[..bytes.len() - 1]).is_err());
    }
}
