//! zlib (RFC 1950) for chunk plaintexts, with a hard limit on what decompression may produce.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::{Compression, Decompress, FlushDecompress, Status};
use zeroize::Zeroizing;

/// Why compressed bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// More than the limit would come out.
    TooLarge,
    /// Not one complete zlib stream (bad header, corrupt data, bad checksum, truncated, or
    /// bytes after its end).
    Malformed,
}

/// zlib at the default level (6).
pub(crate) fn compress(plain: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(plain.len() / 2), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(plain);
    Zeroizing::new(encoder.finish().unwrap_or_default())
}

/// Inflates one complete zlib stream that must end exactly at the end of `input`, refusing as
/// soon as the output would exceed `limit` bytes (memory never grows past `limit + 1` bytes).
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Zeroizing<Vec<u8>>, InflateError> {
    let mut inflater = Decompress::new(true);
    let mut out = Zeroizing::new(Vec::with_capacity(
        input
            .len()
            .saturating_mul(4)
            .max(1024)
            .min(limit.saturating_add(1)),
    ));
    loop {
        if out.len() > limit {
            return Err(InflateError::TooLarge);
        }
        if out.len() == out.capacity() {
            let room = out.capacity().max(1024).min(limit.saturating_add(1) - out.len());
            let mut bigger = Zeroizing::new(Vec::with_capacity(out.len() + room));
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
        let consumed = usize::try_from(before_in).map_err(|_| InflateError::Malformed)?;
        let rest = input.get(consumed..).ok_or(InflateError::Malformed)?;
        let status = inflater
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(|_| InflateError::Malformed)?;
        if status == Status::StreamEnd {
            break;
        }
        let stalled = inflater.total_in() == before_in && inflater.total_out() == before_out;
        if stalled && out.len() < out.capacity() {
            // No progress with room to write: the input ended inside the stream.
            return Err(InflateError::Malformed);
        }
    }
    if out.len() > limit {
        return Err(InflateError::TooLarge);
    }
    if usize::try_from(inflater.total_in()).ok() != Some(input.len()) {
        return Err(InflateError::Malformed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let plain: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let z = compress(&plain);
        assert_eq!(decompress(&z, plain.len()).unwrap().as_slice(), plain.as_slice());
        assert_eq!(decompress(&z, plain.len() - 1), Err(InflateError::TooLarge));
        assert_eq!(decompress(&compress(b""), 0).unwrap().len(), 0);
        for n in (0..z.len()).filter(|n| *n < 64 || n % 97 == 0 || *n > z.len() - 64) {
            assert_eq!(
                decompress(&z[..n], plain.len()),
                Err(InflateError::Malformed),
                "prefix {n}"
            );
        }
        let mut trailing = z.to_vec();
        trailing.push(0);
        assert_eq!(decompress(&trailing, plain.len()), Err(InflateError::Malformed));
        let mut flipped = z.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1; // the Adler-32 checksum
        assert_eq!(decompress(&flipped, plain.len()), Err(InflateError::Malformed));
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let bomb = compress(&vec![0u8; 8 << 20]);
        assert!(bomb.len() < 20_000);
        assert_eq!(decompress(&bomb, 1 << 20), Err(InflateError::TooLarge));
    }
}
