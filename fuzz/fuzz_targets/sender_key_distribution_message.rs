//! `SenderKeyDistributionMessage::parse` on arbitrary bytes: never panics; whatever parses
//! keeps the input as its wire bytes, parses again to the same message, and carries a chain
//! key and a signing key that lie inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::wire::SenderKeyDistributionMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SenderKeyDistributionMessage::parse(data) {
        assert_eq!(message.serialized(), data);
        assert_eq!(
            SenderKeyDistributionMessage::parse(message.serialized()),
            Ok(message.clone())
        );
        let contains = |part: &[u8]| data.windows(part.len()).any(|w| w == part);
        assert!(contains(message.chain_key().expose()));
        assert!(contains(&message.signing_key().serialize()));
        assert!(contains(message.distribution_id()));
    }
});
