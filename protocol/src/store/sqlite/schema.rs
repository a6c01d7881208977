//! The database schema, its version, and the migrations that bring a database up to it.
//!
//! `schema_version` holds one row: the version the tables are at. [`migrate`] runs, in one
//! `BEGIN IMMEDIATE` transaction, every migration above that version in order and records the
//! new version, so a database is always at a version some build wrote, and two processes opening
//! an old database at once migrate it once. A database from a newer build is refused
//! ([`SqliteStoreError::NewerSchema`]), never downgraded.
//!
//! To change the schema: append a function to [`MIGRATIONS`] (version n+1 is `MIGRATIONS[n]`);
//! never edit one that has shipped. A migration that changes a record format re-encodes the rows
//! in Rust, inside the same transaction.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::error::SqliteStoreError;

/// A migration: takes the schema from its index to its index + 1.
type Migration = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// Every migration, in order: `MIGRATIONS[0]` creates version 1.
const MIGRATIONS: &[Migration] = &[v1, v2, v3];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 1: the tables of the store traits. Secrets (`local_identity.private_key`, and every
/// `record`) are sealed when the store has a storage key (`local_identity.sealed` = 1).
/// `sessions.version` and `sender_keys.version` count writes to the row, for the optimistic
/// check.
fn v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE local_identity (
             id              INTEGER PRIMARY KEY CHECK (id = 0),
             public_key      BLOB NOT NULL,
             private_key     BLOB NOT NULL,
             registration_id INTEGER NOT NULL,
             sealed          INTEGER NOT NULL CHECK (sealed IN (0, 1))
         ) STRICT;
         CREATE TABLE identities (
             name       TEXT NOT NULL,
             device_id  INTEGER NOT NULL,
             public_key BLOB NOT NULL,
             PRIMARY KEY (name, device_id)
         ) STRICT, WITHOUT ROWID;
         CREATE TABLE pre_keys (
             id     INTEGER PRIMARY KEY,
             record BLOB NOT NULL
         ) STRICT;
         CREATE TABLE signed_pre_keys (
             id     INTEGER PRIMARY KEY,
             record BLOB NOT NULL
         ) STRICT;
         CREATE TABLE sessions (
             name      TEXT NOT NULL,
             device_id INTEGER NOT NULL,
             record    BLOB NOT NULL,
             version   INTEGER NOT NULL,
             PRIMARY KEY (name, device_id)
         ) STRICT, WITHOUT ROWID;
         CREATE TABLE sender_keys (
             name            TEXT NOT NULL,
             device_id       INTEGER NOT NULL,
             distribution_id BLOB NOT NULL CHECK (length(distribution_id) = 16),
             record          BLOB NOT NULL,
             version         INTEGER NOT NULL,
             PRIMARY KEY (name, device_id, distribution_id)
         ) STRICT, WITHOUT ROWID;",
    )
}

/// Version 2: the client-state tables (see `crate::client::state`). `local_device.record` (private
/// keys) and `sent_messages.record` (message contents) are sealed when the store has a storage
/// key; `known_accounts` and `groups` hold public keys, device lists and membership, in clear.
/// `sent_messages.seq` orders sent messages by first save, so the oldest goes first beyond the
/// bound.
fn v2(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE local_device (
             id     INTEGER PRIMARY KEY CHECK (id = 0),
             record BLOB NOT NULL
         ) STRICT;
         CREATE TABLE known_accounts (
             name   TEXT PRIMARY KEY,
             record BLOB NOT NULL
         ) STRICT, WITHOUT ROWID;
         CREATE TABLE groups (
             group_id BLOB PRIMARY KEY CHECK (length(group_id) = 16),
             record   BLOB NOT NULL
         ) STRICT, WITHOUT ROWID;
         CREATE TABLE sent_messages (
             seq        INTEGER PRIMARY KEY AUTOINCREMENT,
             message_id BLOB NOT NULL UNIQUE CHECK (length(message_id) = 16),
             record     BLOB NOT NULL
         ) STRICT;
         CREATE TABLE retry_counts (
             counter    INTEGER NOT NULL CHECK (counter IN (0, 1)),
             name       TEXT NOT NULL,
             device_id  INTEGER NOT NULL,
             message_id BLOB NOT NULL CHECK (length(message_id) = 16),
             count      INTEGER NOT NULL,
             PRIMARY KEY (counter, name, device_id, message_id)
         ) STRICT, WITHOUT ROWID;",
    )
}

/// Version 3: the ids of messages shown, per sender account
/// (`crate::client::state::ReceivedMessageStore`), oldest first by `seq`. Not sealed: 16 random
/// bytes and an account name.
fn v3(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE received_messages (
             seq        INTEGER PRIMARY KEY AUTOINCREMENT,
             name       TEXT NOT NULL,
             message_id BLOB NOT NULL CHECK (length(message_id) = 16),
             UNIQUE (name, message_id)
         ) STRICT;",
    )
}

/// Sets the connection up. Every connection to the file gets the same settings.
pub(super) fn configure(conn: &Connection, busy_timeout: Duration) -> Result<(), SqliteStoreError> {
    // Waits for another connection's write lock (up to the timeout) instead of failing at once.
    conn.busy_timeout(busy_timeout)?;
    // WAL: readers do not block the writer nor the writer the readers, and a commit appends to
    // the log instead of rewriting pages. The setting is stored in the file.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SqliteStoreError::Database(format!(
            "journal mode {mode}, not WAL"
        )));
    }
    // FULL, not WAL's usual NORMAL: NORMAL keeps the file consistent after a power cut but may
    // lose the last commits, and a ratchet must not roll back. A lost encrypt commit makes the
    // next message reuse a message key already used (same key and IV for another plaintext) and
    // a counter the peer has seen (refused as a duplicate); a lost decrypt commit resurrects a
    // one-time prekey and forgets that a message was read after the app acknowledged it. FULL
    // syncs the log on every commit, so a commit that returned is on disk.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Deleted content (used one-time prekeys, old chain keys) is overwritten, not left in free
    // pages: forward secrecy needs spent keys gone from the disk too.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection) -> Result<(), SqliteStoreError> {
    // Up to date already (the usual open): a read, no write lock.
    let current: Option<i64> = conn
        .query_row("SELECT version FROM schema_version WHERE id = 0", [], |row| {
            row.get(0)
        })
        .optional()
        .ok()
        .flatten();
    if current == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      INTEGER PRIMARY KEY CHECK (id = 0),
             version INTEGER NOT NULL
         ) STRICT;",
    )?;
    let found: i64 = tx
        .query_row("SELECT version FROM schema_version WHERE id = 0", [], |row| {
            row.get(0)
        })
        .optional()?
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(SqliteStoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (from, migration) in (0i64..).zip(MIGRATIONS) {
        if from >= found {
            migration(&tx)?;
        }
    }
    tx.execute(
        "INSERT INTO schema_version (id, version) VALUES (0, ?1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        [SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(())
}

/// The schema version recorded in the database.
pub(super) fn version(conn: &Connection) -> Result<i64, SqliteStoreError> {
    Ok(
        conn.query_row("SELECT version FROM schema_version WHERE id = 0", [], |row| {
            row.get(0)
        })?,
    )
}
