//! `PreKeySignalMessage::parse` on arbitrary bytes: never panics; whatever parses keeps the
//! input as its wire bytes, parses again to the same message, and encloses a `SignalMessage`
//! whose bytes lie inside the input and parse on their own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::wire::{PreKeySignalMessage, SignalMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = PreKeySignalMessage::parse(data) {
        assert_eq!(message.serialized(), data);
        assert_eq!(
            PreKeySignalMessage::parse(message.serialized()),
            Ok(message.clone())
        );
        let inner = message.message().serialized();
        assert!(data.windows(inner.len()).any(|w| w == inner));
        assert_eq!(SignalMessage::parse(inner).as_ref(), Ok(message.message()));
    }
});
