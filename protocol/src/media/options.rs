//! How the `_with` media functions spend threads.

/// Where a media call computes the hashes that do not feed the cipher: the SHA-256 of the
/// plaintext, the SHA-256 of the blob and the HMAC.
///
/// The choice changes only speed and threads, never the bytes written, the digest returned or
/// the error reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Hashing {
    /// Everything on the calling thread, one 64 KiB piece at a time (the default; the library
    /// starts no thread).
    #[default]
    Inline,
    /// Each of the three hashes on its own scoped worker thread (`std::thread::scope`), fed
    /// pieces of [`THREADED_PIECE`](super::THREADED_PIECE) bytes through bounded channels, while
    /// the calling thread reads, runs AES-CBC and writes. The workers end before the call
    /// returns. Memory stays bounded (a few MiB, whatever the size). Pays off for large media on
    /// a machine with idle cores; costs about three thread starts per call. If a thread cannot
    /// be started, that hash runs on the calling thread instead.
    Threads,
}

/// Options for the `_with` media functions ([`encrypt_with`](super::encrypt_with),
/// [`encrypt_stream_with`](super::encrypt_stream_with), …). `MediaOptions::default()` is what the
/// plain functions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct MediaOptions {
    /// Where the hashes are computed.
    pub hashing: Hashing,
}

impl MediaOptions {
    /// Everything on the calling thread (the default).
    pub const INLINE: Self = Self {
        hashing: Hashing::Inline,
    };

    /// Hashes on worker threads ([`Hashing::Threads`]).
    pub const THREADED: Self = Self {
        hashing: Hashing::Threads,
    };

    /// These options with `hashing` instead.
    #[must_use]
    pub const fn with_hashing(mut self, hashing: Hashing) -> Self {
        self.hashing = hashing;
        self
    }

    pub(super) const fn threaded(&self) -> bool {
        matches!(self.hashing, Hashing::Threads)
    }
}
