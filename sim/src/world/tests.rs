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
