//! Linking and device verification scenarios, each asserting the exact outcome; and a property
//! test that any single-byte change to any signed artifact is refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::account::{
    AccountView, DEFAULT_DEVICE_LIST_LIFETIME_MS, DeviceListError, DeviceRefusal, DirectoryDevice,
    IdentityError, SignedDeviceIdentityIn, SignedDeviceListIn, verify_devices,
};
use tandem::crypto::{KeyPair, hmac_sha256};
use tandem::linking::{LinkError, LinkRequest, LinkStatus, LinkedDevice, PendingLink, PrimaryAccount};

const T0: u64 = 1_760_000_000_000;
const DAY: u64 = 24 * 60 * 60 * 1000;

struct World {
    rng: ChaCha20Rng,
    primary: PrimaryAccount,
}

fn world(seed: u64) -> World {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let account = KeyPair::generate(&mut rng);
    let primary = PrimaryAccount::new(account, T0, &mut rng);
    World { rng, primary }
}

/// Links a new companion through the QR payload; returns it.
fn link(w: &mut World, now: u64) -> LinkedDevice {
    let identity = KeyPair::generate(&mut w.rng);
    let pending = PendingLink::new(identity, now, &mut w.rng);
    let scanned = LinkRequest::from_qr_payload(&pending.request().to_qr_payload()).unwrap();
    assert_eq!(&scanned, pending.request());
    let approval = w.primary.approve(&scanned, now + 1_000, &mut w.rng).unwrap();
    let linked = pending.complete(&approval.message, &mut w.rng).unwrap();
    let confirmed = w.primary.confirm(linked.signed_identity().serialize()).unwrap();
    assert_eq!(&confirmed, linked.signed_identity());
    linked
}

fn directory(w: &World, companions: &[&LinkedDevice]) -> Vec<DirectoryDevice> {
    let mut devices = vec![DirectoryDevice {
        device_id: 0,
        identity_key: *w.primary.account_key(),
        signed_identity: None,
    }];
    for c in companions {
        devices.push(DirectoryDevice {
            device_id: c.device_id(),
            identity_key: c.identity().public,
            signed_identity: Some(c.signed_identity().serialize().to_vec()),
        });
    }
    devices
}

fn peer_view(w: &World) -> AccountView {
    let mut view = AccountView::new(*w.primary.account_key());
    view.update(w.primary.device_list().serialize()).unwrap();
    view
}

#[test]
fn two_companions_link_and_peers_trust_exactly_the_account_devices() {
    let mut w = world(1);
    let laptop = link(&mut w, T0);
    let tablet = link(&mut w, T0 + 5_000);
    assert_eq!((laptop.device_id(), tablet.device_id()), (1, 2));
    assert_eq!(w.primary.device_list().list().valid_indexes, vec![1, 2]);
    let view = peer_view(&w);
    let set = verify_devices(
        view.list().unwrap(),
        &directory(&w, &[&laptop, &tablet]),
        T0 + 10_000,
        DEFAULT_DEVICE_LIST_LIFETIME_MS,
    );
    assert_eq!(
        set.trusted.iter().map(|d| d.device_id).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(set.refused.is_empty());
    assert_eq!(
        laptop.status(w.primary.device_list().serialize()),
        Ok(LinkStatus::Linked)
    );
}

#[test]
fn unlinking_removes_the_device_for_peers_and_tells_the_companion() {
    let mut w = world(2);
    let laptop = link(&mut w, T0);
    let tablet = link(&mut w, T0);
    let mut view = peer_view(&w);
    let new_list = w
        .primary
        .unlink(laptop.device_id(), T0 + DAY, &mut w.rng)
        .unwrap();
    let update = view.update(new_list.serialize()).unwrap();
    assert_eq!((update.removed, update.added), (vec![1], vec![]));
    let set = verify_devices(
        view.list().unwrap(),
        &directory(&w, &[&laptop, &tablet]),
        T0 + DAY,
        DEFAULT_DEVICE_LIST_LIFETIME_MS,
    );
    assert_eq!(
        set.trusted.iter().map(|d| d.device_id).collect::<Vec<_>>(),
        vec![0, 2]
    );
    assert_eq!(set.refused, vec![(1, DeviceRefusal::NotOnList)]);
    assert_eq!(laptop.status(new_list.serialize()), Ok(LinkStatus::Unlinked));
    assert_eq!(tablet.status(new_list.serialize()), Ok(LinkStatus::Linked));
    assert_eq!(
        w.primary
            .unlink(laptop.device_id(), T0 + DAY, &mut w.rng)
            .unwrap_err(),
        LinkError::UnknownDevice
    );
}

#[test]
fn reinstalling_the_primary_invalidates_every_companion() {
    let mut w = world(3);
    let laptop = link(&mut w, T0);
    let mut view = peer_view(&w);
    // Reinstall: a new identity key, hence a new account key and a new list.
    let new_key = KeyPair::generate(&mut w.rng);
    let reinstalled = PrimaryAccount::new(new_key, T0 + DAY, &mut w.rng);
    assert_eq!(
        laptop.status(reinstalled.device_list().serialize()),
        Ok(LinkStatus::AccountChanged)
    );
    assert_eq!(
        view.update(reinstalled.device_list().serialize()),
        Err(DeviceListError::AccountKeyChanged)
    );
    // A peer that accepts the new account key still refuses the old companion.
    let mut accepted = AccountView::new(*reinstalled.account_key());
    accepted.update(reinstalled.device_list().serialize()).unwrap();
    let mut devices = directory(&w, &[&laptop]);
    devices[0].identity_key = *reinstalled.account_key();
    let set = verify_devices(
        accepted.list().unwrap(),
        &devices,
        T0 + DAY,
        DEFAULT_DEVICE_LIST_LIFETIME_MS,
    );
    assert_eq!(
        set.trusted.iter().map(|d| d.device_id).collect::<Vec<_>>(),
        vec![0]
    );
    assert_eq!(
        set.refused,
        vec![(
            1,
            DeviceRefusal::BadSignedIdentity(IdentityError::AccountKeyMismatch)
        )]
    );
}

#[test]
fn ghost_devices_injected_by_the_directory_are_refused_and_reported() {
    let mut w = world(4);
    let laptop = link(&mut w, T0);
    let view = peer_view(&w);
    let ghost_key = KeyPair::generate(&mut w.rng).public;
    let mut devices = directory(&w, &[&laptop]);
    // A ghost that reuses the laptop's signed identity with its own key.
    devices.push(DirectoryDevice {
        device_id: 7,
        identity_key: ghost_key,
        signed_identity: Some(laptop.signed_identity().serialize().to_vec()),
    });
    // A ghost with no signed identity.
    devices.push(DirectoryDevice {
        device_id: 8,
        identity_key: ghost_key,
        signed_identity: None,
    });
    // The laptop's genuine identity served under another device id.
    devices.push(DirectoryDevice {
        device_id: 9,
        identity_key: laptop.identity().public,
        signed_identity: Some(laptop.signed_identity().serialize().to_vec()),
    });
    // Garbage bytes.
    devices.push(DirectoryDevice {
        device_id: 10,
        identity_key: ghost_key,
        signed_identity: Some(vec![1, 2, 3]),
    });
    // A fake primary.
    devices.push(DirectoryDevice {
        device_id: 0,
        identity_key: ghost_key,
        signed_identity: None,
    });
    let set = verify_devices(
        view.list().unwrap(),
        &devices,
        T0,
        DEFAULT_DEVICE_LIST_LIFETIME_MS,
    );
    assert_eq!(
        set.trusted.iter().map(|d| d.device_id).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(
        set.refused,
        vec![
            (
                7,
                DeviceRefusal::BadSignedIdentity(IdentityError::BadAccountSignature)
            ),
            (8, DeviceRefusal::MissingSignedIdentity),
            (9, DeviceRefusal::DeviceIdMismatch),
            (10, DeviceRefusal::BadSignedIdentity(IdentityError::Malformed)),
            (0, DeviceRefusal::PrimaryKeyMismatch),
        ]
    );
}

#[test]
fn an_older_list_is_a_rollback_and_an_expired_list_trusts_only_the_primary() {
    let mut w = world(5);
    let old_list = w.primary.device_list().serialize().to_vec();
    let laptop = link(&mut w, T0);
    let mut view = peer_view(&w);
    let held = view.clone();
    assert_eq!(view.update(&old_list), Err(DeviceListError::Rollback));
    assert_eq!(view, held, "a refused list changed the view");
    // The same list again is not a rollback.
    assert_eq!(
        view.update(w.primary.device_list().serialize()).unwrap().removed,
        Vec::<u32>::new()
    );
    let later = T0 + DEFAULT_DEVICE_LIST_LIFETIME_MS + DAY;
    let set = verify_devices(
        view.list().unwrap(),
        &directory(&w, &[&laptop]),
        later,
        DEFAULT_DEVICE_LIST_LIFETIME_MS,
    );
    assert_eq!(
        set.trusted.iter().map(|d| d.device_id).collect::<Vec<_>>(),
        vec![0]
    );
    assert_eq!(set.refused, vec![(1, DeviceRefusal::ListExpired)]);
    // A configurable lifetime.
    let set = verify_devices(
        view.list().unwrap(),
        &directory(&w, &[&laptop]),
        later,
        2 * DEFAULT_DEVICE_LIST_LIFETIME_MS,
    );
    assert_eq!(set.trusted.len(), 2);
}

#[test]
fn a_reused_or_expired_request_is_refused_and_changes_nothing() {
    let mut w = world(6);
    let identity = KeyPair::generate(&mut w.rng);
    let pending = PendingLink::new(identity, T0, &mut w.rng);
    let list_before = w.primary.device_list().clone();
    assert_eq!(
        w.primary
            .approve(pending.request(), T0 + 200_000, &mut w.rng)
            .unwrap_err(),
        LinkError::Expired
    );
    assert_eq!(
        w.primary
            .approve(pending.request(), T0 - 1, &mut w.rng)
            .unwrap_err(),
        LinkError::Expired
    );
    assert_eq!(w.primary.device_list(), &list_before);
    assert!(w.primary.companions().is_empty());
    w.primary
        .approve(pending.request(), T0 + 1_000, &mut w.rng)
        .unwrap();
    let list_after = w.primary.device_list().clone();
    assert_eq!(
        w.primary
            .approve(pending.request(), T0 + 2_000, &mut w.rng)
            .unwrap_err(),
        LinkError::Reused
    );
    assert_eq!(w.primary.device_list(), &list_after);
    assert_eq!(w.primary.companions().len(), 1);
}

/// Re-encodes an approval with changed fields (the test knows the link secret, as an attacker
/// who saw the QR code would).
fn reforge(message: &[u8], secret: &[u8; 32], edit: impl FnOnce(&mut Vec<(u32, Vec<u8>)>)) -> Vec<u8> {
    // Minimal protobuf rewrite of top-level fields: (tag, raw value bytes incl. length).
    let mut fields = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let key = rest[0];
        let tag = u32::from(key >> 3);
        rest = &rest[1..];
        if key & 7 == 2 {
            let len = rest[0] as usize;
            assert!(len < 128);
            fields.push((tag, rest[1..1 + len].to_vec()));
            rest = &rest[1 + len..];
        } else {
            let mut n = 0;
            while rest[n] & 0x80 != 0 {
                n += 1;
            }
            fields.push((tag, rest[..=n].to_vec()));
            rest = &rest[n + 1..];
        }
    }
    edit(&mut fields);
    // Recompute the HMAC over the (possibly edited) details.
    let details = fields.iter().find(|(t, _)| *t == 1).unwrap().1.clone();
    for f in fields.iter_mut() {
        if f.0 == 2 {
            f.1 = hmac_sha256(secret, &details).to_vec();
        }
    }
    let mut out = Vec::new();
    for (tag, value) in fields {
        if tag == 3 || tag == 4 {
            out.push((tag << 3) as u8);
            out.extend_from_slice(&value);
        } else {
            out.push(((tag << 3) | 2) as u8);
            out.push(value.len() as u8);
            out.extend_from_slice(&value);
        }
    }
    out
}

#[test]
fn tampered_approvals_give_distinct_errors_and_the_genuine_one_still_completes() {
    let mut w = world(7);
    let identity = KeyPair::generate(&mut w.rng);
    let pending = PendingLink::new(identity, T0, &mut w.rng);
    let approval = w
        .primary
        .approve(pending.request(), T0, &mut w.rng)
        .unwrap()
        .message;
    let secret = *pending.request().link_secret.expose();

    let mut bad_hmac = approval.clone();
    let last = bad_hmac.len() - 20; // inside the HMAC or a later field
    bad_hmac[last] ^= 1;
    assert!(matches!(
        pending.complete(&bad_hmac, &mut w.rng),
        Err(LinkError::BadHmac
            | LinkError::Malformed
            | LinkError::ReferenceMismatch
            | LinkError::KeyIndexMismatch
            | LinkError::DeviceIdMismatch)
    ));

    // A flipped bit in the signed details without the link secret: the HMAC fails.
    let mut flipped = approval.clone();
    flipped[10] ^= 1;
    assert_eq!(
        pending.complete(&flipped, &mut w.rng).unwrap_err(),
        LinkError::BadHmac
    );

    // With the link secret (a rogue that saw the QR code): the account signature fails.
    let forged_sig = reforge(&approval, &secret, |f| {
        let details = &mut f.iter_mut().find(|(t, _)| *t == 1).unwrap().1;
        let n = details.len();
        details[n - 1] ^= 1; // last byte of the account signature
    });
    assert_eq!(
        pending.complete(&forged_sig, &mut w.rng).unwrap_err(),
        LinkError::BadAccountSignature
    );

    let wrong_device = reforge(&approval, &secret, |f| {
        f.iter_mut().find(|(t, _)| *t == 3).unwrap().1 = vec![5]
    });
    assert_eq!(
        pending.complete(&wrong_device, &mut w.rng).unwrap_err(),
        LinkError::DeviceIdMismatch
    );
    let wrong_index = reforge(&approval, &secret, |f| {
        f.iter_mut().find(|(t, _)| *t == 4).unwrap().1 = vec![9]
    });
    assert_eq!(
        pending.complete(&wrong_index, &mut w.rng).unwrap_err(),
        LinkError::KeyIndexMismatch
    );
    let wrong_ref = reforge(&approval, &secret, |f| {
        f.iter_mut().find(|(t, _)| *t == 5).unwrap().1 = vec![0; 16]
    });
    assert_eq!(
        pending.complete(&wrong_ref, &mut w.rng).unwrap_err(),
        LinkError::ReferenceMismatch
    );

    // Nothing was consumed: the genuine approval completes, and the primary confirms it.
    let linked = pending.complete(&approval, &mut w.rng).unwrap();
    w.primary.confirm(linked.signed_identity().serialize()).unwrap();

    // A countersignature by another key is refused by the primary.
    let mut bad_device_sig = linked.signed_identity().serialize().to_vec();
    let n = bad_device_sig.len();
    bad_device_sig[n - 5] ^= 1;
    assert_eq!(
        w.primary.confirm(&bad_device_sig).unwrap_err(),
        LinkError::BadDeviceSignature
    );
}

#[test]
fn qr_payloads_round_trip_and_malformed_ones_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let pending = PendingLink::new(KeyPair::generate(&mut rng), T0, &mut rng);
    let qr = pending.request().to_qr_payload();
    assert!(qr.starts_with("tandem-link:1:") && qr.len() < 160, "{qr}");
    for bad in [
        qr.replace("tandem-link:1:", "tandem-link:2:"),
        format!("{qr}:extra"),
        qr.rsplit_once(':').unwrap().0.to_string(),
        format!("{}:0{}", qr.rsplit_once(':').unwrap().0, T0),
        qr.replacen(':', ":A", 3),
        String::new(),
    ] {
        assert_eq!(
            LinkRequest::from_qr_payload(&bad).unwrap_err(),
            LinkError::Malformed,
            "{bad}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single-byte change to a signed device identity, a signed device list or an approval
    /// is refused (or, for the unauthenticated outer fields of an approval, caught by the check
    /// that they match the signed details).
    #[test]
    fn any_single_byte_change_to_a_signed_artifact_is_refused(seed in 0u64..50, at: usize, xor in 1u8..=255) {
        let mut w = world(seed + 100);
        let identity = KeyPair::generate(&mut w.rng);
        let pending = PendingLink::new(identity, T0, &mut w.rng);
        let approval = w.primary.approve(pending.request(), T0, &mut w.rng).unwrap();
        let linked = pending.complete(&approval.message, &mut w.rng).unwrap();

        let mut id = linked.signed_identity().serialize().to_vec();
        let i = at % id.len();
        id[i] ^= xor;
        let ok = SignedDeviceIdentityIn::parse(&id).ok().and_then(|s| s.verify(w.primary.account_key(), &linked.identity().public).ok());
        prop_assert!(ok.is_none(), "identity byte {} changed and still verifies", i);

        let mut list = approval.device_list.serialize().to_vec();
        let i = at % list.len();
        list[i] ^= xor;
        let ok = SignedDeviceListIn::parse(&list).ok().and_then(|s| s.verify(w.primary.account_key()).ok());
        prop_assert!(ok.is_none(), "list byte {} changed and still verifies", i);

        let mut msg = approval.message.clone();
        let i = at % msg.len();
        msg[i] ^= xor;
        prop_assert!(pending.complete(&msg, &mut w.rng).is_err(), "approval byte {} changed and still completes", i);
    }
}

#[test]
fn only_a_list_really_signed_by_another_key_says_the_account_changed() {
    let mut w = world(9);
    let laptop = link(&mut w, T0);
    let genuine = w.primary.device_list().serialize().to_vec();
    // Same list, field 3 (the account key) replaced by another key, signature left as is.
    let other = KeyPair::generate(&mut w.rng).public;
    let at = genuine.len() - 32;
    let mut forged = genuine.clone();
    forged[at..].copy_from_slice(other.as_raw());
    assert_eq!(laptop.status(&forged), Err(DeviceListError::BadSignature));
    let mut view = peer_view(&w);
    assert_eq!(view.update(&forged), Err(DeviceListError::BadSignature));
}

#[test]
fn a_list_from_before_the_link_is_a_replay() {
    let mut w = world(10);
    let before = w.primary.device_list().serialize().to_vec();
    let laptop = link(&mut w, T0 + 60_000);
    assert_eq!(laptop.status(&before), Err(DeviceListError::Rollback));
    assert_eq!(
        laptop.status(w.primary.device_list().serialize()),
        Ok(LinkStatus::Linked)
    );
}

#[test]
fn the_same_identity_cannot_be_linked_twice_nor_as_the_account_key() {
    let mut w = world(11);
    let identity = KeyPair::generate(&mut w.rng);
    let first = PendingLink::new(identity.clone(), T0, &mut w.rng);
    w.primary.approve(first.request(), T0, &mut w.rng).unwrap();
    let again = PendingLink::new(identity, T0, &mut w.rng);
    assert_eq!(
        w.primary.approve(again.request(), T0, &mut w.rng).unwrap_err(),
        LinkError::DuplicateIdentity
    );
}
