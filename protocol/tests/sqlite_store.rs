//! The SQLite store end to end: sessions and groups across reopenings, atomic commits under an
//! injected failure, secrets at rest, and two connections racing on one device's database.

#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::Address;
use tandem::crypto::{KeyPair, PublicKey, Secret};
use tandem::group::{self, GroupDecryptError};
use tandem::session::{
    self, CiphertextMessage, DecryptError, PreKeyBundle, PreKeyRecord, SessionRecord, SignedPreKeyRecord,
};
use tandem::store::{
    IdentityStore, MemoryStore, PreKeyStore, ProtocolStore, SenderKeyStore, SessionCommit, SessionStore,
    SignedPreKeyStore, SqliteOptions, SqliteStore, SqliteStoreError, StorageKey, StoreError,
};
use tandem::wire::MessageType;

// ---- Fixtures ----

/// A database file under the temp dir with a unique name, deleted (with its WAL) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "tandem-sqlite-{name}-{}-{n}-{nanos}.db",
            std::process::id()
        ));
        Self(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    /// The bytes of the database and its log, as an attacker who copies the files sees them.
    fn bytes_on_disk(&self) -> Vec<u8> {
        let mut all = std::fs::read(&self.0).unwrap_or_default();
        all.extend(std::fs::read(self.side("-wal")).unwrap_or_default());
        all
    }
    fn side(&self, suffix: &str) -> PathBuf {
        let mut p = self.0.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for p in [self.0.clone(), self.side("-wal"), self.side("-shm")] {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn key(byte: u8) -> StorageKey {
    StorageKey::new(Secret::new([byte; 32]))
}

fn options(key: Option<StorageKey>) -> SqliteOptions {
    SqliteOptions {
        key,
        ..SqliteOptions::default()
    }
}

/// A device whose store is a SQLite file; `reopen` closes and opens it again.
struct Device {
    db: TempDb,
    key: Option<StorageKey>,
    store: Option<SqliteStore>,
    rng: ChaCha20Rng,
    address: Address,
    bundle: PreKeyBundle,
}

impl Device {
    fn new(name: &str, seed: u64, key: Option<StorageKey>) -> Self {
        let db = TempDb::new(name);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let identity = KeyPair::generate(&mut rng);
        let registration_id = session::generate_registration_id(&mut rng);
        let mut store =
            SqliteStore::create(db.path(), &identity, registration_id, options(key.clone())).unwrap();
        let signed = SignedPreKeyRecord::generate(7, &identity, 1_700_000_000_000, &mut rng);
        let one_time = PreKeyRecord::generate(42, &mut rng);
        let bundle = PreKeyBundle {
            registration_id,
            device_id: 1,
            pre_key: Some((one_time.id, one_time.key_pair.public)),
            signed_pre_key_id: signed.id,
            signed_pre_key: signed.key_pair.public,
            signed_pre_key_signature: signed.signature.to_bytes().to_vec(),
            identity_key: identity.public,
        };
        store.save_signed_pre_key(signed).unwrap();
        store.save_pre_key(one_time).unwrap();
        Self {
            db,
            key,
            store: Some(store),
            rng,
            address: Address::new(name, 1),
            bundle,
        }
    }

    fn store(&mut self) -> &mut SqliteStore {
        self.store.as_mut().unwrap()
    }

    fn reopen(&mut self) {
        let identity = self.store().identity_key_pair().unwrap().public;
        self.store = None;
        let store = SqliteStore::open(self.db.path(), options(self.key.clone())).unwrap();
        assert_eq!(store.identity_key_pair().unwrap().public, identity);
        self.store = Some(store);
    }

    /// Another connection to the same file.
    fn connection(&self) -> SqliteStore {
        SqliteStore::open(self.db.path(), options(self.key.clone())).unwrap()
    }
}

fn send(from: &mut Device, to: &Address, text: &[u8]) -> CiphertextMessage {
    let store = from.store();
    store.transaction(|s| session::encrypt(s, to, text)).unwrap()
}

fn receive(at: &mut Device, from: &Address, m: &CiphertextMessage) -> Result<Vec<u8>, DecryptError> {
    let Device { store, rng, .. } = at;
    receive_with(
        store.as_mut().unwrap(),
        rng,
        from,
        m.message_type(),
        m.serialized(),
    )
}

fn receive_with(
    store: &mut SqliteStore,
    rng: &mut ChaCha20Rng,
    from: &Address,
    kind: MessageType,
    bytes: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    store.transaction(|s| match kind {
        MessageType::PreKey => session::decrypt_prekey_message(s, from, bytes, rng),
        _ => session::decrypt_message(s, from, bytes, rng),
    })
}

/// Alice and Bob with a session (Alice initiated; Bob answered; Alice read the answer).
fn pair(alice_key: Option<StorageKey>, bob_key: Option<StorageKey>) -> (Device, Device) {
    let mut a = Device::new("alice", 1, alice_key);
    let mut b = Device::new("bob", 2, bob_key);
    let bundle = b.bundle.clone();
    let bob = b.address.clone();
    let Device { store, rng, .. } = &mut a;
    session::process_prekey_bundle(store.as_mut().unwrap(), &bob, &bundle, rng).unwrap();
    let first = send(&mut a, &bob, b"hi");
    assert_eq!(receive(&mut b, &a.address, &first).unwrap(), b"hi");
    let reply = send(&mut b, &a.address, b"hello");
    assert_eq!(receive(&mut a, &bob, &reply).unwrap(), b"hello");
    (a, b)
}

// ---- Sessions and groups across reopenings ----

#[test]
fn a_session_continues_across_reopenings() {
    for (alice_key, bob_key) in [(None, None), (Some(key(1)), Some(key(2)))] {
        let mut a = Device::new("alice", 10, alice_key);
        let mut b = Device::new("bob", 11, bob_key);
        let (alice, bob) = (a.address.clone(), b.address.clone());
        let bundle = b.bundle.clone();
        let Device { store, rng, .. } = &mut a;
        session::process_prekey_bundle(store.as_mut().unwrap(), &bob, &bundle, rng).unwrap();
        a.reopen();
        let first: Vec<_> = (0..4u8).map(|i| send(&mut a, &bob, &[i; 30])).collect();
        assert!(first.iter().all(|m| m.message_type() == MessageType::PreKey));
        a.reopen();
        b.reopen();
        // Out of order, with a reopening in between: skipped keys survive.
        assert_eq!(receive(&mut b, &alice, &first[2]).unwrap(), [2; 30]);
        assert!(
            b.store().pre_key(42).unwrap().is_none(),
            "the one-time prekey is used up"
        );
        assert_eq!(b.store().identity(&alice).unwrap(), Some(a.bundle.identity_key));
        b.reopen();
        assert_eq!(receive(&mut b, &alice, &first[0]).unwrap(), [0; 30]);
        b.reopen();
        assert_eq!(receive(&mut b, &alice, &first[0]), Err(DecryptError::Duplicate));
        let reply = send(&mut b, &alice, b"reply");
        b.reopen();
        assert_eq!(receive(&mut a, &bob, &reply).unwrap(), b"reply");
        a.reopen();
        for round in 0..3u8 {
            let m = send(&mut a, &bob, &[round]);
            assert_eq!(m.message_type(), MessageType::Whisper);
            b.reopen();
            assert_eq!(receive(&mut b, &alice, &m).unwrap(), [round]);
            let r = send(&mut b, &alice, &[round, round]);
            a.reopen();
            assert_eq!(receive(&mut a, &bob, &r).unwrap(), [round, round]);
        }
        // Late messages of the first chain still decrypt after all the ratchet steps.
        assert_eq!(receive(&mut b, &alice, &first[3]).unwrap(), [3; 30]);
        b.reopen();
        assert_eq!(receive(&mut b, &alice, &first[1]).unwrap(), [1; 30]);
        // Sessions removed for a device that left stay removed.
        b.store().remove_session(&alice).unwrap();
        b.reopen();
        assert!(b.store().session(&alice).unwrap().is_none());
    }
}

#[test]
fn a_group_continues_across_reopenings() {
    const GROUP: [u8; 16] = *b"tandem-group-id!";
    let mut a = Device::new("alice", 20, Some(key(3)));
    let mut b = Device::new("bob", 21, None);
    let alice = a.address.clone();
    let Device { store, rng, .. } = &mut a;
    let skdm = group::create_distribution_message(store.as_mut().unwrap(), &alice, GROUP, rng).unwrap();
    b.store()
        .transaction(|s| group::process_distribution_message(s, &alice, &skdm))
        .unwrap();
    a.reopen();
    b.reopen();
    let encrypt = |a: &mut Device, text: &[u8]| {
        let Device { store, rng, .. } = a;
        group::encrypt(store.as_mut().unwrap(), &alice, GROUP, text, rng)
            .unwrap()
            .serialized()
            .to_vec()
    };
    let messages: Vec<_> = (0..6u8).map(|i| encrypt(&mut a, &[i; 12])).collect();
    a.reopen();
    let m6 = encrypt(&mut a, b"six");
    for i in [5usize, 1, 3] {
        assert_eq!(
            group::decrypt(b.store(), &alice, &messages[i]).unwrap(),
            [i as u8; 12]
        );
        b.reopen();
    }
    assert_eq!(group::decrypt(b.store(), &alice, &m6).unwrap(), b"six");
    for i in [0usize, 2, 4] {
        assert_eq!(
            group::decrypt(b.store(), &alice, &messages[i]).unwrap(),
            [i as u8; 12]
        );
    }
    b.reopen();
    for m in &messages {
        assert_eq!(
            group::decrypt(b.store(), &alice, m),
            Err(GroupDecryptError::Duplicate)
        );
    }
    // Rotation: a fresh chain after a reset, distributed again.
    group::reset_own_sender_key(a.store(), &alice, GROUP).unwrap();
    a.reopen();
    let Device { store, rng, .. } = &mut a;
    let fresh = group::create_distribution_message(store.as_mut().unwrap(), &alice, GROUP, rng).unwrap();
    assert_ne!(fresh.chain_id(), skdm.chain_id());
    group::process_distribution_message(b.store(), &alice, &fresh).unwrap();
    b.reopen();
    let after = encrypt(&mut a, b"rotated");
    assert_eq!(group::decrypt(b.store(), &alice, &after).unwrap(), b"rotated");
    assert_eq!(b.store().sender_key(&alice, &GROUP).unwrap().unwrap().len(), 2);
}

// ---- Atomic commit ----

/// Creates a trigger that makes every statement of `event` on `table` fail.
fn inject_failure(db: &TempDb, event: &str, table: &str) {
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER fail_{table}_{n} BEFORE {event} ON {table}
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        n = event.replace(' ', "_")
    ))
    .unwrap();
}

fn remove_failures(db: &TempDb) {
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for n in names {
        conn.execute_batch(&format!("DROP TRIGGER {n}")).unwrap();
    }
}

#[test]
fn a_commit_that_fails_in_any_statement_writes_nothing() {
    // The first message of a session writes all three: Alice's identity, the used prekey, the
    // session. Fail each statement in turn; nothing may be visible afterwards, through this
    // connection, another one, or after reopening.
    for (event, table) in [
        ("INSERT", "identities"),
        ("DELETE", "pre_keys"),
        ("INSERT", "sessions"),
    ] {
        let mut a = Device::new("alice", 30, None);
        let mut b = Device::new("bob", 31, Some(key(4)));
        let (alice, bob) = (a.address.clone(), b.address.clone());
        let bundle = b.bundle.clone();
        let Device { store, rng, .. } = &mut a;
        session::process_prekey_bundle(store.as_mut().unwrap(), &bob, &bundle, rng).unwrap();
        let first = send(&mut a, &bob, b"first");

        inject_failure(&b.db, event, table);
        let Device { store, rng, .. } = &mut b;
        let plain = session::decrypt_prekey_message(store.as_mut().unwrap(), &alice, first.serialized(), rng);
        assert!(
            matches!(&plain, Err(DecryptError::Store(StoreError(e))) if e.contains("injected failure")),
            "{event} {table}: {plain:?}"
        );
        // Inside a caller's transaction (the commit is a savepoint there) too.
        let inside = receive(&mut b, &alice, &first);
        assert!(matches!(inside, Err(DecryptError::Store(_))), "{inside:?}");
        for view in [b.connection(), {
            b.reopen();
            b.connection()
        }] {
            assert_eq!(view.identity(&alice).unwrap(), None, "{event} {table}");
            assert!(view.pre_key(42).unwrap().is_some(), "{event} {table}");
            assert!(view.session(&alice).unwrap().is_none(), "{event} {table}");
        }

        remove_failures(&b.db);
        assert_eq!(receive(&mut b, &alice, &first).unwrap(), b"first");
        assert_eq!(b.store().identity(&alice).unwrap(), Some(a.bundle.identity_key));
        assert!(b.store().pre_key(42).unwrap().is_none());
        assert!(b.store().session(&alice).unwrap().is_some());
    }
}

#[test]
fn a_failed_update_keeps_the_previous_session_and_identity() {
    let (mut a, mut b) = pair(None, None);
    let (alice, bob) = (a.address.clone(), b.address.clone());
    let m = send(&mut a, &bob, b"kept");
    let before = b.connection().session(&alice).unwrap().unwrap();
    // Read first, so that the session is written back with `UPDATE … WHERE version = ?`.
    assert!(b.store().session(&alice).unwrap().is_some());
    inject_failure(&b.db, "UPDATE", "sessions");
    let new_identity = KeyPair::generate(&mut b.rng).public;
    let commit = SessionCommit {
        address: alice.clone(),
        record: SessionRecord::new(),
        identity: Some(new_identity),
        consumed_pre_key: Some(7),
    };
    b.store()
        .save_pre_key(PreKeyRecord::generate(7, &mut ChaCha20Rng::seed_from_u64(5)))
        .unwrap();
    assert!(b.store().commit(commit).is_err());
    assert_eq!(b.store().identity(&alice).unwrap(), Some(a.bundle.identity_key));
    assert!(b.store().pre_key(7).unwrap().is_some());
    let after = b.store().session(&alice).unwrap().unwrap();
    assert_eq!(after.archived_len(), before.archived_len());
    assert!(after.current().is_some());
    remove_failures(&b.db);
    assert_eq!(receive(&mut b, &alice, &m).unwrap(), b"kept");
}

// ---- Secrets at rest ----

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn with_a_storage_key_no_private_key_is_on_disk() {
    for sealed in [true, false] {
        let k = sealed.then(|| key(9));
        let (mut a, mut b) = pair(k.clone(), k);
        let alice = a.address.clone();
        // Secrets the files could hold: identity, prekey and signed prekey private keys, and a
        // sender chain key.
        let mut secrets: Vec<Vec<u8>> = vec![
            a.store()
                .identity_key_pair()
                .unwrap()
                .private
                .to_bytes()
                .expose()
                .to_vec(),
            b.store()
                .identity_key_pair()
                .unwrap()
                .private
                .to_bytes()
                .expose()
                .to_vec(),
            b.store()
                .signed_pre_key(7)
                .unwrap()
                .unwrap()
                .key_pair
                .private
                .to_bytes()
                .expose()
                .to_vec(),
        ];
        let spare = PreKeyRecord::generate(43, &mut b.rng);
        secrets.push(spare.key_pair.private.to_bytes().expose().to_vec());
        b.store().save_pre_key(spare).unwrap();
        let Device { store, rng, .. } = &mut a;
        let skdm = group::create_distribution_message(store.as_mut().unwrap(), &alice, [1; 16], rng).unwrap();
        secrets.push(skdm.chain_key().expose().to_vec());
        // Close both stores (SQLite checkpoints the log into the file), keep the files.
        let Device { db: a_db, store, .. } = a;
        drop(store);
        let Device { db: b_db, store, .. } = b;
        drop(store);
        let disk = [a_db.bytes_on_disk(), b_db.bytes_on_disk()].concat();
        assert!(disk.len() > 4096);
        for s in &secrets {
            assert_eq!(contains(&disk, s), !sealed, "sealed = {sealed}");
        }
    }
}

#[test]
fn a_sealed_value_moved_to_another_row_does_not_open() {
    let (_a, mut b) = pair(None, Some(key(5)));
    let alice = Address::new("alice", 1);
    let carol = Address::new("carol", 1);
    let record = b.store().session(&alice).unwrap().unwrap();
    b.store().save_session(&carol, record).unwrap();
    let spare = PreKeyRecord::generate(43, &mut b.rng);
    b.store().save_pre_key(spare).unwrap();
    assert!(b.store().session(&carol).unwrap().is_some());
    assert!(b.store().pre_key(43).unwrap().is_some());

    let raw = rusqlite::Connection::open(b.db.path()).unwrap();
    raw.execute(
        "UPDATE sessions SET record = (SELECT record FROM sessions WHERE name = 'alice') WHERE name = 'carol'",
        [],
    )
    .unwrap();
    raw.execute(
        "UPDATE pre_keys SET record = (SELECT record FROM signed_pre_keys WHERE id = 7) WHERE id = 43",
        [],
    )
    .unwrap();
    let bad_seal = StoreError::from(SqliteStoreError::BadSeal);
    assert_eq!(b.store().session(&carol).err(), Some(bad_seal.clone()));
    assert_eq!(b.store().pre_key(43).err(), Some(bad_seal));
    assert!(
        b.store().session(&alice).unwrap().is_some(),
        "the original row still opens"
    );
    assert!(b.store().signed_pre_key(7).unwrap().is_some());
}

#[test]
fn the_database_opens_only_with_its_key() {
    let sealed = Device::new("sealed", 40, Some(key(6)));
    let plain = Device::new("plain", 41, None);
    let open = |d: &Device, k| SqliteStore::open(d.db.path(), options(k)).map(|_| ());
    assert_eq!(open(&sealed, None), Err(SqliteStoreError::KeyRequired));
    assert_eq!(open(&sealed, Some(key(7))), Err(SqliteStoreError::BadSeal));
    assert_eq!(open(&sealed, Some(key(6))), Ok(()));
    assert_eq!(open(&plain, Some(key(6))), Err(SqliteStoreError::NotEncrypted));
    assert_eq!(open(&plain, None), Ok(()));
}

// ---- Schema ----

#[test]
fn the_schema_is_versioned() {
    let d = Device::new("schema", 50, None);
    assert_eq!(d.connection().schema_version().unwrap(), 3);
    // A version-1 database (before the client-state tables) is migrated when opened.
    rusqlite::Connection::open(d.db.path())
        .unwrap()
        .execute_batch(
            "DROP TABLE local_device; DROP TABLE known_accounts; DROP TABLE groups;
             DROP TABLE sent_messages; DROP TABLE retry_counts; DROP TABLE received_messages;
             UPDATE schema_version SET version = 1;",
        )
        .unwrap();
    let migrated = SqliteStore::open(d.db.path(), options(None)).unwrap();
    assert_eq!(migrated.schema_version().unwrap(), 3);
    assert!(migrated.session(&Address::new("nobody", 1)).unwrap().is_none());
    drop(migrated);
    let tables: i64 = rusqlite::Connection::open(d.db.path())
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
             ('local_device', 'known_accounts', 'groups', 'sent_messages', 'retry_counts', 'received_messages')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 6);
    let identity = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1));
    assert_eq!(
        SqliteStore::create(d.db.path(), &identity, 1, options(None)).map(|_| ()),
        Err(SqliteStoreError::AlreadyInitialized)
    );
    let missing = TempDb::new("missing");
    assert!(matches!(
        SqliteStore::open(missing.path(), options(None)),
        Err(SqliteStoreError::Database(_))
    ));
    let empty = TempDb::new("empty");
    rusqlite::Connection::open(empty.path()).unwrap();
    assert_eq!(
        SqliteStore::open(empty.path(), options(None)).map(|_| ()),
        Err(SqliteStoreError::NotInitialized)
    );
    rusqlite::Connection::open(d.db.path())
        .unwrap()
        .execute("UPDATE schema_version SET version = 4", [])
        .unwrap();
    assert_eq!(
        SqliteStore::open(d.db.path(), options(None)).map(|_| ()),
        Err(SqliteStoreError::NewerSchema {
            found: 4,
            supported: 3
        })
    );
}

// ---- Concurrency ----

/// Two connections of Bob's device decrypt Alice's messages — each delivered twice, in a
/// shuffled order — and answer each, on two threads at once. Every message is read exactly once,
/// every answer reads at Alice, and the session goes on afterwards.
#[test]
fn two_connections_never_advance_one_session_twice() {
    const N: usize = 60;
    let (mut a, b) = pair(None, Some(key(8)));
    let (alice, bob) = (a.address.clone(), b.address.clone());
    let messages: Vec<_> = (0..N)
        .map(|i| send(&mut a, &bob, &(i as u32).to_be_bytes()))
        .collect();
    let mut queue: Vec<(usize, Vec<u8>)> = messages
        .iter()
        .enumerate()
        .flat_map(|(i, m)| [(i, m.serialized().to_vec()), (i, m.serialized().to_vec())])
        .collect();
    // A fixed shuffle: each message's two copies far apart, the messages out of order.
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    for i in (1..queue.len()).rev() {
        let j = usize::try_from(rand_chacha::rand_core::Rng::next_u64(&mut rng) % (i as u64 + 1)).unwrap();
        queue.swap(i, j);
    }
    let queue = Arc::new(Mutex::new(VecDeque::from(queue)));
    let read = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let mut store = b.connection();
            let (queue, read, answers) = (queue.clone(), read.clone(), answers.clone());
            let alice = alice.clone();
            std::thread::spawn(move || {
                let mut rng = ChaCha20Rng::seed_from_u64(100 + t);
                loop {
                    let Some((i, bytes)) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    match receive_with(&mut store, &mut rng, &alice, MessageType::Whisper, &bytes) {
                        Ok(plain) => {
                            assert_eq!(plain, (i as u32).to_be_bytes());
                            read.lock().unwrap().push(i);
                            let answer = store
                                .transaction(|s| session::encrypt(s, &alice, &plain))
                                .unwrap();
                            answers.lock().unwrap().push(answer);
                        }
                        Err(DecryptError::Duplicate) => {}
                        Err(e) => panic!("thread {t}: message {i}: {e:?}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut read = read.lock().unwrap().clone();
    read.sort_unstable();
    assert_eq!(read, (0..N).collect::<Vec<_>>(), "each message read exactly once");

    // Every answer has its own counter and reads at Alice, whatever the order they arrive in.
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), N);
    let mut answered = Vec::new();
    for m in answers.iter().rev() {
        let plain = receive(&mut a, &bob, m).unwrap();
        answered.push(u32::from_be_bytes(plain.try_into().unwrap()));
    }
    answered.sort_unstable();
    assert_eq!(answered, (0..N as u32).collect::<Vec<_>>());

    // No divergence: the session goes on both ways, through a fresh connection.
    let mut b = b;
    b.reopen();
    let m = send(&mut a, &bob, b"after");
    assert_eq!(receive(&mut b, &alice, &m).unwrap(), b"after");
    let r = send(&mut b, &alice, b"after too");
    assert_eq!(receive(&mut a, &bob, &r).unwrap(), b"after too");
}

/// Two connections of Alice's device encrypt group messages on one sender chain at once: every
/// message has its own iteration, and every one reads at a member.
#[test]
fn two_connections_never_reuse_a_group_iteration() {
    const GROUP: [u8; 16] = [3; 16];
    const PER_THREAD: usize = 30;
    let mut a = Device::new("alice", 60, None);
    let alice = a.address.clone();
    let Device { store, rng, .. } = &mut a;
    let skdm = group::create_distribution_message(store.as_mut().unwrap(), &alice, GROUP, rng).unwrap();
    let mut member = MemoryStore::new(KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(61)), 2);
    group::process_distribution_message(&mut member, &alice, &skdm).unwrap();
    let threads: Vec<_> = (0..2u8)
        .map(|t| {
            let mut store = a.connection();
            let alice = alice.clone();
            std::thread::spawn(move || {
                let mut rng = ChaCha20Rng::seed_from_u64(200 + u64::from(t));
                (0..PER_THREAD)
                    .map(|i| {
                        let text = [t, i as u8];
                        let m = store
                            .transaction(|s| group::encrypt(s, &alice, GROUP, &text, &mut rng))
                            .unwrap();
                        (text, m.serialized().to_vec())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let sent: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    for (text, bytes) in &sent {
        assert_eq!(&group::decrypt(&mut member, &alice, bytes).unwrap(), text);
    }
    assert_eq!(sent.len(), 2 * PER_THREAD);
}

/// A store wrapper that lets another connection run a step just before this one commits: the
/// race the lock of `SqliteStore::transaction` prevents, forced deterministically.
struct Racing<'a> {
    inner: &'a mut SqliteStore,
    before_commit: Option<Box<dyn FnOnce() + 'a>>,
}

impl IdentityStore for Racing<'_> {
    fn identity_key_pair(&self) -> Result<KeyPair, StoreError> {
        self.inner.identity_key_pair()
    }
    fn local_registration_id(&self) -> Result<u32, StoreError> {
        self.inner.local_registration_id()
    }
    fn identity(&self, a: &Address) -> Result<Option<PublicKey>, StoreError> {
        self.inner.identity(a)
    }
    fn save_identity(&mut self, a: &Address, k: &PublicKey) -> Result<(), StoreError> {
        self.inner.save_identity(a, k)
    }
}
impl PreKeyStore for Racing<'_> {
    fn pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        self.inner.pre_key(id)
    }
    fn save_pre_key(&mut self, r: PreKeyRecord) -> Result<(), StoreError> {
        self.inner.save_pre_key(r)
    }
    fn remove_pre_key(&mut self, id: u32) -> Result<(), StoreError> {
        self.inner.remove_pre_key(id)
    }
}
impl SignedPreKeyStore for Racing<'_> {
    fn signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        self.inner.signed_pre_key(id)
    }
    fn save_signed_pre_key(&mut self, r: SignedPreKeyRecord) -> Result<(), StoreError> {
        self.inner.save_signed_pre_key(r)
    }
}
impl SessionStore for Racing<'_> {
    fn session(&self, a: &Address) -> Result<Option<SessionRecord>, StoreError> {
        self.inner.session(a)
    }
    fn save_session(&mut self, a: &Address, r: SessionRecord) -> Result<(), StoreError> {
        self.inner.save_session(a, r)
    }
}
impl ProtocolStore for Racing<'_> {
    fn commit(&mut self, c: SessionCommit) -> Result<(), StoreError> {
        if let Some(other) = self.before_commit.take() {
            other();
        }
        self.inner.commit(c)
    }
}

#[test]
fn a_step_outside_a_transaction_that_loses_a_race_is_refused_not_diverged() {
    let (mut a, b) = pair(None, None);
    let (alice, bob) = (a.address.clone(), b.address.clone());
    let m1 = send(&mut a, &bob, b"one");
    let m2 = send(&mut a, &bob, b"two");
    let mut first = b.connection();
    let mut second = b.connection();
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut other_rng = ChaCha20Rng::seed_from_u64(10);
    {
        let other = &mut second;
        let (alice_for_other, m2_bytes) = (alice.clone(), m2.serialized().to_vec());
        let mut racing = Racing {
            inner: &mut first,
            before_commit: Some(Box::new(move || {
                let plain =
                    session::decrypt_message(other, &alice_for_other, &m2_bytes, &mut other_rng).unwrap();
                assert_eq!(plain, b"two");
            })),
        };
        // `first` loaded the session, the other connection committed m2, then `first` commits.
        let lost = session::decrypt_message(&mut racing, &alice, m1.serialized(), &mut rng);
        match lost {
            Err(DecryptError::Store(e)) => assert!(SqliteStoreError::is_conflict(&e), "{e:?}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    // Re-run: m1 reads now (its key was kept as skipped by the other step), m2 is a duplicate.
    assert_eq!(
        session::decrypt_message(&mut first, &alice, m1.serialized(), &mut rng).unwrap(),
        b"one"
    );
    assert_eq!(
        session::decrypt_message(&mut first, &alice, m2.serialized(), &mut rng),
        Err(DecryptError::Duplicate)
    );
    assert_eq!(
        session::decrypt_message(&mut second, &alice, m1.serialized(), &mut rng),
        Err(DecryptError::Duplicate)
    );
}

/// While one connection's transaction runs, another can read (WAL) but not start a step: it
/// waits for the lock, and past its busy timeout fails with `Busy` having written nothing.
#[test]
fn a_transaction_holds_the_write_lock_until_it_ends() {
    let d = Device::new("lock", 70, None);
    let mut holder = d.connection();
    let mut waiter = SqliteStore::open(
        d.db.path(),
        SqliteOptions {
            key: None,
            busy_timeout: std::time::Duration::from_millis(50),
        },
    )
    .unwrap();
    let carol = Address::new("carol", 1);
    let key = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(71)).public;
    holder
        .transaction(|s| {
            s.save_identity(&carol, &key)?;
            assert_eq!(
                waiter.identity(&carol).unwrap(),
                None,
                "uncommitted writes are not seen"
            );
            let blocked = waiter.transaction(|w| w.save_identity(&Address::new("dave", 1), &key));
            assert!(SqliteStoreError::is_busy(&blocked.unwrap_err()));
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(waiter.identity(&carol).unwrap(), Some(key));
    assert_eq!(waiter.identity(&Address::new("dave", 1)).unwrap(), None);
    waiter
        .transaction(|w| w.save_identity(&Address::new("dave", 1), &key))
        .unwrap();
}
