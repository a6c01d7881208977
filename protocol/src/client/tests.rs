//! Forged self messages: content a public API would never send, encrypted on a real session.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;

const T0: u64 = 1_760_000_000_000;

fn primary(relay: &mut MemoryRelay, name: &str, rng: &mut ChaCha20Rng) -> Client {
    let mut c = Client::new_primary(name, T0, rng);
    relay.upload_device(c.upload(5, rng).unwrap());
    relay.set_device_list(name, c.device_list().unwrap());
    c
}

fn link(relay: &mut MemoryRelay, primary: &mut Client, rng: &mut ChaCha20Rng) -> Client {
    let pending = Client::begin_link(&primary.address().name.clone(), T0, rng);
    let approval = primary.approve_link(&pending.qr_payload(), T0, rng).unwrap();
    relay.set_device_list(&primary.address().name.clone(), approval.device_list.serialize());
    let mut c = pending.finish(&approval.message, rng).unwrap();
    relay.upload_device(c.upload(5, rng).unwrap());
    c
}

/// `from` encrypts `content` straight to `to` (bypassing the send API's checks).
fn forge(
    relay: &mut MemoryRelay,
    from: &mut Client,
    to: &Client,
    content: Content,
    rng: &mut ChaCha20Rng,
) -> Envelope {
    let set = from.refresh_devices(relay, &to.address().name, T0).unwrap();
    let device = set
        .trusted
        .into_iter()
        .find(|d| d.device_id == to.address().device_id)
        .unwrap();
    let (_, envelope) = from.encrypt_for(
        relay,
        (&to.address().name.clone(), &device),
        &content,
        ([9; 16], T0),
        rng,
    );
    envelope.unwrap()
}

#[test]
fn self_messages_from_another_account_or_history_from_a_companion_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let mut relay = MemoryRelay::new();
    let mut alice = primary(&mut relay, "alice", &mut rng);
    let mut laptop = link(&mut relay, &mut alice, &mut rng);
    let mut tablet = link(&mut relay, &mut alice, &mut rng);
    let mut mallory = primary(&mut relay, "mallory", &mut rng);
    for forged in [
        SelfMessage::HistorySync(b"your history".to_vec()),
        SelfMessage::AppStateKeys(b"my keys".to_vec()),
        SelfMessage::AppStateKeyRequest(b"give".to_vec()),
    ] {
        // Another account (spoofed self message: the amarula CVE-2026-48063 class).
        let e = forge(
            &mut relay,
            &mut mallory,
            &laptop,
            Content::Own(forged.clone()),
            &mut rng,
        );
        let r = laptop.receive(&mut relay, &e, T0, &mut rng);
        assert_eq!(
            r.received,
            Received::Failed(ReceiveFailure::NotAllowed),
            "{forged:?}"
        );
    }
    // History or app-state keys from a companion, not the primary.
    for from_companion in [
        SelfMessage::HistorySync(b"fake history".to_vec()),
        SelfMessage::AppStateKeys(b"keys from a sibling".to_vec()),
    ] {
        let e = forge(
            &mut relay,
            &mut laptop,
            &tablet,
            Content::Own(from_companion.clone()),
            &mut rng,
        );
        let r = tablet.receive(&mut relay, &e, T0, &mut rng);
        assert_eq!(
            r.received,
            Received::Failed(ReceiveFailure::NotAllowed),
            "{from_companion:?}"
        );
    }
    // A chunk request from the primary, or to a companion.
    let e = forge(
        &mut relay,
        &mut alice,
        &tablet,
        Content::Own(SelfMessage::HistoryChunkRequest(b"resend".to_vec())),
        &mut rng,
    );
    assert_eq!(
        tablet.receive(&mut relay, &e, T0, &mut rng).received,
        Received::Failed(ReceiveFailure::NotAllowed)
    );
    // History to the primary (it never imports history).
    let e = forge(
        &mut relay,
        &mut tablet,
        &alice,
        Content::Own(SelfMessage::HistorySync(b"to the primary".to_vec())),
        &mut rng,
    );
    assert_eq!(
        alice.receive(&mut relay, &e, T0, &mut rng).received,
        Received::Failed(ReceiveFailure::NotAllowed)
    );
    // And an honest one passes.
    let e = forge(
        &mut relay,
        &mut alice,
        &tablet,
        Content::Own(SelfMessage::HistorySync(b"real".to_vec())),
        &mut rng,
    );
    assert!(matches!(
        tablet.receive(&mut relay, &e, T0, &mut rng).received,
        Received::FromOwnDevice { .. }
    ));
}
