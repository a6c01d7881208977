//! History sync end to end: 100,000 messages (60 chats, realistic text lengths, every tenth
//! with a media pointer) packaged by the primary (chunked at the default 2,000 messages / 1 MiB,
//! zlib-compressed, encrypted as History media under fresh keys, uploaded to an in-memory blob
//! store), then imported by the companion (notifications parsed, blobs downloaded, verified,
//! decrypted, inflated, parsed, applied in order). One measurement, sample size 10.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::blob::MemoryBlobStore;
use tandem::history::{
    ChunkLimits, ContactName, HistoryImporter, HistoryItem, HistoryPackage, HistorySyncType,
};

const MESSAGES: usize = 100_000;

fn history() -> (Vec<HistoryItem>, Vec<ContactName>) {
    let words = [
        "ok",
        "see you at eight",
        "did you get the photo?",
        "haha",
        "on my way",
        "thanks!",
    ];
    let items = (0..MESSAGES)
        .map(|i| HistoryItem {
            chat_id: format!("{}@s.tandem", 10_000 + (i * 7919) % 60),
            sender: if i % 2 == 0 {
                "me".into()
            } else {
                format!("{}@s.tandem", 10_000 + i % 60)
            },
            message_id: format!("3EB0{i:016X}"),
            timestamp_ms: 1_700_000_000_000 + i as u64 * 37_000,
            body: format!("{} {}", words[i % words.len()], "x".repeat(i % 90)).into_bytes(),
            media: (i % 10 == 0).then(|| vec![0x5A; 120]),
        })
        .collect();
    let contacts = (0..60)
        .map(|i| ContactName {
            id: format!("{}@s.tandem", 10_000 + i),
            name: format!("Contact {i}"),
        })
        .collect();
    (items, contacts)
}

/// The whole sync; returns the messages imported.
fn sync(items: &[HistoryItem], contacts: &[ContactName], rng: &mut ChaCha20Rng) -> usize {
    let mut store = MemoryBlobStore::new();
    let package = HistoryPackage::build(
        rng,
        HistorySyncType::Full,
        items,
        contacts,
        &ChunkLimits::default(),
    )
    .unwrap();
    let notes: Vec<_> = package
        .upload_all(rng, &mut store)
        .unwrap()
        .iter()
        .map(|n| n.encode())
        .collect();
    let mut importer = HistoryImporter::new();
    let mut imported = 0;
    for n in &notes {
        importer.receive_bytes(n).unwrap();
        let (chunks, failure) = importer.apply_ready(&store);
        assert!(failure.is_none());
        imported += chunks.iter().map(|c| c.items.len()).sum::<usize>();
    }
    assert!(importer.is_complete());
    imported
}

fn bench(c: &mut Criterion) {
    let (items, contacts) = history();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    assert_eq!(sync(&items, &contacts, &mut rng), MESSAGES);
    let plain: usize = items.iter().map(|i| i.body.len()).sum();
    eprintln!("history sync bench: {MESSAGES} messages, {plain} body bytes");
    let mut group = c.benchmark_group("history_sync");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.bench_function("100k_messages_end_to_end", |b| {
        b.iter(|| black_box(sync(&items, &contacts, &mut rng)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
