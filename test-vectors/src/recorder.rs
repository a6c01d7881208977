//! A random source for the generators that logs every draw tandem makes, so that a generated
//! file can name (and check) each one.

use std::convert::Infallible;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, TryCryptoRng, TryRng};

/// Draws from a seeded ChaCha20 and keeps each draw, in order.
pub(crate) struct Recorder<'a> {
    /// The seeded source.
    pub(crate) inner: &'a mut ChaCha20Rng,
    /// The draws not yet taken by the generator.
    pub(crate) draws: Vec<Vec<u8>>,
}

impl<'a> Recorder<'a> {
    /// A recorder over `inner`, with nothing drawn yet.
    pub(crate) fn new(inner: &'a mut ChaCha20Rng) -> Self {
        Self {
            inner,
            draws: Vec::new(),
        }
    }
}

impl TryRng for Recorder<'_> {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        self.draws.push(dst.to_vec());
        Ok(())
    }
}

impl TryCryptoRng for Recorder<'_> {}
