//! `SignalMessage::parse` on arbitrary bytes: never panics; whatever parses keeps the input as
//! its wire bytes and parses again to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::wire::SignalMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SignalMessage::parse(data) {
        assert_eq!(message.serialized(), data);
        assert_eq!(SignalMessage::parse(message.serialized()), Ok(message.clone()));
    }
});
