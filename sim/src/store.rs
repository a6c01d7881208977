//! Each simulated device's store: in memory or in a SQLite file, behind one type, with a crash
//! that can be planted at any store operation of the device's next step.
//!
//! # The crash model
//!
//! A crash is armed with a point `k`. From the next [`StepTransaction::begin_step`] on (a send
//! or a receive), store operations are counted; at the `k`-th the process "dies": that call and
//! every later one fail, nothing of the open step is committed, and the simulator restarts the
//! device with [`SimStore::revive`] and `Client::open`. If the step has fewer than `k`
//! operations it commits and the process dies right after (its outputs — envelopes, the
//! acknowledgement — never leave the device).
//!
//! What survives a crash is what a real process would leave: for SQLite, the file as the last
//! committed transaction left it (the dead connection is dropped, which rolls its open
//! transaction back, and the file is opened again); for memory, a copy of the store taken when
//! the step began (a mid-step crash) or the store as it is (after the step) — the memory store
//! standing in for a durable store whose steps are atomic, so crashes can be tested on every
//! device without the cost of SQLite.
//!
//! # The app's outbox
//!
//! The simulated app keeps the envelopes it has to send in an outbox in the same store, written
//! in the same transaction as the step that made them (`Client::atomically` for sends and
//! re-sends, `Client::receive_with` for a receive's replies): a crash leaves either the step and
//! its envelopes or neither. The app hands the outbox to the relay after the step and when it
//! starts again ([`SimStore::outbox_push`], [`SimStore::outbox_drain`]). In memory the outbox
//! follows the steps (kept on commit, cut back on a rollback, restored with the snapshot after a
//! mid-step crash); in SQLite it is a table of the app's own (`sim_outbox`).

use std::cell::Cell;
#[cfg(feature = "sqlite")]
use std::path::PathBuf;

use tandem::Address;
#[cfg(feature = "sqlite")]
use tandem::client::EnvelopeKind;
use tandem::client::{
    DeviceListStore, Envelope, GroupRecord, GroupStore, KnownAccountRecord, LocalDeviceRecord,
    LocalDeviceStore, ReceivedMessageStore, RetryCounter, SentMessageRecord, SentMessageStore,
};
use tandem::crypto::{KeyPair, PublicKey};
use tandem::group::SenderKeyRecord;
use tandem::session::{PreKeyRecord, SessionRecord, SignedPreKeyRecord};
use tandem::store::{
    IdentityStore, MemoryStore, PreKeyStore, ProtocolStore, SenderKeyStore, SessionCommit, SessionStore,
    SignedPreKeyStore, StepTransaction, StoreError,
};
#[cfg(feature = "sqlite")]
use tandem::store::{SqliteOptions, SqliteStore};

/// Where a crash hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashKind {
    /// In the middle of a step: nothing of it was committed.
    MidStep,
    /// Right after a step committed: its outputs were lost.
    AfterStep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CrashState {
    Idle,
    Armed(u32),
    Counting { point: u32, ops: u32 },
    Crashed(CrashKind),
}

enum Backend {
    Memory(MemoryStore),
    #[cfg(feature = "sqlite")]
    Sqlite {
        store: SqliteStore,
        path: PathBuf,
    },
    Gone,
}

/// A device's store (see the module documentation).
pub struct SimStore {
    backend: Backend,
    crash: Cell<CrashState>,
    depth: u32,
    snapshot: Option<(MemoryStore, Vec<Envelope>)>,
    /// The outbox of a memory store.
    outbox: Vec<Envelope>,
    /// The outbox's length when each open step began (memory).
    outbox_marks: Vec<usize>,
}

fn dead() -> StoreError {
    StoreError("simulated crash: the process is dead".into())
}

impl SimStore {
    /// A store in memory.
    pub fn memory(identity: &KeyPair, registration_id: u32) -> Self {
        Self::with(Backend::Memory(MemoryStore::new(
            identity.clone(),
            registration_id,
        )))
    }

    /// A new SQLite store at `path`.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(path: PathBuf, identity: &KeyPair, registration_id: u32) -> Result<Self, StoreError> {
        let store = SqliteStore::create(&path, identity, registration_id, SqliteOptions::default())
            .map_err(StoreError::from)?;
        store
            .connection()
            .execute_batch(OUTBOX_TABLE)
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(Self::with(Backend::Sqlite { store, path }))
    }

    /// An empty placeholder (while a device restarts).
    pub fn gone() -> Self {
        Self::with(Backend::Gone)
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend,
            crash: Cell::new(CrashState::Idle),
            depth: 0,
            snapshot: None,
            outbox: Vec::new(),
            outbox_marks: Vec::new(),
        }
    }

    /// Whether the store is a SQLite file.
    pub fn is_durable(&self) -> bool {
        #[cfg(feature = "sqlite")]
        if matches!(self.backend, Backend::Sqlite { .. }) {
            return true;
        }
        false
    }

    /// Plants a crash at the `point`-th operation (from 1) of the next step.
    pub fn arm_crash(&mut self, point: u32) {
        self.crash.set(CrashState::Armed(point.max(1)));
    }

    /// Whether a crash is planted and has not hit yet.
    pub fn crash_armed(&self) -> bool {
        matches!(
            self.crash.get(),
            CrashState::Armed(_) | CrashState::Counting { .. }
        )
    }

    /// Whether the process died (and where).
    pub fn crashed(&self) -> Option<CrashKind> {
        match self.crash.get() {
            CrashState::Crashed(k) => Some(k),
            _ => None,
        }
    }

    /// What a restarted process finds: the file opened again, or the memory state that
    /// survived. Clears the crash.
    pub fn revive(self) -> Result<Self, StoreError> {
        let kind = self.crashed();
        let mut outbox = self.outbox;
        let backend = match self.backend {
            Backend::Memory(current) => match (kind, self.snapshot) {
                (Some(CrashKind::MidStep), Some((snapshot, kept))) => {
                    outbox = kept;
                    Backend::Memory(snapshot)
                }
                _ => Backend::Memory(current),
            },
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { store, path } => {
                // Dropping the connection rolls back whatever it had not committed.
                drop(store);
                let store = SqliteStore::open(&path, SqliteOptions::default()).map_err(StoreError::from)?;
                Backend::Sqlite { store, path }
            }
            Backend::Gone => return Err(StoreError("no store to revive".into())),
        };
        let mut revived = Self::with(backend);
        revived.outbox = outbox;
        Ok(revived)
    }

    /// Saves envelopes in the app's outbox, inside the open step (a store operation: a planted
    /// crash can hit it).
    pub fn outbox_push(&mut self, envelopes: &[Envelope]) -> Result<(), StoreError> {
        self.tick()?;
        match &mut self.backend {
            Backend::Memory(_) => {
                self.outbox.extend(envelopes.iter().cloned());
                Ok(())
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { store, .. } => {
                let conn = store.connection();
                for e in envelopes {
                    conn.execute("INSERT INTO sim_outbox (envelope) VALUES (?1)", [encode(e)])
                        .map_err(|e| StoreError(e.to_string()))?;
                }
                Ok(())
            }
            Backend::Gone => Err(dead()),
        }
    }

    /// Takes everything in the outbox (the app hands it to the relay). Outside any step.
    pub fn outbox_drain(&mut self) -> Result<Vec<Envelope>, StoreError> {
        match &mut self.backend {
            Backend::Memory(_) => Ok(std::mem::take(&mut self.outbox)),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { store, .. } => {
                let conn = store.connection();
                let err = |e: rusqlite::Error| StoreError(e.to_string());
                let mut stmt = conn
                    .prepare("SELECT envelope FROM sim_outbox ORDER BY seq")
                    .map_err(err)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, Vec<u8>>(0))
                    .map_err(err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                drop(stmt);
                conn.execute("DELETE FROM sim_outbox", []).map_err(err)?;
                rows.iter()
                    .map(|b| decode(b).ok_or_else(|| StoreError("a bad outbox row".into())))
                    .collect()
            }
            Backend::Gone => Err(dead()),
        }
    }

    /// Counts one operation when a crash is planted; fails when the process is dead.
    fn tick(&self) -> Result<(), StoreError> {
        match self.crash.get() {
            CrashState::Crashed(_) => Err(dead()),
            CrashState::Counting { point, ops } => {
                let ops = ops + 1;
                if ops >= point {
                    self.crash.set(CrashState::Crashed(CrashKind::MidStep));
                    Err(dead())
                } else {
                    self.crash.set(CrashState::Counting { point, ops });
                    Ok(())
                }
            }
            CrashState::Idle | CrashState::Armed(_) => Ok(()),
        }
    }
}

/// Runs `$body` with `$s` bound to the backend store (shared).
macro_rules! read {
    ($self:ident, $s:ident => $body:expr) => {{
        $self.tick()?;
        match &$self.backend {
            Backend::Memory($s) => $body,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { store: $s, .. } => $body,
            Backend::Gone => Err(dead()),
        }
    }};
}

/// Runs `$body` with `$s` bound to the backend store (mutable).
macro_rules! write {
    ($self:ident, $s:ident => $body:expr) => {{
        $self.tick()?;
        match &mut $self.backend {
            Backend::Memory($s) => $body,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { store: $s, .. } => $body,
            Backend::Gone => Err(dead()),
        }
    }};
}

impl IdentityStore for SimStore {
    fn identity_key_pair(&self) -> Result<KeyPair, StoreError> {
        read!(self, s => s.identity_key_pair())
    }
    fn local_registration_id(&self) -> Result<u32, StoreError> {
        read!(self, s => s.local_registration_id())
    }
    fn identity(&self, address: &Address) -> Result<Option<PublicKey>, StoreError> {
        read!(self, s => s.identity(address))
    }
    fn save_identity(&mut self, address: &Address, key: &PublicKey) -> Result<(), StoreError> {
        write!(self, s => s.save_identity(address, key))
    }
}

impl PreKeyStore for SimStore {
    fn pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        read!(self, s => s.pre_key(id))
    }
    fn save_pre_key(&mut self, record: PreKeyRecord) -> Result<(), StoreError> {
        write!(self, s => s.save_pre_key(record))
    }
    fn remove_pre_key(&mut self, id: u32) -> Result<(), StoreError> {
        write!(self, s => s.remove_pre_key(id))
    }
}

impl SignedPreKeyStore for SimStore {
    fn signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        read!(self, s => s.signed_pre_key(id))
    }
    fn save_signed_pre_key(&mut self, record: SignedPreKeyRecord) -> Result<(), StoreError> {
        write!(self, s => s.save_signed_pre_key(record))
    }
}

impl SessionStore for SimStore {
    fn session(&self, address: &Address) -> Result<Option<SessionRecord>, StoreError> {
        read!(self, s => s.session(address))
    }
    fn save_session(&mut self, address: &Address, record: SessionRecord) -> Result<(), StoreError> {
        write!(self, s => s.save_session(address, record))
    }
    fn remove_session(&mut self, address: &Address) -> Result<(), StoreError> {
        write!(self, s => s.remove_session(address))
    }
}

impl SenderKeyStore for SimStore {
    fn sender_key(
        &self,
        sender: &Address,
        distribution_id: &[u8; 16],
    ) -> Result<Option<SenderKeyRecord>, StoreError> {
        read!(self, s => s.sender_key(sender, distribution_id))
    }
    fn save_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: &[u8; 16],
        record: SenderKeyRecord,
    ) -> Result<(), StoreError> {
        write!(self, s => s.save_sender_key(sender, distribution_id, record))
    }
}

impl ProtocolStore for SimStore {
    fn commit(&mut self, commit: SessionCommit) -> Result<(), StoreError> {
        write!(self, s => s.commit(commit))
    }
}

impl StepTransaction for SimStore {
    fn begin_step(&mut self) -> Result<(), StoreError> {
        if self.depth == 0 {
            if let CrashState::Armed(point) = self.crash.get() {
                self.crash.set(CrashState::Counting { point, ops: 0 });
                if let Backend::Memory(m) = &self.backend {
                    self.snapshot = Some((m.clone(), self.outbox.clone()));
                }
            }
        }
        write!(self, s => s.begin_step())?;
        self.depth += 1;
        self.outbox_marks.push(self.outbox.len());
        Ok(())
    }

    fn end_step(&mut self, commit: bool) -> Result<(), StoreError> {
        write!(self, s => s.end_step(commit))?;
        self.depth = self.depth.saturating_sub(1);
        if let Some(mark) = self.outbox_marks.pop() {
            if !commit {
                self.outbox.truncate(mark);
            }
        }
        if self.depth == 0 && matches!(self.crash.get(), CrashState::Counting { .. }) {
            self.crash.set(CrashState::Crashed(CrashKind::AfterStep));
        }
        Ok(())
    }
}

impl LocalDeviceStore for SimStore {
    fn local_device(&self) -> Result<Option<LocalDeviceRecord>, StoreError> {
        read!(self, s => s.local_device())
    }
    fn save_local_device(&mut self, record: &LocalDeviceRecord) -> Result<(), StoreError> {
        write!(self, s => s.save_local_device(record))
    }
}

impl DeviceListStore for SimStore {
    fn known_account(&self, account: &str) -> Result<Option<KnownAccountRecord>, StoreError> {
        read!(self, s => s.known_account(account))
    }
    fn save_known_account(&mut self, account: &str, record: &KnownAccountRecord) -> Result<(), StoreError> {
        write!(self, s => s.save_known_account(account, record))
    }
    fn known_accounts(&self) -> Result<Vec<(String, KnownAccountRecord)>, StoreError> {
        read!(self, s => s.known_accounts())
    }
}

impl GroupStore for SimStore {
    fn group(&self, group_id: &[u8; 16]) -> Result<Option<GroupRecord>, StoreError> {
        read!(self, s => s.group(group_id))
    }
    fn save_group(&mut self, group_id: &[u8; 16], record: &GroupRecord) -> Result<(), StoreError> {
        write!(self, s => s.save_group(group_id, record))
    }
    fn groups(&self) -> Result<Vec<([u8; 16], GroupRecord)>, StoreError> {
        read!(self, s => s.groups())
    }
}

impl SentMessageStore for SimStore {
    fn sent_message(&self, message_id: &[u8; 16]) -> Result<Option<SentMessageRecord>, StoreError> {
        read!(self, s => s.sent_message(message_id))
    }
    fn save_sent_message(
        &mut self,
        message_id: &[u8; 16],
        record: &SentMessageRecord,
    ) -> Result<(), StoreError> {
        write!(self, s => s.save_sent_message(message_id, record))
    }
    fn retry_count(
        &self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
    ) -> Result<Option<u32>, StoreError> {
        read!(self, s => s.retry_count(counter, peer, message_id))
    }
    fn save_retry_count(
        &mut self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
        count: u32,
    ) -> Result<(), StoreError> {
        write!(self, s => s.save_retry_count(counter, peer, message_id, count))
    }
    fn retry_count_len(&self, counter: RetryCounter) -> Result<usize, StoreError> {
        read!(self, s => s.retry_count_len(counter))
    }
}

impl ReceivedMessageStore for SimStore {
    fn was_received(&self, sender_account: &str, message_id: &[u8; 16]) -> Result<bool, StoreError> {
        read!(self, s => s.was_received(sender_account, message_id))
    }
    fn remember_received(&mut self, sender_account: &str, message_id: &[u8; 16]) -> Result<(), StoreError> {
        write!(self, s => s.remember_received(sender_account, message_id))
    }
}

/// The app's outbox table in a durable device's file.
#[cfg(feature = "sqlite")]
const OUTBOX_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS sim_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, envelope BLOB NOT NULL)";

/// An outbox row: kind, message id, timestamp, the two addresses, the payload.
#[cfg(feature = "sqlite")]
fn encode(e: &Envelope) -> Vec<u8> {
    let kind = match e.kind {
        EnvelopeKind::PreKey => 0u8,
        EnvelopeKind::Whisper => 1,
        EnvelopeKind::SenderKey => 2,
        EnvelopeKind::RetryRequest => 3,
        // A kind this simulator does not know: refused when the outbox is read.
        _ => u8::MAX,
    };
    let mut out = vec![kind];
    out.extend_from_slice(&e.message_id);
    out.extend_from_slice(&e.timestamp.to_be_bytes());
    for a in [&e.sender, &e.recipient] {
        out.extend_from_slice(&(a.name.len() as u32).to_be_bytes());
        out.extend_from_slice(a.name.as_bytes());
        out.extend_from_slice(&a.device_id.to_be_bytes());
    }
    out.extend_from_slice(&e.payload);
    out
}

/// The inverse of [`encode`].
#[cfg(feature = "sqlite")]
fn decode(b: &[u8]) -> Option<Envelope> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = b.split_at_checked(n)?;
        *b = tail;
        Some(head)
    }
    fn u32_of(b: &mut &[u8]) -> Option<u32> {
        Some(u32::from_be_bytes(take(b, 4)?.try_into().ok()?))
    }
    let mut b = b;
    let kind = match take(&mut b, 1)?.first()? {
        0 => EnvelopeKind::PreKey,
        1 => EnvelopeKind::Whisper,
        2 => EnvelopeKind::SenderKey,
        3 => EnvelopeKind::RetryRequest,
        _ => return None,
    };
    let message_id = take(&mut b, 16)?.try_into().ok()?;
    let timestamp = u64::from_be_bytes(take(&mut b, 8)?.try_into().ok()?);
    let mut address = || -> Option<Address> {
        let len = u32_of(&mut b)? as usize;
        let name = String::from_utf8(take(&mut b, len)?.to_vec()).ok()?;
        Some(Address::new(name, u32_of(&mut b)?))
    };
    let sender = address()?;
    let recipient = address()?;
    Some(Envelope {
        sender,
        recipient,
        kind,
        message_id,
        timestamp,
        payload: b.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use tandem::client::EnvelopeKind;

    use super::*;

    fn key(seed: u64) -> KeyPair {
        KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed))
    }

    /// Writes one identity in a step, with a crash planted at `point`; returns what survives.
    fn step_with_crash(store: SimStore, point: u32) -> (Option<CrashKind>, Option<PublicKey>) {
        let mut store = store;
        let peer = Address::new("peer", 1);
        store.arm_crash(point);
        let _ = store
            .begin_step()
            .and_then(|()| store.save_identity(&peer, &key(2).public))
            .and_then(|()| store.end_step(true));
        let kind = store.crashed();
        let revived = store.revive().unwrap();
        (kind, revived.identity(&peer).unwrap())
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_crash_in_a_step_keeps_nothing_of_it_and_after_it_keeps_all() {
        let dir = std::env::temp_dir().join(format!("tandem-sim-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stores = |n: u32| {
            [
                SimStore::memory(&key(1), 7),
                SimStore::sqlite(dir.join(format!("crash-{n}.db")), &key(1), 7).unwrap(),
            ]
        };
        // Operation 1 is begin_step, 2 the write, 3 end_step (the commit): a crash at any of them
        // loses the write; past them the step committed before the process died.
        for point in 1..=3 {
            for store in stores(point) {
                let durable = store.is_durable();
                assert_eq!(
                    step_with_crash(store, point),
                    (Some(CrashKind::MidStep), None),
                    "{durable}"
                );
            }
        }
        for store in stores(4) {
            let (kind, kept) = step_with_crash(store, 4);
            assert_eq!(kind, Some(CrashKind::AfterStep));
            assert_eq!(kept, Some(key(2).public));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn envelope(n: u8) -> Envelope {
        Envelope {
            sender: Address::new("alice", 2),
            recipient: Address::new("bob", 0),
            kind: EnvelopeKind::Whisper,
            message_id: [n; 16],
            timestamp: 1_760_000_000_000 + u64::from(n),
            payload: vec![n; usize::from(n)],
        }
    }

    /// The outbox commits and rolls back with the step, survives a crash after the step (in the
    /// file, or the memory that stands for it), is lost with a crash inside it, and reads back
    /// what was written.
    #[test]
    fn the_outbox_follows_the_steps() {
        let dir = std::env::temp_dir().join(format!("tandem-sim-outbox-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut stores = vec![SimStore::memory(&key(1), 7)];
        #[cfg(feature = "sqlite")]
        stores.push(SimStore::sqlite(dir.join("outbox.db"), &key(1), 7).unwrap());
        for mut store in stores {
            let durable = store.is_durable();
            // Rolled back with its step.
            store.begin_step().unwrap();
            store.outbox_push(&[envelope(1)]).unwrap();
            store.end_step(false).unwrap();
            assert!(store.outbox_drain().unwrap().is_empty(), "{durable}");
            // Committed with it; a nested step that rolls back keeps the outer one's.
            store.begin_step().unwrap();
            store.outbox_push(&[envelope(2)]).unwrap();
            store.begin_step().unwrap();
            store.outbox_push(&[envelope(3)]).unwrap();
            store.end_step(false).unwrap();
            store.end_step(true).unwrap();
            assert_eq!(store.outbox_drain().unwrap(), vec![envelope(2)], "{durable}");
            assert!(store.outbox_drain().unwrap().is_empty(), "{durable}");
            // A crash right after the step: the restarted app finds it.
            store.arm_crash(100);
            store.begin_step().unwrap();
            store.outbox_push(&[envelope(4), envelope(5)]).unwrap();
            store.end_step(true).unwrap();
            assert_eq!(store.crashed(), Some(CrashKind::AfterStep));
            let mut store = store.revive().unwrap();
            assert_eq!(
                store.outbox_drain().unwrap(),
                vec![envelope(4), envelope(5)],
                "{durable}"
            );
            // A crash inside the step (at the outbox write): nothing of it.
            store.arm_crash(2);
            store.begin_step().unwrap();
            assert!(store.outbox_push(&[envelope(6)]).is_err());
            assert_eq!(store.crashed(), Some(CrashKind::MidStep));
            let mut store = store.revive().unwrap();
            assert!(store.outbox_drain().unwrap().is_empty(), "{durable}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
