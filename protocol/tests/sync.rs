//! Sync beyond messages, end to end through clients: media, history sync to a new device,
//! app-state sync with the call log, backup and restore.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use tandem::Address;
use tandem::app_state::CollectionState;
use tandem::app_state::{
    AppStateKeyRing, AppStateSync, ApplyError, CallDirection, CallLogEntry, CallMedia, CallOutcome,
    CollectionName, MemoryAppStateServer, Mutation, SyncAction, SyncError,
};
use tandem::backup::{
    AppStateExport, BackupContents, BackupLock, BackupOptions, BackupUnlock, RecoveryCode, RestoreError,
    create_backup, restore_backup,
};
use tandem::blob::{BlobId, BlobStore, MemoryBlobStore};
use tandem::client::ClientError;
use tandem::client::{Client, Conversation, MemoryRelay, Received, SelfMessage};
use tandem::history::{
    ChunkFailure, ChunkLimits, ContactName, HistoryChunkRequest, HistoryImporter, HistoryItem,
    HistoryPackage, HistorySyncNotification, HistorySyncType,
};
use tandem::linking::LinkStatus;
use tandem::media::{self, MediaKey, MediaKind, MediaPointer};

const T0: u64 = 1_760_000_000_000;

/// One device's app state: its five collections and its key ring.
#[derive(Default)]
struct AppState {
    sync: AppStateSync,
    ring: AppStateKeyRing,
}

/// Accounts, devices, the relay (directory + mailbox), the blob store and the app-state server,
/// all in memory.
struct World {
    relay: MemoryRelay,
    blobs: MemoryBlobStore,
    app_server: MemoryAppStateServer,
    app: BTreeMap<Address, AppState>,
    rng: ChaCha20Rng,
    clients: BTreeMap<Address, Client>,
    now: u64,
}

impl World {
    fn new(seed: u64) -> Self {
        Self {
            relay: MemoryRelay::new(),
            blobs: MemoryBlobStore::new(),
            app_server: MemoryAppStateServer::new(),
            app: BTreeMap::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            clients: BTreeMap::new(),
            now: T0,
        }
    }

    fn primary(&mut self, name: &str) -> Address {
        let mut c = Client::new_primary(name, self.now, &mut self.rng);
        self.relay.upload_device(c.upload(20, &mut self.rng).unwrap());
        self.relay.set_device_list(name, c.device_list().unwrap());
        let a = c.address().clone();
        self.clients.insert(a.clone(), c);
        a
    }

    fn link(&mut self, name: &str) -> Address {
        let pending = Client::begin_link(name, self.now, &mut self.rng);
        let primary = self.clients.get_mut(&Address::new(name, 0)).unwrap();
        let approval = primary
            .approve_link(&pending.qr_payload(), self.now, &mut self.rng)
            .unwrap();
        self.relay.set_device_list(name, approval.device_list.serialize());
        let mut c = pending.finish(&approval.message, &mut self.rng).unwrap();
        self.relay.upload_device(c.upload(20, &mut self.rng).unwrap());
        let a = c.address().clone();
        self.clients.insert(a.clone(), c);
        a
    }

    /// The primary shares its app-state keys with its other devices (all, over pairwise
    /// sessions; the client refuses self messages from anyone else).
    fn share_app_state_keys(&mut self, primary: &Address) {
        let ring = self
            .app
            .entry(primary.clone())
            .or_default()
            .ring
            .to_bytes()
            .to_vec();
        let c = self.clients.get_mut(primary).unwrap();
        let report = c
            .send_to_own_devices(
                &mut self.relay,
                &SelfMessage::AppStateKeys(ring),
                None,
                self.now,
                &mut self.rng,
            )
            .unwrap();
        self.relay.post(report.envelopes);
    }

    /// Delivers everything; devices take in the app-state keys they are sent.
    fn deliver_and_take_keys(&mut self) -> BTreeMap<Address, Vec<Received>> {
        let got = self.deliver_all();
        for (device, received) in &got {
            for r in received {
                if let Received::FromOwnDevice {
                    message: SelfMessage::AppStateKeys(bytes),
                    ..
                } = r
                {
                    let shared = AppStateKeyRing::from_bytes(bytes).unwrap();
                    let app = self.app.entry(device.clone()).or_default();
                    for key in shared.keys() {
                        app.ring.insert(key.clone()).unwrap();
                    }
                    if let Some(epoch) = shared.expired_through() {
                        app.ring.expire_through(epoch);
                    }
                }
            }
        }
        got
    }

    /// A device makes a change and syncs it.
    fn change(&mut self, device: &Address, action: SyncAction) {
        let ts = self.now as i64;
        let app = self.app.entry(device.clone()).or_default();
        app.sync.queue(Mutation::set(&action, ts)).unwrap();
        app.sync
            .sync(&mut self.app_server, &app.ring, &mut self.rng)
            .unwrap();
    }

    /// A device syncs; a key expiration it receives is applied to its ring (and a second sync
    /// moves every collection past the expired epoch); expired keys no collection needs any
    /// more are forgotten.
    fn sync_app_state(&mut self, device: &Address) -> Result<(), SyncError> {
        let app = self.app.entry(device.clone()).or_default();
        let report = app.sync.sync(&mut self.app_server, &app.ring, &mut self.rng)?;
        let mut expired = false;
        for change in report.received.values().flatten() {
            if let Some(SyncAction::KeyExpiration { epoch }) = change.action() {
                if app.ring.expired_through() < Some(epoch) {
                    app.ring.expire_through(epoch);
                    expired = true;
                }
            }
        }
        if expired {
            app.sync.sync(&mut self.app_server, &app.ring, &mut self.rng)?;
        }
        app.sync.forget_expired_keys(&mut app.ring);
        Ok(())
    }

    fn app_action(&self, device: &Address, like: &SyncAction) -> Option<SyncAction> {
        let app = self.app.get(device)?;
        CollectionName::ALL
            .into_iter()
            .find_map(|name| app.sync.collection(name).get_action(like))
    }

    /// Delivers everything queued; returns what each device received.
    fn deliver_all(&mut self) -> BTreeMap<Address, Vec<Received>> {
        let mut got: BTreeMap<Address, Vec<Received>> = BTreeMap::new();
        loop {
            let mut any = false;
            let addresses: Vec<Address> = self.clients.keys().cloned().collect();
            for a in addresses {
                for e in self.relay.fetch(&a) {
                    any = true;
                    let c = self.clients.get_mut(&a).unwrap();
                    let receipt = c.receive(&mut self.relay, &e, self.now, &mut self.rng);
                    self.relay.post(receipt.replies);
                    got.entry(a.clone()).or_default().push(receipt.received);
                }
            }
            if !any {
                return got;
            }
        }
    }
}

/// The attachment of the one message in `received` that has one.
fn attachment(received: &[Received]) -> Option<MediaPointer> {
    received.iter().find_map(|r| match r {
        Received::Message { message, .. } | Received::SentCopy { message, .. } => message
            .attachment
            .as_deref()
            .map(|a| MediaPointer::from_bytes(a).unwrap()),
        _ => None,
    })
}

/// A photo sent from Alice's phone to Bob: the encrypted blob goes to the blob store once, the
/// pointer (key and hashes) inside the end-to-end message to every device of both accounts, and
/// each device fetches, checks and decrypts the same bytes. The blob store sees only ciphertext;
/// a blob it alters is refused everywhere.
#[test]
fn a_photo_reaches_every_device_and_the_blob_store_cannot_alter_it() {
    let mut w = World::new(1);
    let phone = w.primary("alice");
    let laptop = w.link("alice");
    let bob = w.primary("bob");
    let tablet = w.link("bob");
    let mut photo = vec![0u8; 300_000];
    w.rng.fill_bytes(&mut photo);
    let key = MediaKey::generate(&mut w.rng);
    let (blob, digest) = media::encrypt(MediaKind::Image, &key, &photo);
    assert!(!blob.windows(64).any(|win| photo.windows(64).next() == Some(win)));
    let id = BlobId::of(&digest);
    w.blobs.put(&id, &blob).unwrap();
    let mut pointer = MediaPointer::new(MediaKind::Image, key, digest);
    pointer.mimetype = Some("image/jpeg".into());
    let (relay, rng, now) = (&mut w.relay, &mut w.rng, w.now);
    let report = w
        .clients
        .get_mut(&phone)
        .unwrap()
        .send_attachment(
            relay,
            &Conversation::Direct("bob".into()),
            b"the view",
            &pointer.to_bytes(),
            now,
            rng,
        )
        .unwrap();
    w.relay.post(report.envelopes);
    let got = w.deliver_all();
    for device in [&laptop, &bob, &tablet] {
        let received = attachment(&got[device]).unwrap();
        assert_eq!(received.mimetype.as_deref(), Some("image/jpeg"));
        let fetched = w.blobs.get(&BlobId::of(&received.digest)).unwrap();
        assert_eq!(received.decrypt(&fetched).unwrap(), photo, "{device}");
    }
    // The store flips one bit of the blob: every device refuses it.
    w.blobs.tamper(&id, |b| b[1000] ^= 1).unwrap();
    let refused = w
        .blobs
        .get(&id)
        .map_err(|e| e.to_string())
        .and_then(|b| pointer.decrypt(&b).map_err(|e| e.to_string()));
    assert!(refused.is_err());
}

/// App state across an account's devices: the primary mints the app-state key and shares it over
/// pairwise sessions; a chat muted on the laptop is muted on the phone and tablet; a call made on
/// the phone is in the laptop's call log; unlinking the tablet rotates the key (values re-written
/// under the new one, the old one expired), after which the tablet cannot read new changes while
/// the others still can.
#[test]
fn settings_and_calls_reach_every_device_and_an_unlinked_one_is_cut_off() {
    let mut w = World::new(2);
    let phone = w.primary("alice");
    let laptop = w.link("alice");
    let tablet = w.link("alice");
    w.primary("bob");
    let first = {
        let app = w.app.entry(phone.clone()).or_default();
        app.ring.rotate(&mut w.rng, 0, T0 as i64).unwrap()
    };
    w.share_app_state_keys(&phone);
    let got = w.deliver_and_take_keys();
    assert_eq!(
        got.len(),
        2,
        "the two companions, nobody else: {:?}",
        got.keys().collect::<Vec<_>>()
    );
    for d in [&laptop, &tablet] {
        assert!(w.app[d].ring.get(&first.id()).is_some());
    }

    // A setting changed on the laptop.
    let muted = SyncAction::Mute {
        chat: "bob".into(),
        muted: true,
        end_ms: None,
    };
    w.change(&laptop, muted.clone());
    for d in [&phone, &tablet] {
        w.sync_app_state(d).unwrap();
        assert_eq!(w.app_action(d, &muted), Some(muted.clone()), "{d}");
    }

    // A call on the phone.
    let call = SyncAction::CallLog(CallLogEntry {
        call_id: "call-1".into(),
        peer: "bob".into(),
        direction: CallDirection::Outgoing,
        media: CallMedia::Video,
        start_ms: T0 as i64,
        duration_secs: 75,
        outcome: CallOutcome::Connected,
    });
    w.change(&phone, call.clone());
    w.sync_app_state(&laptop).unwrap();
    let log: Vec<SyncAction> = w.app[&laptop]
        .sync
        .collection(call.collection())
        .actions()
        .into_iter()
        .filter(|a| matches!(a, SyncAction::CallLog(_)))
        .collect();
    assert_eq!(log, vec![call.clone()]);

    // Unlink the tablet: new device list, new key for the remaining devices, values re-written
    // under it, then the old key expired everywhere.
    let list = w
        .clients
        .get_mut(&phone)
        .unwrap()
        .unlink(tablet.device_id, w.now, &mut w.rng)
        .unwrap();
    w.relay.set_device_list("alice", &list);
    w.now += 1;
    let second = {
        let app = w.app.get_mut(&phone).unwrap();
        let key = app.ring.rotate(&mut w.rng, 0, w.now as i64).unwrap();
        assert!(app.sync.rekey(&app.ring) >= 2);
        key
    };
    w.share_app_state_keys(&phone);
    let got = w.deliver_and_take_keys();
    assert!(!got.contains_key(&tablet), "the unlinked tablet is sent no key");
    w.sync_app_state(&phone).unwrap();
    w.change(
        &phone,
        SyncAction::KeyExpiration {
            epoch: first.id().epoch(),
        },
    );
    w.app
        .get_mut(&phone)
        .unwrap()
        .ring
        .expire_through(first.id().epoch());
    w.sync_app_state(&laptop).unwrap();
    assert!(
        w.app[&laptop].ring.get(&first.id()).is_none(),
        "expired on the laptop too"
    );
    assert!(w.app[&laptop].ring.get(&second.id()).is_some());

    // A change after the rotation: the laptop reads it, the tablet cannot.
    let pinned = SyncAction::Pin {
        chat: "bob".into(),
        pinned: true,
    };
    w.change(&phone, pinned.clone());
    w.sync_app_state(&laptop).unwrap();
    assert_eq!(w.app_action(&laptop, &pinned), Some(pinned.clone()));
    assert_eq!(
        w.app_action(&laptop, &muted),
        Some(muted.clone()),
        "kept across the rotation"
    );
    let refused = w.sync_app_state(&tablet);
    assert!(
        matches!(
            refused,
            Err(SyncError::Apply {
                error: ApplyError::UnknownKey(_),
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(w.app_action(&tablet, &pinned), None);
}

/// What a device's app shows: the messages of a received batch, as history items.
fn history_items(own: &str, got: &[Received]) -> Vec<HistoryItem> {
    got.iter()
        .filter_map(|r| match r {
            Received::Message { from, message } => Some(HistoryItem {
                chat_id: from.name.clone(),
                sender: from.name.clone(),
                message_id: hex::encode(message.id),
                timestamp_ms: message.timestamp,
                body: message.body.clone(),
                media: message.attachment.clone(),
            }),
            Received::SentCopy {
                conversation: Conversation::Direct(to),
                message,
                ..
            } => Some(HistoryItem {
                chat_id: to.clone(),
                sender: own.to_string(),
                message_id: hex::encode(message.id),
                timestamp_ms: message.timestamp,
                body: message.body.clone(),
                media: message.attachment.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// History sync to a laptop linked after 10,000 messages: the phone packages its history into
/// chunks, uploads them encrypted and sends each chunk's key and hashes to the laptop alone over
/// their pairwise session. The blob store alters one chunk; the laptop detects it, restarts
/// mid-sync from its saved importer state, asks the phone for that chunk again and ends with every
/// message exactly once, in order, deleting each blob after use.
#[test]
fn a_companion_linked_after_ten_thousand_messages_sees_them_all() {
    let mut w = World::new(3);
    let phone = w.primary("alice");
    let bob = w.primary("bob");
    let mut phone_history: Vec<HistoryItem> = Vec::new();
    for round in 0..1000u64 {
        for i in 0..10u64 {
            w.now += 1;
            let (from, to) = if (round + i) % 3 == 0 {
                (&bob, "alice")
            } else {
                (&phone, "bob")
            };
            let body = format!("message {round}-{i}").into_bytes();
            let (relay, rng, now) = (&mut w.relay, &mut w.rng, w.now);
            let report = w
                .clients
                .get_mut(from)
                .unwrap()
                .send(relay, to, &body, now, rng)
                .unwrap();
            if from == &phone {
                phone_history.push(HistoryItem {
                    chat_id: "bob".into(),
                    sender: "alice".into(),
                    message_id: hex::encode(report.message_id),
                    timestamp_ms: now,
                    body,
                    media: None,
                });
            }
            w.relay.post(report.envelopes);
        }
        let got = w.deliver_all();
        phone_history.extend(history_items(
            "alice",
            got.get(&phone).map_or(&[][..], Vec::as_slice),
        ));
    }
    phone_history.sort_by_key(|item| item.timestamp_ms);
    assert_eq!(phone_history.len(), 10_000);

    let laptop = w.link("alice");
    let contacts = vec![ContactName {
        id: "bob".into(),
        name: "Bob".into(),
    }];
    let limits = ChunkLimits {
        max_messages: 1000,
        max_bytes: 1 << 20,
    };
    let package = HistoryPackage::build(
        &mut w.rng,
        HistorySyncType::Full,
        &phone_history,
        &contacts,
        &limits,
    )
    .unwrap();
    assert_eq!(package.chunk_count(), 10);
    let notifications = package.upload_all(&mut w.rng, &mut w.blobs).unwrap();
    // The store alters chunk 3's blob.
    w.blobs
        .tamper(&notifications[3].direct_path, |b| b[20] ^= 0x40)
        .unwrap();
    let send_history = |w: &mut World, n: &HistorySyncNotification| {
        let c = w.clients.get_mut(&phone).unwrap();
        let report = c
            .send_to_own_devices(
                &mut w.relay,
                &SelfMessage::HistorySync(n.encode().to_vec()),
                Some(laptop.device_id),
                w.now,
                &mut w.rng,
            )
            .unwrap();
        w.relay.post(report.envelopes);
    };
    for n in &notifications {
        send_history(&mut w, n);
    }

    // The laptop takes notifications only from its primary (the client checks) and applies
    // chunks in order, keeping its importer state (as an app would, with each chunk's items).
    let mut importer = HistoryImporter::new();
    let mut shown: Vec<HistoryItem> = Vec::new();
    let mut names = Vec::new();
    let mut take = |w: &mut World, importer: &mut HistoryImporter, shown: &mut Vec<HistoryItem>| {
        for r in w.deliver_all().remove(&laptop).unwrap_or_default() {
            if let Received::FromOwnDevice {
                from,
                message: SelfMessage::HistorySync(bytes),
            } = r
            {
                assert_eq!(from, phone);
                importer.receive_bytes(&bytes).unwrap();
            }
        }
        let (applied, failure) = importer.apply_ready(&w.blobs);
        for chunk in applied {
            shown.extend(chunk.items);
            names.extend(chunk.contacts);
            w.blobs.delete(&chunk.blob).unwrap();
        }
        failure
    };
    let failure = take(&mut w, &mut importer, &mut shown).unwrap();
    assert_eq!((failure.chunk, failure.reason), (3, ChunkFailure::Tampered));
    assert_eq!(importer.progress().chunks_applied, 3);
    assert_eq!(shown.len(), 3000);
    // The laptop restarts mid-sync: its importer comes back from the saved bytes.
    let saved = importer.to_bytes();
    let mut importer = HistoryImporter::from_bytes(&saved).unwrap();
    assert_eq!(importer.failed_chunks(), vec![(3, ChunkFailure::Tampered)]);
    // It asks the phone for chunk 3 again; the phone uploads it under a fresh key.
    let request = HistoryChunkRequest {
        sync_id: importer.sync_id().unwrap(),
        chunks: importer.failed_chunks().iter().map(|(c, _)| *c).collect(),
    };
    let c = w.clients.get_mut(&laptop).unwrap();
    let report = c
        .send_to_own_devices(
            &mut w.relay,
            &SelfMessage::HistoryChunkRequest(request.encode()),
            None,
            w.now,
            &mut w.rng,
        )
        .unwrap();
    assert_eq!(report.envelopes.len(), 1, "to the primary only");
    w.relay.post(report.envelopes);
    let got = w.deliver_all();
    let asked = got[&phone]
        .iter()
        .find_map(|r| match r {
            Received::FromOwnDevice {
                from,
                message: SelfMessage::HistoryChunkRequest(b),
            } if from == &laptop => Some(HistoryChunkRequest::parse(b).unwrap()),
            _ => None,
        })
        .unwrap();
    assert_eq!(asked.sync_id, package.sync_id());
    for order in asked.chunks {
        let again = package.upload_chunk(&mut w.rng, &mut w.blobs, order).unwrap();
        assert_ne!(
            again.direct_path, notifications[3].direct_path,
            "a fresh key, a fresh blob"
        );
        send_history(&mut w, &again);
    }
    assert!(take(&mut w, &mut importer, &mut shown).is_none());
    assert!(importer.is_complete());
    let progress = importer.progress();
    assert_eq!(
        (progress.chunks_applied, progress.chunk_count, progress.messages),
        (10, 10, 10_000)
    );
    assert_eq!(shown, phone_history, "every message exactly once, in order");
    assert_eq!(names, contacts);
    // Only the tampered blob is left on the store; the applied ones were deleted.
    assert_eq!(w.blobs.len(), 1);
}

/// A lost phone: a backup of history and app state (never ratchet state) under a 64-digit
/// recovery code; a new phone registers afresh (new account key: peers are asked to accept it,
/// the old companions find themselves unlinked), restores the backup (a wrong code or a flipped
/// bit is a typed error), mints a new app-state key, relinks a laptop and syncs it: the laptop
/// has the restored settings, call log and history.
#[test]
fn backup_then_new_phone_restore_and_relink() {
    let mut w = World::new(4);
    let phone = w.primary("alice");
    let old_laptop = w.link("alice");
    let bob = w.primary("bob");
    {
        let app = w.app.entry(phone.clone()).or_default();
        app.ring.rotate(&mut w.rng, 0, T0 as i64).unwrap();
    }
    let mut history = Vec::new();
    for i in 0..50u64 {
        w.now += 1;
        let (from, to) = if i % 2 == 0 {
            (&phone, "bob")
        } else {
            (&bob, "alice")
        };
        let (relay, rng, now) = (&mut w.relay, &mut w.rng, w.now);
        let report = w
            .clients
            .get_mut(from)
            .unwrap()
            .send(relay, to, format!("before the loss {i}").as_bytes(), now, rng)
            .unwrap();
        w.relay.post(report.envelopes);
        let got = w.deliver_all();
        history.extend(history_items(
            "alice",
            got.get(&old_laptop).map_or(&[][..], Vec::as_slice),
        ));
    }
    assert_eq!(history.len(), 50);
    let muted = SyncAction::Mute {
        chat: "bob".into(),
        muted: true,
        end_ms: None,
    };
    let call = SyncAction::CallLog(CallLogEntry {
        call_id: "call-7".into(),
        peer: "bob".into(),
        direction: CallDirection::Incoming,
        media: CallMedia::Voice,
        start_ms: w.now as i64,
        duration_secs: 0,
        outcome: CallOutcome::Missed,
    });
    w.change(&phone, muted.clone());
    w.change(&phone, call.clone());

    // The backup: history, names and app state (collections and keys). No session state.
    let app = &w.app[&phone];
    let mut exports: Vec<AppStateExport> = CollectionName::ALL
        .into_iter()
        .map(|name| AppStateExport {
            collection: name.as_str().into(),
            data: app.sync.collection(name).to_bytes().to_vec(),
        })
        .collect();
    exports.push(AppStateExport {
        collection: "keys".into(),
        data: app.ring.to_bytes().to_vec(),
    });
    let contents = BackupContents {
        history: history.clone(),
        contacts: vec![ContactName {
            id: "bob".into(),
            name: "Bob".into(),
        }],
        app_state: exports,
    };
    let code = RecoveryCode::generate(&mut w.rng);
    let shown_to_user = code.to_grouped_string().to_string();
    assert_eq!(shown_to_user.chars().filter(char::is_ascii_digit).count(), 64);
    let backup = create_backup(
        &mut w.rng,
        &contents,
        &[BackupLock::RecoveryCode(&code)],
        &BackupOptions::default(),
    )
    .unwrap();

    // The phone is lost. A new one registers "alice" afresh.
    w.clients.remove(&phone);
    w.app.remove(&phone);
    let new_phone = w.primary("alice");
    // Bob is told the account key changed; the user accepts it.
    let (relay, rng, now) = (&mut w.relay, &mut w.rng, w.now);
    let refused = w
        .clients
        .get_mut(&bob)
        .unwrap()
        .send(relay, "alice", b"hello?", now, rng);
    assert_eq!(
        refused.err(),
        Some(ClientError::AccountKeyChanged("alice".into()))
    );
    let new_key = *w.clients[&new_phone].identity_key();
    w.clients
        .get_mut(&bob)
        .unwrap()
        .accept_account_key("alice", new_key)
        .unwrap();
    // The old laptop learns it was unlinked.
    let list = w.clients[&new_phone].device_list().unwrap().to_vec();
    assert_eq!(
        w.clients[&old_laptop].link_status(&list),
        Some(LinkStatus::AccountChanged)
    );
    w.clients.remove(&old_laptop);

    // Restore: a wrong code and a tampered backup are refused, the right code opens it.
    let wrong = RecoveryCode::generate(&mut w.rng);
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::RecoveryCode(&wrong)).err(),
        Some(RestoreError::WrongKey)
    );
    let mut flipped = backup.clone();
    let at = flipped.len() - 40;
    flipped[at] ^= 1;
    assert!(restore_backup(&flipped, &BackupUnlock::RecoveryCode(&code)).is_err());
    let typed = RecoveryCode::parse(&shown_to_user).unwrap();
    let restored = restore_backup(&backup, &BackupUnlock::RecoveryCode(&typed)).unwrap();
    assert_eq!(restored, contents);
    let app = w.app.entry(new_phone.clone()).or_default();
    for export in &restored.app_state {
        if export.collection == "keys" {
            app.ring = AppStateKeyRing::from_bytes(&export.data).unwrap();
        } else {
            app.sync
                .restore(CollectionState::from_bytes(&export.data).unwrap());
        }
    }
    assert_eq!(
        CollectionName::ALL
            .into_iter()
            .find_map(|n| app.sync.collection(n).get_action(&muted)),
        Some(muted.clone())
    );
    // A new app-state key for the new account; values re-written under it.
    app.ring.rotate(&mut w.rng, 0, w.now as i64).unwrap();
    assert!(app.sync.rekey(&app.ring) >= 2);
    w.sync_app_state(&new_phone).unwrap();

    // Relink a laptop: it gets the keys, the app state and the restored history.
    let laptop = w.link("alice");
    w.share_app_state_keys(&new_phone);
    w.deliver_and_take_keys();
    w.sync_app_state(&laptop).unwrap();
    assert_eq!(w.app_action(&laptop, &muted), Some(muted));
    assert_eq!(w.app_action(&laptop, &call), Some(call));
    let package = HistoryPackage::build(
        &mut w.rng,
        HistorySyncType::Full,
        &restored.history,
        &restored.contacts,
        &ChunkLimits {
            max_messages: 20,
            max_bytes: 1 << 16,
        },
    )
    .unwrap();
    for n in package.upload_all(&mut w.rng, &mut w.blobs).unwrap() {
        let c = w.clients.get_mut(&new_phone).unwrap();
        let report = c
            .send_to_own_devices(
                &mut w.relay,
                &SelfMessage::HistorySync(n.encode().to_vec()),
                Some(laptop.device_id),
                w.now,
                &mut w.rng,
            )
            .unwrap();
        w.relay.post(report.envelopes);
    }
    let mut importer = HistoryImporter::new();
    for r in w.deliver_all().remove(&laptop).unwrap() {
        if let Received::FromOwnDevice {
            message: SelfMessage::HistorySync(bytes),
            ..
        } = r
        {
            importer.receive_bytes(&bytes).unwrap();
        }
    }
    let (applied, failure) = importer.apply_ready(&w.blobs);
    assert!(failure.is_none());
    let shown: Vec<HistoryItem> = applied.into_iter().flat_map(|c| c.items).collect();
    assert_eq!(shown, history);
    // And the conversation with Bob goes on with the new phone and laptop.
    let (relay, rng, now) = (&mut w.relay, &mut w.rng, w.now);
    let report = w
        .clients
        .get_mut(&bob)
        .unwrap()
        .send(relay, "alice", b"welcome back", now, rng)
        .unwrap();
    w.relay.post(report.envelopes);
    let got = w.deliver_all();
    for d in [&new_phone, &laptop] {
        assert_eq!(history_items("alice", &got[d]).len(), 1, "{d}");
    }
}
