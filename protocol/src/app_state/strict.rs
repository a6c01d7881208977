//! A strict check of protobuf bytes against a schema, before prost decodes them.
//!
//! prost skips unknown fields and lets a repeated singular field win silently; the server is not
//! trusted, so its patches and snapshots are refused for either, for a wrong wire type, for a
//! varint that does not fit its field, and for truncation. Nested messages are checked
//! recursively (the nesting depth is the schema's, at most four here).

use super::ParseError;

/// What a field holds.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A varint that fits in 32 bits.
    Varint32,
    /// A varint of up to 64 bits.
    Varint64,
    /// Length-delimited bytes (or a string).
    Bytes,
    /// A nested message with its own schema.
    Message(&'static [Field]),
    /// A field tandem refuses as [`ParseError::Unsupported`].
    Unsupported,
}

/// One field of a schema.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    pub(crate) tag: u32,
    pub(crate) kind: Kind,
    pub(crate) repeated: bool,
}

impl Field {
    pub(crate) const fn one(tag: u32, kind: Kind) -> Self {
        Self {
            tag,
            kind,
            repeated: false,
        }
    }

    pub(crate) const fn many(tag: u32, kind: Kind) -> Self {
        Self {
            tag,
            kind,
            repeated: true,
        }
    }
}

/// Checks `bytes` against `schema`.
pub(crate) fn check(mut bytes: &[u8], schema: &[Field]) -> Result<(), ParseError> {
    let mut seen: u64 = 0;
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes)?;
        let tag = u32::try_from(key >> 3).map_err(|_| ParseError::Malformed)?;
        let wire = key & 7;
        let field = schema
            .iter()
            .find(|f| f.tag == tag)
            .ok_or(ParseError::Malformed)?;
        if !field.repeated {
            let bit = 1u64.checked_shl(tag).ok_or(ParseError::Malformed)?;
            if seen & bit != 0 {
                return Err(ParseError::Malformed);
            }
            seen |= bit;
        }
        match (field.kind, wire) {
            (Kind::Unsupported, _) => return Err(ParseError::Unsupported),
            (Kind::Varint32, 0) => {
                let v = read_varint(&mut bytes)?;
                u32::try_from(v).map_err(|_| ParseError::Malformed)?;
            }
            (Kind::Varint64, 0) => {
                read_varint(&mut bytes)?;
            }
            (Kind::Bytes | Kind::Message(_), 2) => {
                let len = usize::try_from(read_varint(&mut bytes)?).map_err(|_| ParseError::Malformed)?;
                let (body, rest) = bytes.split_at_checked(len).ok_or(ParseError::Malformed)?;
                if let Kind::Message(inner) = field.kind {
                    check(body, inner)?;
                }
                bytes = rest;
            }
            _ => return Err(ParseError::Malformed),
        }
    }
    Ok(())
}

fn read_varint(bytes: &mut &[u8]) -> Result<u64, ParseError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = bytes.split_first().ok_or(ParseError::Malformed)?;
        *bytes = rest;
        if i == 9 && b > 1 {
            return Err(ParseError::Malformed);
        }
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ParseError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &[Field] = &[Field::one(1, Kind::Bytes)];
    const OUTER: &[Field] = &[
        Field::one(1, Kind::Varint64),
        Field::many(2, Kind::Message(INNER)),
        Field::one(3, Kind::Unsupported),
    ];

    #[test]
    fn accepts_repeated_fields_only_where_declared() {
        assert_eq!(
            check(&[0x08, 0x01, 0x12, 0x00, 0x12, 0x02, 0x0a, 0x00], OUTER),
            Ok(())
        );
        assert_eq!(
            check(&[0x08, 0x01, 0x08, 0x01], OUTER),
            Err(ParseError::Malformed)
        );
    }

    #[test]
    fn refuses_unknown_truncated_and_nested_garbage() {
        assert_eq!(check(&[0x20, 0x01], OUTER), Err(ParseError::Malformed));
        assert_eq!(check(&[0x12, 0x05, 0x0a], OUTER), Err(ParseError::Malformed));
        assert_eq!(
            check(&[0x12, 0x02, 0x10, 0x00], OUTER),
            Err(ParseError::Malformed)
        );
        assert_eq!(check(&[0x1a, 0x00], OUTER), Err(ParseError::Unsupported));
        assert_eq!(check(&[0x08], OUTER), Err(ParseError::Malformed));
        assert_eq!(check(&[0x10, 0x01], OUTER), Err(ParseError::Malformed));
    }
}
