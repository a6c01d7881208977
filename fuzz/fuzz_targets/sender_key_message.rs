//! `SenderKeyMessage::parse` on arbitrary bytes: never panics; whatever parses keeps the input
//! as its wire bytes, parses again to the same message, and carries a ciphertext that lies
//! inside the input, before the 64-byte signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::wire::SenderKeyMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SenderKeyMessage::parse(data) {
        assert_eq!(message.serialized(), data);
        assert_eq!(SenderKeyMessage::parse(message.serialized()), Ok(message.clone()));
        let body = &data[..data.len() - 64];
        let ciphertext = message.ciphertext();
        assert!(ciphertext.is_empty() || body.windows(ciphertext.len()).any(|w| w == ciphertext));
    }
});
