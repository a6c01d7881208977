//! A strict pre-check of protobuf bytes before prost decodes them.
//!
//! prost skips unknown fields and lets a repeated occurrence of a singular field win silently.
//! tandem refuses both, and refuses truncated input. Field order is not checked (both libsignal
//! and the JavaScript port write tag order, but any order is valid protobuf), nor is varint
//! minimality: the MAC or signature covers the bytes as sent, so neither changes a meaning.

use super::WireError;

/// The protobuf wire types tandem's messages use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WireType {
    /// Wire type 0, holding a u32.
    Varint,
    /// Wire type 0, holding a u64.
    Varint64,
    /// Wire type 2.
    Bytes,
}

/// Checks that `bytes` is a sequence of fields each listed in `allowed` with its wire type,
/// none repeated, with varints of at most 10 bytes that fit the field (u32 for varints), and
/// lengths inside the input.
pub(crate) fn check_fields(mut bytes: &[u8], allowed: &[(u32, WireType)]) -> Result<(), WireError> {
    let mut seen: u64 = 0;
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes)?;
        let tag = u32::try_from(key >> 3).map_err(|_| WireError::Malformed)?;
        let wire = match key & 7 {
            0 => WireType::Varint,
            2 => WireType::Bytes,
            _ => return Err(WireError::Malformed),
        };
        let wire = match allowed.iter().find(|(t, _)| *t == tag) {
            Some((_, WireType::Varint64)) if wire == WireType::Varint => WireType::Varint64,
            Some((_, expected)) if *expected == wire => wire,
            _ => return Err(WireError::Malformed),
        };
        let bit = 1u64.checked_shl(tag).ok_or(WireError::Malformed)?;
        if seen & bit != 0 {
            return Err(WireError::Malformed);
        }
        seen |= bit;
        match wire {
            WireType::Varint => {
                let v = read_varint(&mut bytes)?;
                u32::try_from(v).map_err(|_| WireError::Malformed)?;
            }
            WireType::Varint64 => {
                read_varint(&mut bytes)?;
            }
            WireType::Bytes => {
                let len = usize::try_from(read_varint(&mut bytes)?).map_err(|_| WireError::Malformed)?;
                bytes = bytes.get(len..).ok_or(WireError::Malformed)?;
            }
        }
    }
    Ok(())
}

fn read_varint(bytes: &mut &[u8]) -> Result<u64, WireError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = bytes.split_first().ok_or(WireError::Malformed)?;
        *bytes = rest;
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(u32, WireType)] = &[(1, WireType::Bytes), (2, WireType::Varint)];

    #[test]
    fn accepts_known_fields_in_any_order() {
        assert_eq!(check_fields(&[0x10, 0x05, 0x0A, 0x01, 0xFF], FIELDS), Ok(()));
        assert_eq!(check_fields(&[], FIELDS), Ok(()));
    }

    #[test]
    fn refuses_unknown_repeated_truncated_and_wrong_type() {
        assert!(check_fields(&[0x18, 0x01], FIELDS).is_err()); // field 3
        assert!(check_fields(&[0x10, 0x01, 0x10, 0x02], FIELDS).is_err()); // field 2 twice
        assert!(check_fields(&[0x0A, 0x05, 0x01], FIELDS).is_err()); // length past the end
        assert!(check_fields(&[0x08, 0x01], FIELDS).is_err()); // field 1 as a varint
        assert!(check_fields(&[0x10], FIELDS).is_err()); // value missing
        assert!(check_fields(&[0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], FIELDS).is_err()); // > u32
    }
}
