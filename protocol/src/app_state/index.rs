//! Mutation indexes: a JSON array of strings, e.g. `["mute","123@s.whatsapp.net"]`.
//!
//! The index MAC is computed over the exact JSON bytes, so every writer must produce the same
//! bytes: tandem writes what JavaScript's `JSON.stringify` writes for an array of strings (WA
//! Web's encoder): no whitespace; `"` and `\` escaped with a backslash; U+0008, U+0009, U+000A,
//! U+000C, U+000D as `\b \t \n \f \r`; other code points below U+0020 as `\u00xx` (lowercase
//! hex); everything else as raw UTF-8. When reading, any valid JSON array of strings is taken
//! (the MAC is checked over the bytes as received, whatever their spelling).

use super::{MAX_INDEX_BYTES, MAX_INDEX_PARTS};

/// Encodes index parts as `JSON.stringify` does.
pub fn encode_index(parts: &[String]) -> Vec<u8> {
    let mut out = String::with_capacity(2 + parts.iter().map(|p| p.len() + 3).sum::<usize>());
    out.push('[');
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in part.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{08}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{0C}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out.into_bytes()
}

/// Parses a JSON array of strings, within the index bounds. `None` if it is anything else.
pub fn parse_index(bytes: &[u8]) -> Option<Vec<String>> {
    if bytes.len() > MAX_INDEX_BYTES {
        return None;
    }
    let text = core::str::from_utf8(bytes).ok()?;
    let mut p = Parser {
        chars: text.chars().peekable(),
    };
    p.ws();
    p.expect('[')?;
    p.ws();
    let mut parts = Vec::new();
    if p.eat(']') {
        p.ws();
        return p.at_end().then_some(parts);
    }
    loop {
        parts.push(p.string()?);
        if parts.len() > MAX_INDEX_PARTS {
            return None;
        }
        p.ws();
        if p.eat(',') {
            p.ws();
            continue;
        }
        p.expect(']')?;
        p.ws();
        return p.at_end().then_some(parts);
    }
}

struct Parser<'a> {
    chars: core::iter::Peekable<core::str::Chars<'a>>,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.chars.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.chars.next();
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.chars.peek() == Some(&c) {
            self.chars.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn at_end(&mut self) -> bool {
        self.chars.peek().is_none()
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 4) | self.chars.next()?.to_digit(16)?;
        }
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut s = String::new();
        loop {
            match self.chars.next()? {
                '"' => return Some(s),
                '\\' => match self.chars.next()? {
                    '"' => s.push('"'),
                    '\\' => s.push('\\'),
                    '/' => s.push('/'),
                    'b' => s.push('\u{08}'),
                    'f' => s.push('\u{0C}'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'u' => {
                        let hi = self.hex4()?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            self.expect('\\')?;
                            self.expect('u')?;
                            let lo = self.hex4()?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return None;
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        s.push(char::from_u32(code)?);
                    }
                    _ => return None,
                },
                c if u32::from(c) < 0x20 => return None,
                c => s.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn encodes_like_json_stringify() {
        // Expected strings as JavaScript's JSON.stringify writes them (checked by hand against
        // ECMA-262 QuoteJSONString).
        assert_eq!(
            encode_index(&parts(&["mute", "1@s.whatsapp.net"])),
            br#"["mute","1@s.whatsapp.net"]"#
        );
        assert_eq!(
            encode_index(&parts(&["setting_pushName"])),
            br#"["setting_pushName"]"#
        );
        assert_eq!(encode_index(&[]), b"[]");
        assert_eq!(
            encode_index(&parts(&["a\"b\\c\n\u{1}\u{7f}é/"])),
            "[\"a\\\"b\\\\c\\n\\u0001\u{7f}é/\"]".as_bytes()
        );
    }

    #[test]
    fn parses_json_spellings_and_round_trips() {
        let p = parts(&["star", "x\u{1F600}y", "\n"]);
        assert_eq!(parse_index(&encode_index(&p)), Some(p.clone()));
        assert_eq!(
            parse_index(br#" [ "star" , "x\ud83d\ude00y" , "\u000a" ] "#),
            Some(p)
        );
        for bad in [
            &b"[1]"[..],
            b"[\"a\"",
            b"[\"a\",]",
            b"{}",
            b"[\"\\ud800\"]",
            b"[\"\x01\"]",
            b"[] x",
            b"[\"\\x\"]",
        ] {
            assert_eq!(parse_index(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
