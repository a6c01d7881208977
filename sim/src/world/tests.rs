//! The checker must be able to fail: each test breaks one thing behind tandem's back and
//! expects the violation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;

/// a0 and a1 (one device each); a0.0 sends message 0 to a1.
fn two_accounts() -> World {
    let mut w = World::new(1, 3, true);
    w.apply(0, &Event::CreateAccount { durable: false });
    w.apply(1, &Event::CreateAccount { durable: false });
    w.apply(
        2,
        &Event::Message {
            from: DevRef {
                account: 0,
                device: 0,
            },
            to: 1,
        },
    );
    w
}

fn end(w: &mut World) {
    w.quiesce();
    w.probe();
    w.check_delivered(3);
}

fn has(w: &World, kind: ViolationKind, text: &str) -> bool {
    w.violations
        .iter()
        .any(|v| v.kind == kind && v.detail.contains(text))
}

fn copy_of(w: &World, n: usize) -> (Address, DataMessage) {
    let m = w.ledger.get(n).unwrap();
    let message = DataMessage {
        id: m.id,
        timestamp: 0,
        body: m.body.clone(),
        group_id: m.group_id,
        attachment: None,
    };
    (m.sender_address.clone(), message)
}

#[test]
fn an_undisturbed_run_is_clean() {
    let mut w = two_accounts();
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert_eq!(w.ledger.get(0).unwrap().decrypted.get(&1), Some(&1));
}

#[test]
fn a_message_that_vanishes_is_reported_missing() {
    let mut w = two_accounts();
    // Lost without the `lose` fault's bookkeeping: nothing excuses it.
    assert_eq!(w.network.wipe(&Address::new("a1", 0)), 1);
    end(&mut w);
    assert!(
        has(&w, ViolationKind::Missing, "message 0 "),
        "{:?}",
        w.violations
    );
}

#[test]
fn a_lost_envelope_is_excused_but_later_messages_are_owed() {
    let mut w = two_accounts();
    w.apply(
        3,
        &Event::Lose {
            device: DevRef {
                account: 1,
                device: 0,
            },
            nth: 0,
        },
    );
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert_eq!(w.stats.excused_lost, 1);
}

#[test]
fn a_second_decryption_is_reported() {
    let mut w = two_accounts();
    w.deliver_all();
    let (from, message) = copy_of(&w, 0);
    w.decrypted(1, &from, &message);
    assert!(
        has(&w, ViolationKind::DecryptedTwice, "message 0 2 times"),
        "{:?}",
        w.violations
    );
}

#[test]
fn a_decryption_on_a_device_not_entitled_is_reported() {
    let mut w = two_accounts();
    w.apply(3, &Event::CreateAccount { durable: false });
    let (from, message) = copy_of(&w, 0);
    w.decrypted(2, &from, &message);
    assert!(
        has(&w, ViolationKind::NotEntitled, "not a recipient"),
        "{:?}",
        w.violations
    );
}

#[test]
fn a_device_linked_after_the_message_is_not_entitled_to_it() {
    let mut w = two_accounts();
    w.apply(
        3,
        &Event::Link {
            account: 1,
            durable: false,
        },
    );
    let (from, message) = copy_of(&w, 0);
    w.decrypted(2, &from, &message);
    assert!(
        has(&w, ViolationKind::NotEntitled, "after the message"),
        "{:?}",
        w.violations
    );
}

#[test]
fn an_altered_or_unknown_message_is_reported() {
    let mut w = two_accounts();
    let (from, mut message) = copy_of(&w, 0);
    message.body.push(b'!');
    w.decrypted(1, &from, &message);
    message.id = [9; 16];
    w.decrypted(1, &from, &message);
    assert!(
        has(&w, ViolationKind::WrongContent, "decrypted message 0 as"),
        "{:?}",
        w.violations
    );
    assert!(
        has(&w, ViolationKind::WrongContent, "unknown message"),
        "{:?}",
        w.violations
    );
}

#[test]
fn a_new_installation_used_without_a_key_change_is_reported() {
    let mut w = two_accounts();
    w.check_epoch(1, 0, 0, "decrypted from");
    w.check_epoch(1, 0, 1, "decrypted from");
    assert!(
        has(&w, ViolationKind::SilentKeyChange, "installation 1"),
        "{:?}",
        w.violations
    );
}

#[test]
fn a_reinstall_is_surfaced_to_peers_and_accepted() {
    let mut w = two_accounts();
    w.deliver_all();
    w.apply(
        3,
        &Event::Reinstall {
            account: 0,
            durable: false,
        },
    );
    w.apply(
        4,
        &Event::Message {
            from: DevRef {
                account: 1,
                device: 0,
            },
            to: 0,
        },
    );
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert!(w.stats.key_changes >= 1);
}

#[test]
fn a_crash_in_every_step_position_loses_nothing() {
    for point in 1..30 {
        let mut w = two_accounts();
        w.apply(
            3,
            &Event::Crash {
                device: DevRef {
                    account: 1,
                    device: 0,
                },
                point,
            },
        );
        end(&mut w);
        assert!(w.violations.is_empty(), "point {point}: {:?}", w.violations);
        assert!(w.stats.restarts >= 1, "point {point}");
    }
}

#[test]
fn a_crash_at_any_point_of_a_group_send_or_receive_loses_nothing() {
    let dev = |account, device| DevRef { account, device };
    for point in 1..60 {
        for (crashing, what) in [(dev(0, 1), "sender"), (dev(1, 0), "receiver")] {
            let mut w = World::new(2, 3, false);
            w.apply(0, &Event::CreateAccount { durable: false });
            w.apply(1, &Event::CreateAccount { durable: false });
            w.apply(
                2,
                &Event::Link {
                    account: 0,
                    durable: false,
                },
            );
            w.apply(
                3,
                &Event::CreateGroup {
                    creator: 0,
                    members: vec![1],
                },
            );
            w.apply(
                4,
                &Event::Crash {
                    device: crashing,
                    point,
                },
            );
            w.apply(
                5,
                &Event::GroupMessage {
                    group: 0,
                    from: dev(0, 1),
                },
            );
            w.apply(
                6,
                &Event::Deliver {
                    device: dev(1, 0),
                    count: 8,
                },
            );
            w.apply(
                7,
                &Event::GroupMessage {
                    group: 0,
                    from: dev(0, 1),
                },
            );
            end(&mut w);
            assert!(
                w.violations.is_empty(),
                "{what}, point {point}: {:?}",
                w.violations
            );
        }
    }
}

// ---- App state and media ----

fn dev(account: u16, device: u8) -> DevRef {
    DevRef { account, device }
}

/// a0 (a primary and one companion) and a1; app state started by a sync of a0.0 (the keys
/// reach a0.1), then a setting on a0.1 (a mute of chat a0, synced at once).
fn app_world() -> World {
    let mut w = World::new(3, 3, true);
    w.apply(0, &Event::CreateAccount { durable: false });
    w.apply(
        1,
        &Event::Link {
            account: 0,
            durable: false,
        },
    );
    w.apply(2, &Event::CreateAccount { durable: false });
    w.apply(3, &Event::AppSync { device: dev(0, 0) });
    w.apply(3, &Event::DeliverAll);
    w.apply(
        3,
        &Event::Setting {
            device: dev(0, 1),
            what: 0,
            sync: true,
        },
    );
    w
}

fn mute_index() -> (tandem::app_state::CollectionName, Vec<String>) {
    (
        tandem::app_state::CollectionName::RegularHigh,
        vec!["mute".to_string(), "a0".to_string()],
    )
}

#[test]
fn a_setting_reaches_every_device_and_an_altered_device_is_caught() {
    use tandem::app_state::{CollectionName, CollectionState};
    let mut w = app_world();
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert!(
        w.stats.app_pushed >= 1 && w.stats.app_key_shares_taken >= 1,
        "{:?}",
        w.stats
    );
    let (coll, index) = mute_index();
    let on_primary = w.app.devices[&0].sync.collection(coll).get(&index).cloned();
    assert!(on_primary.is_some(), "the primary has the companion's mute");
    // The primary's copy of the collection is altered behind tandem's back.
    w.app
        .devices
        .get_mut(&0)
        .unwrap()
        .sync
        .restore(CollectionState::new(CollectionName::RegularHigh));
    w.check_app_state();
    assert!(
        has(&w, ViolationKind::AppStateDiverged, "a0.0: regular_high"),
        "{:?}",
        w.violations
    );
}

#[test]
fn an_acknowledged_change_that_is_not_reflected_is_caught() {
    let mut w = app_world();
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    // The checker is told of a later acknowledged value the server never got.
    let key = mute_index();
    let acc = w.app.accounts.get_mut(&0).unwrap();
    let (ts, mut value) = acc.acked[&key].clone();
    value.timestamp = Some(ts + 1);
    acc.acked.insert(key, (ts + 1, value));
    w.check_app_state();
    assert!(
        has(&w, ViolationKind::AppStateLost, "overwritten by an older value"),
        "{:?}",
        w.violations
    );
}

#[test]
fn an_unlink_rotates_the_key_and_an_unlinked_device_with_a_later_key_is_caught() {
    let mut w = app_world();
    w.apply(
        4,
        &Event::Link {
            account: 0,
            durable: false,
        },
    );
    w.apply(
        5,
        &Event::Unlink {
            account: 0,
            companion: 0,
        },
    );
    w.apply(
        6,
        &Event::Setting {
            device: dev(0, 0),
            what: 2,
            sync: true,
        },
    );
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert_eq!(w.stats.app_rotations, 1);
    // The unlinked companion (device #1) read nothing made after its unlink; now it is given
    // the new key behind tandem's back.
    let new_key = w.app.devices[&0].ring.sending_key().unwrap().clone();
    let (zombie, _) = w.app.unlinked.get_mut(&1).unwrap();
    assert!(zombie.ring.get(&new_key.id()).is_none());
    zombie.ring.insert(new_key).unwrap();
    w.check_app_state();
    assert!(
        has(&w, ViolationKind::KeyLeak, "a0.1, unlinked at step 5"),
        "{:?}",
        w.violations
    );
}

/// a0.0 sets two mutes (two patches); a0.1 syncs through a server that replays the first.
#[test]
fn a_tampered_sync_is_refused_and_the_device_converges_later() {
    let mut w = app_world();
    for (step, what) in [(4, 8), (5, 16)] {
        w.apply(
            step,
            &Event::Setting {
                device: dev(0, 0),
                what,
                sync: true,
            },
        );
    }
    let before = w.app.devices[&1].sync.clone();
    w.apply(
        6,
        &Event::AppTamper {
            device: dev(0, 1),
            attack: 2,
            n: 0,
        },
    );
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert_eq!(w.stats.app_tamper_detected, 0, "armed for the next sync");
    w.apply(7, &Event::AppSync { device: dev(0, 1) });
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert_eq!(w.stats.app_tamper_detected, 1, "{:?}", w.log());
    assert_eq!(w.app.devices[&1].sync, before, "the refused sync changed nothing");
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
}

#[test]
fn a_forged_state_taken_in_is_caught() {
    use tandem::app_state::{Attack, CollectionName, CollectionState};
    let mut w = app_world();
    w.apply(
        4,
        &Event::Setting {
            device: dev(0, 0),
            what: 8,
            sync: true,
        },
    );
    w.apply(5, &Event::AppSync { device: dev(0, 1) });
    let before = w.app.devices[&1].sync.clone();
    let name = CollectionName::RegularHigh;
    assert_eq!(before.collection(name).version(), 2);
    // Version 2's entries claiming to be version 1.
    let mut bytes = before.collection(name).to_bytes();
    let at = 2 + name.as_str().len();
    bytes[at..at + 8].copy_from_slice(&1u64.to_be_bytes());
    let mut after = before.clone();
    after.restore(CollectionState::from_bytes(&bytes).unwrap());
    w.check_honest(1, &before, &after, None, Some(&Attack::DropPatch(0)));
    assert!(
        has(&w, ViolationKind::TamperAccepted, "regular_high at version 1"),
        "{:?}",
        w.violations
    );
}

#[test]
fn app_state_comes_back_after_a_restart_with_unpushed_changes() {
    let mut w = app_world();
    w.apply(
        4,
        &Event::Setting {
            device: dev(0, 1),
            what: 2,
            sync: false,
        },
    );
    w.apply(
        5,
        &Event::Crash {
            device: dev(0, 1),
            point: 0,
        },
    );
    assert_eq!(w.stats.app_pending_lost, 0);
    assert_eq!(w.stats.app_restored, 1);
    let (coll, index) = mute_index();
    assert!(
        w.app.devices[&1].sync.collection(coll).get(&index).is_some(),
        "the synced mute was read back"
    );
    let pending: usize = tandem::app_state::CollectionName::ALL
        .iter()
        .map(|n| w.app.devices[&1].sync.pending(*n).len())
        .sum();
    assert_eq!(pending, 1, "the unpushed setting was read back");
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
}

/// A photo from a0.0 to a1 (a0.1 gets the sent copy).
fn photo_world() -> World {
    let mut w = World::new(4, 3, true);
    w.apply(0, &Event::CreateAccount { durable: false });
    w.apply(
        1,
        &Event::Link {
            account: 0,
            durable: false,
        },
    );
    w.apply(2, &Event::CreateAccount { durable: false });
    w.apply(
        3,
        &Event::Photo {
            from: dev(0, 0),
            to: 1,
        },
    );
    w
}

#[test]
fn a_photo_reaches_every_device_and_a_faulted_blob_is_excused() {
    let mut w = photo_world();
    w.deliver_all();
    assert_eq!(w.stats.photos_fetched, 2, "a1.0 and a0.1");
    w.apply(
        4,
        &Event::GroupPhoto {
            group: 0,
            from: dev(0, 0),
        },
    );
    w.apply(
        4,
        &Event::CreateGroup {
            creator: 0,
            members: vec![1],
        },
    );
    w.apply(
        5,
        &Event::GroupPhoto {
            group: 0,
            from: dev(0, 1),
        },
    );
    w.apply(
        6,
        &Event::BlobFault {
            nth: 1,
            corrupt: true,
        },
    );
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert_eq!(w.stats.photos, 2);
    assert_eq!(
        w.stats.photos_refused_faulted, 2,
        "a0.0 and a1.0 refuse the corrupt one"
    );
    assert_eq!(w.stats.faults.get("blob-corrupt"), Some(&1));
}

#[test]
fn a_photo_read_as_other_bytes_or_failing_unexcused_is_caught() {
    let mut w = photo_world();
    // The ledger remembers other plaintext than was encrypted.
    w.ledger.media_mut(0).unwrap().plaintext.push(0);
    w.deliver_all();
    assert!(
        has(&w, ViolationKind::MediaWrongContent, "other bytes"),
        "{:?}",
        w.violations
    );
    // A blob corrupted without the fault's bookkeeping: nothing excuses the failure.
    w.apply(
        4,
        &Event::Photo {
            from: dev(0, 0),
            to: 1,
        },
    );
    let blob = w.ledger.media(1).unwrap().blob;
    w.blobs.tamper(&blob, |b| b[0] ^= 1).unwrap();
    w.deliver_all();
    assert!(
        has(&w, ViolationKind::MediaFailed, "intact photo failed"),
        "{:?}",
        w.violations
    );
}

/// Found with app state and fixed in tandem: after an unlink while the directory serves the old
/// list, the primary encrypted the new key to the unlinked companion. Replayed strictly.
#[test]
fn the_key_to_unlinked_device_issue_stays_fixed() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions/fixed-app-state-keys-to-unlinked-device.trace");
    let file = crate::event::TraceFile::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let options = crate::run::RunOptions {
        max_companions: file.devices.clamp(1, 4) - 1,
        log: false,
        stop_at_first: false,
        strict: true,
        transient_attempts: TRANSIENT_ATTEMPTS,
    };
    let report = crate::run::run_trace(file.seed, &file.events, options);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.stats.app_rotations, 1);
    assert!(report.stats.faults.contains_key("stale"));
}

/// a0 and a1 (one device each); a0.0 sends 20 messages to a1 and a1.0 sends 3 to a0, all
/// delivered; then a0 links a0.1 (device #2): its history is 23 messages, 3 chunks, whose
/// notifications wait in a0.1's queue.
fn history_world() -> World {
    let mut w = World::new(5, 3, true);
    w.apply(0, &Event::CreateAccount { durable: false });
    w.apply(1, &Event::CreateAccount { durable: false });
    for i in 0..23 {
        let from = if i % 8 == 7 { dev(1, 0) } else { dev(0, 0) };
        w.apply(2, &Event::Message { from, to: 0 });
    }
    w.deliver_all();
    w.apply(
        3,
        &Event::Link {
            account: 0,
            durable: false,
        },
    );
    assert_eq!(w.stats.history_syncs, 1);
    assert_eq!(w.stats.history_items_sent, 23);
    assert_eq!(w.stats.history_notifications, 3);
    w
}

/// The companion of [`history_world`].
const COMPANION: DevId = 2;

fn shown(w: &World, d: DevId) -> usize {
    w.histories.shown.get(&d).map_or(0, BTreeSet::len)
}

#[test]
fn a_companion_gets_its_history_and_a_corrupted_chunk_comes_again() {
    let mut w = history_world();
    // The blob store corrupts chunk 1's blob before a0.1 fetches it.
    w.apply(
        4,
        &Event::HistoryFault {
            nth: 1,
            corrupt: true,
        },
    );
    w.deliver_all();
    assert_eq!(w.stats.history_chunks_failed, 1, "{:?}", w.log());
    assert_eq!(w.stats.history_chunk_requests, 1);
    assert_eq!(w.stats.history_notifications, 4, "chunk 1 uploaded again");
    assert_eq!(w.stats.history_chunks_applied, 3);
    assert_eq!(shown(&w, COMPANION), 23);
    // History is not live delivery: the ledger has no decryption on a0.1 of the old messages.
    assert!(
        w.ledger
            .all()
            .iter()
            .all(|m| !m.decrypted.contains_key(&COMPANION))
    );
    // Applied blobs are deleted; the corrupted one stays (the server's garbage).
    assert!(w.histories.uploaded.is_empty());
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert_eq!(w.stats.history_syncs_complete, 1);
    assert_eq!(w.stats.faults.get("history-corrupt"), Some(&1));
}

#[test]
fn a_lost_notification_is_asked_for_and_a_sync_lost_whole_is_excused() {
    let mut w = history_world();
    // Chunk 1's notification is lost for good: a0.1 applies chunk 0 and holds chunk 2.
    w.apply(
        4,
        &Event::Lose {
            device: dev(0, 1),
            nth: 1,
        },
    );
    w.deliver_all();
    assert_eq!(shown(&w, COMPANION), 8);
    // A second companion whose notifications are all lost.
    w.apply(
        5,
        &Event::Link {
            account: 0,
            durable: false,
        },
    );
    for _ in 0..3 {
        w.apply(
            6,
            &Event::Lose {
                device: dev(0, 2),
                nth: 0,
            },
        );
    }
    assert_eq!(w.stats.faults.get("lose"), Some(&4));
    end(&mut w);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    // The stalled sync completed through a request in the settle rounds; the other is excused.
    assert_eq!(w.stats.history_chunk_requests, 1);
    assert_eq!(shown(&w, COMPANION), 23);
    assert_eq!(w.stats.history_syncs_complete, 1);
    assert_eq!(w.stats.history_syncs_lost, 1);
}

#[test]
fn an_altered_foreign_or_repeated_history_item_or_a_lost_history_is_caught() {
    let mut w = history_world();
    w.deliver_all();
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    let sync = w.histories.syncs.keys().next().copied();
    let item = |w: &World, n: usize, extra: &[u8]| {
        let m = w.ledger.get(n).unwrap();
        tandem::history::HistoryItem {
            chat_id: "a0+a1".into(),
            sender: m.sender_address.to_string(),
            message_id: super::history::id_text(&m.id),
            timestamp_ms: 0,
            body: [m.body.as_slice(), extra].concat(),
            media: None,
        }
    };
    // Message 0 with another body (and shown a second time).
    let altered = item(&w, 0, b"!");
    w.history_item(COMPANION, sync, &altered);
    assert!(
        has(&w, ViolationKind::WrongContent, "another body"),
        "{:?}",
        w.violations
    );
    assert!(has(
        &w,
        ViolationKind::DecryptedTwice,
        "message 0 from history twice"
    ));
    // A message sent after the link is not history; nor is a sync another device's.
    w.apply(
        4,
        &Event::Message {
            from: dev(1, 0),
            to: 0,
        },
    );
    let later = item(&w, 23, b"");
    w.history_item(COMPANION, sync, &later);
    assert!(has(&w, ViolationKind::NotEntitled, "message 23 from history"));
    let old = item(&w, 1, b"");
    w.history_item(1, sync, &old);
    assert!(has(
        &w,
        ViolationKind::NotEntitled,
        "a1.0 showed message 1 from history"
    ));
    // The companion's shown history vanishes before the end check.
    w.histories.shown.get_mut(&COMPANION).unwrap().clear();
    end(&mut w);
    assert!(
        has(&w, ViolationKind::HistoryIncomplete, "lacks 23 of the 23"),
        "{:?}",
        w.violations
    );
}

#[test]
fn a_history_blob_fault_without_its_bookkeeping_is_caught() {
    let mut w = history_world();
    // Chunk 0's blob is marked faulted but left intact: applying it is taking in a fault.
    let (first, _, _) = w.histories.uploaded[0];
    w.histories.faulted.insert(first, "history-corrupt");
    // Chunk 1's blob vanishes without the fault's bookkeeping: nothing excuses the failure.
    let (second, _, _) = w.histories.uploaded[1];
    tandem::blob::BlobStore::delete(&mut w.blobs, &second).unwrap();
    w.deliver_all();
    assert!(
        has(
            &w,
            ViolationKind::TamperAccepted,
            "chunk 0 from a blob hit by history-corrupt"
        ),
        "{:?}",
        w.violations
    );
    assert!(
        has(
            &w,
            ViolationKind::OperationFailed,
            "chunk 1 failed (blob missing), its blob intact"
        ),
        "{:?}",
        w.violations
    );
}
