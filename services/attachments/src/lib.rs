//! Evidence attachments: photos and videos that town teams and departments take on site and
//! attach to raises, town cases and investigations.
//!
//! A file is accepted only for what its bytes are, then stripped of what it says about where
//! and with what it was made (a photo's EXIF GPS is the officer's position, sometimes their
//! home), then stored with its SHA-256.
//!
//! - [`kind`]: the accepted kinds (JPEG, PNG, WebP, MP4), sniffed from the magic numbers; the
//!   declared content type and the file name are never trusted.
//! - [`clean`]: the metadata stripping, per format, and the checks of what is left.
//! - [`store`]: the [`AttachmentStore`]: bytes through `object_store` (a local directory or an
//!   S3-compatible bucket), the index (hash, type, size, uploader and their body, the cases
//!   that reference it) in PostgreSQL, with its migrations (`migrations/`, embedded).
//! - [`settings`]: `[attachments]`: where the store is, the size limits.
//!
//! Who may upload, reference and read is intake's and `whistle_auth`'s to decide.

pub mod clean;
pub mod kind;
pub mod settings;
pub mod store;

pub use clean::{Cleaned, Refused};
pub use kind::{Kind, Unrecognised};
pub use settings::AttachmentSettings;
pub use store::{Attachment, AttachmentStore};
