//! The main job, at this stage of tandem: two devices agree on a key and check each other's
//! signatures with the real primitives, then encrypt a message under the derived keys.
//!
//! Run with `cargo run --release -p tandem --example demo`. Later stages replace this with the
//! multi-device story (link devices, exchange messages, groups, sync).

use tandem::crypto::{self, KeyPair, Secret};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The library never draws randomness itself: the application passes its CSPRNG in.
    let mut rng = rand::rng();

    let phone = KeyPair::generate(&mut rng);
    let laptop = KeyPair::generate(&mut rng);
    println!("phone  identity key {}", hex(&phone.public.serialize()));
    println!("laptop identity key {}", hex(&laptop.public.serialize()));

    // Each signs the other's key (as a primary signs a companion's identity when linking).
    let by_phone = phone.private.sign(&laptop.public.serialize(), &mut rng);
    let by_laptop = laptop.private.sign(&phone.public.serialize(), &mut rng);
    phone
        .public
        .verify(&laptop.public.serialize(), by_phone.as_ref())?;
    laptop
        .public
        .verify(&phone.public.serialize(), by_laptop.as_ref())?;
    println!("signatures verified both ways (libsignal curve25519 signatures)");
    let tampered = {
        let mut s = by_phone.to_bytes();
        s[5] ^= 1;
        s
    };
    let refused = phone
        .public
        .verify(&laptop.public.serialize(), &tampered)
        .is_err();
    println!("a tampered signature is refused: {refused}");

    // X25519 agreement, the same secret on both sides.
    let on_phone = phone.private.agree(&laptop.public)?;
    let on_laptop = laptop.private.agree(&phone.public)?;
    println!("shared secret agrees: {}", on_phone == on_laptop);

    // Derive cipher key, MAC key and IV as a Signal message key is expanded (80 bytes).
    let derived: Secret<80> = crypto::hkdf_sha256(on_phone.expose(), &[], b"tandem demo")?;
    let (cipher_key, rest) = derived.expose().split_at(32);
    let (mac_key, iv) = rest.split_at(32);
    let cipher_key = Secret::new(<[u8; 32]>::try_from(cipher_key)?);
    let iv = <[u8; 16]>::try_from(iv)?;
    let plaintext = b"hello from the phone";
    let ciphertext = crypto::aes256_cbc_encrypt(&cipher_key, &iv, plaintext);
    let tag = crypto::hmac_sha256(mac_key, &ciphertext);

    let derived_on_laptop: Secret<80> = crypto::hkdf_sha256(on_laptop.expose(), &[], b"tandem demo")?;
    let (key2, rest2) = derived_on_laptop.expose().split_at(32);
    let (mac2, iv2) = rest2.split_at(32);
    crypto::verify_hmac_sha256(mac2, &[&ciphertext], &tag[..8])?;
    let opened = crypto::aes256_cbc_decrypt(
        &Secret::new(<[u8; 32]>::try_from(key2)?),
        &<[u8; 16]>::try_from(iv2)?,
        &ciphertext,
    )?;
    println!("laptop decrypted: {:?}", String::from_utf8_lossy(&opened));
    assert_eq!(opened, plaintext);
    Ok(())
}
