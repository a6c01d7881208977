//! Media (spec 07): a photo is a small random body encrypted with `tandem::media`, its blob put
//! in the world's `MemoryBlobStore` (the media server, one for the world), and its pointer sent
//! as the attachment of a message through the ordinary send path (`send_with`), so re-sends,
//! retries and the ledger work as for any message. Every device that decrypts the message
//! fetches the blob and decrypts it at once.
//!
//! Invariants: the attachment a device reads is the pointer that was sent; the plaintext it
//! decrypts is exactly the one encrypted (the ledger keeps it); a fetch or decryption fails only
//! if the blob store lost or corrupted the blob (the `blob-fault` fault), and then with a typed
//! error — never wrong plaintext. A message whose blob was faulted is excused from the media
//! check (the message itself is still owed). At the end, every device that decrypted a photo
//! message fetched its blob.

use rand::RngExt;
use tandem::blob::{BlobId, BlobStore};
use tandem::client::Conversation;
use tandem::media::{self, MediaKey, MediaKind, MediaPointer};

use super::*;
use crate::ledger::MediaRecord;

/// Photo sizes: a few hundred bytes to a few KiB.
const PHOTO_BYTES: std::ops::Range<usize> = 200..4096;

impl World {
    /// A `photo` event.
    pub(super) fn photo(&mut self, from: DevRef, to: u16) {
        let Some((d, to)) = self.direct_target(from, to) else {
            return;
        };
        let own = self.devices.get(d).map_or(0, |i| i.account);
        let audience = BTreeSet::from([own, to]);
        self.send_photo(d, audience, None, Conversation::Direct(self.name(to)));
    }

    /// A `group-photo` event.
    pub(super) fn group_photo(&mut self, group: u16, from: DevRef) {
        let Some((d, g)) = self.group_sender(group, from) else {
            return;
        };
        let Some(info) = self.groups.get(g) else { return };
        let (id, audience) = (info.id, info.members.clone());
        self.send_photo(d, audience, Some(g), Conversation::Group(id));
    }

    fn send_photo(&mut self, d: DevId, audience: BTreeSet<usize>, group: Option<usize>, to: Conversation) {
        let size = self.rng.random_range(PHOTO_BYTES);
        let mut plaintext = vec![0u8; size];
        self.rng.fill(&mut plaintext[..]);
        let key = MediaKey::generate(&mut self.rng);
        let (blob, digest) = media::encrypt(MediaKind::Image, &key, &plaintext);
        let blob_id = BlobId::of(&digest);
        if let Err(e) = self.blobs.put(&blob_id, &blob) {
            self.violation(ViolationKind::OperationFailed, format!("uploading a photo: {e}"));
            return;
        }
        let mut pointer = MediaPointer::new(MediaKind::Image, key, digest);
        pointer.mimetype = Some("image/jpeg".into());
        let pointer = pointer.to_bytes();
        let number = self.ledger.next_number();
        let what = match group {
            Some(g) => format!("group{g}"),
            None => format!("{to:?}"),
        };
        let body = format!("m{number} {}->{what} photo", self.address(d)).into_bytes();
        let attachment = pointer.clone();
        self.send_with(
            d,
            audience,
            group,
            body.clone(),
            false,
            move |c, dir, rng, now, body| c.send_attachment(dir, &to, body, &attachment, now, rng),
        );
        let sent = self.ledger.get(number).is_some_and(|m| m.body == body);
        if sent {
            self.stats.photos += 1;
            self.ledger.add_media(
                number,
                MediaRecord {
                    plaintext,
                    pointer,
                    blob: blob_id,
                    faulted: None,
                    fetched: BTreeMap::new(),
                },
            );
        }
    }

    /// The blob store loses a blob, or flips a bit of its byte `at` (modulo its length).
    /// Whether it did.
    pub(super) fn damage_blob(&mut self, blob: &BlobId, at: usize, corrupt: bool) -> bool {
        if corrupt {
            self.blobs
                .tamper(blob, |b| {
                    let len = b.len().max(1);
                    if let Some(x) = b.get_mut(at % len) {
                        *x ^= 0x20;
                    }
                })
                .is_ok()
        } else {
            self.blobs.delete(blob).is_ok()
        }
    }

    /// A `blob-fault`: the blob store loses or corrupts the `nth` intact photo blob.
    pub(super) fn blob_fault(&mut self, nth: u16, corrupt: bool) {
        let intact: Vec<usize> = self.ledger.media_numbers(|m| m.faulted.is_none());
        if intact.is_empty() {
            return;
        }
        let Some(&n) = intact.get(usize::from(nth) % intact.len()) else {
            return;
        };
        let Some(blob) = self.ledger.media(n).map(|m| m.blob) else {
            return;
        };
        if self.damage_blob(&blob, usize::from(nth), corrupt) {
            let what = if corrupt { "blob-corrupt" } else { "blob-lose" };
            self.fault(what);
            if let Some(m) = self.ledger.media_mut(n) {
                m.faulted = Some(what);
            }
            self.note(|| format!("the blob store: {what} of message {n}'s photo"));
        }
    }

    /// A device decrypted a message: if it carries a photo, the app fetches and decrypts it.
    pub(super) fn media_received(&mut self, d: DevId, message: &DataMessage) {
        let Some(n) = self.ledger.find(&message.id) else {
            return;
        };
        let address = self.address(d);
        let Some(record) = self.ledger.media(n) else {
            if message.attachment.is_some() {
                self.violation(
                    ViolationKind::MediaWrongContent,
                    format!("{address}: message {n} carries an attachment it was sent without"),
                );
            }
            return;
        };
        let (expected, faulted, blob_id) = (record.pointer.clone(), record.faulted, record.blob);
        if message.attachment.as_deref() != Some(expected.as_slice()) {
            self.violation(
                ViolationKind::MediaWrongContent,
                format!("{address}: message {n}'s attachment is not the pointer sent"),
            );
            return;
        }
        let outcome = MediaPointer::from_bytes(&expected)
            .map_err(|e| format!("pointer: {e}"))
            .and_then(|p| {
                let blob = self
                    .blobs
                    .get(&BlobId::of(&p.digest))
                    .map_err(|e| format!("fetch: {e}"))?;
                p.decrypt(&blob).map_err(|e| format!("decrypt: {e}"))
            });
        let _ = blob_id;
        let ok = match outcome {
            Ok(plaintext) => {
                let same = self.ledger.media(n).is_some_and(|m| m.plaintext == plaintext);
                if !same {
                    self.violation(
                        ViolationKind::MediaWrongContent,
                        format!("{address}: message {n}'s photo decrypted to other bytes than were sent"),
                    );
                    return;
                }
                self.stats.photos_fetched += 1;
                true
            }
            Err(e) => {
                if faulted.is_some() {
                    self.stats.photos_refused_faulted += 1;
                    self.note(|| format!("{address}: message {n}'s photo refused ({e})"));
                } else {
                    self.violation(
                        ViolationKind::MediaFailed,
                        format!("{address}: message {n}'s intact photo failed: {e}"),
                    );
                }
                false
            }
        };
        if let Some(m) = self.ledger.media_mut(n) {
            m.fetched.insert(d, ok);
        }
    }

    /// The end-of-run media check: every device that decrypted a photo message fetched its
    /// photo (successfully, unless the blob was faulted).
    pub(super) fn check_media(&mut self) {
        let mut found = Vec::new();
        for n in self.ledger.media_numbers(|_| true) {
            let (Some(m), Some(r)) = (self.ledger.get(n), self.ledger.media(n)) else {
                continue;
            };
            for (d, count) in &m.decrypted {
                if *count == 0 {
                    continue;
                }
                match r.fetched.get(d) {
                    Some(true) => {}
                    Some(false) if r.faulted.is_some() => {}
                    Some(false) => found.push(format!("{}: message {n}'s photo failed", self.address(*d))),
                    None => found.push(format!("{}: message {n}'s photo never fetched", self.address(*d))),
                }
            }
        }
        for detail in found {
            self.violation(ViolationKind::MediaFailed, detail);
        }
    }
}
