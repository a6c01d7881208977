//! A durable store in one SQLite file.
//!
//! [`SqliteStore`] implements every store trait over a versioned schema (`schema.rs`), keeps
//! records in the storage format of [`crate::store::serialize`], optionally seals its secrets
//! with a [`StorageKey`] (`seal.rs`), and makes each protocol step's writes one transaction.

mod client_rows;
mod error;
mod rows;
mod schema;
mod seal;

pub use error::SqliteStoreError;
pub use seal::StorageKey;

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use zeroize::Zeroizing;

use self::seal::{Row, Sealer};
use super::serialize::RecordError;
use super::{
    IdentityStore, PreKeyStore, ProtocolStore, SenderKeyStore, SessionCommit, SessionStore,
    SignedPreKeyStore, StoreError,
};
use crate::address::Address;
use crate::crypto::{KeyPair, PrivateKey, PublicKey};
use crate::group::SenderKeyRecord;
use crate::session::{PreKeyRecord, SessionRecord, SignedPreKeyRecord};

/// How to open a [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Seals private keys and records at rest with AES-256-GCM under this key. A database is
    /// created with or without one and must be opened the same way.
    pub key: Option<StorageKey>,
    /// How long to wait for another connection's write lock before failing with
    /// [`SqliteStoreError::Busy`].
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    /// No storage key; a 10-second busy timeout.
    fn default() -> Self {
        Self {
            key: None,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Versions of rows read since they were last written by this connection: `None` = the row was
/// absent.
type ReadVersions<K> = RefCell<HashMap<K, Option<i64>>>;

/// Every store of one device in one SQLite file.
///
/// # Concurrency: one writer at a time, per step
///
/// A protocol step reads a record, computes, and commits the new record. If two connections to
/// the same file (two threads, or the app and its notification extension) run steps on the same
/// session at once, both read the same record and the second commit overwrites the first: a
/// message key is reused or forgotten and the two devices' ratchets diverge — the "Bad MAC after
/// a race" of WhatsApp clients. The store prevents it in two layers:
///
/// 1. **[`SqliteStore::transaction`]: the lock is held across the whole step.** It opens a
///    `BEGIN IMMEDIATE` transaction, which takes SQLite's single write lock *before* the step
///    reads anything, runs the step (load, decrypt, commit) inside it, and commits. Another
///    connection's step waits for the lock (up to the busy timeout) and then reads the record as
///    this step left it. Steps are therefore serial per database file, with no retry loop and no
///    error to handle; decrypting one message takes microseconds, so holding the lock across it
///    costs nothing a device would notice. This is how the client should run every step.
/// 2. **An optimistic version check catches a step run outside [`SqliteStore::transaction`].**
///    `sessions` and `sender_keys` rows carry a write counter. Reading a row remembers its
///    counter; writing it back is `UPDATE … WHERE version = ?` (or an insert that must not find
///    a row, if none was read), and a row changed meanwhile by another connection makes the
///    write — and with it the whole [`ProtocolStore::commit`] — fail with
///    [`SqliteStoreError::Conflict`] ([`SqliteStoreError::is_conflict`] recognizes it in a
///    [`StoreError`]). Nothing is written, so the caller re-runs the step, which then sees the
///    other step's result (and reports a message already read as a duplicate).
///
/// Why not the alternatives: making the store `!Sync` and owned by one client protects threads
/// of one process but not two processes (or two connections) on one file; optimistic checking
/// alone makes every caller write a retry loop, and a losing decrypt must be redone. The lock
/// makes the safe way the easy way, and the check makes the unsafe way fail loudly instead of
/// diverging silently.
///
/// A `SqliteStore` is one connection: `Send`, not `Sync`. Give each thread its own (open the
/// same file again).
///
/// # Atomicity
///
/// [`ProtocolStore::commit`] (identity, used prekey, session) runs as one SQLite transaction —
/// or as a savepoint inside [`SqliteStore::transaction`] — so a failure of any statement leaves
/// none of it written. Every other write is a single statement.
pub struct SqliteStore {
    conn: Connection,
    sealer: Option<Sealer>,
    identity: KeyPair,
    registration_id: u32,
    session_reads: ReadVersions<Address>,
    sender_key_reads: ReadVersions<(Address, [u8; 16])>,
    /// Open client steps, innermost last: true for a savepoint inside a transaction.
    client_steps: Vec<bool>,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.conn.path())
            .field("sealed", &self.sealer.is_some())
            .field("identity", &self.identity.public)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Creates the store of a new device at `path` (the file is made if missing) with its
    /// identity key pair and registration id. Fails with
    /// [`SqliteStoreError::AlreadyInitialized`] if the database already has an identity.
    pub fn create(
        path: impl AsRef<Path>,
        identity: &KeyPair,
        registration_id: u32,
        options: SqliteOptions,
    ) -> Result<Self, SqliteStoreError> {
        let mut conn = Connection::open(path)?;
        schema::configure(&conn, options.busy_timeout)?;
        schema::migrate(&mut conn)?;
        let sealer = options.key.as_ref().map(Sealer::new).transpose()?;
        let private = Zeroizing::new(identity.private.to_bytes().expose().to_vec());
        let stored_private = protect(sealer.as_ref(), Row::LocalIdentity, &private)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT INTO local_identity (id, public_key, private_key, registration_id, sealed)
             VALUES (0, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
            params![
                identity.public.serialize().as_slice(),
                stored_private,
                registration_id,
                sealer.is_some()
            ],
        )?;
        if inserted != 1 {
            return Err(SqliteStoreError::AlreadyInitialized);
        }
        tx.commit()?;
        Ok(Self::with(conn, sealer, identity.clone(), registration_id))
    }

    /// Opens the store at `path`, which [`SqliteStore::create`] made, and migrates its schema
    /// to this build's version if it is older.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, SqliteStoreError> {
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags)?;
        schema::configure(&conn, options.busy_timeout)?;
        schema::migrate(&mut conn)?;
        let row = conn
            .query_row(
                "SELECT public_key, private_key, registration_id, sealed FROM local_identity WHERE id = 0",
                [],
                |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        Zeroizing::new(row.get::<_, Vec<u8>>(1)?),
                        row.get::<_, u32>(2)?,
                        row.get::<_, bool>(3)?,
                    ))
                },
            )
            .optional()?;
        let (public, private, registration_id, sealed) = row.ok_or(SqliteStoreError::NotInitialized)?;
        let sealer = match (sealed, &options.key) {
            (true, None) => return Err(SqliteStoreError::KeyRequired),
            (false, Some(_)) => return Err(SqliteStoreError::NotEncrypted),
            (_, key) => key.as_ref().map(Sealer::new).transpose()?,
        };
        let private = unprotect(sealer.as_ref(), Row::LocalIdentity, &private)?;
        let private = PrivateKey::from_bytes(&private)
            .map_err(|_| RecordError::InvalidField("local_identity.private_key"))?;
        let identity = KeyPair::from_private(private);
        let stored_public = PublicKey::deserialize(&public)
            .map_err(|_| RecordError::InvalidField("local_identity.public_key"))?;
        if stored_public != identity.public {
            return Err(RecordError::InvalidField("local_identity.public_key").into());
        }
        Ok(Self::with(conn, sealer, identity, registration_id))
    }

    fn with(conn: Connection, sealer: Option<Sealer>, identity: KeyPair, registration_id: u32) -> Self {
        Self {
            conn,
            sealer,
            identity,
            registration_id,
            session_reads: RefCell::default(),
            sender_key_reads: RefCell::default(),
            client_steps: Vec::new(),
        }
    }

    /// The connection, for the application's own tables: what it writes inside a step
    /// ([`Client::receive_with`](crate::client::Client::receive_with)'s `keep`, or
    /// [`Self::transaction`]) commits or rolls back with tandem's rows. tandem's tables (see
    /// `spec/06-storage.md`) must not be written through it.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The database file's path (to open it again, e.g. after a restart).
    pub fn path(&self) -> Option<&str> {
        self.conn.path()
    }

    /// The schema version of the database (after the migration at open).
    pub fn schema_version(&self) -> Result<i64, SqliteStoreError> {
        schema::version(&self.conn)
    }

    /// How many one-time prekeys are left.
    pub fn pre_key_count(&self) -> Result<usize, SqliteStoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM pre_keys", [], |row| row.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Runs `step` — any sequence of store reads and writes, typically one protocol operation
    /// such as `session::decrypt_message(store, …)` — holding the database's write lock from
    /// before its first read to after its last write, as one transaction: committed if `step`
    /// returns `Ok`, rolled back if it returns `Err` or panics. Another connection's
    /// `transaction` waits for this one (up to the busy timeout; then
    /// [`SqliteStoreError::Busy`], converted into `E`). Called inside another `transaction`,
    /// it runs as a savepoint of the outer one. See the type's documentation on concurrency.
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        step: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        self.atomically(step, |e| E::from(StoreError::from(e)))
    }

    /// Runs `f` as one transaction (a savepoint when one is open already).
    fn atomically<T, E>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
        lift: impl Fn(SqliteStoreError) -> E,
    ) -> Result<T, E> {
        let (begin, end, undo) = if self.conn.is_autocommit() {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        } else {
            (
                "SAVEPOINT tandem_step",
                "RELEASE tandem_step",
                "ROLLBACK TO tandem_step; RELEASE tandem_step",
            )
        };
        self.conn
            .execute_batch(begin)
            .map_err(|e| lift(SqliteStoreError::from(e)))?;
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(value)) => match self.conn.execute_batch(end) {
                Ok(()) => Ok(value),
                Err(e) => {
                    self.undo(undo);
                    Err(lift(e.into()))
                }
            },
            Ok(Err(e)) => {
                self.undo(undo);
                Err(e)
            }
            Err(panic) => {
                self.undo(undo);
                resume_unwind(panic)
            }
        }
    }

    /// Starts a client step (see [`StepTransaction`](crate::store::StepTransaction)): takes the
    /// write lock at once (`BEGIN IMMEDIATE`), or opens a savepoint inside a transaction.
    fn begin_client_step(&mut self) -> Result<(), SqliteStoreError> {
        let sql = if self.conn.is_autocommit() {
            "BEGIN IMMEDIATE"
        } else {
            "SAVEPOINT tandem_client_step"
        };
        self.client_steps.push(!self.conn.is_autocommit());
        match self.conn.execute_batch(sql) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.client_steps.pop();
                Err(e.into())
            }
        }
    }

    /// Ends the innermost client step.
    fn end_client_step(&mut self, commit: bool) -> Result<(), SqliteStoreError> {
        let nested = self.client_steps.pop().unwrap_or(false);
        let (end, undo) = if nested {
            (
                "RELEASE tandem_client_step",
                "ROLLBACK TO tandem_client_step; RELEASE tandem_client_step",
            )
        } else {
            ("COMMIT", "ROLLBACK")
        };
        if commit {
            if let Err(e) = self.conn.execute_batch(end) {
                self.undo(undo);
                return Err(e.into());
            }
            Ok(())
        } else {
            self.undo(undo);
            Ok(())
        }
    }

    /// Rolls back and forgets the row versions read (they may describe writes now undone).
    fn undo(&mut self, sql: &str) {
        // If even the rollback fails SQLite has rolled back on its own (it does on I/O errors).
        let _ = self.conn.execute_batch(sql);
        self.session_reads.get_mut().clear();
        self.sender_key_reads.get_mut().clear();
    }

    fn protect(&self, row: Row<'_>, plaintext: &[u8]) -> Result<Vec<u8>, SqliteStoreError> {
        protect(self.sealer.as_ref(), row, plaintext)
    }

    fn unprotect(&self, row: Row<'_>, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, SqliteStoreError> {
        unprotect(self.sealer.as_ref(), row, stored)
    }
}

fn protect(sealer: Option<&Sealer>, row: Row<'_>, plaintext: &[u8]) -> Result<Vec<u8>, SqliteStoreError> {
    match sealer {
        Some(s) => s.seal(row, plaintext),
        None => Ok(plaintext.to_vec()),
    }
}

fn unprotect(
    sealer: Option<&Sealer>,
    row: Row<'_>,
    stored: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SqliteStoreError> {
    match sealer {
        Some(s) => s.open(row, stored),
        None => Ok(Zeroizing::new(stored.to_vec())),
    }
}

impl IdentityStore for SqliteStore {
    fn identity_key_pair(&self) -> Result<KeyPair, StoreError> {
        Ok(self.identity.clone())
    }
    fn local_registration_id(&self) -> Result<u32, StoreError> {
        Ok(self.registration_id)
    }
    fn identity(&self, address: &Address) -> Result<Option<PublicKey>, StoreError> {
        Ok(self.load_identity(address)?)
    }
    fn save_identity(&mut self, address: &Address, key: &PublicKey) -> Result<(), StoreError> {
        Ok(self.put_identity(address, key)?)
    }
}

impl PreKeyStore for SqliteStore {
    fn pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        Ok(self.load_pre_key(id)?)
    }
    fn save_pre_key(&mut self, record: PreKeyRecord) -> Result<(), StoreError> {
        Ok(self.put_pre_key(&record)?)
    }
    fn remove_pre_key(&mut self, id: u32) -> Result<(), StoreError> {
        Ok(self.delete_pre_key(id)?)
    }
}

impl SignedPreKeyStore for SqliteStore {
    fn signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        Ok(self.load_signed_pre_key(id)?)
    }
    fn save_signed_pre_key(&mut self, record: SignedPreKeyRecord) -> Result<(), StoreError> {
        Ok(self.put_signed_pre_key(&record)?)
    }
}

impl SessionStore for SqliteStore {
    fn session(&self, address: &Address) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.load_session(address)?)
    }
    fn save_session(&mut self, address: &Address, record: SessionRecord) -> Result<(), StoreError> {
        Ok(self.put_session(address, &record)?)
    }
    fn remove_session(&mut self, address: &Address) -> Result<(), StoreError> {
        Ok(self.delete_session(address)?)
    }
}

impl SenderKeyStore for SqliteStore {
    fn sender_key(
        &self,
        sender: &Address,
        distribution_id: &[u8; 16],
    ) -> Result<Option<SenderKeyRecord>, StoreError> {
        Ok(self.load_sender_key(sender, distribution_id)?)
    }
    fn save_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: &[u8; 16],
        record: SenderKeyRecord,
    ) -> Result<(), StoreError> {
        Ok(self.put_sender_key(sender, distribution_id, &record)?)
    }
}

impl ProtocolStore for SqliteStore {
    /// One transaction (a savepoint inside [`SqliteStore::transaction`]): the identity, the
    /// prekey removal and the session are all written, or — if any statement fails, or the
    /// session changed since it was read — none is.
    fn commit(&mut self, commit: SessionCommit) -> Result<(), StoreError> {
        self.atomically(
            |store| {
                if let Some(key) = &commit.identity {
                    store.put_identity(&commit.address, key)?;
                }
                if let Some(id) = commit.consumed_pre_key {
                    store.delete_pre_key(id)?;
                }
                store.put_session(&commit.address, &commit.record)
            },
            |e| e,
        )
        .map_err(StoreError::from)
    }
}

impl crate::store::StepTransaction for SqliteStore {
    fn begin_step(&mut self) -> Result<(), StoreError> {
        self.begin_client_step().map_err(StoreError::from)
    }
    fn end_step(&mut self, commit: bool) -> Result<(), StoreError> {
        self.end_client_step(commit).map_err(StoreError::from)
    }
}
