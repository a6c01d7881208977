//! Events as data: what a run does, one step at a time, so a run can be printed, replayed and
//! shrunk.
//!
//! Every reference in an event is *relative*: an account is `account % accounts`, a device is
//! `device % live devices of that account`, a queued envelope is `nth % queue length`. Any
//! subsequence of a trace is therefore a valid trace (an event whose target does not exist is a
//! no-op), which is what shrinking needs.
//!
//! # Text form
//!
//! One event a line: a name and `key=value` fields, e.g. `send from=3.1 to=5`. A device is
//! `account.device`, a list is comma-separated. `#` starts a comment. [`Event`]'s `Display` and
//! `FromStr` are inverse.

use std::fmt;
use std::str::FromStr;

/// A device, relative to the world at the time the event runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DevRef {
    /// The account (modulo the number of accounts).
    pub account: u16,
    /// The device of that account (modulo its live devices, ordered by device id; 0 is the
    /// primary).
    pub device: u8,
}

impl fmt::Display for DevRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.account, self.device)
    }
}

impl FromStr for DevRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, d) = s
            .split_once('.')
            .ok_or_else(|| format!("device {s:?}: want ACCOUNT.DEVICE"))?;
        Ok(Self {
            account: a.parse().map_err(|e| format!("device {s:?}: {e}"))?,
            device: d.parse().map_err(|e| format!("device {s:?}: {e}"))?,
        })
    }
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A new account with its primary device (SQLite-backed when `durable`).
    CreateAccount {
        /// Whether the primary keeps its state in a SQLite file (else in memory).
        durable: bool,
    },
    /// The account's primary links a new companion (no-op at the companion limit).
    Link {
        /// The account.
        account: u16,
        /// Whether the companion's store is a SQLite file.
        durable: bool,
    },
    /// The account's primary unlinks one of its companions (no-op without companions).
    Unlink {
        /// The account.
        account: u16,
        /// Which companion (modulo their number).
        companion: u8,
    },
    /// The account's primary is reinstalled: a new identity (account key); every device of the
    /// old installation is gone (companions are logged out).
    Reinstall {
        /// The account.
        account: u16,
        /// Whether the new primary's store is a SQLite file.
        durable: bool,
    },
    /// A 1:1 message from a device to another account (the next one if `to` is its own).
    Message {
        /// The sending device.
        from: DevRef,
        /// The receiving account.
        to: u16,
    },
    /// A group message. The sender is a member: `from.account` indexes the group's members.
    GroupMessage {
        /// The group (modulo the groups created).
        group: u16,
        /// The sender, relative to the group's members.
        from: DevRef,
    },
    /// A new group of `creator` and `members` (duplicates collapse).
    CreateGroup {
        /// The account creating it.
        creator: u16,
        /// The other members.
        members: Vec<u16>,
    },
    /// An account joins a group (no-op if already a member).
    AddMember {
        /// The group.
        group: u16,
        /// The account.
        account: u16,
    },
    /// A member leaves a group (no-op when it is the last member).
    RemoveMember {
        /// The group.
        group: u16,
        /// The member (modulo the members, in name order).
        member: u16,
    },
    /// A device fetches and processes up to `count` envelopes waiting for it.
    Deliver {
        /// The device.
        device: DevRef,
        /// How many.
        count: u8,
    },
    /// Every device fetches and processes everything waiting (no faults; retries follow).
    DeliverAll,
    /// Time passes.
    Tick {
        /// Milliseconds.
        ms: u32,
    },
    /// Fault: one delivery attempt fails; the server keeps the envelope and tries again later
    /// (it goes to the back of the device's queue).
    DropAttempt {
        /// The device.
        device: DevRef,
        /// Which queued envelope.
        nth: u8,
    },
    /// Fault: an envelope is lost for good (server data loss).
    Lose {
        /// The device.
        device: DevRef,
        /// Which queued envelope.
        nth: u8,
    },
    /// Fault: an envelope is delivered twice (an acknowledgement was lost).
    Duplicate {
        /// The device.
        device: DevRef,
        /// Which queued envelope.
        nth: u8,
    },
    /// Fault: an envelope is held back for a while (later ones overtake it).
    Delay {
        /// The device.
        device: DevRef,
        /// Which queued envelope.
        nth: u8,
        /// For how long.
        ms: u32,
    },
    /// Fault: a device's queue is shuffled.
    Reorder {
        /// The device.
        device: DevRef,
        /// Seeds the permutation.
        perm: u32,
    },
    /// Fault: the directory serves the account's devices as they are now, for a while (a stale
    /// cache).
    Stale {
        /// The account.
        account: u16,
        /// For how long.
        ms: u32,
    },
    /// Fault: the device's process dies. `point` 0: between steps (a plain restart); otherwise at
    /// the `point`-th store operation of its next send or receive step, or right after that step
    /// committed if it has fewer. The device restarts from its store.
    Crash {
        /// The device.
        device: DevRef,
        /// Where.
        point: u8,
    },
    /// A device changes a setting (app state): which action, on which chat and to which value
    /// follows from `what` (`world/app_state.rs`); with `sync` the device syncs at once, else
    /// the change waits for its next sync.
    Setting {
        /// The device.
        device: DevRef,
        /// Chooses the action, its target and its value.
        what: u16,
        /// Sync right away.
        sync: bool,
    },
    /// A device syncs its app state with its account's app-state server.
    AppSync {
        /// The device.
        device: DevRef,
    },
    /// A 1:1 message with a photo (the next account if `to` is its own).
    Photo {
        /// The sending device.
        from: DevRef,
        /// The receiving account.
        to: u16,
    },
    /// A group message with a photo; `from` as for [`Event::GroupMessage`].
    GroupPhoto {
        /// The group.
        group: u16,
        /// The sender, relative to the group's members.
        from: DevRef,
    },
    /// Fault: the device syncs its app state now through a server that tampers with what it
    /// serves (`attack` picks drop / swap / replay / patch bit flip / snapshot bit flip / old
    /// snapshot; `n` its argument).
    AppTamper {
        /// The device.
        device: DevRef,
        /// Which attack.
        attack: u8,
        /// Its argument.
        n: u16,
    },
    /// Fault: the blob store loses a photo's blob, or corrupts it.
    BlobFault {
        /// Which blob (modulo the intact ones, in the order they were sent).
        nth: u16,
        /// Corrupt it (else lose it).
        corrupt: bool,
    },
    /// Fault: the blob store loses or corrupts a history chunk's blob (one uploaded for a chunk
    /// its companion has not applied yet).
    HistoryFault {
        /// Which blob (modulo the intact ones, in the order they were uploaded).
        nth: u16,
        /// Corrupt it (else lose it).
        corrupt: bool,
    },
}

/// The names of the event kinds, in the order of [`Event::kind`].
pub const KINDS: [&str; 26] = [
    "account",
    "link",
    "unlink",
    "reinstall",
    "send",
    "group-send",
    "create-group",
    "add-member",
    "remove-member",
    "deliver",
    "deliver-all",
    "tick",
    "drop",
    "lose",
    "dup",
    "delay",
    "reorder",
    "stale",
    "crash",
    "setting",
    "app-sync",
    "photo",
    "group-photo",
    "app-tamper",
    "blob-fault",
    "history-fault",
];

impl Event {
    /// The event's kind, an index into [`KINDS`].
    pub fn kind(&self) -> usize {
        match self {
            Self::CreateAccount { .. } => 0,
            Self::Link { .. } => 1,
            Self::Unlink { .. } => 2,
            Self::Reinstall { .. } => 3,
            Self::Message { .. } => 4,
            Self::GroupMessage { .. } => 5,
            Self::CreateGroup { .. } => 6,
            Self::AddMember { .. } => 7,
            Self::RemoveMember { .. } => 8,
            Self::Deliver { .. } => 9,
            Self::DeliverAll => 10,
            Self::Tick { .. } => 11,
            Self::DropAttempt { .. } => 12,
            Self::Lose { .. } => 13,
            Self::Duplicate { .. } => 14,
            Self::Delay { .. } => 15,
            Self::Reorder { .. } => 16,
            Self::Stale { .. } => 17,
            Self::Crash { .. } => 18,
            Self::Setting { .. } => 19,
            Self::AppSync { .. } => 20,
            Self::Photo { .. } => 21,
            Self::GroupPhoto { .. } => 22,
            Self::AppTamper { .. } => 23,
            Self::BlobFault { .. } => 24,
            Self::HistoryFault { .. } => 25,
        }
    }

    /// The kind's name.
    pub fn name(&self) -> &'static str {
        KINDS.get(self.kind()).copied().unwrap_or("?")
    }

    /// Whether this event is a fault.
    pub fn is_fault(&self) -> bool {
        let k = self.kind();
        (12..=18).contains(&k) || k >= 23
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        let d = |b: &bool| u8::from(*b);
        match self {
            Self::CreateAccount { durable } => write!(f, "{name} durable={}", d(durable)),
            Self::Link { account, durable } => write!(f, "{name} account={account} durable={}", d(durable)),
            Self::Unlink { account, companion } => {
                write!(f, "{name} account={account} companion={companion}")
            }
            Self::Reinstall { account, durable } => {
                write!(f, "{name} account={account} durable={}", d(durable))
            }
            Self::Message { from, to } => write!(f, "{name} from={from} to={to}"),
            Self::GroupMessage { group, from } => write!(f, "{name} group={group} from={from}"),
            Self::CreateGroup { creator, members } => {
                let list: Vec<String> = members.iter().map(u16::to_string).collect();
                write!(f, "{name} creator={creator} members={}", list.join(","))
            }
            Self::AddMember { group, account } => write!(f, "{name} group={group} account={account}"),
            Self::RemoveMember { group, member } => write!(f, "{name} group={group} member={member}"),
            Self::Deliver { device, count } => write!(f, "{name} device={device} count={count}"),
            Self::DeliverAll => write!(f, "{name}"),
            Self::Tick { ms } => write!(f, "{name} ms={ms}"),
            Self::DropAttempt { device, nth }
            | Self::Lose { device, nth }
            | Self::Duplicate { device, nth } => {
                write!(f, "{name} device={device} nth={nth}")
            }
            Self::Delay { device, nth, ms } => write!(f, "{name} device={device} nth={nth} ms={ms}"),
            Self::Reorder { device, perm } => write!(f, "{name} device={device} perm={perm}"),
            Self::Stale { account, ms } => write!(f, "{name} account={account} ms={ms}"),
            Self::Crash { device, point } => write!(f, "{name} device={device} point={point}"),
            Self::Setting { device, what, sync } => {
                write!(f, "{name} device={device} what={what} sync={}", d(sync))
            }
            Self::AppSync { device } => write!(f, "{name} device={device}"),
            Self::Photo { from, to } => write!(f, "{name} from={from} to={to}"),
            Self::GroupPhoto { group, from } => write!(f, "{name} group={group} from={from}"),
            Self::AppTamper { device, attack, n } => {
                write!(f, "{name} device={device} attack={attack} n={n}")
            }
            Self::BlobFault { nth, corrupt } | Self::HistoryFault { nth, corrupt } => {
                write!(f, "{name} nth={nth} corrupt={}", d(corrupt))
            }
        }
    }
}

/// The `key=value` fields of one line.
struct Fields<'a> {
    line: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    fn get<T: FromStr>(&self, key: &str) -> Result<T, String>
    where
        T::Err: fmt::Display,
    {
        let (_, v) = self
            .fields
            .iter()
            .find(|(k, _)| *k == key)
            .ok_or_else(|| format!("{:?}: missing {key}=", self.line))?;
        v.parse().map_err(|e| format!("{:?}: {key}: {e}", self.line))
    }

    fn flag(&self, key: &str) -> Result<bool, String> {
        Ok(self.get::<u8>(key)? != 0)
    }

    fn list(&self, key: &str) -> Result<Vec<u16>, String> {
        let raw: String = self.get(key)?;
        raw.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|e| format!("{:?}: {key}: {e}", self.line)))
            .collect()
    }
}

impl FromStr for Event {
    type Err = String;
    fn from_str(line: &str) -> Result<Self, String> {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let name = words.next().ok_or("empty line")?;
        let fields = words
            .map(|w| {
                w.split_once('=')
                    .ok_or_else(|| format!("{line:?}: {w:?} is not key=value"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let f = Fields { line, fields };
        Ok(match name {
            "account" => Self::CreateAccount {
                durable: f.flag("durable")?,
            },
            "link" => Self::Link {
                account: f.get("account")?,
                durable: f.flag("durable")?,
            },
            "unlink" => Self::Unlink {
                account: f.get("account")?,
                companion: f.get("companion")?,
            },
            "reinstall" => Self::Reinstall {
                account: f.get("account")?,
                durable: f.flag("durable")?,
            },
            "send" => Self::Message {
                from: f.get("from")?,
                to: f.get("to")?,
            },
            "group-send" => Self::GroupMessage {
                group: f.get("group")?,
                from: f.get("from")?,
            },
            "create-group" => Self::CreateGroup {
                creator: f.get("creator")?,
                members: f.list("members")?,
            },
            "add-member" => Self::AddMember {
                group: f.get("group")?,
                account: f.get("account")?,
            },
            "remove-member" => Self::RemoveMember {
                group: f.get("group")?,
                member: f.get("member")?,
            },
            "deliver" => Self::Deliver {
                device: f.get("device")?,
                count: f.get("count")?,
            },
            "deliver-all" => Self::DeliverAll,
            "tick" => Self::Tick { ms: f.get("ms")? },
            "drop" => Self::DropAttempt {
                device: f.get("device")?,
                nth: f.get("nth")?,
            },
            "lose" => Self::Lose {
                device: f.get("device")?,
                nth: f.get("nth")?,
            },
            "dup" => Self::Duplicate {
                device: f.get("device")?,
                nth: f.get("nth")?,
            },
            "delay" => Self::Delay {
                device: f.get("device")?,
                nth: f.get("nth")?,
                ms: f.get("ms")?,
            },
            "reorder" => Self::Reorder {
                device: f.get("device")?,
                perm: f.get("perm")?,
            },
            "stale" => Self::Stale {
                account: f.get("account")?,
                ms: f.get("ms")?,
            },
            "crash" => Self::Crash {
                device: f.get("device")?,
                point: f.get("point")?,
            },
            "setting" => Self::Setting {
                device: f.get("device")?,
                what: f.get("what")?,
                sync: f.flag("sync")?,
            },
            "app-sync" => Self::AppSync {
                device: f.get("device")?,
            },
            "photo" => Self::Photo {
                from: f.get("from")?,
                to: f.get("to")?,
            },
            "group-photo" => Self::GroupPhoto {
                group: f.get("group")?,
                from: f.get("from")?,
            },
            "app-tamper" => Self::AppTamper {
                device: f.get("device")?,
                attack: f.get("attack")?,
                n: f.get("n")?,
            },
            "blob-fault" => Self::BlobFault {
                nth: f.get("nth")?,
                corrupt: f.flag("corrupt")?,
            },
            "history-fault" => Self::HistoryFault {
                nth: f.get("nth")?,
                corrupt: f.flag("corrupt")?,
            },
            other => return Err(format!("{line:?}: unknown event {other:?}")),
        })
    }
}

/// Parses a trace: one event a line; blank lines and `#` comments are skipped.
pub fn parse_trace(text: &str) -> Result<Vec<Event>, String> {
    text.lines()
        .filter(|l| !l.split('#').next().unwrap_or("").trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Formats a trace, one event a line.
pub fn format_trace(events: &[Event]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

/// A trace with what it takes to replay it: the world's seed and the device limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFile {
    /// The world's seed.
    pub seed: u64,
    /// Devices per account, at most (1–4).
    pub devices: usize,
    /// The events.
    pub events: Vec<Event>,
}

/// The header line of a trace file.
const HEADER: &str = "# tandem-sim trace";

impl TraceFile {
    /// Reads a trace file: a header `# tandem-sim trace seed=S devices=M`, then the events.
    pub fn parse(text: &str) -> Result<Self, String> {
        let header = text
            .lines()
            .find(|l| l.starts_with(HEADER))
            .ok_or_else(|| format!("no {HEADER:?} header line"))?;
        let mut seed = None;
        let mut devices = 4;
        for word in header.trim_start_matches(HEADER).split_whitespace() {
            match word.split_once('=') {
                Some(("seed", v)) => seed = Some(v.parse().map_err(|e| format!("seed: {e}"))?),
                Some(("devices", v)) => devices = v.parse().map_err(|e| format!("devices: {e}"))?,
                _ => {}
            }
        }
        Ok(Self {
            seed: seed.ok_or("the header has no seed=")?,
            devices,
            events: parse_trace(text)?,
        })
    }
}

impl fmt::Display for TraceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER} seed={} devices={}", self.seed, self.devices)?;
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// One event of every kind prints and parses back, and `kind` follows [`KINDS`].
    #[test]
    fn every_kind_prints_and_parses_back() {
        let d = DevRef {
            account: 3,
            device: 2,
        };
        let all = vec![
            Event::CreateAccount { durable: true },
            Event::Link {
                account: 1,
                durable: false,
            },
            Event::Unlink {
                account: 1,
                companion: 2,
            },
            Event::Reinstall {
                account: 4,
                durable: true,
            },
            Event::Message { from: d, to: 5 },
            Event::GroupMessage { group: 2, from: d },
            Event::CreateGroup {
                creator: 1,
                members: vec![2, 3],
            },
            Event::AddMember { group: 1, account: 2 },
            Event::RemoveMember { group: 1, member: 0 },
            Event::Deliver { device: d, count: 3 },
            Event::DeliverAll,
            Event::Tick { ms: 99 },
            Event::DropAttempt { device: d, nth: 1 },
            Event::Lose { device: d, nth: 2 },
            Event::Duplicate { device: d, nth: 3 },
            Event::Delay {
                device: d,
                nth: 4,
                ms: 5,
            },
            Event::Reorder { device: d, perm: 6 },
            Event::Stale { account: 2, ms: 7 },
            Event::Crash { device: d, point: 8 },
            Event::Setting {
                device: d,
                what: 1234,
                sync: true,
            },
            Event::AppSync { device: d },
            Event::Photo { from: d, to: 1 },
            Event::GroupPhoto { group: 3, from: d },
            Event::AppTamper {
                device: d,
                attack: 4,
                n: 77,
            },
            Event::BlobFault {
                nth: 9,
                corrupt: true,
            },
            Event::HistoryFault {
                nth: 11,
                corrupt: false,
            },
        ];
        assert_eq!(all.len(), KINDS.len());
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.kind(), i);
            assert_eq!(e.name(), KINDS[i]);
            assert_eq!(e.to_string().parse::<Event>().unwrap(), *e, "{e}");
        }
        assert_eq!(parse_trace(&format_trace(&all)).unwrap(), all);
        let faults: Vec<&str> = all.iter().filter(|e| e.is_fault()).map(Event::name).collect();
        assert_eq!(
            faults,
            [
                "drop",
                "lose",
                "dup",
                "delay",
                "reorder",
                "stale",
                "crash",
                "app-tamper",
                "blob-fault",
                "history-fault"
            ]
        );
    }
}
