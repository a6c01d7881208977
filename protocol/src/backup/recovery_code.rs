//! The 64-digit recovery code the user writes down.

use core::fmt;

use zeroize::Zeroizing;

use crate::crypto::Secret;

/// How many decimal digits a recovery code has.
pub const RECOVERY_CODE_DIGITS: usize = 64;

/// Digits per group when a code is shown.
pub const RECOVERY_CODE_GROUP: usize = 4;

/// Why typed-in text is not a recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryCodeError {
    /// A character other than a digit, a space, a tab, a line break or a dash.
    #[error("a recovery code holds only digits (spaces and dashes are ignored)")]
    InvalidCharacter,
    /// Not exactly 64 digits.
    #[error("a recovery code has 64 digits, this has {0}")]
    WrongLength(usize),
}

/// A recovery code: 64 uniformly random decimal digits (≈ 212.6 bits).
///
/// Held as ASCII digits in a [`Secret`] (zeroized on drop); `Debug` prints nothing of it. The
/// code does not carry the backup key (64 digits cannot hold 256 bits): it derives a key that
/// wraps the backup key (see [`super`]).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(Secret<RECOVERY_CODE_DIGITS>);

impl RecoveryCode {
    /// A fresh code from the caller's CSPRNG.
    ///
    /// Draws 64 bytes at a time; each byte `b < 250` gives the digit `b mod 10` (in draw order),
    /// bytes `250..=255` are skipped (rejection sampling: 250 is the largest multiple of 10 that
    /// fits a byte, so every digit is equally likely); draws 64 more bytes until there are 64
    /// digits.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut digits = Secret::new([0u8; RECOVERY_CODE_DIGITS]);
        let mut filled = 0;
        while filled < RECOVERY_CODE_DIGITS {
            let draw = Secret::<RECOVERY_CODE_DIGITS>::random(rng);
            for &b in draw.expose() {
                if b >= 250 {
                    continue;
                }
                if let Some(slot) = digits.expose_mut().get_mut(filled) {
                    *slot = b'0' + b % 10;
                    filled += 1;
                }
            }
        }
        Self(digits)
    }

    /// Parses a code as the user typed it: 64 digits, with any spaces, tabs, line breaks and
    /// dashes (ASCII `-`) between them ignored.
    pub fn parse(text: &str) -> Result<Self, RecoveryCodeError> {
        let mut digits = Secret::new([0u8; RECOVERY_CODE_DIGITS]);
        let mut count = 0usize;
        for c in text.bytes() {
            match c {
                b'0'..=b'9' => {
                    if let Some(slot) = digits.expose_mut().get_mut(count) {
                        *slot = c;
                    }
                    count += 1;
                }
                b' ' | b'\t' | b'\r' | b'\n' | b'-' => {}
                _ => return Err(RecoveryCodeError::InvalidCharacter),
            }
        }
        if count != RECOVERY_CODE_DIGITS {
            return Err(RecoveryCodeError::WrongLength(count));
        }
        Ok(Self(digits))
    }

    /// The code for display: 16 groups of 4 digits separated by single spaces. Show it to the
    /// user; never log it.
    pub fn to_grouped_string(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(
            RECOVERY_CODE_DIGITS + RECOVERY_CODE_DIGITS / RECOVERY_CODE_GROUP,
        ));
        for (i, group) in self.0.expose().chunks(RECOVERY_CODE_GROUP).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            for &d in group {
                out.push(char::from(d));
            }
        }
        out
    }

    /// The 64 ASCII digits, without separators (what the key derivation takes).
    pub fn digits(&self) -> &[u8; RECOVERY_CODE_DIGITS] {
        self.0.expose()
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays fixed bytes.
    struct Fixed(Vec<u8>, usize);

    impl rand_core::TryRng for Fixed {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            let mut b = [0u8; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            let mut b = [0u8; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for d in dst {
                *d = self.0.get(self.1).copied().unwrap_or(0);
                self.1 += 1;
            }
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Fixed {}

    #[test]
    fn rejection_sampling_skips_high_bytes_and_draws_again() {
        // First draw: 250..=255 and 0..=57 (58 digits); second draw supplies the last 6.
        let mut bytes: Vec<u8> = (250..=255).collect();
        bytes.extend(0u8..58);
        bytes.extend([249u8, 10, 21, 255, 32, 43, 54]);
        bytes.resize(128, 0);
        let code = RecoveryCode::generate(&mut Fixed(bytes, 0));
        let mut want: Vec<u8> = (0u8..58).map(|b| b'0' + b % 10).collect();
        want.extend(b"901234");
        assert_eq!(code.digits().as_slice(), want.as_slice());
    }

    #[test]
    fn grouped_display_parses_back_and_separators_are_ignored() {
        let code = RecoveryCode::parse(&"0123456789".repeat(7)[..64]).unwrap();
        let shown = code.to_grouped_string();
        assert_eq!(shown.len(), 64 + 15);
        assert!(shown.starts_with("0123 4567 8901 "));
        assert_eq!(RecoveryCode::parse(&shown).unwrap(), code);
        let dashed = shown.replace(' ', "-");
        assert_eq!(RecoveryCode::parse(&format!("  {dashed}\n")).unwrap(), code);
        assert_eq!(
            RecoveryCode::parse("12a4"),
            Err(RecoveryCodeError::InvalidCharacter)
        );
        assert_eq!(
            RecoveryCode::parse("1234 5678"),
            Err(RecoveryCodeError::WrongLength(8))
        );
        assert_eq!(
            RecoveryCode::parse(&"1".repeat(65)),
            Err(RecoveryCodeError::WrongLength(65))
        );
        assert_eq!(format!("{code:?}"), "RecoveryCode(redacted)");
    }
}
