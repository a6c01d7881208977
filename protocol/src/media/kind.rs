//! What a blob is (image, video, history chunk, …), which decides its HKDF info string.

/// The kind of a media blob. Each kind has WhatsApp's HKDF info string, so the same media key
/// gives different keys for different kinds, and a blob decrypted as the wrong kind fails its
/// MAC check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MediaKind {
    /// A photo: `"WhatsApp Image Keys"`.
    Image,
    /// A video (also GIFs and round video notes): `"WhatsApp Video Keys"`.
    Video,
    /// Audio and voice notes: `"WhatsApp Audio Keys"`.
    Audio,
    /// Any other file: `"WhatsApp Document Keys"`.
    Document,
    /// A single sticker. WhatsApp encrypts stickers as images: `"WhatsApp Image Keys"`.
    Sticker,
    /// A sticker-pack archive: `"WhatsApp Sticker Pack Keys"`.
    StickerPack,
    /// A history-sync chunk for a newly linked device: `"WhatsApp History Keys"`.
    History,
    /// An app-state snapshot or patch blob: `"WhatsApp App State Keys"`.
    AppState,
    /// The thumbnail of a link preview: `"WhatsApp Link Thumbnail Keys"`.
    LinkThumbnail,
    /// The thumbnail of an image: `"WhatsApp Image Thumbnail Keys"`.
    ImageThumbnail,
    /// The thumbnail of a video: `"WhatsApp Video Thumbnail Keys"`.
    VideoThumbnail,
    /// The thumbnail of a document: `"WhatsApp Document Thumbnail Keys"`.
    DocumentThumbnail,
    /// A payment background image: `"WhatsApp Payment Background Keys"`.
    PaymentBackground,
}

impl MediaKind {
    /// Every kind, in the order of their wire numbers (see [`MediaKind::wire_number`]).
    pub const ALL: [MediaKind; 13] = [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::Document,
        MediaKind::Sticker,
        MediaKind::StickerPack,
        MediaKind::History,
        MediaKind::AppState,
        MediaKind::LinkThumbnail,
        MediaKind::ImageThumbnail,
        MediaKind::VideoThumbnail,
        MediaKind::DocumentThumbnail,
        MediaKind::PaymentBackground,
    ];

    /// The HKDF info string WhatsApp uses for this kind (whatsmeow `MediaType`, Baileys
    /// `MEDIA_HKDF_KEY_MAPPING`).
    pub const fn info(self) -> &'static str {
        match self {
            MediaKind::Image | MediaKind::Sticker => "WhatsApp Image Keys",
            MediaKind::Video => "WhatsApp Video Keys",
            MediaKind::Audio => "WhatsApp Audio Keys",
            MediaKind::Document => "WhatsApp Document Keys",
            MediaKind::StickerPack => "WhatsApp Sticker Pack Keys",
            MediaKind::History => "WhatsApp History Keys",
            MediaKind::AppState => "WhatsApp App State Keys",
            MediaKind::LinkThumbnail => "WhatsApp Link Thumbnail Keys",
            MediaKind::ImageThumbnail => "WhatsApp Image Thumbnail Keys",
            MediaKind::VideoThumbnail => "WhatsApp Video Thumbnail Keys",
            MediaKind::DocumentThumbnail => "WhatsApp Document Thumbnail Keys",
            MediaKind::PaymentBackground => "WhatsApp Payment Background Keys",
        }
    }

    /// WhatsApp's upload path segment for this kind (`/mms/<type>/…`).
    pub const fn mms_type(self) -> &'static str {
        match self {
            MediaKind::Image | MediaKind::Sticker => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::StickerPack => "sticker-pack",
            MediaKind::History => "md-msg-hist",
            MediaKind::AppState => "md-app-state",
            MediaKind::LinkThumbnail => "thumbnail-link",
            MediaKind::ImageThumbnail => "thumbnail-image",
            MediaKind::VideoThumbnail => "thumbnail-video",
            MediaKind::DocumentThumbnail => "thumbnail-document",
            MediaKind::PaymentBackground => "payment-bg-image",
        }
    }

    /// A short lowercase name (`"image"`, `"app-state"`, …), used in vector files.
    pub const fn name(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
            MediaKind::StickerPack => "sticker-pack",
            MediaKind::History => "history",
            MediaKind::AppState => "app-state",
            MediaKind::LinkThumbnail => "link-thumbnail",
            MediaKind::ImageThumbnail => "image-thumbnail",
            MediaKind::VideoThumbnail => "video-thumbnail",
            MediaKind::DocumentThumbnail => "document-thumbnail",
            MediaKind::PaymentBackground => "payment-background",
        }
    }

    /// The kind with this [`MediaKind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The number that stands for this kind in a [`MediaPointer`](super::MediaPointer)
    /// (field 100): 1 for `Image` up to 13 for `PaymentBackground`, in [`MediaKind::ALL`] order.
    /// 0 is never used, so a missing or zero field is refused.
    pub const fn wire_number(self) -> u32 {
        match self {
            MediaKind::Image => 1,
            MediaKind::Video => 2,
            MediaKind::Audio => 3,
            MediaKind::Document => 4,
            MediaKind::Sticker => 5,
            MediaKind::StickerPack => 6,
            MediaKind::History => 7,
            MediaKind::AppState => 8,
            MediaKind::LinkThumbnail => 9,
            MediaKind::ImageThumbnail => 10,
            MediaKind::VideoThumbnail => 11,
            MediaKind::DocumentThumbnail => 12,
            MediaKind::PaymentBackground => 13,
        }
    }

    /// The kind with this wire number.
    pub fn from_wire_number(n: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.wire_number() == n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for k in MediaKind::ALL {
            assert_eq!(MediaKind::from_name(k.name()), Some(k));
            assert_eq!(MediaKind::from_wire_number(k.wire_number()), Some(k));
            assert!(k.info().starts_with("WhatsApp ") && k.info().ends_with(" Keys"));
        }
        assert_eq!(MediaKind::from_wire_number(0), None);
    }
}
