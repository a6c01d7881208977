//! What travels inside the encryption: messages, sent copies, sender keys; and retry requests.

use prost::Message;

use crate::crypto::PublicKey;
use crate::session::PreKeyBundle;
use crate::wire::proto::{
    ContentProto, DataMessageProto, RetryRequestProto, SelfMessageProto, SenderKeyDistributionProto,
    SentCopyProto,
};

/// A message as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataMessage {
    /// 16 random bytes chosen by the sender.
    pub id: [u8; 16],
    /// The sender's timestamp.
    pub timestamp: u64,
    /// The body.
    pub body: Vec<u8>,
    /// The group, for group messages.
    pub group_id: Option<[u8; 16]>,
    /// An attachment: the encoded [`MediaPointer`](crate::media::MediaPointer) of a photo,
    /// video or document whose encrypted blob is in the blob store.
    pub attachment: Option<Vec<u8>>,
}

/// A protocol message among one account's own devices: accepted only from a verified device of
/// our own account (a self-only message from anyone else is refused as `NotAllowed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelfMessage {
    /// A history-sync notification (spec 09): only from our primary, to a companion.
    HistorySync(Vec<u8>),
    /// App-state keys (spec 08).
    AppStateKeys(Vec<u8>),
    /// A request for app-state keys we lack (spec 08).
    AppStateKeyRequest(Vec<u8>),
    /// A companion asks the primary to upload history chunks again (spec 09): only from a
    /// companion, to the primary.
    HistoryChunkRequest(Vec<u8>),
}

/// The decrypted content of one envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    Data(DataMessage),
    SentCopy {
        destination: String,
        message: DataMessage,
    },
    Distribution {
        group_id: [u8; 16],
        message: Vec<u8>,
    },
    Own(SelfMessage),
}

/// Decrypted bytes that are not a well-formed `Content`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadContent;

fn id16(v: Option<Vec<u8>>) -> Result<[u8; 16], BadContent> {
    v.and_then(|v| v.try_into().ok()).ok_or(BadContent)
}

impl DataMessage {
    pub(crate) fn to_proto(&self) -> DataMessageProto {
        DataMessageProto {
            id: Some(self.id.to_vec()),
            timestamp: Some(self.timestamp),
            body: Some(self.body.clone()),
            group_id: self.group_id.map(|g| g.to_vec()),
            attachment: self.attachment.clone(),
        }
    }

    pub(crate) fn from_proto(p: DataMessageProto) -> Result<Self, BadContent> {
        Ok(Self {
            id: id16(p.id)?,
            timestamp: p.timestamp.ok_or(BadContent)?,
            body: p.body.unwrap_or_default(),
            group_id: p.group_id.map(|g| id16(Some(g))).transpose()?,
            attachment: p.attachment,
        })
    }
}

impl Content {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let proto = match self {
            Self::Data(m) => ContentProto {
                data_message: Some(m.to_proto()),
                ..Default::default()
            },
            Self::SentCopy { destination, message } => ContentProto {
                sent_copy: Some(SentCopyProto {
                    destination: Some(destination.clone()),
                    message: Some(message.to_proto()),
                }),
                ..Default::default()
            },
            Self::Distribution { group_id, message } => ContentProto {
                distribution: Some(SenderKeyDistributionProto {
                    group_id: Some(group_id.to_vec()),
                    distribution_message: Some(message.clone()),
                }),
                ..Default::default()
            },
            Self::Own(own) => {
                let mut m = SelfMessageProto::default();
                match own {
                    SelfMessage::HistorySync(b) => m.history_sync = Some(b.clone()),
                    SelfMessage::AppStateKeys(b) => m.app_state_keys = Some(b.clone()),
                    SelfMessage::AppStateKeyRequest(b) => m.app_state_key_request = Some(b.clone()),
                    SelfMessage::HistoryChunkRequest(b) => m.history_chunk_request = Some(b.clone()),
                }
                ContentProto {
                    self_message: Some(m),
                    ..Default::default()
                }
            }
        };
        proto.encode_to_vec()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, BadContent> {
        let p = ContentProto::decode(bytes).map_err(|_| BadContent)?;
        // Strict: one encoding per content (no unknown, repeated or reordered fields).
        if p.encode_to_vec() != bytes {
            return Err(BadContent);
        }
        match (p.data_message, p.sent_copy, p.distribution, p.self_message) {
            (Some(m), None, None, None) => Ok(Self::Data(DataMessage::from_proto(m)?)),
            (None, Some(c), None, None) => Ok(Self::SentCopy {
                destination: c.destination.ok_or(BadContent)?,
                message: DataMessage::from_proto(c.message.ok_or(BadContent)?)?,
            }),
            (None, None, Some(d), None) => Ok(Self::Distribution {
                group_id: id16(d.group_id)?,
                message: d.distribution_message.ok_or(BadContent)?,
            }),
            (None, None, None, Some(own)) => {
                match (
                    own.history_sync,
                    own.app_state_keys,
                    own.app_state_key_request,
                    own.history_chunk_request,
                ) {
                    (Some(b), None, None, None) => Ok(Self::Own(SelfMessage::HistorySync(b))),
                    (None, Some(b), None, None) => Ok(Self::Own(SelfMessage::AppStateKeys(b))),
                    (None, None, Some(b), None) => Ok(Self::Own(SelfMessage::AppStateKeyRequest(b))),
                    (None, None, None, Some(b)) => Ok(Self::Own(SelfMessage::HistoryChunkRequest(b))),
                    _ => Err(BadContent),
                }
            }
            _ => Err(BadContent),
        }
    }
}

/// A request from a device that could not decrypt a message: fresh key material to build a new
/// session with it, and its signed device identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetryRequest {
    pub(crate) message_id: [u8; 16],
    pub(crate) retry_count: u32,
    pub(crate) bundle: PreKeyBundle,
    pub(crate) signed_identity: Option<Vec<u8>>,
}

impl RetryRequest {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let b = &self.bundle;
        RetryRequestProto {
            message_id: Some(self.message_id.to_vec()),
            retry_count: Some(self.retry_count),
            registration_id: Some(b.registration_id),
            identity_key: Some(b.identity_key.serialize().to_vec()),
            signed_pre_key_id: Some(b.signed_pre_key_id),
            signed_pre_key: Some(b.signed_pre_key.serialize().to_vec()),
            signed_pre_key_signature: Some(b.signed_pre_key_signature.clone()),
            pre_key_id: b.pre_key.map(|(id, _)| id),
            pre_key: b.pre_key.map(|(_, k)| k.serialize().to_vec()),
            signed_identity: self.signed_identity.clone(),
        }
        .encode_to_vec()
    }

    pub(crate) fn decode(bytes: &[u8], device_id: u32) -> Result<Self, BadContent> {
        let p = RetryRequestProto::decode(bytes).map_err(|_| BadContent)?;
        if p.encode_to_vec() != bytes {
            return Err(BadContent);
        }
        let key = |k: Option<Vec<u8>>| PublicKey::deserialize(&k.ok_or(BadContent)?).map_err(|_| BadContent);
        let pre_key = match (p.pre_key_id, p.pre_key) {
            (Some(id), Some(k)) => Some((id, key(Some(k))?)),
            (None, None) => None,
            _ => return Err(BadContent),
        };
        Ok(Self {
            message_id: id16(p.message_id)?,
            retry_count: p.retry_count.ok_or(BadContent)?,
            bundle: PreKeyBundle {
                registration_id: p.registration_id.ok_or(BadContent)?,
                device_id,
                pre_key,
                signed_pre_key_id: p.signed_pre_key_id.ok_or(BadContent)?,
                signed_pre_key: key(p.signed_pre_key)?,
                signed_pre_key_signature: p.signed_pre_key_signature.ok_or(BadContent)?,
                identity_key: key(p.identity_key)?,
            },
            signed_identity: p.signed_identity,
        })
    }
}
