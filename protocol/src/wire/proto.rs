//! prost mirrors of `protocol/proto/wire.proto` (the one definition of tandem's protobufs).

/// `SignalMessage` body: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignalMessageProto {
    /// Field 1: the sender's current ratchet public key, serialized (33 bytes).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub ratchet_key: Option<Vec<u8>>,
    /// Field 2: the message's index in the sender's chain.
    #[prost(uint32, optional, tag = "2")]
    pub counter: Option<u32>,
    /// Field 3: the counter of the last message the sender sent on its previous sending chain
    /// (0 if it sent none or one), libsignal's `previous_counter`. Receivers do not use it.
    #[prost(uint32, optional, tag = "3")]
    pub previous_counter: Option<u32>,
    /// Field 4: AES-256-CBC ciphertext.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub ciphertext: Option<Vec<u8>>,
}

/// `PreKeySignalMessage` body: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PreKeySignalMessageProto {
    /// Field 1: the one-time prekey used, if any.
    #[prost(uint32, optional, tag = "1")]
    pub pre_key_id: Option<u32>,
    /// Field 2: the initiator's base (ephemeral) key, serialized.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub base_key: Option<Vec<u8>>,
    /// Field 3: the initiator's identity key, serialized.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub identity_key: Option<Vec<u8>>,
    /// Field 4: the enclosed serialized `SignalMessage`.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub message: Option<Vec<u8>>,
    /// Field 5: the initiator's registration id.
    #[prost(uint32, optional, tag = "5")]
    pub registration_id: Option<u32>,
    /// Field 6: the signed prekey used.
    #[prost(uint32, optional, tag = "6")]
    pub signed_pre_key_id: Option<u32>,
}

/// `SenderKeyDistributionMessage` body: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderKeyDistributionMessageProto {
    /// Field 1: the distribution id (16-byte UUID).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub distribution_uuid: Option<Vec<u8>>,
    /// Field 2: the chain id.
    #[prost(uint32, optional, tag = "2")]
    pub chain_id: Option<u32>,
    /// Field 3: the chain's iteration.
    #[prost(uint32, optional, tag = "3")]
    pub iteration: Option<u32>,
    /// Field 4: the chain key at that iteration (32 bytes).
    #[prost(bytes = "vec", optional, tag = "4")]
    pub chain_key: Option<Vec<u8>>,
    /// Field 5: the sender's signing public key, serialized.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub signing_key: Option<Vec<u8>>,
}

/// `SenderKeyMessage` body: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderKeyMessageProto {
    /// Field 1: the distribution id (16-byte UUID).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub distribution_uuid: Option<Vec<u8>>,
    /// Field 2: the chain id.
    #[prost(uint32, optional, tag = "2")]
    pub chain_id: Option<u32>,
    /// Field 3: the message's iteration.
    #[prost(uint32, optional, tag = "3")]
    pub iteration: Option<u32>,
    /// Field 4: AES-256-CBC ciphertext.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub ciphertext: Option<Vec<u8>>,
}

/// `DeviceIdentity` (linking metadata): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeviceIdentityProto {
    /// Field 1: the device id the primary assigned.
    #[prost(uint32, optional, tag = "1")]
    pub device_id: Option<u32>,
    /// Field 2: when (ms since the Unix epoch).
    #[prost(uint64, optional, tag = "2")]
    pub timestamp: Option<u64>,
    /// Field 3: the key index the primary assigned.
    #[prost(uint32, optional, tag = "3")]
    pub key_index: Option<u32>,
}

/// `SignedDeviceIdentity`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedDeviceIdentityProto {
    /// Field 1: serialized `DeviceIdentity`.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub details: Option<Vec<u8>>,
    /// Field 2: the account key (32 bytes).
    #[prost(bytes = "vec", optional, tag = "2")]
    pub account_signature_key: Option<Vec<u8>>,
    /// Field 3: the account's signature.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub account_signature: Option<Vec<u8>>,
    /// Field 4: the device's signature.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub device_signature: Option<Vec<u8>>,
}

/// `SignedDeviceIdentityHmac`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedDeviceIdentityHmacProto {
    /// Field 1: serialized `SignedDeviceIdentity`.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub details: Option<Vec<u8>>,
    /// Field 2: HMAC-SHA256(link secret, details).
    #[prost(bytes = "vec", optional, tag = "2")]
    pub hmac: Option<Vec<u8>>,
    /// Field 3: the device id (unauthenticated copy).
    #[prost(uint32, optional, tag = "3")]
    pub device_id: Option<u32>,
    /// Field 4: the key index (unauthenticated copy).
    #[prost(uint32, optional, tag = "4")]
    pub key_index: Option<u32>,
    /// Field 5: the link request's reference.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub reference: Option<Vec<u8>>,
}

/// `KeyIndexList`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyIndexListProto {
    /// Field 1: when (ms since the Unix epoch).
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    /// Field 2: the highest key index assigned.
    #[prost(uint32, optional, tag = "2")]
    pub current_index: Option<u32>,
    /// Field 3: the valid key indexes (packed).
    #[prost(uint32, repeated, packed = "true", tag = "3")]
    pub valid_indexes: Vec<u32>,
}

/// `SignedKeyIndexList`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedKeyIndexListProto {
    /// Field 1: serialized `KeyIndexList`.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub details: Option<Vec<u8>>,
    /// Field 2: the account's signature.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub account_signature: Option<Vec<u8>>,
    /// Field 3: the account key (32 bytes).
    #[prost(bytes = "vec", optional, tag = "3")]
    pub account_signature_key: Option<Vec<u8>>,
}

/// `Content`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContentProto {
    /// Field 1: a message.
    #[prost(message, optional, tag = "1")]
    pub data_message: Option<DataMessageProto>,
    /// Field 2: a copy of a message we sent, for our other devices.
    #[prost(message, optional, tag = "2")]
    pub sent_copy: Option<SentCopyProto>,
    /// Field 3: a sender key for a group.
    #[prost(message, optional, tag = "3")]
    pub distribution: Option<SenderKeyDistributionProto>,
    /// Field 4: a protocol message among the account's own devices.
    #[prost(message, optional, tag = "4")]
    pub self_message: Option<SelfMessageProto>,
}

/// `SelfMessage`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SelfMessageProto {
    /// Field 1: a history-sync notification.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub history_sync: Option<Vec<u8>>,
    /// Field 2: an app-state key share.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub app_state_keys: Option<Vec<u8>>,
    /// Field 3: an app-state key request.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub app_state_key_request: Option<Vec<u8>>,
    /// Field 4: a history chunk request.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub history_chunk_request: Option<Vec<u8>>,
}

/// `DataMessage`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataMessageProto {
    /// Field 1: message id.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub id: Option<Vec<u8>>,
    /// Field 2: timestamp.
    #[prost(uint64, optional, tag = "2")]
    pub timestamp: Option<u64>,
    /// Field 3: body.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub body: Option<Vec<u8>>,
    /// Field 4: group id.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub group_id: Option<Vec<u8>>,
    /// Field 5: an attachment (a `MediaPointer`).
    #[prost(bytes = "vec", optional, tag = "5")]
    pub attachment: Option<Vec<u8>>,
}

/// `SentCopy`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SentCopyProto {
    /// Field 1: the destination account.
    #[prost(string, optional, tag = "1")]
    pub destination: Option<String>,
    /// Field 2: the message.
    #[prost(message, optional, tag = "2")]
    pub message: Option<DataMessageProto>,
}

/// `SenderKeyDistribution`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderKeyDistributionProto {
    /// Field 1: group id.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub group_id: Option<Vec<u8>>,
    /// Field 2: serialized SenderKeyDistributionMessage.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub distribution_message: Option<Vec<u8>>,
}

/// `RetryRequest`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryRequestProto {
    /// Field 1: the message that failed.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub message_id: Option<Vec<u8>>,
    /// Field 2: how many retries so far.
    #[prost(uint32, optional, tag = "2")]
    pub retry_count: Option<u32>,
    /// Field 3: requester's registration id.
    #[prost(uint32, optional, tag = "3")]
    pub registration_id: Option<u32>,
    /// Field 4: requester's identity key.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub identity_key: Option<Vec<u8>>,
    /// Field 5: signed prekey id.
    #[prost(uint32, optional, tag = "5")]
    pub signed_pre_key_id: Option<u32>,
    /// Field 6: signed prekey.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub signed_pre_key: Option<Vec<u8>>,
    /// Field 7: signed prekey signature.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub signed_pre_key_signature: Option<Vec<u8>>,
    /// Field 8: one-time prekey id.
    #[prost(uint32, optional, tag = "8")]
    pub pre_key_id: Option<u32>,
    /// Field 9: one-time prekey.
    #[prost(bytes = "vec", optional, tag = "9")]
    pub pre_key: Option<Vec<u8>>,
    /// Field 10: the requester's signed device identity.
    #[prost(bytes = "vec", optional, tag = "10")]
    pub signed_identity: Option<Vec<u8>>,
}

// ---- Storage records, never sent on the wire (the storage section of `wire.proto`; converted
// by `store::serialize`). The types that hold secret bytes wipe them when dropped. ----

/// `ChainKeyRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChainKeyRecordProto {
    /// Field 1: the chain key (32 bytes, secret).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub key: Option<Vec<u8>>,
    /// Field 2: its position.
    #[prost(uint32, optional, tag = "2")]
    pub index: Option<u32>,
}

/// `SenderChainRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderChainRecordProto {
    /// Field 1: our ratchet public key, serialized.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub ratchet_public: Option<Vec<u8>>,
    /// Field 2: our ratchet private key (32 bytes, secret).
    #[prost(bytes = "vec", optional, tag = "2")]
    pub ratchet_private: Option<Vec<u8>>,
    /// Field 3: the sending chain key.
    #[prost(message, optional, tag = "3")]
    pub chain_key: Option<ChainKeyRecordProto>,
}

/// `ReceiverChainRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReceiverChainRecordProto {
    /// Field 1: the peer's ratchet key, serialized.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub ratchet_key: Option<Vec<u8>>,
    /// Field 2: the chain's next position.
    #[prost(message, optional, tag = "2")]
    pub chain_key: Option<ChainKeyRecordProto>,
    /// Field 3: chain keys at skipped positions, oldest first.
    #[prost(message, repeated, tag = "3")]
    pub skipped: Vec<ChainKeyRecordProto>,
}

/// `PendingPreKeyRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PendingPreKeyRecordProto {
    /// Field 1: the one-time prekey used, if any.
    #[prost(uint32, optional, tag = "1")]
    pub pre_key_id: Option<u32>,
    /// Field 2: the signed prekey used.
    #[prost(uint32, optional, tag = "2")]
    pub signed_pre_key_id: Option<u32>,
    /// Field 3: our base key, serialized.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub base_key: Option<Vec<u8>>,
}

/// `SessionStateRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStateRecordProto {
    /// Field 1: our identity key, serialized.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub local_identity: Option<Vec<u8>>,
    /// Field 2: the peer's identity key, serialized.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub remote_identity: Option<Vec<u8>>,
    /// Field 3: the root key (32 bytes, secret).
    #[prost(bytes = "vec", optional, tag = "3")]
    pub root_key: Option<Vec<u8>>,
    /// Field 4: our sending chain.
    #[prost(message, optional, tag = "4")]
    pub sender_chain: Option<SenderChainRecordProto>,
    /// Field 5: the receiving chains, oldest first.
    #[prost(message, repeated, tag = "5")]
    pub receiver_chains: Vec<ReceiverChainRecordProto>,
    /// Field 6: the length of our previous sending chain, as sent in messages.
    #[prost(uint32, optional, tag = "6")]
    pub previous_counter: Option<u32>,
    /// Field 7: the X3DH parameters repeated until the peer answers.
    #[prost(message, optional, tag = "7")]
    pub pending_prekey: Option<PendingPreKeyRecordProto>,
    /// Field 8: our registration id.
    #[prost(uint32, optional, tag = "8")]
    pub local_registration_id: Option<u32>,
    /// Field 9: the peer's registration id.
    #[prost(uint32, optional, tag = "9")]
    pub remote_registration_id: Option<u32>,
    /// Field 10: the initiator's base key, serialized.
    #[prost(bytes = "vec", optional, tag = "10")]
    pub alice_base_key: Option<Vec<u8>>,
}

/// `SessionRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the current session.
    #[prost(message, optional, tag = "2")]
    pub current: Option<SessionStateRecordProto>,
    /// Field 3: archived sessions, newest first.
    #[prost(message, repeated, tag = "3")]
    pub previous: Vec<SessionStateRecordProto>,
}

/// `SenderKeyStateRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderKeyStateRecordProto {
    /// Field 1: the chain id.
    #[prost(uint32, optional, tag = "1")]
    pub chain_id: Option<u32>,
    /// Field 2: the chain key at the chain's iteration.
    #[prost(message, optional, tag = "2")]
    pub chain_key: Option<ChainKeyRecordProto>,
    /// Field 3: the sender's signing public key, serialized.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub signing_public: Option<Vec<u8>>,
    /// Field 4: the signing private key (32 bytes, secret), on the sender's device only.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub signing_private: Option<Vec<u8>>,
    /// Field 5: chain keys at skipped iterations, oldest first.
    #[prost(message, repeated, tag = "5")]
    pub skipped: Vec<ChainKeyRecordProto>,
}

/// `SenderKeyRecord`: see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderKeyRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the chains, newest first.
    #[prost(message, repeated, tag = "2")]
    pub states: Vec<SenderKeyStateRecordProto>,
}

/// `PreKeyRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PreKeyRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the prekey id.
    #[prost(uint32, optional, tag = "2")]
    pub id: Option<u32>,
    /// Field 3: the public key, serialized.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub public_key: Option<Vec<u8>>,
    /// Field 4: the private key (32 bytes, secret).
    #[prost(bytes = "vec", optional, tag = "4")]
    pub private_key: Option<Vec<u8>>,
}

/// `SignedPreKeyRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedPreKeyRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the signed prekey id.
    #[prost(uint32, optional, tag = "2")]
    pub id: Option<u32>,
    /// Field 3: the public key, serialized.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub public_key: Option<Vec<u8>>,
    /// Field 4: the private key (32 bytes, secret).
    #[prost(bytes = "vec", optional, tag = "4")]
    pub private_key: Option<Vec<u8>>,
    /// Field 5: the identity key's signature over the public key.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub signature: Option<Vec<u8>>,
    /// Field 6: when it was made (ms since the Unix epoch).
    #[prost(uint64, optional, tag = "6")]
    pub timestamp: Option<u64>,
}

// ---- Client state records (storage) ----

/// `LocalDeviceRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocalDeviceRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the account name.
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    /// Field 3: the device id.
    #[prost(uint32, optional, tag = "3")]
    pub device_id: Option<u32>,
    /// Field 4: the signed prekey in use.
    #[prost(uint32, optional, tag = "4")]
    pub signed_pre_key_id: Option<u32>,
    /// Field 5: the next one-time prekey id.
    #[prost(uint32, optional, tag = "5")]
    pub next_pre_key_id: Option<u32>,
    /// Field 6: how long a device list stays valid.
    #[prost(uint64, optional, tag = "6")]
    pub device_list_lifetime_ms: Option<u64>,
    /// Field 7: the primary's account state.
    #[prost(message, optional, tag = "7")]
    pub primary: Option<PrimaryAccountRecordProto>,
    /// Field 8: a companion's linking result.
    #[prost(message, optional, tag = "8")]
    pub companion: Option<LinkedDeviceRecordProto>,
}

/// `PrimaryAccountRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PrimaryAccountRecordProto {
    /// Field 1: the account public key.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub account_public: Option<Vec<u8>>,
    /// Field 2: the account private key (secret).
    #[prost(bytes = "vec", optional, tag = "2")]
    pub account_private: Option<Vec<u8>>,
    /// Field 3: the linked companions.
    #[prost(message, repeated, tag = "3")]
    pub companions: Vec<LinkedCompanionRecordProto>,
    /// Field 4: the next device id.
    #[prost(uint32, optional, tag = "4")]
    pub next_device_id: Option<u32>,
    /// Field 5: the current key index.
    #[prost(uint32, optional, tag = "5")]
    pub current_index: Option<u32>,
    /// Field 6: link request references already used.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub used_references: Vec<Vec<u8>>,
    /// Field 7: the current signed device list.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub device_list: Option<Vec<u8>>,
    /// Field 8: how long a link request may be approved.
    #[prost(uint64, optional, tag = "8")]
    pub request_lifetime_ms: Option<u64>,
}

/// `LinkedCompanionRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LinkedCompanionRecordProto {
    /// Field 1: the device id.
    #[prost(uint32, optional, tag = "1")]
    pub device_id: Option<u32>,
    /// Field 2: the key index.
    #[prost(uint32, optional, tag = "2")]
    pub key_index: Option<u32>,
    /// Field 3: the identity key.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub identity_key: Option<Vec<u8>>,
}

/// `LinkedDeviceRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LinkedDeviceRecordProto {
    /// Field 1: the identity public key.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub identity_public: Option<Vec<u8>>,
    /// Field 2: the identity private key (secret).
    #[prost(bytes = "vec", optional, tag = "2")]
    pub identity_private: Option<Vec<u8>>,
    /// Field 3: the countersigned device identity.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub signed_identity: Option<Vec<u8>>,
}

/// `KnownAccountRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KnownAccountRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the account key.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub account_key: Option<Vec<u8>>,
    /// Field 3: the newest verified device list.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub device_list: Option<Vec<u8>>,
    /// Field 4: the trusted devices.
    #[prost(message, repeated, tag = "4")]
    pub trusted: Vec<TrustedDeviceRecordProto>,
}

/// `TrustedDeviceRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrustedDeviceRecordProto {
    /// Field 1: the device id.
    #[prost(uint32, optional, tag = "1")]
    pub device_id: Option<u32>,
    /// Field 2: the identity key.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub identity_key: Option<Vec<u8>>,
    /// Field 3: the key index.
    #[prost(uint32, optional, tag = "3")]
    pub key_index: Option<u32>,
}

/// `GroupRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the members.
    #[prost(string, repeated, tag = "2")]
    pub members: Vec<String>,
    /// Field 3: devices holding our sender key.
    #[prost(message, repeated, tag = "3")]
    pub has_key: Vec<KeyHolderRecordProto>,
    /// Field 4: rotate before the next message.
    #[prost(bool, optional, tag = "4")]
    pub rotate: Option<bool>,
}

/// `KeyHolderRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyHolderRecordProto {
    /// Field 1: the account name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Field 2: the device id.
    #[prost(uint32, optional, tag = "2")]
    pub device_id: Option<u32>,
    /// Field 3: its identity key then.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub identity_key: Option<Vec<u8>>,
}

/// `SentMessageRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SentMessageRecordProto {
    /// Field 1: the record format version.
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// Field 2: the 1:1 conversation's account.
    #[prost(string, optional, tag = "2")]
    pub direct: Option<String>,
    /// Field 3: the group.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub group_id: Option<Vec<u8>>,
    /// Field 4: the message.
    #[prost(message, optional, tag = "4")]
    pub message: Option<DataMessageProto>,
    /// Field 5: the devices it was sent to.
    #[prost(message, repeated, tag = "5")]
    pub recipients: Vec<AddressRecordProto>,
    /// Field 6: a group's members when it was sent.
    #[prost(string, repeated, tag = "6")]
    pub members: Vec<String>,
    /// Field 7: the account key held for each account it was encrypted to.
    #[prost(message, repeated, tag = "7")]
    pub account_keys: Vec<AccountKeyRecordProto>,
}

/// `AccountKeyRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountKeyRecordProto {
    /// Field 1: the account name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Field 2: its account key.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub account_key: Option<Vec<u8>>,
}

/// `AddressRecord` (storage): see `wire.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddressRecordProto {
    /// Field 1: the account name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Field 2: the device id.
    #[prost(uint32, optional, tag = "2")]
    pub device_id: Option<u32>,
}

/// Wipes secret bytes held by storage records when they are dropped.
macro_rules! wipe_on_drop {
    ($($ty:ident: $($field:ident),+;)+) => {$(
        impl Drop for $ty {
            fn drop(&mut self) {
                $(if let Some(bytes) = self.$field.as_mut() {
                    zeroize::Zeroize::zeroize(bytes);
                })+
            }
        }
    )+};
}

wipe_on_drop! {
    ChainKeyRecordProto: key;
    SenderChainRecordProto: ratchet_private;
    SessionStateRecordProto: root_key;
    SenderKeyStateRecordProto: signing_private;
    PreKeyRecordProto: private_key;
    SignedPreKeyRecordProto: private_key;
    PrimaryAccountRecordProto: account_private;
    LinkedDeviceRecordProto: identity_private;
}
