//! Kinds for the primitives: hashes, HMAC, HKDF, X25519, AES-CBC and AES-GCM.

use serde::Deserialize;
use tandem::crypto::{self, PrivateKey, PublicKey, Secret};

use super::{Hex, fields, outcome, same, valid_only};
use crate::file::Case;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashCase {
    msg: Hex,
    digest: Hex,
}

pub(super) fn sha256(case: &Case) -> Result<(), String> {
    valid_only(case)?;
    let c: HashCase = fields(case)?;
    same("digest", &crypto::sha256(&[&c.msg.0]), &c.digest.0)
}

pub(super) fn sha512(case: &Case) -> Result<(), String> {
    valid_only(case)?;
    let c: HashCase = fields(case)?;
    same("digest", &crypto::sha512(&[&c.msg.0]), &c.digest.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HmacCase {
    key: Hex,
    msg: Hex,
    tag: Hex,
}

pub(super) fn hmac_sha256(case: &Case) -> Result<(), String> {
    let c: HmacCase = fields(case)?;
    let verified = crypto::verify_hmac_sha256(&c.key.0, &[&c.msg.0], &c.tag.0);
    outcome(case, verified, |()| {
        let full = crypto::hmac_sha256(&c.key.0, &c.msg.0);
        same("tag", full.get(..c.tag.0.len()).unwrap_or_default(), &c.tag.0)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HkdfCase {
    ikm: Hex,
    salt: Hex,
    info: Hex,
    length: usize,
    okm: Hex,
}

pub(super) fn hkdf_sha256(case: &Case) -> Result<(), String> {
    let c: HkdfCase = fields(case)?;
    if c.length > 1 << 16 {
        return Err("`length` is unreasonably large".into());
    }
    let mut okm = vec![0u8; c.length];
    let result = crypto::hkdf_sha256_into(&c.ikm.0, &c.salt.0, &c.info.0, &mut okm);
    outcome(case, result, |()| same("okm", &okm, &c.okm.0))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct X25519Case {
    private: Hex,
    public: Hex,
    shared: Hex,
}

pub(super) fn x25519(case: &Case) -> Result<(), String> {
    let c: X25519Case = fields(case)?;
    let private = PrivateKey::from_bytes(&c.private.0).map_err(|e| format!("private key: {e:?}"))?;
    let public = PublicKey::from_raw(c.public.array::<32>("public")?);
    outcome(case, private.agree(&public), |shared| {
        same("shared", shared.expose(), &c.shared.0)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CbcCase {
    key: Hex,
    iv: Hex,
    plaintext: Hex,
    ciphertext: Hex,
}

pub(super) fn aes256_cbc(case: &Case) -> Result<(), String> {
    let c: CbcCase = fields(case)?;
    let key = Secret::new(c.key.array::<32>("key")?);
    let iv = c.iv.array::<16>("iv")?;
    let decrypted = crypto::aes256_cbc_decrypt(&key, &iv, &c.ciphertext.0);
    outcome(case, decrypted, |plaintext| {
        same("plaintext", &plaintext, &c.plaintext.0)?;
        same(
            "ciphertext",
            &crypto::aes256_cbc_encrypt(&key, &iv, &c.plaintext.0),
            &c.ciphertext.0,
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GcmCase {
    key: Hex,
    nonce: Hex,
    aad: Hex,
    plaintext: Hex,
    ciphertext: Hex,
    tag: Hex,
}

pub(super) fn aes256_gcm(case: &Case) -> Result<(), String> {
    let c: GcmCase = fields(case)?;
    let key = Secret::new(c.key.array::<32>("key")?);
    let nonce = c.nonce.array::<12>("nonce")?;
    let sealed = [c.ciphertext.0.as_slice(), c.tag.0.as_slice()].concat();
    let opened = crypto::aes256_gcm_open(&key, &nonce, &c.aad.0, &sealed);
    outcome(case, opened, |plaintext| {
        same("plaintext", &plaintext, &c.plaintext.0)?;
        let resealed = crypto::aes256_gcm_seal(&key, &nonce, &c.aad.0, &c.plaintext.0)
            .map_err(|e| format!("seal failed: {e:?}"))?;
        same("sealed", &resealed, &sealed)
    })
}
