//! The simulated world: accounts, their devices (each a `tandem` client over a [`SimStore`]),
//! groups, the relay and its queues, the clock — and the application logic around the clients
//! (what an app does with a send report, a receipt, an account-key change, a crash).
//!
//! The world knows the truth (which devices exist, who is in which group) and checks the
//! clients against it as events run; violations go to [`World::violations`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::Address;
use tandem::blob::MemoryBlobStore;
use tandem::client::{
    Client, ClientError, DataMessage, Directory, Envelope, EnvelopeKind, MemoryRelay, ReceiveFailure,
    Received, SendReport,
};
use tandem::crypto::KeyPair;
use tandem::store::StoreError;

use crate::clock::Clock;
use crate::directory::{SimDirectory, Stale};
use crate::event::{DevRef, Event};
use crate::invariants::{Stats, Violation, ViolationKind};
use crate::ledger::{DevId, Ledger, MessageRecord};
use crate::network::{InFlight, Network};
use crate::store::{CrashKind, SimStore};

mod app_state;
mod devices;
mod end;
mod faults;
mod groups;
mod history;
mod known;
mod media;
mod receive;

pub use receive::TRANSIENT_ATTEMPTS;
mod send;
#[cfg(test)]
mod tests;

/// One-time prekeys a device publishes when it is set up.
const PREKEYS: u32 = 10;
/// How many times the app tries an operation again (after a crash or an accepted key change).
const ATTEMPTS: usize = 6;
/// Re-sends to missing devices per message, at most.
const RESENDS: u32 = 3;
/// Delivery rounds when quiescing, at most.
const QUIESCE_ROUNDS: usize = 200;
/// Violations kept per run (the first ones).
const MAX_VIOLATIONS: usize = 20;

/// A device incarnation.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// Its address.
    pub address: Address,
    /// Its account (index).
    pub account: usize,
    /// Its account's installation (reinstall count) it belongs to.
    pub epoch: u32,
    /// Alive (not unlinked, not replaced by a reinstall).
    pub alive: bool,
    /// SQLite-backed.
    pub durable: bool,
    /// The step it was created at.
    pub born: usize,
}

/// An account.
#[derive(Clone, Debug)]
pub struct Account {
    /// Its name (`a<index>`).
    pub name: String,
    /// Reinstalls so far.
    pub epoch: u32,
    /// Its live devices by device id.
    pub devices: BTreeMap<u32, DevId>,
}

/// A group.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    /// Its id.
    pub id: [u8; 16],
    /// Its member accounts (indexes).
    pub members: BTreeSet<usize>,
    /// Members removed: (account, step).
    pub removed: Vec<(usize, usize)>,
}

/// A message that missed devices, waiting to be re-sent to them.
#[derive(Clone, Copy, Debug)]
struct Resend {
    message: usize,
    attempts: u32,
    /// Calls made, including those a crash or an account-key change interrupted.
    tries: u32,
}

/// The temporary folder of the SQLite files, removed with the world.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where SQLite files go: `TANDEM_SIM_DIR`, else `/dev/shm` when there is one, else the
/// system's temporary folder.
fn base_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TANDEM_SIM_DIR") {
        return PathBuf::from(d);
    }
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() { shm } else { std::env::temp_dir() }
}

/// The simulated world.
pub struct World {
    rng: ChaCha20Rng,
    clock: Clock,
    relay: MemoryRelay,
    stale: BTreeMap<String, Stale>,
    network: Network,
    accounts: Vec<Account>,
    devices: Vec<DeviceInfo>,
    clients: BTreeMap<DevId, Client<SimStore>>,
    by_address: BTreeMap<Address, DevId>,
    groups: Vec<GroupInfo>,
    ledger: Ledger,
    /// The account installation each device last accepted for each other account.
    known_epoch: BTreeMap<(DevId, usize), u32>,
    resends: Vec<Resend>,
    /// Group envelopes a device was told were duplicates of a message it never read.
    unread_duplicates: BTreeSet<(DevId, usize)>,
    /// App state: each account's server, each device's app state and what the app persisted.
    app: app_state::AppWorld,
    /// The blob store (the media server: photos and history chunks), one for the world.
    blobs: MemoryBlobStore,
    /// History syncs to companions (`history.rs`).
    histories: history::Histories,
    /// Report known tandem issues as violations too.
    strict: bool,
    /// How many times a transiently failed envelope is offered again.
    transient_attempts: u32,
    dir: Option<TempDir>,
    seed: u64,
    max_companions: usize,
    step: usize,
    /// Counters.
    pub stats: Stats,
    /// Violations seen so far.
    pub violations: Vec<Violation>,
    log: Option<Vec<String>>,
}

impl World {
    /// An empty world: randomness from `seed`; accounts get at most `max_companions`
    /// companions; `log` keeps a line per outcome.
    pub fn new(seed: u64, max_companions: usize, log: bool) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
            clock: Clock::default(),
            relay: MemoryRelay::new(),
            stale: BTreeMap::new(),
            network: Network::default(),
            accounts: Vec::new(),
            devices: Vec::new(),
            clients: BTreeMap::new(),
            by_address: BTreeMap::new(),
            groups: Vec::new(),
            ledger: Ledger::default(),
            known_epoch: BTreeMap::new(),
            resends: Vec::new(),
            unread_duplicates: BTreeSet::new(),
            app: app_state::AppWorld::default(),
            blobs: MemoryBlobStore::new(),
            histories: history::Histories::default(),
            strict: false,
            transient_attempts: TRANSIENT_ATTEMPTS,
            dir: None,
            seed,
            max_companions: max_companions.min(3),
            step: 0,
            stats: Stats::default(),
            violations: Vec::new(),
            log: log.then(Vec::new),
        }
    }

    /// The outcome log (when enabled).
    pub fn log(&self) -> &[String] {
        self.log.as_deref().unwrap_or(&[])
    }

    /// The messages sent.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Devices alive now.
    pub fn live_devices(&self) -> usize {
        self.clients.len()
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(log) = &mut self.log {
            log.push(format!("      {}", line()));
        }
    }

    fn violation(&mut self, kind: ViolationKind, detail: String) {
        self.note(|| format!("VIOLATION {}: {detail}", kind.name()));
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(Violation {
                kind,
                step: self.step,
                detail,
            });
        }
    }

    /// A violation, unless it is a known tandem issue (see [`known`]) and the run is not strict:
    /// then it is counted in [`Stats::known`].
    fn violation_unless(&mut self, kind: ViolationKind, detail: String, known: Option<&'static str>) {
        match known {
            Some(tag) if !self.strict => {
                self.note(|| format!("known issue {tag}: {detail}"));
                *self.stats.known.entry(tag).or_default() += 1;
            }
            Some(tag) => self.violation(kind, format!("{detail} (known issue: {tag})")),
            None => self.violation(kind, detail),
        }
    }

    /// Sets how many times a transiently failed envelope is offered again.
    pub fn set_transient_attempts(&mut self, attempts: u32) {
        self.transient_attempts = attempts;
    }

    /// Reports known tandem issues as violations too (or not).
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    fn fault(&mut self, name: &'static str) {
        *self.stats.faults.entry(name).or_default() += 1;
    }

    // ---- Resolving relative references ----

    fn account_index(&self, a: u16) -> Option<usize> {
        (!self.accounts.is_empty()).then(|| usize::from(a) % self.accounts.len())
    }

    fn device_of(&self, account: usize, device: u8) -> Option<DevId> {
        let devices = &self.accounts.get(account)?.devices;
        if devices.is_empty() {
            return None;
        }
        devices.values().nth(usize::from(device) % devices.len()).copied()
    }

    fn resolve(&self, r: DevRef) -> Option<DevId> {
        self.device_of(self.account_index(r.account)?, r.device)
    }

    fn primary(&self, account: usize) -> Option<DevId> {
        self.accounts.get(account)?.devices.get(&0).copied()
    }

    fn name(&self, account: usize) -> String {
        self.accounts
            .get(account)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    }

    fn account_of_name(&self, name: &str) -> Option<usize> {
        name.strip_prefix('a')?
            .parse()
            .ok()
            .filter(|i| *i < self.accounts.len())
    }

    fn address(&self, d: DevId) -> Address {
        self.devices
            .get(d)
            .map(|i| i.address.clone())
            .unwrap_or_else(|| Address::new("?", 0))
    }

    fn live_devices_of(&self, accounts: &BTreeSet<usize>) -> BTreeSet<DevId> {
        accounts
            .iter()
            .filter_map(|a| self.accounts.get(*a))
            .flat_map(|a| a.devices.values().copied())
            .collect()
    }

    /// Whether the directory serves a stale answer for this account now.
    fn stale_now(&self, account: usize) -> bool {
        let now = self.clock.now();
        self.stale.get(&self.name(account)).is_some_and(|s| s.until > now)
    }

    fn served_epoch(&self, account: usize) -> u32 {
        let now = self.clock.now();
        let name = self.name(account);
        match self.stale.get(&name) {
            Some(s) if s.until > now => s.epoch,
            _ => self.accounts.get(account).map_or(0, |a| a.epoch),
        }
    }

    /// Runs `f` on a device's client with the directory, the RNG and the time.
    fn with_client<T>(
        &mut self,
        d: DevId,
        f: impl FnOnce(&mut Client<SimStore>, &mut SimDirectory<'_>, &mut ChaCha20Rng, u64) -> T,
    ) -> Option<T> {
        let now = self.clock.now();
        let client = self.clients.get_mut(&d)?;
        let mut dir = SimDirectory {
            relay: &mut self.relay,
            stale: &self.stale,
            now,
        };
        Some(f(client, &mut dir, &mut self.rng, now))
    }

    /// Runs a client call that is not a send or a receive (a group change, a link, a key
    /// acceptance…) with the app's answer to a crash: after a crash in the middle of the step
    /// the device restarts and the app calls again; after a crash right after the step
    /// committed it restarts and keeps the result (the app had saved it).
    fn call<T>(
        &mut self,
        d: DevId,
        mut op: impl FnMut(&mut Client<SimStore>, &mut SimDirectory<'_>, &mut ChaCha20Rng, u64) -> T,
    ) -> Option<T> {
        for _ in 0..ATTEMPTS {
            let result = self.with_client(d, &mut op)?;
            match self.crashed(d) {
                None => return Some(result),
                Some(kind) => {
                    self.count_crash(kind);
                    self.restart(d);
                    if kind == CrashKind::AfterStep {
                        return Some(result);
                    }
                }
            }
        }
        None
    }

    fn crashed(&mut self, d: DevId) -> Option<CrashKind> {
        self.clients.get_mut(&d).and_then(|c| c.store_mut().crashed())
    }

    // ---- Events ----

    /// Runs one event (step `step` of the trace).
    pub fn apply(&mut self, step: usize, event: &Event) {
        self.step = step;
        self.stats.events += 1;
        self.clock.advance(1);
        if let Some(log) = &mut self.log {
            log.push(format!("{step:5} {event}"));
        }
        self.process_resends();
        self.process_history_unsent();
        match event {
            Event::CreateAccount { durable } => self.create_account(*durable),
            Event::Link { account, durable } => {
                if let Some(a) = self.account_index(*account) {
                    self.link(a, *durable);
                }
            }
            Event::Unlink { account, companion } => {
                if let Some(a) = self.account_index(*account) {
                    self.unlink(a, *companion);
                }
            }
            Event::Reinstall { account, durable } => {
                if let Some(a) = self.account_index(*account) {
                    self.reinstall(a, *durable);
                }
            }
            Event::Message { from, to } => self.message(*from, *to),
            Event::GroupMessage { group, from } => self.group_message(*group, *from),
            Event::CreateGroup { creator, members } => self.create_group(*creator, members),
            Event::AddMember { group, account } => self.add_member(*group, *account),
            Event::RemoveMember { group, member } => self.remove_member(*group, *member),
            Event::Deliver { device, count } => {
                if let Some(d) = self.resolve(*device) {
                    for _ in 0..*count {
                        if !self.deliver_one(d) {
                            break;
                        }
                    }
                }
            }
            Event::DeliverAll => {
                self.deliver_all();
            }
            Event::Tick { ms } => self.clock.advance(u64::from(*ms)),
            Event::DropAttempt { device, nth } => {
                if let Some(d) = self.resolve(*device) {
                    let a = self.address(d);
                    if self.network.drop_attempt(&a, *nth) {
                        self.fault("drop");
                    }
                }
            }
            Event::Lose { device, nth } => self.lose(*device, *nth),
            Event::Duplicate { device, nth } => {
                if let Some(d) = self.resolve(*device) {
                    let a = self.address(d);
                    if self.network.duplicate(&a, *nth) {
                        self.fault("dup");
                    }
                }
            }
            Event::Delay { device, nth, ms } => {
                if let Some(d) = self.resolve(*device) {
                    let a = self.address(d);
                    let until = self.clock.now() + u64::from(*ms);
                    if self.network.delay(&a, *nth, until) {
                        self.fault("delay");
                    }
                }
            }
            Event::Reorder { device, perm } => {
                if let Some(d) = self.resolve(*device) {
                    let a = self.address(d);
                    if self.network.reorder(&a, *perm) {
                        self.fault("reorder");
                    }
                }
            }
            Event::Stale { account, ms } => self.make_stale(*account, *ms),
            Event::Crash { device, point } => {
                if let Some(d) = self.resolve(*device) {
                    if *point == 0 {
                        self.fault("restart");
                        self.restart(d);
                    } else if let Some(c) = self.clients.get_mut(&d) {
                        c.store_mut().arm_crash(u32::from(*point));
                        self.fault("crash");
                    }
                }
            }
            Event::Setting { device, what, sync } => self.setting(*device, *what, *sync),
            Event::AppSync { device } => self.app_sync(*device),
            Event::Photo { from, to } => self.photo(*from, *to),
            Event::GroupPhoto { group, from } => self.group_photo(*group, *from),
            Event::AppTamper { device, attack, n } => self.app_tamper(*device, *attack, *n),
            Event::BlobFault { nth, corrupt } => self.blob_fault(*nth, *corrupt),
            Event::HistoryFault { nth, corrupt } => self.history_fault(*nth, *corrupt),
        }
        self.stats.max_live_devices = self.stats.max_live_devices.max(self.clients.len() as u64);
    }
}
