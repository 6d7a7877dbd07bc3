//! Request bodies parsed into validated values. Raw strings stop here.

use whistle_registry::{ItemCode, TownCode};
use whistle_schemas::Location;
use whistle_schemas::api::RaiseWhistleRequest;

use crate::error::ApiError;

pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_ADDRESS_CHARS: usize = 200;
pub const MAX_REASON_CHARS: usize = 500;
pub const MAX_PHOTOS: usize = 9;
pub const MAX_PHOTO_URL_CHARS: usize = 500;
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;

/// A raise request that passed every check that needs no registry.
#[derive(Debug, Clone)]
pub struct NewWhistle {
    pub town: TownCode,
    pub item: ItemCode,
    pub description: String,
    pub location: Location,
    pub photos: Vec<String>,
    pub support: bool,
    /// Department types asked to assist; checked against the district by the caller.
    pub assist: Vec<String>,
}

/// Most departments one joint case may involve besides its lead.
pub const MAX_ASSIST: usize = 5;

impl NewWhistle {
    pub fn parse(req: RaiseWhistleRequest) -> Result<NewWhistle, ApiError> {
        // A malformed code cannot name a known town or item: report it as unknown (422), which is
        // what the caller needs to know, with the parse reason in the message.
        let town = TownCode::parse(&req.town).map_err(|e| ApiError::UnknownTown(e.to_string()))?;
        let item = ItemCode::parse(&req.item).map_err(|e| ApiError::UnknownItem(e.to_string()))?;
        let description = text("description", &req.description, MAX_DESCRIPTION_CHARS, true)?;
        let address = text("location.address", &req.location.address, MAX_ADDRESS_CHARS, false)?;
        let (lat, lon) = (req.location.lat, req.location.lon);
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(ApiError::InvalidField {
                field: "location.lat",
                message: "must be a latitude between -90 and 90".into(),
            });
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(ApiError::InvalidField {
                field: "location.lon",
                message: "must be a longitude between -180 and 180".into(),
            });
        }
        if req.photos.len() > MAX_PHOTOS {
            return Err(ApiError::InvalidField { field: "photos", message: format!("at most {MAX_PHOTOS} photos") });
        }
        for url in &req.photos {
            let ok = url.chars().count() <= MAX_PHOTO_URL_CHARS
                && (url.starts_with("https://") || url.starts_with("http://") || url.starts_with("/"))
                && !url.chars().any(char::is_control);
            if !ok {
                return Err(ApiError::InvalidField {
                    field: "photos",
                    message: "each photo must be an http(s) or site-relative URL of at most 500 characters".into(),
                });
            }
        }
        if req.assist.len() > MAX_ASSIST {
            return Err(ApiError::InvalidField {
                field: "assist",
                message: format!("at most {MAX_ASSIST} departments"),
            });
        }
        let mut assist: Vec<String> = Vec::with_capacity(req.assist.len());
        for t in req.assist {
            if !(2..=4).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ApiError::InvalidField {
                    field: "assist",
                    message: "each entry is a department type code, e.g. UM".into(),
                });
            }
            if !assist.contains(&t) {
                assist.push(t);
            }
        }
        Ok(NewWhistle {
            town,
            item,
            description,
            location: Location { lat, lon, address },
            photos: req.photos,
            support: req.support,
            assist,
        })
    }
}

/// A department's reason for rejecting a whistle.
pub fn reason(value: &str) -> Result<String, ApiError> {
    text("reason", value, MAX_REASON_CHARS, false)
}

/// Free text: trimmed, non-empty, bounded, no control characters (newlines allowed where
/// `multiline`).
pub fn text(field: &'static str, value: &str, max_chars: usize, multiline: bool) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::InvalidField { field, message: "must not be empty".into() });
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::InvalidField { field, message: format!("must be at most {max_chars} characters") });
    }
    let bad = value.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')));
    if bad {
        return Err(ApiError::InvalidField { field, message: "must not contain control characters".into() });
    }
    Ok(value.to_owned())
}

/// An `Idempotency-Key` header value: 1-128 visible ASCII characters.
pub fn idempotency_key(value: &[u8]) -> Result<String, ApiError> {
    let ok =
        !value.is_empty() && value.len() <= MAX_IDEMPOTENCY_KEY_CHARS && value.iter().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(ApiError::InvalidField {
            field: "Idempotency-Key",
            message: "must be 1-128 visible ASCII characters".into(),
        });
    }
    Ok(String::from_utf8_lossy(value).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RaiseWhistleRequest {
        RaiseWhistleRequest {
            town: "500103001".into(),
            item: "CQ-ENV-001".into(),
            description: "  废弃油桶泄漏  ".into(),
            location: Location { lat: 29.56, lon: 106.57, address: "解放碑".into() },
            photos: vec![],
            support: false,
            assist: vec![],
        }
    }

    #[test]
    fn a_valid_request_is_parsed_and_trimmed() {
        let w = NewWhistle::parse(request()).expect("valid");
        assert_eq!(w.description, "废弃油桶泄漏");
        assert_eq!(w.town.as_str(), "500103001");
    }

    #[test]
    fn each_bad_field_is_named() {
        type Edit = fn(&mut RaiseWhistleRequest);
        let cases: Vec<(Edit, &str)> = vec![
            (|r| r.description = " ".into(), "description"),
            (|r| r.description = "x".repeat(MAX_DESCRIPTION_CHARS + 1), "description"),
            (|r| r.location.address = "a\u{0}b".into(), "location.address"),
            (|r| r.location.lat = 91.0, "location.lat"),
            (|r| r.location.lon = f64::NAN, "location.lon"),
            (|r| r.photos = vec!["javascript:alert(1)".into()], "photos"),
        ];
        for (edit, field) in cases {
            let mut r = request();
            edit(&mut r);
            match NewWhistle::parse(r) {
                Err(ApiError::InvalidField { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected invalid {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_codes_are_unknown_references() {
        let mut r = request();
        r.item = "not an item".into();
        assert!(matches!(NewWhistle::parse(r), Err(ApiError::UnknownItem(_))));
    }

    #[test]
    fn idempotency_keys_are_bounded_visible_ascii() {
        assert!(idempotency_key(b"abc-123").is_ok());
        assert!(idempotency_key(b"").is_err());
        assert!(idempotency_key(b"has space").is_err());
        assert!(idempotency_key(&[b'a'; 129]).is_err());
    }
}
