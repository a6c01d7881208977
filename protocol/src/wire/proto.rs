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
