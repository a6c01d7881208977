//! The message that points at a blob: kind, key, digest, where to fetch it, and what to show.
//!
//! A protobuf whose field numbers are WhatsApp's `ImageMessage` numbers where that message has
//! the field (and `DocumentMessage`'s otherwise), plus four tandem fields at 50–53 that neither
//! uses (see `spec/07-media.md`):
//!
//! | field | name | type | |
//! |---|---|---|---|
//! | 1 | `url` | string | optional |
//! | 2 | `mimetype` | string | optional |
//! | 3 | `caption` | string | optional |
//! | 4 | `file_sha256` | bytes (32) | required |
//! | 5 | `file_length` | uint64 | required |
//! | 6 | `height` | uint32 | optional |
//! | 7 | `width` | uint32 | optional |
//! | 8 | `media_key` | bytes (32) | required |
//! | 9 | `file_enc_sha256` | bytes (32) | required |
//! | 11 | `direct_path` | string | optional |
//! | 12 | `media_key_timestamp` | int64 | optional |
//! | 16 | `jpeg_thumbnail` | bytes | optional |
//! | 50 | `kind` | uint32 ([`MediaKind::wire_number`]) | required |
//! | 51 | `file_name` | string | optional (`DocumentMessage` field 8, taken here by `media_key`) |
//! | 52 | `streaming_sidecar` | bytes (10 per 64 KiB chunk) | optional (`VideoMessage` field 18) |
//! | 53 | `seconds` | uint32 | optional (`VideoMessage`/`AudioMessage` field 5) |
//!
//! Parsing is strict: unknown fields, a field twice, truncation, invalid UTF-8 and wrong
//! lengths are refused with a typed [`PointerError`].

use zeroize::Zeroize;

use crate::wire::strict::{WireType, check_fields};

use super::{MediaDigest, MediaError, MediaKey, MediaKind, Sidecar};

/// Why pointer bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointerError {
    /// Not well-formed protobuf of this message: truncated, too large, an unknown or repeated
    /// field, a value of the wrong wire type, or a string that is not UTF-8.
    #[error("malformed media pointer")]
    Malformed,
    /// A required field is absent.
    #[error("media pointer lacks field `{0}`")]
    MissingField(&'static str),
    /// The kind number is not one tandem knows.
    #[error("unknown media kind {0}")]
    UnknownKind(u32),
    /// The media key is not 32 bytes.
    #[error("media key must be 32 bytes")]
    BadKeyLength,
    /// A hash is not 32 bytes.
    #[error("hash must be 32 bytes")]
    BadHashLength,
    /// The sidecar is not exactly 10 bytes per 64 KiB chunk of the blob `file_length` implies.
    #[error("sidecar does not fit the file length")]
    BadSidecar,
}

/// The protobuf as it travels (see the module docs for the fields).
#[derive(Clone, PartialEq, prost::Message)]
struct MediaPointerProto {
    #[prost(string, optional, tag = "1")]
    url: Option<String>,
    #[prost(string, optional, tag = "2")]
    mimetype: Option<String>,
    #[prost(string, optional, tag = "3")]
    caption: Option<String>,
    #[prost(bytes = "vec", optional, tag = "4")]
    file_sha256: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "5")]
    file_length: Option<u64>,
    #[prost(uint32, optional, tag = "6")]
    height: Option<u32>,
    #[prost(uint32, optional, tag = "7")]
    width: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "8")]
    media_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "9")]
    file_enc_sha256: Option<Vec<u8>>,
    #[prost(string, optional, tag = "11")]
    direct_path: Option<String>,
    #[prost(int64, optional, tag = "12")]
    media_key_timestamp: Option<i64>,
    #[prost(bytes = "vec", optional, tag = "16")]
    jpeg_thumbnail: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "50")]
    kind: Option<u32>,
    #[prost(string, optional, tag = "51")]
    file_name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "52")]
    streaming_sidecar: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "53")]
    seconds: Option<u32>,
}

const FIELDS: &[(u32, WireType)] = &[
    (1, WireType::Bytes),
    (2, WireType::Bytes),
    (3, WireType::Bytes),
    (4, WireType::Bytes),
    (5, WireType::Varint64),
    (6, WireType::Varint),
    (7, WireType::Varint),
    (8, WireType::Bytes),
    (9, WireType::Bytes),
    (11, WireType::Bytes),
    (12, WireType::Varint64),
    (16, WireType::Bytes),
    (50, WireType::Varint),
    (51, WireType::Bytes),
    (52, WireType::Bytes),
    (53, WireType::Varint),
];

/// A pointer to an encrypted blob: everything a receiver needs to fetch, check and decrypt it.
/// The media key zeroizes on drop and `Debug` does not print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaPointer {
    /// What the blob is (decides the key expansion).
    pub kind: MediaKind,
    /// The blob's media key.
    pub media_key: MediaKey,
    /// The plaintext and blob hashes and the plaintext length.
    pub digest: MediaDigest,
    /// Per-chunk MACs for seekable playback, if the sender made them.
    pub streaming_sidecar: Option<Sidecar>,
    /// Where the blob is kept (the server's path); tandem's blob stores name blobs by
    /// `file_enc_sha256` instead.
    pub direct_path: Option<String>,
    /// A full URL for the blob.
    pub url: Option<String>,
    /// The plaintext's MIME type.
    pub mimetype: Option<String>,
    /// A caption shown with the media.
    pub caption: Option<String>,
    /// The file's name (documents).
    pub file_name: Option<String>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Duration in seconds (audio, video).
    pub seconds: Option<u32>,
    /// When the media key was made (seconds since the Unix epoch), as the sender states it.
    pub media_key_timestamp: Option<i64>,
    /// A small preview image, in clear inside the (encrypted) message.
    pub jpeg_thumbnail: Option<Vec<u8>>,
}

impl MediaPointer {
    /// A pointer with only the required fields.
    pub fn new(kind: MediaKind, media_key: MediaKey, digest: MediaDigest) -> Self {
        Self {
            kind,
            media_key,
            digest,
            streaming_sidecar: None,
            direct_path: None,
            url: None,
            mimetype: None,
            caption: None,
            file_name: None,
            height: None,
            width: None,
            seconds: None,
            media_key_timestamp: None,
            jpeg_thumbnail: None,
        }
    }

    /// Decrypts `blob` with this pointer's kind, key and digest (see [`super::decrypt`]).
    pub fn decrypt(&self, blob: &[u8]) -> Result<Vec<u8>, MediaError> {
        super::decrypt(self.kind, &self.media_key, blob, &self.digest)
    }

    /// The protobuf encoding (fields in number order). The buffer that held the key while
    /// encoding is zeroized; the returned bytes hold the key, so treat them as secret.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut proto = MediaPointerProto {
            url: self.url.clone(),
            mimetype: self.mimetype.clone(),
            caption: self.caption.clone(),
            file_sha256: Some(self.digest.file_sha256.to_vec()),
            file_length: Some(self.digest.file_length),
            height: self.height,
            width: self.width,
            media_key: Some(self.media_key.expose().to_vec()),
            file_enc_sha256: Some(self.digest.file_enc_sha256.to_vec()),
            direct_path: self.direct_path.clone(),
            media_key_timestamp: self.media_key_timestamp,
            jpeg_thumbnail: self.jpeg_thumbnail.clone(),
            kind: Some(self.kind.wire_number()),
            file_name: self.file_name.clone(),
            streaming_sidecar: self.streaming_sidecar.as_ref().map(|s| s.as_bytes().to_vec()),
            seconds: self.seconds,
        };
        let bytes = prost::Message::encode_to_vec(&proto);
        proto.media_key.zeroize();
        bytes
    }

    /// Parses and checks pointer bytes (strictly: see the module docs).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PointerError> {
        if bytes.len() > crate::consts::MAX_MESSAGE_BYTES {
            return Err(PointerError::Malformed);
        }
        check_fields(bytes, FIELDS).map_err(|_| PointerError::Malformed)?;
        let mut proto: MediaPointerProto =
            prost::Message::decode(bytes).map_err(|_| PointerError::Malformed)?;
        let raw_key = zeroize::Zeroizing::new(proto.media_key.take());
        let number = proto.kind.ok_or(PointerError::MissingField("kind"))?;
        let kind = MediaKind::from_wire_number(number).ok_or(PointerError::UnknownKind(number))?;
        let media_key = raw_key
            .as_deref()
            .ok_or(PointerError::MissingField("media_key"))?;
        let media_key = MediaKey::from_bytes(media_key).map_err(|_| PointerError::BadKeyLength)?;
        let hash = |field: Option<Vec<u8>>, name: &'static str| -> Result<[u8; 32], PointerError> {
            field
                .ok_or(PointerError::MissingField(name))?
                .as_slice()
                .try_into()
                .map_err(|_| PointerError::BadHashLength)
        };
        let digest = MediaDigest {
            file_sha256: hash(proto.file_sha256.take(), "file_sha256")?,
            file_enc_sha256: hash(proto.file_enc_sha256.take(), "file_enc_sha256")?,
            file_length: proto
                .file_length
                .ok_or(PointerError::MissingField("file_length"))?,
        };
        let streaming_sidecar = match proto.streaming_sidecar.take() {
            None => None,
            Some(bytes) => {
                let sidecar = Sidecar::from_bytes(bytes).map_err(|_| PointerError::BadSidecar)?;
                let blob_length = (digest.file_length / 16)
                    .checked_add(1)
                    .and_then(|blocks| blocks.checked_mul(16))
                    .and_then(|enc| enc.checked_add(super::MAC_LENGTH as u64));
                if blob_length.and_then(Sidecar::chunks_for_blob) != Some(sidecar.chunk_count()) {
                    return Err(PointerError::BadSidecar);
                }
                Some(sidecar)
            }
        };
        Ok(Self {
            kind,
            media_key,
            digest,
            streaming_sidecar,
            direct_path: proto.direct_path,
            url: proto.url,
            mimetype: proto.mimetype,
            caption: proto.caption,
            file_name: proto.file_name,
            height: proto.height,
            width: proto.width,
            seconds: proto.seconds,
            media_key_timestamp: proto.media_key_timestamp,
            jpeg_thumbnail: proto.jpeg_thumbnail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer() -> MediaPointer {
        let key = MediaKey::from([7u8; 32]);
        let (_, digest) = super::super::encrypt(MediaKind::Image, &key, b"photo");
        MediaPointer::new(MediaKind::Image, key, digest)
    }

    #[test]
    fn debug_hides_the_key() {
        let printed = format!("{:?}", pointer());
        assert!(printed.contains("MediaKey(redacted)"));
        assert!(!printed.contains("7, 7, 7"));
    }

    #[test]
    fn refuses_unknown_and_repeated_fields() {
        let bytes = pointer().to_bytes();
        let mut extra = bytes.clone();
        extra.extend_from_slice(&[0x50, 0x01]); // field 10 (varint): unknown
        assert_eq!(MediaPointer::from_bytes(&extra), Err(PointerError::Malformed));
        let mut twice = bytes.clone();
        twice.extend_from_slice(&[0x30, 0x01]); // field 6 once…
        twice.extend_from_slice(&[0x30, 0x02]); // …and again
        assert_eq!(MediaPointer::from_bytes(&twice), Err(PointerError::Malformed));
        assert_eq!(MediaPointer::from_bytes(&bytes), Ok(pointer()));
    }
}
