//! The sync driver, shared (through `#[path]`) by the fuzz targets `backup_restore`,
//! `history_chunk` and `history_notification`, and by `protocol/tests/fuzz_corpus_sync.rs`,
//! which replays their seeds.
//!
//! # The fixtures
//!
//! From seeded ChaCha20, built once: a recovery code; a backup under that code alone and one
//! under the code and a password (64-byte chunks, a few chunks each); a history sync of three
//! chunks (30 messages in three chats, two contacts) uploaded to an in-memory blob store, with
//! its notifications and what each chunk holds (from a reference import); and an importer that
//! has applied chunk 0 and holds chunk 2's notification.
//!
//! # The targets and their properties
//!
//! `backup_restore`:
//!
//! ```text
//! byte 0  bit 0: 0 = the rest of the input is the backup
//!                1 = mutate a genuine backup (bit 1: 0 code only, 1 code and password) with
//!                    4-byte edits [op, pos lo, pos hi, value] (as the linking driver's)
//! ```
//!
//! `open_backup` with the fixture's code never panics and never runs Argon2 (only code locks
//! are tried). It succeeds only for the genuine bytes of one of the two backups, and then gives
//! the genuine plaintext; `inspect_backup` accepts whatever `open_backup` opened.
//!
//! `history_chunk` (the fixture's chunk 0 slot, a fresh importer each run):
//!
//! ```text
//! byte 0 % 3: 0 = the rest is the compressed chunk: encrypted honestly under a fixed key and
//!                 announced as chunk 0 of the fixture's sync
//!             1 = the rest is the chunk's plaintext (the driver wraps it in stored zlib blocks)
//!             2 = the rest is the blob itself, under chunk 0's genuine notification
//! ```
//!
//! Applying never panics. Modes 0 and 1 fail only as `Malformed`, `DecompressionBomb` or
//! `Mismatch`; mode 2 fails only as `Tampered`, and applies only the genuine blob. Whatever
//! applies is chunk 0 of the sync (progress 1 of 3), its item count is what progress says, and
//! the importer state round-trips through its bytes.
//!
//! `history_notification` (input: the notification bytes): `HistorySyncNotification::parse`
//! never panics, and what parses re-encodes to the input. Given to the fixture's importer, it is
//! refused exactly as its fields say (another sync id: `OtherSync`; another count or type:
//! `Inconsistent`; chunk 0: `AlreadyApplied`), a refusal changes no state, and otherwise every
//! chunk then applied holds exactly the genuine chunk's items. Chunk 1's genuine notification
//! completes the sync.

#![allow(dead_code)]

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::backup::{
    Argon2Params, BackupContents, BackupLock, BackupOptions, BackupUnlock, RecoveryCode, RestoreError,
    create_backup, inspect_backup, open_backup,
};
use tandem::blob::{BlobId, BlobStore, MemoryBlobStore};
use tandem::history::{
    ChunkFailure, ChunkLimits, ContactName, HistoryImporter, HistoryItem, HistoryPackage,
    HistorySyncNotification, HistorySyncType, NotificationError,
};
use tandem::media::{self, MediaKey, MediaKind};

/// The fixtures (see the module documentation).
pub struct Fixture {
    /// The recovery code of both backups.
    pub code: RecoveryCode,
    /// The plaintext of both backups.
    pub backup_plaintext: Vec<u8>,
    /// The backup under the code alone.
    pub backup_code_only: Vec<u8>,
    /// The backup under the code and [`PASSWORD`].
    pub backup_both: Vec<u8>,
    /// The messages of the history sync.
    pub items: Vec<HistoryItem>,
    /// Its contacts.
    pub contacts: Vec<ContactName>,
    /// Its blobs.
    pub store: MemoryBlobStore,
    /// Its notifications, by chunk.
    pub notes: Vec<Vec<u8>>,
    /// What each chunk holds: (items, contacts).
    pub chunks: Vec<(Vec<HistoryItem>, Vec<ContactName>)>,
    /// Chunk 0's compressed plaintext (the genuine blob, decrypted).
    pub chunk0_compressed: Vec<u8>,
    /// Chunk 0's blob.
    pub chunk0_blob: Vec<u8>,
    /// An importer that applied chunk 0 and holds chunk 2's notification.
    pub importer: HistoryImporter,
    /// A notification of another sync (its chunk 1).
    pub other_sync_note: Vec<u8>,
}

/// The password of the two-lock backup.
pub const PASSWORD: &[u8] = b"fuzz password";

/// The media key modes 0 and 1 of `history_chunk` encrypt under.
pub const FORGED_KEY: [u8; 32] = [0x42; 32];

fn history_items() -> Vec<HistoryItem> {
    (0..30)
        .map(|i| HistoryItem {
            chat_id: format!("chat-{}", i % 3),
            sender: if i % 2 == 0 {
                "me".into()
            } else {
                format!("chat-{}", i % 3)
            },
            message_id: format!("m{i}"),
            timestamp_ms: 1_760_000_000_000 + i as u64,
            body: format!("body {i}").into_bytes(),
            media: (i % 7 == 0).then(|| vec![1, 2, 3]),
        })
        .collect()
}

/// The fixtures, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5EED);
        let code = RecoveryCode::generate(&mut rng);
        let contents = BackupContents {
            history: history_items().into_iter().take(6).collect(),
            contacts: vec![ContactName {
                id: "chat-1".into(),
                name: "One".into(),
            }],
            app_state: Vec::new(),
        };
        let options = BackupOptions { chunk_size: 64 };
        let backup_code_only =
            create_backup(&mut rng, &contents, &[BackupLock::RecoveryCode(&code)], &options).unwrap();
        let both = [
            BackupLock::RecoveryCode(&code),
            BackupLock::Password {
                password: PASSWORD,
                params: Argon2Params::FLOOR,
            },
        ];
        let backup_both = create_backup(&mut rng, &contents, &both, &options).unwrap();

        let items = history_items();
        let contacts = vec![
            ContactName {
                id: "chat-1".into(),
                name: "One".into(),
            },
            ContactName {
                id: "chat-2".into(),
                name: "Two".into(),
            },
        ];
        let limits = ChunkLimits {
            max_messages: 10,
            max_bytes: 1 << 10,
        };
        let package =
            HistoryPackage::build(&mut rng, HistorySyncType::Full, &items, &contacts, &limits).unwrap();
        assert_eq!(package.chunk_count(), 3);
        let mut store = MemoryBlobStore::new();
        let notes: Vec<Vec<u8>> = package
            .upload_all(&mut rng, &mut store)
            .unwrap()
            .iter()
            .map(|n| n.encode().to_vec())
            .collect();
        let mut reference = HistoryImporter::new();
        let mut chunks = Vec::new();
        for n in &notes {
            reference.receive_bytes(n).unwrap();
            let applied = reference.apply_next(&store).unwrap().unwrap();
            chunks.push((applied.items, applied.contacts));
        }
        let first = HistorySyncNotification::parse(&notes[0]).unwrap();
        let chunk0_blob = store.get(&first.direct_path).unwrap();
        let chunk0_compressed =
            media::decrypt(MediaKind::History, &first.media_key, &chunk0_blob, &first.digest).unwrap();

        let mut importer = HistoryImporter::new();
        importer.receive_bytes(&notes[0]).unwrap();
        importer.apply_next(&store).unwrap().unwrap();
        importer.receive_bytes(&notes[2]).unwrap();

        let other =
            HistoryPackage::build(&mut rng, HistorySyncType::Full, &items, &contacts, &limits).unwrap();
        let mut other_store = MemoryBlobStore::new();
        let other_sync_note = other
            .upload_chunk(&mut rng, &mut other_store, 1)
            .unwrap()
            .encode()
            .to_vec();

        Fixture {
            code,
            backup_plaintext: contents.encode().to_vec(),
            backup_code_only,
            backup_both,
            items,
            contacts,
            store,
            notes,
            chunks,
            chunk0_compressed,
            chunk0_blob,
            importer,
            other_sync_note,
        }
    })
}

#[path = "mutate.rs"]
mod mutate;
pub use mutate::mutate;

// ---------------------------------------------------------------------------------------------
// backup_restore

/// How a backup was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupOutcome {
    /// It opened (so it was one of the genuine backups).
    Restored,
    /// It was refused.
    Refused(RestoreError),
}

/// The `backup_restore` target.
pub fn run_backup_restore(data: &[u8]) -> BackupOutcome {
    let fx = fixture();
    let Some((&control, rest)) = data.split_first() else {
        return check_backup(&[]);
    };
    if control & 1 == 0 {
        return check_backup(rest);
    }
    let source = if control & 2 == 0 {
        &fx.backup_code_only
    } else {
        &fx.backup_both
    };
    check_backup(&mutate(source, rest))
}

fn check_backup(backup: &[u8]) -> BackupOutcome {
    let fx = fixture();
    match open_backup(backup, &BackupUnlock::RecoveryCode(&fx.code)) {
        Ok(plain) => {
            assert!(
                backup == fx.backup_code_only.as_slice() || backup == fx.backup_both.as_slice(),
                "a backup other than the genuine ones opened"
            );
            assert_eq!(plain.as_slice(), fx.backup_plaintext.as_slice());
            assert!(inspect_backup(backup).is_ok());
            BackupOutcome::Restored
        }
        Err(e) => {
            assert!(
                !matches!(
                    e,
                    RestoreError::Argon2(_) | RestoreError::WeakParams | RestoreError::ParamsTooCostly
                ),
                "{e:?}"
            );
            BackupOutcome::Refused(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// history_chunk

/// How a chunk was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// It was applied; `genuine`: its items are the genuine chunk 0's.
    Applied { genuine: bool },
    /// It failed.
    Failed(ChunkFailure),
}

/// zlib (RFC 1950) with stored deflate blocks: no compression, any bytes.
pub fn zlib_stored(plain: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = plain.chunks(0xFFFF).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    // Adler-32 (RFC 1950 §8), big-endian.
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in plain {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// The `history_chunk` target.
pub fn run_history_chunk(data: &[u8]) -> ChunkOutcome {
    let fx = fixture();
    let (control, rest) = data.split_first().map_or((0, &[][..]), |(c, r)| (*c, r));
    // Far below what a notification may announce (32 MiB), far above what fuzzing makes.
    let rest = &rest[..rest.len().min(1 << 20)];
    let genuine = HistorySyncNotification::parse(&fx.notes[0]).unwrap();
    let mut store = MemoryBlobStore::new();
    let mode = control % 3;
    let notification = if mode == 2 {
        // A hostile store serves the input where the genuine blob should be.
        store.put(&genuine.direct_path, &fx.chunk0_blob).unwrap();
        store
            .tamper(&genuine.direct_path, |b| *b = rest.to_vec())
            .unwrap();
        genuine.clone()
    } else {
        let compressed = if mode == 0 {
            rest.to_vec()
        } else {
            zlib_stored(rest)
        };
        let key = MediaKey::from(FORGED_KEY);
        let (blob, digest) = media::encrypt(MediaKind::History, &key, &compressed);
        let id = BlobId::of(&digest);
        store.put(&id, &blob).unwrap();
        HistorySyncNotification {
            media_key: key,
            digest,
            direct_path: id,
            ..genuine.clone()
        }
    };
    let mut importer = HistoryImporter::new();
    importer.receive(notification).unwrap();
    let outcome = match importer.apply_next(&store) {
        Ok(Some(chunk)) => {
            assert_eq!(chunk.chunk_order, 0);
            assert_eq!(
                (chunk.progress.chunks_applied, chunk.progress.chunk_count),
                (1, 3)
            );
            assert_eq!(chunk.progress.messages, chunk.items.len() as u64);
            if mode == 2 {
                assert_eq!(
                    rest,
                    fx.chunk0_blob.as_slice(),
                    "a blob other than the genuine one applied"
                );
            }
            let genuine_items = (chunk.items.clone(), chunk.contacts.clone()) == fx.chunks[0];
            ChunkOutcome::Applied {
                genuine: genuine_items,
            }
        }
        Ok(None) => panic!("the chunk's notification is held, so it must apply or fail"),
        Err(e) => {
            assert_eq!(e.chunk, 0);
            match mode {
                2 => assert_eq!(e.reason, ChunkFailure::Tampered),
                _ => assert!(
                    matches!(
                        e.reason,
                        ChunkFailure::Malformed | ChunkFailure::DecompressionBomb | ChunkFailure::Mismatch
                    ),
                    "{e:?}"
                ),
            }
            assert_eq!(importer.failed_chunks(), [(0, e.reason)]);
            ChunkOutcome::Failed(e.reason)
        }
    };
    let bytes = importer.to_bytes();
    assert_eq!(*HistoryImporter::from_bytes(&bytes).unwrap().to_bytes(), *bytes);
    outcome
}

// ---------------------------------------------------------------------------------------------
// history_notification

/// How a notification was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// It does not parse.
    Unparsed,
    /// The importer refused it.
    Refused(NotificationError),
    /// Queued; then these chunks applied, and this failure stopped the rest (if any).
    Queued {
        /// Chunk orders applied after it was queued.
        applied: Vec<u32>,
        /// The failure that stopped applying, if one did.
        failure: Option<ChunkFailure>,
        /// Whether the sync is complete.
        complete: bool,
    },
}

/// The `history_notification` target.
pub fn run_history_notification(data: &[u8]) -> NotificationOutcome {
    let fx = fixture();
    let Ok(n) = HistorySyncNotification::parse(data) else {
        return NotificationOutcome::Unparsed;
    };
    assert_eq!(n.encode().as_slice(), data, "parse then encode is the identity");
    let genuine = HistorySyncNotification::parse(&fx.notes[0]).unwrap();
    let mut importer = fx.importer.clone();
    let before = importer.to_bytes();
    let expect = if n.sync_id != genuine.sync_id {
        Err(NotificationError::OtherSync)
    } else if n.chunk_count != genuine.chunk_count || n.sync_type != genuine.sync_type {
        Err(NotificationError::Inconsistent)
    } else if n.chunk_order == 0 {
        Err(NotificationError::AlreadyApplied)
    } else {
        Ok(n.chunk_order)
    };
    let got = importer.receive(n.clone());
    assert_eq!(got, expect);
    if let Err(e) = got {
        assert_eq!(*importer.to_bytes(), *before, "a refusal changed the state");
        return NotificationOutcome::Refused(e);
    }
    let (chunks, failure) = importer.apply_ready(&fx.store);
    let failure = failure.map(|e| {
        assert_ne!(e.reason, ChunkFailure::Unavailable);
        e.reason
    });
    for c in &chunks {
        let order = c.chunk_order as usize;
        assert_eq!(
            (c.items.clone(), c.contacts.clone()),
            fx.chunks[order],
            "chunk {order} differs"
        );
    }
    if data == fx.notes[1].as_slice() {
        assert!(importer.is_complete() && failure.is_none());
    }
    let bytes = importer.to_bytes();
    assert_eq!(*HistoryImporter::from_bytes(&bytes).unwrap().to_bytes(), *bytes);
    NotificationOutcome::Queued {
        applied: chunks.iter().map(|c| c.chunk_order).collect(),
        failure,
        complete: importer.is_complete(),
    }
}
