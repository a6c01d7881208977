//! Kinds for libsignal's Curve25519 key encoding and signatures.

use serde::Deserialize;
use tandem::crypto::{PrivateKey, PublicKey, Secret};

use super::{Hex, fields, outcome, same, valid_only};
use crate::file::Case;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicKeyCase {
    serialized: Hex,
    key: Option<Hex>,
}

pub(super) fn public_key(case: &Case) -> Result<(), String> {
    let c: PublicKeyCase = fields(case)?;
    outcome(case, PublicKey::deserialize(&c.serialized.0), |key| {
        let want = c.key.as_ref().ok_or("a valid case needs `key`")?;
        same("key", key.as_raw(), &want.0)?;
        same("re-serialized", &key.serialize(), &c.serialized.0)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureCase {
    public: Option<Hex>,
    private: Option<Hex>,
    random: Option<Hex>,
    message: Hex,
    signature: Hex,
}

pub(super) fn signature(case: &Case) -> Result<(), String> {
    let c: SignatureCase = fields(case)?;
    let private = match &c.private {
        Some(p) => Some(PrivateKey::from_bytes(&p.0).map_err(|e| format!("private key: {e:?}"))?),
        None => None,
    };
    let public = match (&c.public, &private) {
        (Some(p), _) => PublicKey::deserialize(&p.0).map_err(|e| format!("public key: {e:?}"))?,
        (None, Some(private)) => private.public_key(),
        (None, None) => return Err("needs `public` or `private`".into()),
    };
    if let (Some(private), Some(_)) = (&private, &c.public) {
        same(
            "public from private",
            &private.public_key().serialize(),
            &public.serialize(),
        )?;
    }
    if let (Some(private), Some(random)) = (&private, &c.random) {
        let random = Secret::new(random.array::<64>("random")?);
        let made = private.sign_with_randomness(&c.message.0, &random);
        if case.expect == crate::Expect::Valid {
            same("signature made", &made.to_bytes(), &c.signature.0)?;
        }
    }
    outcome(case, public.verify(&c.message.0, &c.signature.0), |()| Ok(()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeygenCase {
    private: Hex,
    public: Hex,
}

pub(super) fn keygen(case: &Case) -> Result<(), String> {
    valid_only(case)?;
    let c: KeygenCase = fields(case)?;
    let private = PrivateKey::from_bytes(&c.private.0).map_err(|e| format!("private key: {e:?}"))?;
    same("public", private.public_key().as_raw(), &c.public.0)
}
