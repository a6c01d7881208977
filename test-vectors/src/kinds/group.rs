//! The `sender-key-transcript` kind: one sender chain of Sender Keys recorded from a real
//! libsignal, replayed by tandem as a group member.
//!
//! Fields: `distribution_id` (16 bytes), `distribution_message` (as created), optional
//! `sender_signing_private` (32 bytes or `null`; must give the signing key in the distribution
//! message), `messages` (`plaintext`, `ciphertext`, `iteration`), `receives` (indices into
//! `messages` in the order the member gets them; twice = duplicate), optional
//! `later_distributions` (`{before, distribution_message, sender_signing_private}`, processed just
//! before `receives[before]`), and for invalid cases `fails_at` (index into `receives` of the one
//! receive that must fail with `error`). Every other receive must give its plaintext, which also
//! shows that the refusal changed no stored state.

use serde::Deserialize;
use tandem::Address;
use tandem::crypto::{KeyPair, PrivateKey};
use tandem::group;
use tandem::store::MemoryStore;
use tandem::wire::SenderKeyDistributionMessage;

use super::{Hex, fields};
use crate::file::{Case, Expect};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    plaintext: Hex,
    ciphertext: Hex,
    iteration: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LaterDistribution {
    before: usize,
    distribution_message: Hex,
    sender_signing_private: Option<Hex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Transcript {
    distribution_id: Hex,
    distribution_message: Hex,
    sender_signing_private: Option<Hex>,
    messages: Vec<Message>,
    receives: Vec<usize>,
    #[serde(default)]
    later_distributions: Vec<LaterDistribution>,
    fails_at: Option<usize>,
}

/// Parses a distribution message and, when the signing private key is given, checks it is the
/// key the message carries.
fn distribution(
    bytes: &Hex,
    private: Option<&Hex>,
    id: &[u8; 16],
) -> Result<SenderKeyDistributionMessage, String> {
    let m =
        SenderKeyDistributionMessage::parse(&bytes.0).map_err(|e| format!("distribution message: {e:?}"))?;
    if m.distribution_id() != id {
        return Err("distribution message has another distribution id".into());
    }
    if let Some(private) = private {
        let key = PrivateKey::from_bytes(&private.0).map_err(|e| format!("signing key: {e:?}"))?;
        if &KeyPair::from_private(key).public != m.signing_key() {
            return Err("sender_signing_private does not match the signing key".into());
        }
    }
    Ok(m)
}

pub(super) fn transcript(case: &Case) -> Result<(), String> {
    let t: Transcript = fields(case)?;
    let id = t.distribution_id.array::<16>("distribution_id")?;
    match (&case.expect, t.fails_at) {
        (Expect::Valid, None) | (Expect::Invalid { .. }, Some(_)) => {}
        _ => return Err("an invalid case needs `fails_at`, a valid one must not have it".into()),
    }
    let sender = Address::new("sender", 1);
    let mut store = MemoryStore::new(
        KeyPair::from_private(PrivateKey::from_bytes(&[7; 32]).map_err(|e| format!("{e:?}"))?),
        1,
    );
    let first = distribution(&t.distribution_message, t.sender_signing_private.as_ref(), &id)?;
    group::process_distribution_message(&mut store, &sender, &first)
        .map_err(|e| format!("processing: {e:?}"))?;
    for (n, &i) in t.receives.iter().enumerate() {
        for later in t.later_distributions.iter().filter(|l| l.before == n) {
            let m = distribution(
                &later.distribution_message,
                later.sender_signing_private.as_ref(),
                &id,
            )?;
            group::process_distribution_message(&mut store, &sender, &m)
                .map_err(|e| format!("processing: {e:?}"))?;
        }
        let m = t.messages.get(i).ok_or(format!("receive {n}: no message {i}"))?;
        let got = group::decrypt(&mut store, &sender, &m.ciphertext.0);
        match (t.fails_at == Some(n), got, &case.expect) {
            (false, Ok(p), _) if p == m.plaintext.0 => {}
            (false, Ok(_), _) => return Err(format!("receive {n}: wrong plaintext")),
            (false, Err(e), _) => {
                return Err(format!("receive {n} (iteration {}): failed: {e:?}", m.iteration));
            }
            (true, Ok(_), _) => return Err(format!("receive {n}: must fail, but decrypted")),
            (true, Err(e), Expect::Invalid { error }) => {
                let got = format!("{e:?}");
                if got.split('(').next() != Some(error.as_str()) {
                    return Err(format!("receive {n}: expected {error}, got {got}"));
                }
            }
            (true, Err(_), Expect::Valid) => return Err("valid case with fails_at".into()),
        }
    }
    if t.later_distributions.iter().any(|l| l.before > t.receives.len()) {
        return Err("a later distribution is placed after the end".into());
    }
    Ok(())
}
