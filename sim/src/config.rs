//! What a run looks like: world size, event count, event mix.

/// The size of a run and the mix of its events.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Accounts created at the start.
    pub accounts: usize,
    /// Devices per account at most (the primary and up to `devices - 1` companions, at most 4).
    pub devices: usize,
    /// Every account starts with `devices - 1` companions (else a random number up to that).
    pub full: bool,
    /// Events generated after the setup.
    pub events: usize,
    /// Share of devices whose store is a SQLite file (the rest keep it in memory).
    pub durable_share: f64,
    /// Groups created at the start (each of up to `group_size` members).
    pub groups: usize,
    /// Members of a group at creation, at most.
    pub group_size: usize,
    /// The event mix.
    pub weights: Weights,
}

impl Config {
    /// A small world: 6 accounts of up to 4 devices, 2 groups, 300 events, faults on.
    pub fn small() -> Self {
        Self {
            accounts: 6,
            devices: 4,
            full: false,
            events: 300,
            durable_share: 0.2,
            groups: 2,
            group_size: 4,
            weights: Weights::default(),
        }
    }

    /// The largest companion count of an account.
    pub fn max_companions(&self) -> usize {
        self.devices.clamp(1, 4) - 1
    }
}

/// Relative weights of the event kinds after the setup (0 = never).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// 1:1 messages.
    pub message: u32,
    /// Group messages.
    pub group_message: u32,
    /// New groups.
    pub create_group: u32,
    /// Members joining a group.
    pub add_member: u32,
    /// Members leaving a group.
    pub remove_member: u32,
    /// Companions linked.
    pub link: u32,
    /// Companions unlinked.
    pub unlink: u32,
    /// Primary reinstalls.
    pub reinstall: u32,
    /// A device fetching some of its envelopes.
    pub deliver: u32,
    /// Everyone fetching everything.
    pub deliver_all: u32,
    /// Time passing.
    pub tick: u32,
    /// Failed delivery attempts (retried by the server).
    pub drop: u32,
    /// Envelopes lost for good.
    pub lose: u32,
    /// Envelopes delivered twice.
    pub duplicate: u32,
    /// Envelopes held back.
    pub delay: u32,
    /// Queues shuffled.
    pub reorder: u32,
    /// Stale directory answers.
    pub stale: u32,
    /// Crashes and restarts.
    pub crash: u32,
    /// Settings changed (app state).
    pub setting: u32,
    /// App-state syncs.
    pub app_sync: u32,
    /// 1:1 photos.
    pub photo: u32,
    /// Group photos.
    pub group_photo: u32,
    /// App-state syncs through a tampering server.
    pub app_tamper: u32,
    /// Photo blobs lost or corrupted by the blob store.
    pub blob_fault: u32,
    /// History-chunk blobs lost or corrupted by the blob store.
    pub history_fault: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            message: 20,
            group_message: 14,
            create_group: 1,
            add_member: 2,
            remove_member: 2,
            link: 2,
            unlink: 1,
            reinstall: 1,
            deliver: 30,
            deliver_all: 3,
            tick: 3,
            drop: 3,
            lose: 1,
            duplicate: 3,
            delay: 3,
            reorder: 3,
            stale: 2,
            crash: 3,
            setting: 5,
            app_sync: 4,
            photo: 2,
            group_photo: 2,
            app_tamper: 1,
            blob_fault: 1,
            history_fault: 2,
        }
    }
}

impl Weights {
    /// The same mix without faults.
    pub fn without_faults(mut self) -> Self {
        self.drop = 0;
        self.lose = 0;
        self.duplicate = 0;
        self.delay = 0;
        self.reorder = 0;
        self.stale = 0;
        self.crash = 0;
        self.app_tamper = 0;
        self.blob_fault = 0;
        self.history_fault = 0;
        self
    }

    /// The same mix without app state and media (no settings, syncs, photos, their faults or
    /// history-chunk faults): a seed then gives the trace it gave before those events existed
    /// (a link still sends history, so the run differs).
    pub fn without_app_state_and_media(mut self) -> Self {
        self.setting = 0;
        self.app_sync = 0;
        self.photo = 0;
        self.group_photo = 0;
        self.app_tamper = 0;
        self.blob_fault = 0;
        self.history_fault = 0;
        self
    }

    /// The weights in [`crate::event::KINDS`] order from `link` on (`account` is setup only).
    pub(crate) fn table(&self) -> [(usize, u32); 25] {
        [
            (1, self.link),
            (2, self.unlink),
            (3, self.reinstall),
            (4, self.message),
            (5, self.group_message),
            (6, self.create_group),
            (7, self.add_member),
            (8, self.remove_member),
            (9, self.deliver),
            (10, self.deliver_all),
            (11, self.tick),
            (12, self.drop),
            (13, self.lose),
            (14, self.duplicate),
            (15, self.delay),
            (16, self.reorder),
            (17, self.stale),
            (18, self.crash),
            (19, self.setting),
            (20, self.app_sync),
            (21, self.photo),
            (22, self.group_photo),
            (23, self.app_tamper),
            (24, self.blob_fault),
            (25, self.history_fault),
        ]
    }
}
