//! History sync: the primary packages, encrypts and uploads; the companion imports. Every
//! message arrives exactly once and in order, through lost, damaged, reordered and foreign
//! notifications, a restart, and a decompression bomb.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::blob::{BlobId, BlobStore, MemoryBlobStore};
use tandem::history::{
    AppliedChunk, ChunkFailure, ChunkLimits, ContactName, HistoryImporter, HistoryItem, HistoryPackage,
    HistorySyncNotification, HistorySyncType, MAX_CHUNK_BYTES, NotificationError, PackageError, StateError,
};
use tandem::media::{self, MediaKey, MediaKind};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// `n` messages across `chats` chats, interleaved; every tenth has a media pointer.
fn history(n: usize, chats: usize) -> Vec<HistoryItem> {
    (0..n)
        .map(|i| HistoryItem {
            chat_id: format!("chat-{}@tandem", (i * 7) % chats),
            sender: if i % 3 == 0 {
                "me".into()
            } else {
                format!("peer-{}", i % 11)
            },
            message_id: format!("M{i:06}"),
            timestamp_ms: 1_700_000_000_000 + i as u64 * 1_000,
            body: format!("message {i}: {}", "lorem ipsum ".repeat(i % 5)).into_bytes(),
            media: (i % 10 == 0).then(|| format!("media-pointer-{i}").into_bytes()),
        })
        .collect()
}

fn contacts(n: usize) -> Vec<ContactName> {
    (0..n)
        .map(|i| ContactName {
            id: format!("peer-{i}"),
            name: format!("Peer Nº{i}"),
        })
        .collect()
}

fn limits(max_messages: usize) -> ChunkLimits {
    ChunkLimits {
        max_messages,
        max_bytes: 1 << 20,
    }
}

/// The primary's side of one sync.
struct Primary {
    rng: ChaCha20Rng,
    package: HistoryPackage,
    store: MemoryBlobStore,
}

impl Primary {
    fn new(seed: u64, items: &[HistoryItem], contacts: &[ContactName], limits: ChunkLimits) -> Self {
        let mut rng = rng(seed);
        let package =
            HistoryPackage::build(&mut rng, HistorySyncType::Full, items, contacts, &limits).unwrap();
        Self {
            rng,
            package,
            store: MemoryBlobStore::new(),
        }
    }

    /// Uploads every chunk; the notifications as the pairwise session would carry them.
    fn upload_all(&mut self) -> Vec<Vec<u8>> {
        let notes = self.package.upload_all(&mut self.rng, &mut self.store).unwrap();
        notes.iter().map(|n| n.encode().to_vec()).collect()
    }

    /// Uploads chunk `order` again (fresh key, new blob).
    fn reupload(&mut self, order: u32) -> Vec<u8> {
        self.package
            .upload_chunk(&mut self.rng, &mut self.store, order)
            .unwrap()
            .encode()
            .to_vec()
    }
}

/// What the companion has stored.
#[derive(Default)]
struct Companion {
    importer: HistoryImporter,
    items: Vec<HistoryItem>,
    contacts: Vec<ContactName>,
    applied: Vec<u32>,
}

impl Companion {
    fn store(&mut self, chunks: Vec<AppliedChunk>) {
        for c in chunks {
            assert_eq!(
                c.chunk_order as usize,
                self.applied.len(),
                "chunks applied in order"
            );
            assert_eq!(c.progress.chunks_applied, c.chunk_order + 1);
            self.applied.push(c.chunk_order);
            self.items.extend(c.items);
            self.contacts.extend(c.contacts);
        }
    }

    /// Receives one notification and applies whatever is ready; returns the failure, if any.
    fn deliver(&mut self, bytes: &[u8], store: &MemoryBlobStore) -> Option<ChunkFailure> {
        self.importer.receive_bytes(bytes).unwrap();
        let (chunks, failure) = self.importer.apply_ready(store);
        self.store(chunks);
        failure.map(|e| e.reason)
    }
}

#[test]
fn ten_thousand_messages_arrive_exactly_once_in_order() {
    let items = history(10_000, 37);
    let names = contacts(50);
    let mut primary = Primary::new(1, &items, &names, limits(300));
    let count = primary.package.chunk_count();
    assert_eq!(count, 34, "10,000 messages at 300 per chunk");
    let notes = primary.upload_all();
    assert_eq!(primary.store.len(), count as usize);
    let mut companion = Companion::default();
    for n in &notes {
        assert_eq!(companion.deliver(n, &primary.store), None);
    }
    assert!(companion.importer.is_complete());
    assert_eq!(
        companion.items, items,
        "every message once, in the primary's order"
    );
    assert_eq!(companion.contacts, names);
    let progress = companion.importer.progress();
    assert_eq!(
        (progress.chunks_applied, progress.chunk_count, progress.messages),
        (34, 34, 10_000)
    );
    assert_eq!(
        progress.bytes,
        (0..count)
            .map(|o| primary_blob_len(&notes[o as usize]))
            .sum::<u64>()
    );
    assert!(progress.to_string().starts_with("chunk 34 of 34 ("), "{progress}");
    assert!(companion.importer.missing_chunks().is_empty() && companion.importer.failed_chunks().is_empty());
    // Nothing left that holds a key, and a later notification is a duplicate.
    assert!(companion.importer.pending_chunks().is_empty());
    assert_eq!(
        companion.importer.receive_bytes(&notes[3]),
        Err(NotificationError::AlreadyApplied)
    );
}

fn primary_blob_len(note: &[u8]) -> u64 {
    HistorySyncNotification::parse(note).unwrap().digest.file_length
}

#[test]
fn default_limits_and_media_pointers_and_no_history() {
    let items = history(10_000, 5);
    let mut primary = Primary::new(2, &items, &contacts(3), ChunkLimits::default());
    assert_eq!(
        primary.package.chunk_count(),
        5,
        "2,000 messages per chunk by default"
    );
    let notes = primary.upload_all();
    let mut companion = Companion::default();
    for n in notes.iter().rev() {
        assert_eq!(companion.deliver(n, &primary.store), None);
    }
    assert_eq!(companion.items, items);
    assert_eq!(
        companion.items[20].media.as_deref(),
        Some(&b"media-pointer-20"[..])
    );

    // No history at all: one empty chunk, so the companion knows it is done.
    let mut primary = Primary::new(3, &[], &[], ChunkLimits::default());
    assert_eq!(primary.package.chunk_count(), 1);
    let notes = primary.upload_all();
    let mut companion = Companion::default();
    assert_eq!(companion.deliver(&notes[0], &primary.store), None);
    assert!(companion.importer.is_complete() && companion.items.is_empty());
}

#[test]
fn chunks_respect_the_byte_target_and_refuse_bad_limits() {
    let mut items = history(200, 3);
    for it in &mut items {
        it.body = vec![b'x'; 3000];
    }
    let limits = ChunkLimits {
        max_messages: 1000,
        max_bytes: 16 << 10,
    };
    let package = HistoryPackage::build(&mut rng(4), HistorySyncType::Recent, &items, &[], &limits).unwrap();
    // Five 3 KiB messages fit under 16 KiB, a sixth would not.
    assert_eq!(package.message_count(0), Some(5));
    assert_eq!(package.chunk_count(), 40);
    for bad in [
        ChunkLimits {
            max_messages: 0,
            max_bytes: 1 << 20,
        },
        ChunkLimits {
            max_messages: 1,
            max_bytes: 1023,
        },
        ChunkLimits {
            max_messages: 1,
            max_bytes: (16 << 20) + 1,
        },
    ] {
        assert_eq!(
            HistoryPackage::build(&mut rng(4), HistorySyncType::Full, &items, &[], &bad).unwrap_err(),
            PackageError::BadLimits
        );
    }
    // One message larger than the byte target gets a chunk to itself; one larger than the
    // importer's limit is refused.
    let mut big = history(3, 1);
    big[1].body = vec![0; 2 << 20];
    let package = HistoryPackage::build(&mut rng(5), HistorySyncType::Full, &big, &[], &limits).unwrap();
    assert_eq!(
        (0..3)
            .map(|o| package.message_count(o).unwrap())
            .collect::<Vec<_>>(),
        [1, 1, 1]
    );
    big[1].body = vec![0; MAX_CHUNK_BYTES];
    assert_eq!(
        HistoryPackage::build(&mut rng(5), HistorySyncType::Full, &big, &[], &limits).unwrap_err(),
        PackageError::ItemTooLarge
    );
}

#[test]
fn out_of_order_notifications_are_held_until_their_turn() {
    let items = history(3_000, 9);
    let mut primary = Primary::new(6, &items, &contacts(4), limits(100));
    let mut notes = primary.upload_all();
    let mut shuffle = rng(7);
    notes.shuffle(&mut shuffle);
    let mut companion = Companion::default();
    let mut last_applied = 0;
    for n in &notes {
        assert_eq!(companion.deliver(n, &primary.store), None);
        let now = companion.importer.progress().chunks_applied;
        assert!(now >= last_applied);
        last_applied = now;
        // Whatever is held is after the next chunk, and nothing before it is missing.
        let next = companion.importer.next_chunk();
        assert!(companion.importer.pending_chunks().iter().all(|&o| o > next));
    }
    assert!(companion.importer.is_complete());
    assert_eq!(companion.items, items);
    // A notification delivered twice before its turn just replaces the held one.
    let mut primary = Primary::new(8, &items, &[], limits(1000));
    let notes = primary.upload_all();
    let mut companion = Companion::default();
    companion.deliver(&notes[2], &primary.store);
    companion.deliver(&notes[2], &primary.store);
    assert_eq!(companion.importer.pending_chunks(), [2]);
    assert_eq!(companion.importer.missing_chunks(), [0, 1]);
    companion.deliver(&notes[1], &primary.store);
    companion.deliver(&notes[0], &primary.store);
    assert_eq!(companion.items, items);
}

#[test]
fn a_lost_notification_is_detected_and_the_reupload_completes_the_sync() {
    let items = history(2_000, 4);
    let mut primary = Primary::new(9, &items, &[], limits(200));
    let notes = primary.upload_all();
    let mut companion = Companion::default();
    for (i, n) in notes.iter().enumerate() {
        if i != 4 {
            assert_eq!(companion.deliver(n, &primary.store), None);
        }
    }
    // Stuck before chunk 4, which the companion asks for.
    assert!(!companion.importer.is_complete());
    assert_eq!(companion.importer.progress().chunks_applied, 4);
    assert_eq!(companion.importer.missing_chunks(), [4]);
    assert_eq!(companion.importer.pending_chunks(), [5, 6, 7, 8, 9]);
    let again = primary.reupload(4);
    assert_eq!(companion.deliver(&again, &primary.store), None);
    assert!(companion.importer.is_complete());
    assert_eq!(companion.items, items);
}

#[test]
fn a_lost_blob_is_detected_and_the_reupload_completes_the_sync() {
    let items = history(2_000, 4);
    let mut primary = Primary::new(10, &items, &[], limits(200));
    let notes = primary.upload_all();
    let lost = HistorySyncNotification::parse(&notes[2]).unwrap().direct_path;
    primary.store.delete(&lost).unwrap();
    let mut companion = Companion::default();
    let mut failures = Vec::new();
    for n in &notes {
        failures.extend(companion.deliver(n, &primary.store));
    }
    assert_eq!(failures, [ChunkFailure::BlobMissing]);
    assert_eq!(
        companion.importer.failed_chunks(),
        [(2, ChunkFailure::BlobMissing)]
    );
    assert_eq!(companion.importer.progress().chunks_applied, 2);
    assert!(
        !companion.importer.pending_chunks().contains(&2),
        "the failed chunk's key is dropped"
    );
    assert!(companion.importer.missing_chunks().is_empty());
    assert_eq!(companion.deliver(&primary.reupload(2), &primary.store), None);
    assert!(companion.importer.is_complete() && companion.importer.failed_chunks().is_empty());
    assert_eq!(companion.items, items);
}

#[test]
fn a_tampered_chunk_is_detected_and_the_reupload_completes_the_sync() {
    let items = history(1_500, 6);
    for (what, edit) in [
        ("flip a ciphertext bit", 0usize),
        ("flip a MAC bit", 1),
        ("truncate", 2),
        ("append", 3),
    ] {
        let mut primary = Primary::new(11, &items, &[], limits(500));
        let notes = primary.upload_all();
        let target = HistorySyncNotification::parse(&notes[1]).unwrap().direct_path;
        primary
            .store
            .tamper(&target, |blob| match edit {
                0 => blob[5] ^= 0x10,
                1 => *blob.last_mut().unwrap() ^= 1,
                2 => blob.truncate(blob.len() - 16),
                _ => blob.extend_from_slice(&[0; 16]),
            })
            .unwrap();
        let mut companion = Companion::default();
        let mut failures = Vec::new();
        for n in &notes {
            failures.extend(companion.deliver(n, &primary.store));
        }
        assert_eq!(failures, [ChunkFailure::Tampered], "{what}");
        assert_eq!(companion.importer.failed_chunks(), [(1, ChunkFailure::Tampered)]);
        assert_eq!(companion.items.len(), 500, "only chunk 0 applied");
        assert_eq!(
            companion.deliver(&primary.reupload(1), &primary.store),
            None,
            "{what}"
        );
        assert_eq!(companion.items, items, "{what}");
    }
}

#[test]
fn a_notification_pointing_at_another_chunk_is_a_mismatch() {
    let items = history(900, 3);
    let mut primary = Primary::new(12, &items, &[], limits(300));
    let notes = primary.upload_all();
    let mut wrong = HistorySyncNotification::parse(&notes[2]).unwrap();
    wrong.chunk_order = 1;
    wrong.progress = 66;
    let mut companion = Companion::default();
    assert_eq!(companion.deliver(&notes[0], &primary.store), None);
    assert_eq!(
        companion.deliver(&wrong.encode(), &primary.store),
        Some(ChunkFailure::Mismatch)
    );
    assert_eq!(companion.deliver(&notes[1], &primary.store), None);
    assert_eq!(companion.deliver(&notes[2], &primary.store), None);
    assert_eq!(companion.items, items);
}

#[test]
fn a_restart_mid_sync_resumes_from_the_saved_state() {
    let items = history(5_000, 13);
    let names = contacts(7);
    let mut primary = Primary::new(13, &items, &names, limits(250));
    let notes = primary.upload_all();
    let lost = HistorySyncNotification::parse(&notes[9]).unwrap().direct_path;
    primary.store.delete(&lost).unwrap();

    let mut companion = Companion::default();
    // Chunks 0..=9 arrive (9 fails), and 14, 12 arrive early.
    for i in (0..10).chain([14, 12]) {
        companion.deliver(&notes[i], &primary.store);
    }
    assert_eq!(companion.importer.progress().chunks_applied, 9);
    let saved = companion.importer.to_bytes();

    // The device restarts: only what the client committed survives.
    let mut resumed = Companion {
        importer: HistoryImporter::from_bytes(&saved).unwrap(),
        items: companion.items.clone(),
        contacts: companion.contacts.clone(),
        applied: companion.applied.clone(),
    };
    assert_eq!(
        *resumed.importer.to_bytes(),
        *saved,
        "the state round-trips exactly"
    );
    assert_eq!(resumed.importer.progress(), companion.importer.progress());
    assert_eq!(resumed.importer.failed_chunks(), [(9, ChunkFailure::BlobMissing)]);
    assert_eq!(resumed.importer.pending_chunks(), [12, 14]);
    assert_eq!(
        resumed.importer.missing_chunks(),
        [10, 11, 13, 15, 16, 17, 18, 19]
    );

    assert_eq!(resumed.deliver(&primary.reupload(9), &primary.store), None);
    for i in [10, 11, 13, 15, 16, 17, 18, 19, 12] {
        let r = resumed.importer.receive_bytes(&notes[i]);
        if i == 12 {
            assert_eq!(r, Err(NotificationError::AlreadyApplied));
        } else {
            r.unwrap();
        }
        let (chunks, failure) = resumed.importer.apply_ready(&primary.store);
        assert!(failure.is_none());
        resumed.store(chunks);
    }
    assert!(resumed.importer.is_complete());
    assert_eq!(
        resumed.items, items,
        "every message exactly once across the restart"
    );
    assert_eq!(resumed.contacts, names);

    // A state saved after every chunk also works, from any point.
    let mut fresh = Companion::default();
    let mut primary = Primary::new(14, &items, &names, limits(1000));
    let notes = primary.upload_all();
    for n in &notes {
        fresh.deliver(n, &primary.store);
        fresh.importer = HistoryImporter::from_bytes(&fresh.importer.to_bytes()).unwrap();
    }
    assert_eq!(fresh.items, items);
}

#[test]
fn saved_state_is_checked_and_holds_no_key_once_applied() {
    let items = history(600, 2);
    let mut primary = Primary::new(15, &items, &[], limits(200));
    let notes = primary.upload_all();
    let keys: Vec<[u8; 32]> = notes
        .iter()
        .map(|n| *HistorySyncNotification::parse(n).unwrap().media_key.expose())
        .collect();
    let mut companion = Companion::default();
    companion.importer.receive_bytes(&notes[2]).unwrap();
    let holding = companion.importer.to_bytes();
    assert!(
        contains(&holding, &keys[2]),
        "a pending chunk's key is kept, to resume"
    );
    for n in &notes[..2] {
        companion.deliver(n, &primary.store);
    }
    assert!(companion.importer.is_complete());
    let done = companion.importer.to_bytes();
    for key in &keys {
        assert!(!contains(&done, key), "no key once every chunk is applied");
    }
    let debug = format!("{:?}", HistorySyncNotification::parse(&notes[0]).unwrap());
    assert!(debug.contains("MediaKey(redacted)"), "{debug}");

    // Strict decoding of the state.
    assert_eq!(
        HistoryImporter::from_bytes(&HistoryImporter::new().to_bytes())
            .unwrap()
            .sync_id(),
        None
    );
    let mut versioned = holding.to_vec();
    versioned[1] = 2;
    assert_eq!(
        HistoryImporter::from_bytes(&versioned).unwrap_err(),
        StateError::UnknownVersion(2)
    );
    // A prefix cut inside a field is refused; one cut between fields is a state of its own
    // (protobuf cannot tell), which has lost only pending notifications: those chunks show as
    // missing, to be asked for again.
    for n in 0..holding.len() {
        match HistoryImporter::from_bytes(&holding[..n]) {
            Err(_) => {}
            Ok(cut) => {
                assert_eq!(*cut.to_bytes(), holding[..n], "prefix {n}");
                assert_eq!(cut.missing_chunks(), [0, 1, 2], "prefix {n}");
            }
        }
    }
    let mut extra = holding.to_vec();
    extra.extend_from_slice(&[0x50, 0x01]); // field 10
    assert_eq!(
        HistoryImporter::from_bytes(&extra).unwrap_err(),
        StateError::Malformed
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_notification_of_another_sync_is_refused_and_changes_nothing() {
    let items = history(900, 3);
    let mut a = Primary::new(16, &items, &[], limits(300));
    let mut b = Primary::new(17, &items, &[], limits(300));
    let notes_a = a.upload_all();
    let notes_b = b.upload_all();
    let mut companion = Companion::default();
    companion.deliver(&notes_a[1], &a.store);
    let before = companion.importer.to_bytes();
    assert_eq!(
        companion.importer.receive_bytes(&notes_b[0]),
        Err(NotificationError::OtherSync)
    );
    // Same sync id, another chunk count or type: inconsistent.
    let mut n = HistorySyncNotification::parse(&notes_a[0]).unwrap();
    n.chunk_count = 4;
    n.progress = 25;
    assert_eq!(
        companion.importer.receive(n.clone()),
        Err(NotificationError::Inconsistent)
    );
    n.chunk_count = 3;
    n.progress = 33;
    n.sync_type = HistorySyncType::Recent;
    assert_eq!(
        companion.importer.receive(n),
        Err(NotificationError::Inconsistent)
    );
    assert_eq!(*companion.importer.to_bytes(), *before);
    for i in [0, 2] {
        companion.deliver(&notes_a[i], &a.store);
    }
    assert_eq!(companion.items, items);
}

/// Encrypts `compressed` as chunk 0 of a one-chunk sync, stores it, returns the notification.
fn forged_chunk(compressed: &[u8], store: &mut MemoryBlobStore, seed: u64) -> HistorySyncNotification {
    let mut r = rng(seed);
    let key = MediaKey::generate(&mut r);
    let (blob, digest) = media::encrypt(MediaKind::History, &key, compressed);
    let id = BlobId::of(&digest);
    store.put(&id, &blob).unwrap();
    HistorySyncNotification {
        sync_id: tandem::history::SyncId([7; 16]),
        sync_type: HistorySyncType::Full,
        chunk_order: 0,
        chunk_count: 1,
        progress: 100,
        media_key: key,
        digest,
        direct_path: id,
    }
}

fn zlib(plain: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(plain).unwrap();
    e.finish().unwrap()
}

#[test]
fn a_decompression_bomb_is_refused() {
    let mut store = MemoryBlobStore::new();
    // 40 MiB of zeros in about 40 KiB.
    let bomb = zlib(&vec![0u8; 40 << 20]);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let n = forged_chunk(&bomb, &mut store, 18);
    let mut importer = HistoryImporter::new();
    importer.receive(n).unwrap();
    let err = importer.apply_next(&store).unwrap_err();
    assert_eq!((err.chunk, err.reason), (0, ChunkFailure::DecompressionBomb));
    assert_eq!(importer.failed_chunks(), [(0, ChunkFailure::DecompressionBomb)]);
}

#[test]
fn garbage_inside_a_genuinely_encrypted_chunk_is_malformed() {
    for (what, compressed) in [
        ("not zlib", b"definitely not zlib".to_vec()),
        ("zlib of not a chunk", zlib(&[0xFF; 100])),
        ("zlib then trailing bytes", {
            let mut z = zlib(b"");
            z.push(0);
            z
        }),
        (
            "an empty chunk without its sync id",
            zlib(&[0x08, 0x02, 0x28, 0x00, 0x30, 0x64]),
        ),
    ] {
        let mut store = MemoryBlobStore::new();
        let mut importer = HistoryImporter::new();
        importer
            .receive(forged_chunk(&compressed, &mut store, 19))
            .unwrap();
        assert_eq!(
            importer.apply_next(&store).unwrap_err().reason,
            ChunkFailure::Malformed,
            "{what}"
        );
    }
}

#[test]
fn notifications_parse_strictly() {
    let items = history(100, 2);
    let mut primary = Primary::new(20, &items, &[], limits(50));
    let notes = primary.upload_all();
    let n = HistorySyncNotification::parse(&notes[0]).unwrap();
    assert_eq!(*n.encode(), notes[0]);
    assert_eq!((n.chunk_order, n.chunk_count, n.progress), (0, 2, 50));
    for len in 0..notes[0].len() {
        assert_eq!(
            HistorySyncNotification::parse(&notes[0][..len]),
            Err(NotificationError::Malformed),
            "prefix {len}"
        );
    }
    let mut unknown = notes[0].clone();
    unknown.extend_from_slice(&[0x40, 0x01]); // field 8
    assert_eq!(
        HistorySyncNotification::parse(&unknown),
        Err(NotificationError::Malformed)
    );
    let mut edits: Vec<HistorySyncNotification> = Vec::new();
    for i in 0..5 {
        let mut m = n.clone();
        match i {
            0 => m.progress = 51,
            1 => m.chunk_order = 2,
            2 => m.direct_path = BlobId::of_blob(b"elsewhere"),
            3 => m.digest.file_length = (32 << 20) + 1,
            _ => m.chunk_count = 100_001,
        }
        edits.push(m);
    }
    for m in edits {
        assert_eq!(
            HistorySyncNotification::parse(&m.encode()),
            Err(NotificationError::Malformed),
            "{m:?}"
        );
    }
}

#[test]
fn many_contacts_fill_chunks_of_their_own_before_the_messages() {
    let items = history(50, 2);
    let names = contacts(200);
    let limits = ChunkLimits {
        max_messages: 20,
        max_bytes: 1024,
    };
    let mut primary = Primary::new(21, &items, &names, limits);
    // 200 contacts of about 24 bytes: 5 chunks of contacts only (the last also starts the
    // messages), then the messages, 20 or fewer per chunk by bytes.
    assert_eq!(primary.package.message_count(0), Some(0));
    let notes = primary.upload_all();
    let mut companion = Companion::default();
    for n in notes.iter().rev() {
        assert_eq!(companion.deliver(n, &primary.store), None);
    }
    assert!(companion.importer.is_complete());
    assert_eq!(companion.contacts, names);
    assert_eq!(companion.items, items);
}

#[test]
fn a_notification_built_in_memory_is_checked_like_a_parsed_one() {
    let items = history(10, 1);
    let mut primary = Primary::new(22, &items, &[], limits(100));
    let notes = primary.upload_all();
    let good = HistorySyncNotification::parse(&notes[0]).unwrap();
    let mut importer = HistoryImporter::new();
    for edit in 0..3 {
        let mut bad = good.clone();
        match edit {
            0 => bad.digest.file_length = u64::MAX,
            1 => bad.direct_path = BlobId::of_blob(b"x"),
            _ => bad.chunk_order = 1,
        }
        assert_eq!(
            importer.receive(bad),
            Err(NotificationError::Malformed),
            "edit {edit}"
        );
    }
    assert_eq!(
        importer.sync_id(),
        None,
        "nothing bound by a refused notification"
    );
    importer.receive(good).unwrap();
    assert_eq!(importer.apply_next(&primary.store).unwrap().unwrap().items, items);
}
