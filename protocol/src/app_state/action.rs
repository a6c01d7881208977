//! Typed app-state actions: what a mutation says (mute a chat, name a contact, log a call, …),
//! with WhatsApp's index layout, collection and action version for each.
//!
//! | action | index | collection | version |
//! |---|---|---|---|
//! | mute | `["mute", chat]` | regular_high | 2 |
//! | pin | `["pin_v1", chat]` | regular_low | 5 |
//! | archive | `["archive", chat]` | regular_low | 3 |
//! | star | `["star", chat, message id, from me "1"/"0", participant or "0"]` | regular_high | 2 |
//! | contact | `["contact", address]` | critical_unblock_low | 2 |
//! | push name | `["setting_pushName"]` | critical_block | 1 |
//! | call log | `["call_log", call id]` | regular | 1 |
//! | status privacy | `["status_privacy"]` | regular_high | 7 |
//! | delete chat | `["deleteChat", chat, delete media "1"/"0"]` | regular_high | 6 |
//! | key expiration | `["sentinel"]` | regular_low | 3 |
//!
//! Source: WA Web's action registry as generated into whatsapp-rust
//! `wacore/appstate/src/schemas.rs`, and whatsmeow/Baileys encoders for the ones they send.
//! One deliberate difference: WA Web's `call_log` index is `["call_log"]` alone; tandem adds
//! the call id so that every call is its own entry in the collection (a device that joins
//! later sees the whole log, not only the last call).

use super::CollectionName;
use super::value::{
    ArchiveChatAction, CallLogAction, CallLogRecord, CallParticipant, ContactAction, DeleteChatAction,
    KeyExpiration, MuteAction, PinAction, PushNameSetting, StarAction, StatusPrivacyAction, SyncActionValue,
};

/// What an index's first part names: its collection and the action version written with it.
pub fn action_schema(name: &str) -> Option<(CollectionName, i32)> {
    Some(match name {
        "mute" => (CollectionName::RegularHigh, 2),
        "pin_v1" => (CollectionName::RegularLow, 5),
        "archive" => (CollectionName::RegularLow, 3),
        "star" => (CollectionName::RegularHigh, 2),
        "contact" => (CollectionName::CriticalUnblockLow, 2),
        "setting_pushName" => (CollectionName::CriticalBlock, 1),
        "call_log" => (CollectionName::Regular, 1),
        "status_privacy" => (CollectionName::RegularHigh, 7),
        "deleteChat" => (CollectionName::RegularHigh, 6),
        "sentinel" => (CollectionName::RegularLow, 3),
        _ => return None,
    })
}

/// One action, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncAction {
    /// Mute or unmute a chat, until `end_ms` (ms since the Unix epoch) or for good.
    Mute {
        /// The chat's address.
        chat: String,
        /// Muted or not.
        muted: bool,
        /// When the mute ends; `None` = never.
        end_ms: Option<i64>,
    },
    /// Pin or unpin a chat.
    Pin {
        /// The chat's address.
        chat: String,
        /// Pinned or not.
        pinned: bool,
    },
    /// Archive or unarchive a chat.
    Archive {
        /// The chat's address.
        chat: String,
        /// Archived or not.
        archived: bool,
    },
    /// Star or unstar a message.
    Star {
        /// The chat's address.
        chat: String,
        /// The message id.
        message_id: String,
        /// Whether this account sent the message.
        from_me: bool,
        /// In a group, who sent it (`None` written as `"0"`).
        participant: Option<String>,
        /// Starred or not.
        starred: bool,
    },
    /// A contact's name as this account saved it.
    Contact {
        /// The contact's address.
        address: String,
        /// The full name.
        full_name: String,
        /// The first name, if given.
        first_name: Option<String>,
    },
    /// This account's own display name.
    PushName {
        /// The name.
        name: String,
    },
    /// A call in the call log.
    CallLog(CallLogEntry),
    /// Who sees this account's status updates.
    StatusPrivacy {
        /// The mode.
        mode: StatusPrivacyMode,
        /// The addresses the mode's list names (allow list, deny list, …).
        users: Vec<String>,
    },
    /// A chat deleted on one device, to be deleted on all.
    DeleteChat {
        /// The chat's address.
        chat: String,
        /// Whether its media goes too.
        delete_media: bool,
    },
    /// Every app-state key with an epoch up to `epoch` is expired.
    KeyExpiration {
        /// The highest expired epoch.
        epoch: u32,
    },
}

/// `StatusPrivacyAction.StatusDistributionMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusPrivacyMode {
    /// Only the listed addresses (0).
    AllowList,
    /// All contacts but the listed addresses (1).
    DenyList,
    /// All contacts (2).
    Contacts,
    /// Close friends (3).
    CloseFriends,
    /// A custom list (4).
    CustomList,
}

impl StatusPrivacyMode {
    fn to_wire(self) -> i32 {
        match self {
            Self::AllowList => 0,
            Self::DenyList => 1,
            Self::Contacts => 2,
            Self::CloseFriends => 3,
            Self::CustomList => 4,
        }
    }

    fn from_wire(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::AllowList,
            1 => Self::DenyList,
            2 => Self::Contacts,
            3 => Self::CloseFriends,
            4 => Self::CustomList,
            _ => return None,
        })
    }
}

/// A call as the call log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLogEntry {
    /// The call id (unique per call; the entry's index).
    pub call_id: String,
    /// The other party's address.
    pub peer: String,
    /// Who called whom.
    pub direction: CallDirection,
    /// Voice or video.
    pub media: CallMedia,
    /// When the call started, ms since the Unix epoch.
    pub start_ms: i64,
    /// How long it lasted, in seconds (0 if it never connected).
    pub duration_secs: i64,
    /// How it ended.
    pub outcome: CallOutcome,
}

/// Who called whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallDirection {
    /// The peer called this account.
    Incoming,
    /// This account called the peer.
    Outgoing,
}

/// Voice or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallMedia {
    /// A voice call.
    Voice,
    /// A video call.
    Video,
}

/// How a call ended (`CallLogRecord.CallResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// Answered (0).
    Connected,
    /// Declined (1).
    Rejected,
    /// The caller hung up before an answer (2).
    Cancelled,
    /// Answered on another device of this account (3).
    AcceptedElsewhere,
    /// Not answered (4).
    Missed,
    /// Invalid (5).
    Invalid,
    /// The peer was unavailable (6).
    Unavailable,
    /// Scheduled, not yet held (7).
    Upcoming,
    /// Failed (8).
    Failed,
    /// Abandoned (9).
    Abandoned,
    /// Still going on (10).
    Ongoing,
}

impl CallOutcome {
    const ALL: [Self; 11] = [
        Self::Connected,
        Self::Rejected,
        Self::Cancelled,
        Self::AcceptedElsewhere,
        Self::Missed,
        Self::Invalid,
        Self::Unavailable,
        Self::Upcoming,
        Self::Failed,
        Self::Abandoned,
        Self::Ongoing,
    ];

    fn to_wire(self) -> i32 {
        Self::ALL
            .iter()
            .position(|o| *o == self)
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(5)
    }

    fn from_wire(v: i32) -> Option<Self> {
        Self::ALL.get(usize::try_from(v).ok()?).copied()
    }
}

fn flag(b: bool) -> String {
    if b { "1" } else { "0" }.to_owned()
}

fn parse_flag(s: &str) -> Option<bool> {
    match s {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

impl SyncAction {
    /// The index parts.
    pub fn index(&self) -> Vec<String> {
        match self {
            Self::Mute { chat, .. } => vec!["mute".into(), chat.clone()],
            Self::Pin { chat, .. } => vec!["pin_v1".into(), chat.clone()],
            Self::Archive { chat, .. } => vec!["archive".into(), chat.clone()],
            Self::Star {
                chat,
                message_id,
                from_me,
                participant,
                ..
            } => vec![
                "star".into(),
                chat.clone(),
                message_id.clone(),
                flag(*from_me),
                participant.clone().unwrap_or_else(|| "0".into()),
            ],
            Self::Contact { address, .. } => vec!["contact".into(), address.clone()],
            Self::PushName { .. } => vec!["setting_pushName".into()],
            Self::CallLog(entry) => vec!["call_log".into(), entry.call_id.clone()],
            Self::StatusPrivacy { .. } => vec!["status_privacy".into()],
            Self::DeleteChat { chat, delete_media } => {
                vec!["deleteChat".into(), chat.clone(), flag(*delete_media)]
            }
            Self::KeyExpiration { .. } => vec!["sentinel".into()],
        }
    }

    /// The collection the action lives in.
    pub fn collection(&self) -> CollectionName {
        self.schema().0
    }

    /// The action version WhatsApp writes with it (`SyncActionData.version`).
    pub fn version(&self) -> i32 {
        self.schema().1
    }

    fn schema(&self) -> (CollectionName, i32) {
        let index = self.index();
        index
            .first()
            .and_then(|name| action_schema(name))
            .unwrap_or((CollectionName::Regular, 1))
    }

    /// The `SyncActionValue` for this action at `timestamp_ms`.
    pub fn to_value(&self, timestamp_ms: i64) -> SyncActionValue {
        let mut v = SyncActionValue {
            timestamp: Some(timestamp_ms),
            ..SyncActionValue::default()
        };
        match self {
            Self::Mute { muted, end_ms, .. } => {
                v.mute_action = Some(MuteAction {
                    muted: Some(*muted),
                    mute_end_timestamp: *end_ms,
                });
            }
            Self::Pin { pinned, .. } => {
                v.pin_action = Some(PinAction {
                    pinned: Some(*pinned),
                })
            }
            Self::Archive { archived, .. } => {
                v.archive_chat_action = Some(ArchiveChatAction {
                    archived: Some(*archived),
                });
            }
            Self::Star { starred, .. } => {
                v.star_action = Some(StarAction {
                    starred: Some(*starred),
                })
            }
            Self::Contact {
                full_name,
                first_name,
                ..
            } => {
                v.contact_action = Some(ContactAction {
                    full_name: Some(full_name.clone()),
                    first_name: first_name.clone(),
                });
            }
            Self::PushName { name } => {
                v.push_name_setting = Some(PushNameSetting {
                    name: Some(name.clone()),
                })
            }
            Self::CallLog(entry) => {
                let result = Some(entry.outcome.to_wire());
                v.call_log_action = Some(CallLogAction {
                    call_log_record: Some(CallLogRecord {
                        call_result: result,
                        duration: Some(entry.duration_secs),
                        start_time: Some(entry.start_ms),
                        is_incoming: Some(entry.direction == CallDirection::Incoming),
                        is_video: Some(entry.media == CallMedia::Video),
                        call_id: Some(entry.call_id.clone()),
                        participants: vec![CallParticipant {
                            user_jid: Some(entry.peer.clone()),
                            call_result: result,
                        }],
                    }),
                });
            }
            Self::StatusPrivacy { mode, users } => {
                v.status_privacy = Some(StatusPrivacyAction {
                    mode: Some(mode.to_wire()),
                    user_jid: users.clone(),
                });
            }
            Self::DeleteChat { .. } => v.delete_chat_action = Some(DeleteChatAction {}),
            Self::KeyExpiration { epoch } => {
                // Epochs above i32::MAX do not fit WhatsApp's int32 field; they are written
                // as their two's-complement bit pattern and read back the same way.
                v.key_expiration = Some(KeyExpiration {
                    expired_key_epoch: Some(i32::from_ne_bytes(epoch.to_ne_bytes())),
                });
            }
        }
        v
    }

    /// Reads an action from its index and value. `None` for an action tandem does not model,
    /// or one whose index or value does not have the layout above.
    pub fn from_parts(index: &[String], value: &SyncActionValue) -> Option<Self> {
        let (name, rest) = index.split_first()?;
        let one = |rest: &[String]| match rest {
            [a] => Some(a.clone()),
            _ => None,
        };
        Some(match name.as_str() {
            "mute" => {
                let m = value.mute_action.as_ref()?;
                Self::Mute {
                    chat: one(rest)?,
                    muted: m.muted?,
                    end_ms: m.mute_end_timestamp,
                }
            }
            "pin_v1" => Self::Pin {
                chat: one(rest)?,
                pinned: value.pin_action.as_ref()?.pinned?,
            },
            "archive" => Self::Archive {
                chat: one(rest)?,
                archived: value.archive_chat_action.as_ref()?.archived?,
            },
            "star" => {
                let [chat, id, from_me, participant] = rest else {
                    return None;
                };
                Self::Star {
                    chat: chat.clone(),
                    message_id: id.clone(),
                    from_me: parse_flag(from_me)?,
                    participant: (participant != "0").then(|| participant.clone()),
                    starred: value.star_action.as_ref()?.starred?,
                }
            }
            "contact" => {
                let c = value.contact_action.as_ref()?;
                Self::Contact {
                    address: one(rest)?,
                    full_name: c.full_name.clone()?,
                    first_name: c.first_name.clone(),
                }
            }
            "setting_pushName" if rest.is_empty() => Self::PushName {
                name: value.push_name_setting.as_ref()?.name.clone()?,
            },
            "call_log" => {
                let r = value.call_log_action.as_ref()?.call_log_record.as_ref()?;
                let call_id = one(rest)?;
                if r.call_id.as_deref() != Some(call_id.as_str()) {
                    return None;
                }
                let [peer] = r.participants.as_slice() else {
                    return None;
                };
                Self::CallLog(CallLogEntry {
                    call_id,
                    peer: peer.user_jid.clone()?,
                    direction: if r.is_incoming? {
                        CallDirection::Incoming
                    } else {
                        CallDirection::Outgoing
                    },
                    media: if r.is_video? {
                        CallMedia::Video
                    } else {
                        CallMedia::Voice
                    },
                    start_ms: r.start_time?,
                    duration_secs: r.duration?,
                    outcome: CallOutcome::from_wire(r.call_result?)?,
                })
            }
            "status_privacy" if rest.is_empty() => {
                let s = value.status_privacy.as_ref()?;
                Self::StatusPrivacy {
                    mode: StatusPrivacyMode::from_wire(s.mode?)?,
                    users: s.user_jid.clone(),
                }
            }
            "deleteChat" => {
                let [chat, media] = rest else {
                    return None;
                };
                value.delete_chat_action.as_ref()?;
                Self::DeleteChat {
                    chat: chat.clone(),
                    delete_media: parse_flag(media)?,
                }
            }
            "sentinel" if rest.is_empty() => Self::KeyExpiration {
                epoch: u32::from_ne_bytes(value.key_expiration.as_ref()?.expired_key_epoch?.to_ne_bytes()),
            },
            _ => return None,
        })
    }
}
