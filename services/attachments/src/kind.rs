//! What a file is, by its bytes: the part's declared content type and the file name are never
//! asked.

/// The kinds of file accepted as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Jpeg,
    Png,
    Webp,
    Mp4,
}

/// How many leading bytes [`sniff`] needs to tell every accepted kind apart (an MP4's `ftyp`
/// brand ends at byte 12; a WebP's `WEBP` at byte 12).
pub const SNIFF_BYTES: usize = 16;

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Jpeg, Kind::Png, Kind::Webp, Kind::Mp4];

    /// The content type it is stored and served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
            Kind::Mp4 => "video/mp4",
        }
    }

    /// The kind stored with `content_type` (reading the index back).
    pub fn from_content_type(content_type: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.content_type() == content_type)
    }

    pub fn is_image(self) -> bool {
        match self {
            Kind::Jpeg | Kind::Png | Kind::Webp => true,
            Kind::Mp4 => false,
        }
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Webp => "WebP",
            Kind::Mp4 => "MP4",
        }
    }
}

/// What the bytes are, when they are not one of the accepted kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unrecognised {
    /// Another known type, e.g. `application/pdf` or `video/quicktime`.
    #[error("the file is {0} by its bytes; only JPEG, PNG and WebP photos and MP4 videos are accepted")]
    Other(&'static str),
    #[error("the file's bytes are not a JPEG, PNG or WebP photo or an MP4 video")]
    Unknown,
}

/// The kind of `head` (the file's first bytes, at least [`SNIFF_BYTES`] of them when the file
/// is that long), by magic numbers.
pub fn sniff(head: &[u8]) -> Result<Kind, Unrecognised> {
    match infer::get(head) {
        Some(t) => match t.mime_type() {
            "image/jpeg" => Ok(Kind::Jpeg),
            "image/png" => Ok(Kind::Png),
            "image/webp" => Ok(Kind::Webp),
            "video/mp4" => Ok(Kind::Mp4),
            other => Err(Unrecognised::Other(other)),
        },
        None => Err(Unrecognised::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_told_by_its_magic_number() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0]), Ok(Kind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Ok(Kind::Png));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Ok(Kind::Webp));
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\x02\0"), Ok(Kind::Mp4));
    }

    #[test]
    fn text_and_other_types_are_not_accepted() {
        assert_eq!(sniff(b"just some text, called photo.jpg"), Err(Unrecognised::Unknown));
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Err(Unrecognised::Other("application/pdf")));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), Err(Unrecognised::Other("video/quicktime")));
        assert_eq!(sniff(b""), Err(Unrecognised::Unknown));
    }

    #[test]
    fn content_types_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_content_type(kind.content_type()), Some(kind));
        }
        assert_eq!(Kind::from_content_type("text/html"), None);
    }
}
