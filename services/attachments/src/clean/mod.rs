//! Taking out what a file says about where, when and with what it was made, before it is
//! stored: a photo's EXIF holds the GPS position (of an officer's home, too) and the phone's
//! make and serial number.
//!
//! Images are stripped losslessly rather than re-encoded: the picture's bytes are copied as
//! the camera wrote them (evidence keeps its pixels, with no generation of JPEG loss; a WebP
//! would otherwise have to be re-encoded lossless, several times larger), and the work is a
//! walk over the file's structure in one pass, bounded by its size. Each format keeps a short
//! list of the parts that make the picture and drops everything else, so a metadata kind not
//! thought of here is dropped too. A JPEG's orientation survives as the only EXIF tag.
//!
//! Videos are neutralised in place (see [`mp4`]). Every kind is refused when its structure is
//! broken, and an image when its header is not readable or it has more pixels than
//! [`MAX_PIXELS`] (a small file can declare a picture that takes gigabytes to show).

pub mod jpeg;
pub mod mp4;
pub mod png;
pub mod webp;

use sha2::{Digest, Sha256};

use crate::kind::Kind;

/// Longest side of an accepted image (WebP's own limit is 16383).
pub const MAX_SIDE: u32 = 16_384;
/// Most pixels of an accepted image: 120 megapixels, above any phone camera's full resolution.
pub const MAX_PIXELS: u64 = 120_000_000;

/// Why a file that looked like an accepted kind was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the bytes start like a {kind} file but are not a well-formed one: {reason}")]
    Malformed { kind: &'static str, reason: String },
    #[error(
        "the video has a timed metadata track (handler {0:?}), which can hold GPS positions; only video and \
         sound tracks are accepted"
    )]
    MetadataTrack(String),
    #[error("the photo is {width}×{height} pixels; at most {MAX_SIDE} a side and {MAX_PIXELS} pixels in all")]
    TooManyPixels { width: u32, height: u32 },
}

/// A file ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub kind: Kind,
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes` (what is stored and served).
    pub sha256: String,
    /// An image's width and height.
    pub dimensions: Option<(u32, u32)>,
}

/// Strips `data` (of `kind`, as [`crate::kind::sniff`] found) and checks what is left.
pub fn clean(kind: Kind, data: &[u8]) -> Result<Cleaned, Refused> {
    let bytes = match kind {
        Kind::Jpeg => jpeg::clean(data)?,
        Kind::Png => png::clean(data)?,
        Kind::Webp => webp::clean(data)?,
        Kind::Mp4 => mp4::clean(data)?,
    };
    let dimensions = match kind {
        Kind::Jpeg | Kind::Png | Kind::Webp => Some(dimensions(kind, &bytes)?),
        Kind::Mp4 => None,
    };
    let sha256 = hex(&Sha256::digest(&bytes));
    Ok(Cleaned { kind, bytes, sha256, dimensions })
}

/// An image's size from its header, by the `image` crate's decoder (no pixels are decoded).
fn dimensions(kind: Kind, bytes: &[u8]) -> Result<(u32, u32), Refused> {
    let format = match kind {
        Kind::Jpeg => image::ImageFormat::Jpeg,
        Kind::Png => image::ImageFormat::Png,
        Kind::Webp | Kind::Mp4 => image::ImageFormat::WebP,
    };
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| Refused::Malformed { kind: kind.name(), reason: format!("its header does not decode: {e}") })?;
    if width == 0 || height == 0 {
        return Err(Refused::Malformed { kind: kind.name(), reason: "it has no pixels".into() });
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refused::TooManyPixels { width, height });
    }
    Ok((width, height))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
