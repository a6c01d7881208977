//! AES-256-CBC decryption with PKCS#7 on arbitrary ciphertext: never panics; what decrypts
//! re-encrypts to the same ciphertext.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::crypto::{Secret, aes256_cbc_decrypt, aes256_cbc_encrypt};

fuzz_target!(|data: &[u8]| {
    let key = Secret::new([0x42; 32]);
    let iv = [7u8; 16];
    if let Ok(plaintext) = aes256_cbc_decrypt(&key, &iv, data) {
        assert_eq!(aes256_cbc_encrypt(&key, &iv, &plaintext), data);
    }
});
