//! App state (spec 08) around each device: settings changed on one device reach the account's
//! other devices through the account's app-state server; keys travel between own devices as
//! self messages, through the simulated network (so they are subject to its faults).
//!
//! # The model
//!
//! - App state starts at the run's first app-state event (`setting`, `app-sync`, `app-tamper`):
//!   then every account's primary mints the account's first key and shares it with its
//!   companions (so a trace without such events runs exactly as it did before they existed).
//!   From then on a linked companion is sent the primary's ring (`AppStateKeys`, to that device
//!   only); an unlink makes the primary pull everything, mint the next key, share it with the
//!   remaining devices, rekey (`AppStateSync::rekey`), push, push a `KeyExpiration` and expire
//!   the old epoch (its next sync moves every collection past it: spec 08.7); a reinstall starts the account's app state afresh (a new server, as
//!   WhatsApp's re-registration wipes it; the new primary mints a new first key).
//! - Each account has a `MemoryAppStateServer`. A device syncs (`AppStateSync::sync_collection`)
//!   collection by collection, `regular_low` first (where the `KeyExpiration` lives, so a device
//!   that lacks the newest key usually stops there; when it does not, its push under the
//!   expired key still applies everywhere, spec 08.7). A share received is taken in as spec 08 says (insert each key, apply its expiry).
//! - A device that lacks a key (a patch under an unknown key, or nothing to send with) asks its
//!   own devices (`AppStateKeyRequest`, the 6-byte ids it misses); any device holding keys
//!   answers with its ring, to the asker only. After every pass that synced everything, a
//!   device applies the `KeyExpiration` it holds and forgets the expired keys no collection
//!   needs (`AppStateSync::forget_expired_keys`).
//! - Persistence: the app writes a device's five collections (`CollectionState::to_bytes`), its
//!   ring (`AppStateKeyRing::to_bytes`) and its pending mutations
//!   (`AppStateSync::pending_to_bytes`) to its own storage (a byte blob per device that survives
//!   crashes, kept beside the `SimStore`) after every setting, sync pass and key change. A
//!   restart reads them back; a pending mutation lost anyway is counted (`lost in crashes`).
//! - Fault `app-tamper`: the device's next sync pass (an event's, or at the end) goes through a
//!   `TamperingServer`. The primary's syncs around a key rotation are always honest (an app
//!   rotates only after a pull that succeeded).
//! - Pushes never meet a conflict (409) here: a pass pulls and pushes within one step, so no
//!   other device pushes in between; concurrent changes are resolved when pulled (last writer
//!   wins, `superseded` in the statistics).
//!
//! # Invariants
//!
//! - After every sync pass every collection of the device is an honest state: its LTHash is the
//!   one the server's log gives at its version (checked against a reference built from the log
//!   with every key the account minted). A tampered pass either fails (a typed `SyncError`) and
//!   leaves the failing collection as it was, or what it took in is honest (withholding the
//!   newest patches is all a server can do unseen).
//! - A key share is encrypted only to live devices of the account; an unlinked device never
//!   holds a key minted after its unlink, nor an entry under one (it tries to read at the end).
//! - After the end checks, every collection of an account has moved past every key an unlinked
//!   device holds, and a patch each unlinked device makes under its old key as the server's
//!   next version (as a server that does not check who pushes would store it) is taken by no
//!   live device: skipped (key held, MAC checked) or refused (key forgotten), state unchanged
//!   (`ghost_check`).
//! - At the end (every live device syncs, key requests answered, until nothing changes) every
//!   live device of an account holds the same five collections as the reference at the server's
//!   head, nothing pending; every mutation the server acknowledged is there unless a later one
//!   (by timestamp, last writer wins, spec 08.7) replaced it.

use tandem::app_state::{
    AppStateKeyId, AppStateKeyRing, AppStateServer, AppStateSync, ApplyError, Attack, CallDirection,
    CallLogEntry, CallMedia, CallOutcome, CollectionName, CollectionState, EncodeError, LtHash,
    MemoryAppStateServer, Mutation, SyncAction, SyncError, SyncReport, TamperingServer,
    value::SyncActionValue,
};
use tandem::client::SelfMessage;

use super::*;

/// The order a device syncs its collections in: the key expiry's collection first.
const ORDER: [CollectionName; 5] = [
    CollectionName::RegularLow,
    CollectionName::CriticalBlock,
    CollectionName::CriticalUnblockLow,
    CollectionName::RegularHigh,
    CollectionName::Regular,
];

/// Rounds of syncing at the end of a run, at most.
const SETTLE_ROUNDS: usize = 16;

/// One device's app state.
#[derive(Clone, Default)]
pub(super) struct AppDevice {
    pub(super) sync: AppStateSync,
    pub(super) ring: AppStateKeyRing,
}

/// What the app persisted for a device: the five collections and the ring, as bytes.
#[derive(Clone, Default)]
pub(super) struct Persisted {
    collections: Vec<Vec<u8>>,
    ring: Vec<u8>,
    pending: Vec<u8>,
}

/// The reference for one collection: the server's log applied with every key the account
/// minted, and the LTHash after each version.
#[derive(Clone)]
pub(super) struct Reference {
    state: CollectionState,
    lthash_at: Vec<LtHash>,
}

/// One account's app state, as the world knows it.
pub(super) struct AccountApp {
    pub(super) server: MemoryAppStateServer,
    /// Every key minted for the current installation (never expired: the checker reads all).
    all_keys: AppStateKeyRing,
    /// The step each key was minted at.
    minted: BTreeMap<AppStateKeyId, usize>,
    /// The latest acknowledged (pushed) value per index: (timestamp, value).
    pub(super) acked: BTreeMap<(CollectionName, Vec<String>), (i64, SyncActionValue)>,
    references: BTreeMap<CollectionName, Reference>,
}

impl AccountApp {
    fn new() -> Self {
        Self {
            server: MemoryAppStateServer::new(),
            all_keys: AppStateKeyRing::new(),
            minted: BTreeMap::new(),
            acked: BTreeMap::new(),
            references: BTreeMap::new(),
        }
    }

    /// Brings the references up to the server's head.
    fn update_references(&mut self) -> Result<(), String> {
        for name in CollectionName::ALL {
            let r = self.references.entry(name).or_insert_with(|| Reference {
                state: CollectionState::new(name),
                lthash_at: vec![LtHash::zero()],
            });
            let from = usize::try_from(r.state.version()).unwrap_or(usize::MAX);
            for patch in self.server.patches(name).get(from..).unwrap_or_default() {
                r.state.apply_patch(&self.all_keys, patch).map_err(|e| {
                    format!(
                        "{name}: the reference cannot apply version {}: {e}",
                        r.state.version() + 1
                    )
                })?;
                r.lthash_at.push(r.state.lthash().clone());
            }
        }
        Ok(())
    }

    fn reference(&self, name: CollectionName) -> Option<&Reference> {
        self.references.get(&name)
    }
}

/// The app-state part of the world.
#[derive(Default)]
pub(super) struct AppWorld {
    /// Whether app state has started (see the module documentation).
    pub(super) enabled: bool,
    pub(super) accounts: BTreeMap<usize, AccountApp>,
    pub(super) devices: BTreeMap<DevId, AppDevice>,
    persisted: BTreeMap<DevId, Persisted>,
    /// Unlinked devices' app state, as it was at the unlink, with the step.
    pub(super) unlinked: BTreeMap<DevId, (AppDevice, usize)>,
    /// Attacks waiting for a device's next sync (`app-tamper`).
    armed: BTreeMap<DevId, Attack>,
}

/// What one sync pass did.
struct Pass {
    report: SyncReport,
    error: Option<SyncError>,
    pushed: Vec<(CollectionName, Mutation)>,
}

/// Syncs every collection in [`ORDER`], stopping at the first that fails.
fn sync_pass<S: AppStateServer + ?Sized>(app: &mut AppDevice, server: &mut S, rng: &mut ChaCha20Rng) -> Pass {
    let before: Vec<(CollectionName, Vec<Mutation>)> = ORDER
        .iter()
        .map(|n| (*n, app.sync.pending(*n).to_vec()))
        .collect();
    let mut report = SyncReport::default();
    let mut error = None;
    for name in ORDER {
        if let Err(e) = app
            .sync
            .sync_collection(name, server, &app.ring, rng, &mut report)
        {
            error = Some(e);
            break;
        }
    }
    let mut pushed = Vec::new();
    for (name, pending) in before {
        if report.pushed.get(&name).copied().unwrap_or(0) == 0 {
            continue;
        }
        let superseded = report.superseded.get(&name).map_or(&[][..], Vec::as_slice);
        pushed.extend(
            pending
                .into_iter()
                .filter(|m| !superseded.contains(m))
                .map(|m| (name, m)),
        );
    }
    Pass {
        report,
        error,
        pushed,
    }
}

/// The action a `setting` event takes (deterministic from `what` and the time).
pub(super) fn action_of(what: u16, accounts: usize, now: u64) -> SyncAction {
    let chat = format!("a{}", usize::from(what / 8) % accounts.clamp(1, 4));
    let v = what / 32;
    match what % 8 {
        0 | 1 => SyncAction::Mute {
            chat,
            muted: v % 2 == 0,
            end_ms: (v % 3 == 0).then(|| i64::try_from(now).unwrap_or(0) + 3_600_000),
        },
        2 => SyncAction::Pin {
            chat,
            pinned: v % 2 == 0,
        },
        3 => SyncAction::Archive {
            chat,
            archived: v % 2 == 0,
        },
        4 => SyncAction::Contact {
            address: chat,
            full_name: format!("Name {}", v % 5),
            first_name: (v % 2 == 0).then(|| format!("N{}", v % 5)),
        },
        5 => SyncAction::PushName {
            name: format!("me {}", v % 7),
        },
        _ => SyncAction::CallLog(CallLogEntry {
            call_id: format!("call-{}", v % 6),
            peer: chat,
            direction: if v % 2 == 0 {
                CallDirection::Incoming
            } else {
                CallDirection::Outgoing
            },
            media: if v % 3 == 0 {
                CallMedia::Video
            } else {
                CallMedia::Voice
            },
            start_ms: i64::try_from(now).unwrap_or(0),
            duration_secs: i64::from(v % 300),
            outcome: if v % 4 == 0 {
                CallOutcome::Missed
            } else {
                CallOutcome::Connected
            },
        }),
    }
}

/// What an unlinked device tries to write into a collection (any action of that collection).
fn ghost_action(name: CollectionName, now: u64) -> SyncAction {
    match name {
        CollectionName::CriticalBlock => SyncAction::PushName { name: "ghost".into() },
        CollectionName::CriticalUnblockLow => SyncAction::Contact {
            address: "a0".into(),
            full_name: "ghost".into(),
            first_name: None,
        },
        CollectionName::RegularHigh => SyncAction::Mute {
            chat: "a0".into(),
            muted: true,
            end_ms: None,
        },
        CollectionName::Regular => action_of(6, 1, now),
        CollectionName::RegularLow => SyncAction::Pin {
            chat: "a0".into(),
            pinned: true,
        },
    }
}

/// The attack an `app-tamper` event makes.
fn attack_of(attack: u8, n: u16) -> Attack {
    // Aimed at the first patches served, which a device that is behind always fetches.
    let n = usize::from(n);
    match attack % 6 {
        0 => Attack::DropPatch(0),
        1 => Attack::SwapPatches(0, 1),
        2 => Attack::ReplayPatch(1 + (n % 2) as u64),
        3 => Attack::FlipPatchBit {
            patch: 0,
            bit: n.wrapping_mul(97),
        },
        4 => Attack::FlipSnapshotBit(n.wrapping_mul(89)),
        _ => Attack::OldSnapshot((n % 4) as u64),
    }
}

fn persist_of(app: &AppDevice) -> Persisted {
    Persisted {
        collections: CollectionName::ALL
            .iter()
            .map(|n| app.sync.collection(*n).to_bytes())
            .collect(),
        ring: app.ring.to_bytes().to_vec(),
        pending: app.sync.pending_to_bytes(),
    }
}

fn restore_from(p: &Persisted) -> Result<AppDevice, String> {
    let mut app = AppDevice {
        sync: AppStateSync::new(),
        ring: AppStateKeyRing::from_bytes(&p.ring).map_err(|e| format!("ring: {e}"))?,
    };
    for bytes in &p.collections {
        let state = CollectionState::from_bytes(bytes).map_err(|e| format!("collection: {e}"))?;
        app.sync.restore(state);
    }
    app.sync
        .restore_pending(&p.pending)
        .map_err(|e| format!("pending: {e}"))?;
    Ok(app)
}

/// The missing key of a failed sync, if that is why it failed.
fn missing_key(e: &SyncError) -> Option<Option<AppStateKeyId>> {
    match e {
        SyncError::Apply {
            error: ApplyError::UnknownKey(id),
            ..
        } => Some(Some(*id)),
        SyncError::Encode {
            error: EncodeError::NoSendingKey,
            ..
        } => Some(None),
        _ => None,
    }
}

impl World {
    fn account_of(&self, d: DevId) -> Option<usize> {
        self.devices.get(d).map(|i| i.account)
    }

    /// Starts app state (at the first app-state event): every primary mints its account's key
    /// and shares it with its companions.
    pub(super) fn ensure_app_state(&mut self) {
        if self.app.enabled {
            return;
        }
        self.app.enabled = true;
        for a in 0..self.accounts.len() {
            self.start_account_app(a);
        }
    }

    /// A fresh app state for an account: a new server, the primary's first key, shared.
    fn start_account_app(&mut self, account: usize) {
        self.app.accounts.insert(account, AccountApp::new());
        let devices: Vec<DevId> = self
            .accounts
            .get(account)
            .map(|a| a.devices.values().copied().collect())
            .unwrap_or_default();
        for d in &devices {
            self.app.devices.insert(*d, AppDevice::default());
            self.persist(*d);
        }
        let Some(p) = self.primary(account) else { return };
        self.mint_key(account, p);
        if devices.len() > 1 {
            self.share_keys(p, None);
        }
    }

    /// The primary mints the next key of its account.
    fn mint_key(&mut self, account: usize, p: DevId) -> Option<u32> {
        let now = self.clock.now() as i64;
        let app = self.app.devices.entry(p).or_default();
        let key = match app.ring.rotate(&mut self.rng, 0, now) {
            Ok(k) => k,
            Err(e) => {
                self.violation(ViolationKind::AppStateStuck, format!("minting a key: {e}"));
                return None;
            }
        };
        let epoch = key.id().epoch();
        if let Some(acc) = self.app.accounts.get_mut(&account) {
            acc.minted.insert(key.id(), self.step);
            let _ = acc.all_keys.insert(key);
        }
        self.stats.app_keys_minted += 1;
        self.persist(p);
        Some(epoch)
    }

    fn persist(&mut self, d: DevId) {
        if let Some(app) = self.app.devices.get(&d) {
            let p = persist_of(app);
            self.app.persisted.insert(d, p);
        }
    }

    /// A new device of an account with app state: an empty app; a companion is sent the
    /// primary's keys.
    pub(super) fn app_device_added(&mut self, account: usize, d: DevId, primary: bool) {
        if !self.app.enabled {
            return;
        }
        if primary {
            self.start_account_app(account);
            return;
        }
        self.app.devices.insert(d, AppDevice::default());
        self.persist(d);
        let device_id = self.address(d).device_id;
        if let Some(p) = self.primary(account) {
            self.share_keys(p, Some(device_id));
        }
    }

    /// A device is gone (unlinked or replaced by a reinstall).
    pub(super) fn app_device_gone(&mut self, d: DevId, unlinked: bool) {
        self.app.armed.remove(&d);
        let app = self.app.devices.remove(&d);
        self.app.persisted.remove(&d);
        if let (Some(app), true) = (app, unlinked) {
            self.app.unlinked.insert(d, (app, self.step));
        }
    }

    /// A reinstall: the account's unlinked devices' app state goes with the old server.
    pub(super) fn app_reinstalled(&mut self, account: usize) {
        let gone: Vec<DevId> = self
            .app
            .unlinked
            .keys()
            .copied()
            .filter(|d| self.account_of(*d) == Some(account))
            .collect();
        for d in gone {
            self.app.unlinked.remove(&d);
        }
        self.app.accounts.remove(&account);
    }

    /// After an unlink: the primary rotates the key (module documentation).
    pub(super) fn app_unlinked(&mut self, account: usize) {
        if !self.app.enabled {
            return;
        }
        let Some(p) = self.primary(account) else { return };
        self.sync_device_with(p, None);
        let Some(old) = self
            .app
            .devices
            .get(&p)
            .and_then(|a| a.ring.sending_key())
            .map(|k| k.id().epoch())
        else {
            return;
        };
        let Some(epoch) = self.mint_key(account, p) else {
            return;
        };
        self.stats.app_rotations += 1;
        if let Some(app) = self.app.devices.get_mut(&p) {
            let queued = app.sync.rekey(&app.ring);
            self.stats.app_rekeyed += queued as u64;
        }
        self.share_keys(p, None);
        self.sync_device_with(p, None);
        let now = self.clock.now() as i64;
        if let Some(app) = self.app.devices.get_mut(&p) {
            let _ = app
                .sync
                .queue(Mutation::set(&SyncAction::KeyExpiration { epoch: old }, now));
        }
        self.sync_device_with(p, None);
        if let Some(app) = self.app.devices.get_mut(&p) {
            app.ring.expire_through(epoch.saturating_sub(1));
        }
        // Its next sync moves every collection past the expired epoch (spec 08.7); until then
        // a companion that lacks the new key may still push under the old one.
        self.persist(p);
        let a = self.address(p);
        self.note(|| format!("{a} rotated the app-state key to epoch {epoch}, expired {old}"));
    }

    /// Sends a device's ring to its own devices (all, or one), checking that only live devices
    /// of the account are addressed.
    fn share_keys(&mut self, from: DevId, only: Option<u32>) {
        let Some(ring) = self.app.devices.get(&from).map(|a| a.ring.to_bytes().to_vec()) else {
            return;
        };
        if self.send_own(from, SelfMessage::AppStateKeys(ring), only) {
            self.stats.app_key_shares += 1;
        }
    }

    /// Sends a self message through the app's outbox (`send_self`), checking that app-state
    /// keys are encrypted only to live devices of the account. Returns whether it was sent.
    fn send_own(&mut self, from: DevId, message: SelfMessage, only: Option<u32>) -> bool {
        let address = self.address(from);
        let Some(report) = self.send_self(from, &message, only) else {
            return false;
        };
        if matches!(message, SelfMessage::AppStateKeys(_)) {
            let account = self.account_of(from);
            for e in &report.envelopes {
                let to = self.by_address.get(&e.recipient).copied();
                let live_own = to.is_some_and(|t| {
                    self.devices
                        .get(t)
                        .is_some_and(|i| i.alive && Some(i.account) == account)
                });
                if !live_own {
                    let r = e.recipient.clone();
                    self.violation(
                        ViolationKind::KeyLeak,
                        format!(
                            "{address} encrypted app-state keys to {r}, not a live device of its account"
                        ),
                    );
                }
            }
        }
        true
    }

    /// What the app does with a self message from an own device.
    pub(super) fn own_device_message(&mut self, d: DevId, from: &Address, message: &SelfMessage) {
        if !self.app.enabled || !self.app.devices.contains_key(&d) {
            return;
        }
        match message {
            SelfMessage::AppStateKeys(bytes) => {
                self.stats.app_key_shares_taken += 1;
                let shared = match AppStateKeyRing::from_bytes(bytes) {
                    Ok(r) => r,
                    Err(e) => {
                        let a = self.address(d);
                        self.violation(
                            ViolationKind::OperationFailed,
                            format!("{a} got unreadable app-state keys from {from}: {e}"),
                        );
                        return;
                    }
                };
                let Some(app) = self.app.devices.get_mut(&d) else {
                    return;
                };
                for key in shared.keys() {
                    let _ = app.ring.insert(key.clone());
                }
                if let Some(epoch) = shared.expired_through() {
                    app.ring.expire_through(epoch);
                }
                self.persist(d);
            }
            SelfMessage::AppStateKeyRequest(_) => {
                // Only the primary shares keys (spec 08.1): a companion does not answer.
                if self.address(d).device_id != 0 {
                    return;
                }
                let has_keys = self
                    .app
                    .devices
                    .get(&d)
                    .is_some_and(|a| a.ring.sending_key().is_some());
                if has_keys {
                    self.share_keys(d, Some(from.device_id));
                }
            }
            _ => {}
        }
    }

    /// Asks the device's own devices for app-state keys.
    fn request_keys(&mut self, d: DevId, missing: Option<AppStateKeyId>) {
        let ids: Vec<u8> = missing.map(|id| id.as_bytes().to_vec()).unwrap_or_default();
        if self.send_own(d, SelfMessage::AppStateKeyRequest(ids), None) {
            self.stats.app_key_requests += 1;
        }
    }

    /// A `setting` event.
    pub(super) fn setting(&mut self, device: DevRef, what: u16, sync: bool) {
        self.ensure_app_state();
        let Some(d) = self.resolve(device) else { return };
        let now = self.clock.now();
        let action = action_of(what, self.accounts.len(), now);
        let Some(app) = self.app.devices.get_mut(&d) else {
            return;
        };
        if let Err(e) = app.sync.queue(Mutation::set(&action, now as i64)) {
            self.violation(
                ViolationKind::OperationFailed,
                format!("queueing {action:?}: {e}"),
            );
            return;
        }
        self.stats.app_settings += 1;
        // The app stores the change with the user's action, before it is pushed.
        self.persist(d);
        let a = self.address(d);
        self.note(|| format!("{a} set {action:?}"));
        if sync {
            self.sync_device(d);
        }
    }

    /// An `app-sync` event.
    pub(super) fn app_sync(&mut self, device: DevRef) {
        self.ensure_app_state();
        if let Some(d) = self.resolve(device) {
            self.sync_device(d);
        }
    }

    /// An `app-tamper` fault: the device's next sync (an event's, or at the end) goes through
    /// a tampering server (a device that is behind then has something to tamper with).
    pub(super) fn app_tamper(&mut self, device: DevRef, attack: u8, n: u16) {
        self.ensure_app_state();
        if let Some(d) = self.resolve(device) {
            if self.app.devices.contains_key(&d) {
                self.fault("app-tamper");
                self.app.armed.insert(d, attack_of(attack, n));
            }
        }
    }

    /// A device's sync: through a tampering server if an attack waits for it.
    pub(super) fn sync_device(&mut self, d: DevId) -> bool {
        let attack = self.app.armed.remove(&d);
        self.sync_device_with(d, attack)
    }

    /// One sync pass of a device (through a tampering server when `attack` is given), with
    /// its checks and the app's answers (persist, ask for keys, reset after an expired key).
    /// Returns whether the pass changed or failed anything (for settling).
    pub(super) fn sync_device_with(&mut self, d: DevId, attack: Option<Attack>) -> bool {
        let Some(account) = self.account_of(d) else {
            return false;
        };
        let (Some(app), Some(acc)) = (self.app.devices.get_mut(&d), self.app.accounts.get_mut(&account))
        else {
            return false;
        };
        let before = app.sync.clone();
        let pass = match &attack {
            None => sync_pass(app, &mut acc.server, &mut self.rng),
            Some(a) => {
                let mut server = TamperingServer {
                    inner: &mut acc.server,
                    attack: a.clone(),
                };
                sync_pass(app, &mut server, &mut self.rng)
            }
        };
        // The key expiry this device holds, once everything synced; then the expired keys no
        // collection needs any more are forgotten (spec 08.7).
        if pass.error.is_none() {
            let sentinel = app
                .sync
                .collection(CollectionName::RegularLow)
                .get(&SyncAction::KeyExpiration { epoch: 0 }.index())
                .and_then(|e| e.action());
            if let Some(SyncAction::KeyExpiration { epoch }) = sentinel {
                if app.ring.expired_through().is_none_or(|x| x < epoch) {
                    app.ring.expire_through(epoch);
                }
            }
            self.stats.app_keys_forgotten += app.sync.forget_expired_keys(&mut app.ring) as u64;
        }
        let after = app.sync.clone();
        for (name, m) in &pass.pushed {
            if let Some(ts) = m.timestamp_ms() {
                let slot = acc
                    .acked
                    .entry((*name, m.index.clone()))
                    .or_insert((ts, m.value.clone()));
                if ts >= slot.0 {
                    *slot = (ts, m.value.clone());
                }
            }
        }
        let refs = acc.update_references();
        self.stats.app_syncs += 1;
        self.stats.app_pushed += pass.pushed.len() as u64;
        self.stats.app_conflicts += pass.report.conflicts as u64;
        self.stats.app_superseded += pass.report.superseded.values().map(Vec::len).sum::<usize>() as u64;
        self.stats.app_markers += pass.report.markers.values().sum::<usize>() as u64;
        self.stats.app_skipped += pass.report.skipped.values().sum::<usize>() as u64;
        self.stats.app_rekeyed += pass.report.rekeyed.values().sum::<usize>() as u64;
        let received: usize = pass.report.received.values().map(Vec::len).sum();
        self.stats.app_received += received as u64;
        let address = self.address(d);
        if let Err(e) = refs {
            self.violation(
                ViolationKind::AppStateDiverged,
                format!("{}: {e}", self.name(account)),
            );
        }
        self.check_honest(d, &before, &after, pass.error.as_ref(), attack.as_ref());
        if let Some(a) = &attack {
            match &pass.error {
                Some(e) => {
                    self.stats.app_tamper_detected += 1;
                    self.note(|| format!("{address} refused a tampered sync ({a:?}): {e}"));
                }
                None => {
                    self.stats.app_tamper_harmless += 1;
                    self.note(|| format!("{address} synced through {a:?}: nothing forged was taken"));
                }
            }
        }
        self.persist(d);
        // A pass through a tampering server settles nothing: a server that withheld the newest
        // patch (an old snapshot served as current) looks like "up to date" to the device, so
        // the device syncs again with the honest one.
        let changed = received > 0 || !pass.pushed.is_empty() || pass.error.is_some() || attack.is_some();
        let Some(e) = pass.error else {
            return changed;
        };
        self.note(|| format!("{address} app-state sync stopped: {e}"));
        if let Some(missing) = missing_key(&e) {
            self.request_keys(d, missing);
        } else if attack.is_none() {
            self.violation(
                ViolationKind::AppStateStuck,
                format!("{address}: an honest app-state sync failed: {e}"),
            );
        }
        changed
    }

    /// After a pass: every collection is an honest state; a failed tampered pass left its
    /// failing collection as it was.
    pub(super) fn check_honest(
        &mut self,
        d: DevId,
        before: &AppStateSync,
        after: &AppStateSync,
        error: Option<&SyncError>,
        attack: Option<&Attack>,
    ) {
        let Some(acc) = self.account_of(d).and_then(|a| self.app.accounts.get(&a)) else {
            return;
        };
        let kind = if attack.is_some() {
            ViolationKind::TamperAccepted
        } else {
            ViolationKind::AppStateDiverged
        };
        let mut bad = Vec::new();
        for name in CollectionName::ALL {
            let state = after.collection(name);
            let honest = acc.reference(name).is_some_and(|r| {
                usize::try_from(state.version())
                    .ok()
                    .and_then(|v| r.lthash_at.get(v))
                    == Some(state.lthash())
            });
            if !honest {
                bad.push(format!(
                    "{name} at version {} is not the server's",
                    state.version()
                ));
            }
        }
        if let (Some(e), Some(_)) = (error, attack) {
            let failing = match e {
                SyncError::Apply { collection, .. }
                | SyncError::Encode { collection, .. }
                | SyncError::Refused { collection }
                | SyncError::TooManyConflicts { collection } => Some(*collection),
                _ => None,
            };
            if let Some(name) = failing {
                if before.collection(name) != after.collection(name) {
                    bad.push(format!("{name} changed although the sync failed ({e})"));
                }
            }
        }
        if !bad.is_empty() {
            let a = self.address(d);
            let how = attack.map(|a| format!(" (attack {a:?})")).unwrap_or_default();
            self.violation(kind, format!("{a}{how}: {}", bad.join("; ")));
        }
    }

    /// A restart: the app reads its app state back; what was pending is lost.
    pub(super) fn app_restart(&mut self, d: DevId) {
        let Some(current) = self.app.devices.get(&d) else {
            return;
        };
        let lost: usize = CollectionName::ALL
            .iter()
            .map(|n| current.sync.pending(*n).len())
            .sum();
        let restored = match self.app.persisted.get(&d) {
            Some(p) => restore_from(p),
            None => Ok(AppDevice::default()),
        };
        match restored {
            Ok(app) => {
                let kept: usize = CollectionName::ALL
                    .iter()
                    .map(|n| app.sync.pending(*n).len())
                    .sum();
                self.stats.app_pending_lost += lost.saturating_sub(kept) as u64;
                self.app.devices.insert(d, app);
                self.stats.app_restored += 1;
            }
            Err(e) => {
                let a = self.address(d);
                self.violation(
                    ViolationKind::RestartFailed,
                    format!("{a}: its persisted app state does not read back: {e}"),
                );
            }
        }
    }

    /// The end of a run for app state: every live device syncs, key requests are answered,
    /// until nothing changes; unlinked devices try to read what is on their old server.
    pub(super) fn settle_app_state(&mut self) {
        if !self.app.enabled {
            return;
        }
        self.settle_rounds();
        // Unlinked devices read what is on their old server.
        self.zombies_read();
    }

    /// Every live device syncs, key requests are answered, until nothing changes.
    fn settle_rounds(&mut self) {
        for _ in 0..SETTLE_ROUNDS {
            let devices: Vec<DevId> = self.app.devices.keys().copied().collect();
            let mut changed = false;
            for d in devices {
                if self.clients.contains_key(&d) {
                    changed |= self.sync_device(d);
                }
            }
            if self.network.total() > 0 {
                self.quiesce();
                changed = true;
            }
            if !changed {
                break;
            }
        }
    }

    /// Unlinked devices read what is on their old server (the checks then look for keys and
    /// entries they should not have).
    fn zombies_read(&mut self) {
        let zombies: Vec<DevId> = self.app.unlinked.keys().copied().collect();
        for z in zombies {
            let Some(account) = self.account_of(z) else {
                continue;
            };
            let (Some((app, _)), Some(acc)) =
                (self.app.unlinked.get_mut(&z), self.app.accounts.get_mut(&account))
            else {
                continue;
            };
            let mut app = app.clone();
            app.sync = {
                let mut s = AppStateSync::new();
                for name in CollectionName::ALL {
                    s.restore(app.sync.collection(name).clone());
                }
                s
            };
            let _ = sync_pass(&mut app, &mut acc.server, &mut self.rng);
            if let Some((held, _)) = self.app.unlinked.get_mut(&z) {
                *held = app;
            }
        }
    }

    /// Each unlinked device writes a change, under the newest key it holds, for every collection
    /// of its account, as the next version after the server's head (as a server that does not
    /// check who pushes would store it: a patch made on the device's own view, numbered as the
    /// server's next version). By then (after settling) every collection must have moved past
    /// the key the device holds (spec 08.7), and no live device may take the patch: it skips it
    /// (the key held: its MAC checked, only the version advances) or refuses it (the key
    /// forgotten or never held: `ExpiredKey` / `UnknownKey`), its collection otherwise
    /// unchanged. The reference, holding every key, must skip it.
    fn ghost_check(&mut self) {
        let now = self.clock.now();
        let zombies: Vec<DevId> = self.app.unlinked.keys().copied().collect();
        let mut found: Vec<(ViolationKind, String)> = Vec::new();
        for z in zombies {
            let Some(account) = self.account_of(z) else {
                continue;
            };
            let address = self.address(z);
            let (Some((zombie, _)), Some(acc)) = (self.app.unlinked.get(&z), self.app.accounts.get(&account))
            else {
                continue;
            };
            let Some(epoch) = zombie.ring.sending_key().map(|k| k.id().epoch()) else {
                continue;
            };
            let live: Vec<DevId> = self
                .accounts
                .get(account)
                .map(|a| a.devices.values().copied().collect())
                .unwrap_or_default();
            for name in CollectionName::ALL {
                let Some(reference) = acc.reference(name) else {
                    continue;
                };
                if reference.state.key_epoch().is_none_or(|e| e <= epoch) {
                    found.push((
                        ViolationKind::AppStateStuck,
                        format!(
                            "after settling, {name} never moved past the key {address} held when unlinked"
                        ),
                    ));
                    continue;
                }
                let head = reference.state.version();
                let mut bytes = zombie.sync.collection(name).to_bytes();
                let name_len = usize::from(bytes.get(1).copied().unwrap_or(0));
                if let Some(v) = bytes.get_mut(2 + name_len..2 + name_len + 8) {
                    v.copy_from_slice(&head.to_be_bytes());
                }
                let Ok(view) = CollectionState::from_bytes(&bytes) else {
                    continue;
                };
                let action = ghost_action(name, now);
                let Ok(patch) =
                    view.encode_patch(&zombie.ring, &[Mutation::set(&action, now as i64)], &mut self.rng)
                else {
                    continue;
                };
                self.stats.app_ghost_pushes += 1;
                // (who, whether it is the reference, its ring, its collection at the head)
                let mut holders: Vec<(String, bool, &AppStateKeyRing, CollectionState)> = vec![(
                    format!("{}'s reference", self.name(account)),
                    true,
                    &acc.all_keys,
                    reference.state.clone(),
                )];
                for d in &live {
                    if let Some(app) = self.app.devices.get(d) {
                        let state = app.sync.collection(name);
                        if state.version() == head {
                            holders.push((self.address(*d).to_string(), false, &app.ring, state.clone()));
                        }
                    }
                }
                for (who, is_reference, ring, before) in holders {
                    let mut after = before.clone();
                    match after.apply_patch(ring, &patch.bytes) {
                        Ok(r)
                            if r.skipped
                                && after.entries().eq(before.entries())
                                && after.lthash() == before.lthash() =>
                        {
                            self.stats.app_skipped += 1;
                        }
                        Err(ApplyError::ExpiredKey(_) | ApplyError::UnknownKey(_))
                            if after == before && !is_reference =>
                        {
                            self.stats.app_ghost_refused += 1;
                        }
                        outcome => found.push((
                            ViolationKind::TamperAccepted,
                            format!(
                                "{who}: {name}: the patch {address} made after its unlink gave {outcome:?}"
                            ),
                        )),
                    }
                }
            }
        }
        for (kind, detail) in found {
            self.violation(kind, detail);
        }
    }

    /// The end-of-run app-state checks (after [`Self::settle_app_state`]).
    pub(super) fn check_app_state(&mut self) {
        if !self.app.enabled {
            return;
        }
        let mut found: Vec<(ViolationKind, String)> = Vec::new();
        for (account, acc) in &self.app.accounts {
            let name = self.name(*account);
            let live: Vec<DevId> = self
                .accounts
                .get(*account)
                .map(|a| a.devices.values().copied().collect())
                .unwrap_or_default();
            for coll in CollectionName::ALL {
                let Some(reference) = acc.reference(coll) else {
                    continue;
                };
                for d in &live {
                    let Some(app) = self.app.devices.get(d) else {
                        continue;
                    };
                    let state = app.sync.collection(coll);
                    if *state != reference.state {
                        found.push((
                            ViolationKind::AppStateDiverged,
                            format!(
                                "{}: {coll} at version {} differs from the server's head (version {})",
                                self.address(*d),
                                state.version(),
                                reference.state.version()
                            ),
                        ));
                    }
                    let pending = app.sync.pending(coll).len();
                    if pending > 0 {
                        found.push((
                            ViolationKind::AppStateStuck,
                            format!("{}: {pending} {coll} mutations never pushed", self.address(*d)),
                        ));
                    }
                }
            }
            for ((coll, index), (ts, value)) in &acc.acked {
                let held = acc
                    .reference(*coll)
                    .and_then(|r| r.state.get(index))
                    .and_then(|e| e.data.value.clone());
                if held.as_ref() != Some(value) {
                    found.push((
                        ViolationKind::AppStateLost,
                        format!(
                            "{name}: {coll} {index:?} set at {ts} (acknowledged) is {}",
                            if held.is_some() {
                                "overwritten by an older value"
                            } else {
                                "gone"
                            }
                        ),
                    ));
                }
            }
        }
        for (z, (app, unlinked_at)) in &self.app.unlinked {
            let Some(acc) = self.account_of(*z).and_then(|a| self.app.accounts.get(&a)) else {
                continue;
            };
            // The rotation happens in the unlink's step, after the unlink.
            let later = |id: &AppStateKeyId| acc.minted.get(id).is_some_and(|s| s >= unlinked_at);
            let ring_leak = app.ring.keys().any(|k| later(&k.id()));
            let entry_leak = CollectionName::ALL
                .iter()
                .any(|n| app.sync.collection(*n).entries().any(|(_, e)| later(&e.key_id)));
            if ring_leak || entry_leak {
                found.push((
                    ViolationKind::KeyLeak,
                    format!(
                        "{}, unlinked at step {unlinked_at}, holds {} made after",
                        self.address(*z),
                        if ring_leak {
                            "a key"
                        } else {
                            "an entry under a key"
                        }
                    ),
                ));
            }
        }
        for (kind, detail) in found {
            self.violation(kind, detail);
        }
        self.ghost_check();
    }
}
