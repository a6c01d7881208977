//! The one type for secret bytes.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// `N` secret bytes: zeroized on drop, never printed, compared only in constant time.
///
/// Every key, chain key, message key and shared secret in tandem is held in a `Secret`. It is
/// deliberately not `Copy`; `Clone` makes a second value that is zeroized on its own drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret<const N: usize>([u8; N]);

impl<const N: usize> Secret<N> {
    /// Wraps bytes as a secret. The caller's array is copied; zeroize it if it was secret too.
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// Draws `N` fresh random bytes from the caller's CSPRNG.
    pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; N];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Borrows the secret bytes. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }

    /// Mutable access, for filling a secret in place without a stray copy.
    pub(crate) fn expose_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> From<[u8; N]> for Secret<N> {
    fn from(bytes: [u8; N]) -> Self {
        Self(bytes)
    }
}

impl<const N: usize> ConstantTimeEq for Secret<N> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl<const N: usize> PartialEq for Secret<N> {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.ct_eq(other))
    }
}

impl<const N: usize> Eq for Secret<N> {}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret<{N}>(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_bytes() {
        let s = Secret::new([0xAB; 32]);
        let printed = format!("{s:?} {s:#?}");
        assert_eq!(printed, "Secret<32>(redacted) Secret<32>(redacted)");
        assert!(!printed.to_lowercase().contains("ab, ") && !printed.contains("171"));
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(Secret::new([1u8; 4]), Secret::new([1u8; 4]));
        assert_ne!(Secret::new([1u8; 4]), Secret::new([1, 1, 1, 2]));
    }

    #[test]
    fn zeroize_clears_bytes() {
        let mut s = Secret::new([7u8; 16]);
        s.zeroize();
        assert_eq!(s.expose(), &[0u8; 16]);
    }
}
