//! The plaintext inside a mutation's value blob: `SyncActionData` and the part of
//! `SyncActionValue` tandem reads and writes, with WhatsApp's field numbers (whatsmeow
//! `proto/waSyncAction/WAWebProtobufSyncAction.proto`; Baileys `WAProto`).
//!
//! This plaintext is authenticated (value MAC) and written by the account's own devices, some
//! of which may run newer software: fields tandem does not model are skipped when read (and
//! so not kept), while fields it models must have the right types.

/// `SyncActionData`: what a value blob decrypts to.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SyncActionData {
    /// Field 1: the index, a JSON array of strings (e.g. `["mute","<chat>"]`), as bytes.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub index: Option<Vec<u8>>,
    /// Field 2: the value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<SyncActionValue>,
    /// Field 3: padding; whatsmeow writes it empty (present, zero length), Baileys and tandem
    /// leave it out.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub padding: Option<Vec<u8>>,
    /// Field 4: the action's version (a constant per action, e.g. 2 for `mute`).
    #[prost(int32, optional, tag = "4")]
    pub version: Option<i32>,
}

/// `SyncActionValue`: the timestamp and at most one action.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SyncActionValue {
    /// Field 1: when the action was taken, ms since the Unix epoch.
    #[prost(int64, optional, tag = "1")]
    pub timestamp: Option<i64>,
    /// Field 2.
    #[prost(message, optional, tag = "2")]
    pub star_action: Option<StarAction>,
    /// Field 3.
    #[prost(message, optional, tag = "3")]
    pub contact_action: Option<ContactAction>,
    /// Field 4.
    #[prost(message, optional, tag = "4")]
    pub mute_action: Option<MuteAction>,
    /// Field 5.
    #[prost(message, optional, tag = "5")]
    pub pin_action: Option<PinAction>,
    /// Field 7.
    #[prost(message, optional, tag = "7")]
    pub push_name_setting: Option<PushNameSetting>,
    /// Field 17.
    #[prost(message, optional, tag = "17")]
    pub archive_chat_action: Option<ArchiveChatAction>,
    /// Field 19.
    #[prost(message, optional, tag = "19")]
    pub key_expiration: Option<KeyExpiration>,
    /// Field 22.
    #[prost(message, optional, tag = "22")]
    pub delete_chat_action: Option<DeleteChatAction>,
    /// Field 42.
    #[prost(message, optional, tag = "42")]
    pub call_log_action: Option<CallLogAction>,
    /// Field 44.
    #[prost(message, optional, tag = "44")]
    pub status_privacy: Option<StatusPrivacyAction>,
}

/// `StarAction`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StarAction {
    /// Field 1.
    #[prost(bool, optional, tag = "1")]
    pub starred: Option<bool>,
}

/// `ContactAction` (the fields tandem uses).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContactAction {
    /// Field 1.
    #[prost(string, optional, tag = "1")]
    pub full_name: Option<String>,
    /// Field 2.
    #[prost(string, optional, tag = "2")]
    pub first_name: Option<String>,
}

/// `MuteAction` (the fields tandem uses).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MuteAction {
    /// Field 1.
    #[prost(bool, optional, tag = "1")]
    pub muted: Option<bool>,
    /// Field 2: ms since the Unix epoch; absent = muted for good.
    #[prost(int64, optional, tag = "2")]
    pub mute_end_timestamp: Option<i64>,
}

/// `PinAction`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PinAction {
    /// Field 1.
    #[prost(bool, optional, tag = "1")]
    pub pinned: Option<bool>,
}

/// `PushNameSetting`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushNameSetting {
    /// Field 1.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
}

/// `ArchiveChatAction` (field 2, `messageRange`, is not modelled).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArchiveChatAction {
    /// Field 1.
    #[prost(bool, optional, tag = "1")]
    pub archived: Option<bool>,
}

/// `KeyExpiration`: every app-state key with an epoch up to this one is expired.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyExpiration {
    /// Field 1.
    #[prost(int32, optional, tag = "1")]
    pub expired_key_epoch: Option<i32>,
}

/// `DeleteChatAction` (field 1, `messageRange`, is not modelled: tandem writes it empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteChatAction {}

/// `CallLogAction`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CallLogAction {
    /// Field 1.
    #[prost(message, optional, tag = "1")]
    pub call_log_record: Option<CallLogRecord>,
}

/// `CallLogRecord` (the fields tandem uses).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CallLogRecord {
    /// Field 1: `CallResult` (CONNECTED 0, REJECTED 1, CANCELLED 2, ACCEPTEDELSEWHERE 3,
    /// MISSED 4, INVALID 5, UNAVAILABLE 6, UPCOMING 7, FAILED 8, ABANDONED 9, ONGOING 10).
    #[prost(int32, optional, tag = "1")]
    pub call_result: Option<i32>,
    /// Field 4: the duration (tandem writes seconds; WhatsApp's unit is not published).
    #[prost(int64, optional, tag = "4")]
    pub duration: Option<i64>,
    /// Field 5: the start time (tandem writes ms since the Unix epoch).
    #[prost(int64, optional, tag = "5")]
    pub start_time: Option<i64>,
    /// Field 6.
    #[prost(bool, optional, tag = "6")]
    pub is_incoming: Option<bool>,
    /// Field 7.
    #[prost(bool, optional, tag = "7")]
    pub is_video: Option<bool>,
    /// Field 11.
    #[prost(string, optional, tag = "11")]
    pub call_id: Option<String>,
    /// Field 14: the other parties (tandem writes one, the peer).
    #[prost(message, repeated, tag = "14")]
    pub participants: Vec<CallParticipant>,
}

/// `CallLogRecord.ParticipantInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CallParticipant {
    /// Field 1: the participant's address.
    #[prost(string, optional, tag = "1")]
    pub user_jid: Option<String>,
    /// Field 2: the participant's `CallResult`.
    #[prost(int32, optional, tag = "2")]
    pub call_result: Option<i32>,
}

/// `StatusPrivacyAction` (the fields tandem uses).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusPrivacyAction {
    /// Field 1: `StatusDistributionMode` (ALLOW_LIST 0, DENY_LIST 1, CONTACTS 2,
    /// CLOSE_FRIENDS 3, CUSTOM_LIST 4).
    #[prost(int32, optional, tag = "1")]
    pub mode: Option<i32>,
    /// Field 2: the addresses the mode's list names.
    #[prost(string, repeated, tag = "2")]
    pub user_jid: Vec<String>,
}

impl SyncActionData {
    /// Decodes the protobuf (fields tandem does not model are skipped). `None` if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <Self as prost::Message>::decode(bytes).ok()
    }

    /// The protobuf bytes (fields in number order).
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
}

impl SyncActionValue {
    /// Decodes the protobuf (fields tandem does not model are skipped). `None` if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <Self as prost::Message>::decode(bytes).ok()
    }

    /// The protobuf bytes (fields in number order).
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
}
