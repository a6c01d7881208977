//! Which sync a chunk belongs to, and what kind of sync it is.

use core::fmt;

/// A random 16-byte id the primary draws for one history sync; every chunk and notification of
/// that sync carries it, so chunks of two syncs never mix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyncId(pub [u8; 16]);

impl SyncId {
    /// A fresh id from the caller's CSPRNG.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Self(id)
    }
}

impl fmt::Debug for SyncId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncId(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// What a sync carries (WhatsApp's `HistorySync.HistorySyncType`, same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HistorySyncType {
    /// The first, small sync right after linking (recent chats).
    InitialBootstrap = 0,
    /// Status updates.
    InitialStatusV3 = 1,
    /// The full history.
    Full = 2,
    /// Recent messages.
    Recent = 3,
    /// Contacts' display names only.
    PushName = 4,
    /// Data that does not block the companion's first use.
    NonBlockingData = 5,
    /// Older history the companion asked for.
    OnDemand = 6,
}

impl HistorySyncType {
    /// The wire number.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The type with this wire number.
    pub const fn from_number(n: u32) -> Option<Self> {
        Some(match n {
            0 => Self::InitialBootstrap,
            1 => Self::InitialStatusV3,
            2 => Self::Full,
            3 => Self::Recent,
            4 => Self::PushName,
            5 => Self::NonBlockingData,
            6 => Self::OnDemand,
            _ => return None,
        })
    }
}
