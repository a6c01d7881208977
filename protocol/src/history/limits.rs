//! Bounds of history sync, each with its reason, and the packager's chunk-size target.

/// The most chunks one sync may have (100,000).
///
/// Far above real histories (100,000 messages make about 50 chunks at the default target), and
/// a bound on the importer's state: a hostile notification cannot make it track billions of
/// chunk numbers.
pub const MAX_CHUNK_COUNT: u32 = 100_000;

/// The largest decompressed chunk the importer accepts: 32 MiB.
///
/// The decompression-bomb guard: zlib inflates up to about 1000:1, so a small blob could
/// otherwise expand to gigabytes. The packager's byte target is at most half of this, so an
/// honest chunk never comes near it.
pub const MAX_CHUNK_BYTES: usize = 32 << 20;

/// The largest blob (compressed chunk) a notification may announce: 32 MiB.
///
/// Zlib output exceeds its input by at most a few bytes per 16 KiB, so an honest chunk of at
/// most 16 MiB compresses to far less; a larger `file_length` is refused before downloading.
pub const MAX_BLOB_BYTES: u64 = 32 << 20;

/// How the packager cuts history into chunks: a chunk closes when it holds `max_messages`
/// messages or when the next item would take its estimated encoded size past `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Messages per chunk, at least 1.
    pub max_messages: usize,
    /// Estimated protobuf bytes per chunk before compression, 1 KiB ..= 16 MiB. A single item
    /// larger than this gets a chunk of its own (up to [`MAX_CHUNK_BYTES`]).
    pub max_bytes: usize,
}

impl ChunkLimits {
    /// The smallest byte target accepted.
    pub const MIN_BYTES: usize = 1 << 10;
    /// The largest byte target accepted (half of [`MAX_CHUNK_BYTES`]).
    pub const MAX_BYTES: usize = MAX_CHUNK_BYTES / 2;

    /// Whether the limits are within range.
    pub fn is_valid(&self) -> bool {
        self.max_messages >= 1 && (Self::MIN_BYTES..=Self::MAX_BYTES).contains(&self.max_bytes)
    }
}

impl Default for ChunkLimits {
    /// 2,000 messages or 1 MiB, whichever comes first.
    fn default() -> Self {
        Self {
            max_messages: 2_000,
            max_bytes: 1 << 20,
        }
    }
}
