//! Request bodies parsed into validated values. Raw strings stop here.

use whistle_registry::{ItemCode, TownCode};
use whistle_schemas::Location;
use whistle_schemas::api::RaiseWhistleRequest;
use whistle_schemas::assist::SubjectInput;
use whistle_schemas::events::EnforcementSubject;

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
    /// Attachment ids as sent; checked against the attachment store by the caller.
    pub attachments: Vec<String>,
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
        let datum = match req.datum.as_deref() {
            None => whistle_geo::Datum::Wgs84,
            Some(d) => whistle_geo::Datum::parse(d).ok_or_else(|| ApiError::InvalidField {
                field: "datum",
                message: "must be wgs84 (GPS, the default) or gcj02 (AMap, Tencent and other Chinese maps)".into(),
            })?,
        };
        let point = located(req.location.lat, req.location.lon, datum)?;
        whistle_geo::locate(point).map_err(|e| ApiError::InvalidField { field: "location", message: e.to_string() })?;
        let (lat, lon) = (point.lat, point.lon);
        if req.photos.len() > MAX_PHOTOS {
            return Err(ApiError::InvalidField { field: "photos", message: format!("at most {MAX_PHOTOS} photos") });
        }
        if !req.photos.iter().all(|url| photo_url(url)) {
            return Err(ApiError::InvalidField {
                field: "photos",
                message: format!(
                    "each photo must be an http(s) or site-relative (/...) URL of at most {MAX_PHOTO_URL_CHARS} \
                     characters, without spaces or control characters"
                ),
            });
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
            attachments: req.attachments,
            support: req.support,
            assist,
        })
    }
}

/// Coordinates as sent, in range, converted to WGS-84 (what Whistle stores) from `datum`. The
/// caller checks that the point lies in Chongqing ([`whistle_geo::locate`]).
pub fn located(lat: f64, lon: f64, datum: whistle_geo::Datum) -> Result<whistle_geo::Point, ApiError> {
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
    Ok(datum.to_wgs84(whistle_geo::Point::new(lat, lon)))
}

/// A photo reference: an absolute http(s) URL with a host, or a path on this site. A `//host`
/// or `/\\host` path would leave the site, so it is neither.
pub fn photo_url(url: &str) -> bool {
    let shape = match url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) {
        Some(rest) => rest.chars().next().is_some_and(|c| c != '/' && c != '\\'),
        None => url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\"),
    };
    shape
        && url.chars().count() <= MAX_PHOTO_URL_CHARS
        && !url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\' || bidi_control(c))
}

/// A department's reason for rejecting a whistle.
pub fn reason(value: &str) -> Result<String, ApiError> {
    text("reason", value, MAX_REASON_CHARS, false)
}

/// Free text: trimmed, non-empty, bounded, no control characters (newlines and tabs allowed where
/// `multiline`, a CRLF counting as a newline) and no bidirectional-override characters, which
/// can make a text display as something other than what it says.
pub fn text(field: &'static str, value: &str, max_chars: usize, multiline: bool) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::InvalidField { field, message: "must not be empty".into() });
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::InvalidField { field, message: format!("must be at most {max_chars} characters") });
    }
    let value = if multiline && value.contains('\r') { value.replace("\r\n", "\n") } else { value.to_owned() };
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if let Some(c) = value.chars().find(|&c| (c.is_control() && !allowed(c)) || bidi_control(c)) {
        return Err(ApiError::InvalidField {
            field,
            message: format!("must not contain control characters (found U+{:04X})", u32::from(c)),
        });
    }
    Ok(value)
}

/// Unicode's bidirectional embedding, override and isolate controls.
fn bidi_control(c: char) -> bool {
    whistle_common::text::is_deceptive(c)
}

/// Longest credit code accepted as typed (18 characters, with room for spacing).
pub const MAX_CREDIT_CODE_CHARS: usize = 40;

/// An inspection's or penalty's subject. The raw fields are bounded and clean before the subject
/// parser normalises them: the address is kept verbatim in the event.
pub fn subject(input: &SubjectInput) -> Result<EnforcementSubject, ApiError> {
    let address = match input.address.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => Some(text("subject.address", a, MAX_ADDRESS_CHARS, false)?),
        _ => None,
    };
    if let Some(code) = &input.credit_code
        && (code.chars().count() > MAX_CREDIT_CODE_CHARS || code.chars().any(|c| c.is_control()))
    {
        return Err(ApiError::InvalidField {
            field: "subject.credit_code",
            message: format!("must be at most {MAX_CREDIT_CODE_CHARS} characters without control characters"),
        });
    }
    whistle_assist::subject::parse(input.credit_code.as_deref(), address.as_deref())
        .map_err(|e| ApiError::InvalidField { field: "subject", message: e.to_string() })
}

/// Largest fine accepted, in yuan: above any real fine, and exact as a JavaScript number.
pub const MAX_FINE_YUAN: u64 = 10_000_000_000;

/// A fine in whole yuan.
pub fn fine(amount_yuan: u64) -> Result<u64, ApiError> {
    if amount_yuan > MAX_FINE_YUAN {
        return Err(ApiError::InvalidField {
            field: "amount_yuan",
            message: format!("must be at most {MAX_FINE_YUAN}"),
        });
    }
    Ok(amount_yuan)
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
            attachments: vec![],
            support: false,
            assist: vec![],
            datum: None,
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
    fn photos_stay_on_http_or_this_site() {
        for ok in ["https://img.example/a.jpg", "http://h/x", "/uploads/1.jpg"] {
            assert!(photo_url(ok), "{ok}");
        }
        for bad in
            ["//evil.example/x", "/\\evil.example", "https://", "https:///x", "javascript:x", "/a b", "/a\u{202E}b", ""]
        {
            assert!(!photo_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn multiline_text_keeps_newlines_and_tabs_only() {
        assert_eq!(text("d", "a\r\nb\tc", 10, true).expect("valid"), "a\nb\tc");
        assert!(text("d", "a\rb", 10, true).is_err(), "a lone CR");
        assert!(text("d", "a\nb", 10, false).is_err(), "single-line");
        assert!(text("d", "abc\u{202E}gpj.exe", 50, true).is_err(), "bidi override");
        assert!(text("d", "a\u{7}b", 10, true).is_err());
    }

    #[test]
    fn subjects_are_bounded_before_they_are_normalised() {
        let input = |code: Option<&str>, address: Option<&str>| SubjectInput {
            credit_code: code.map(Into::into),
            address: address.map(Into::into),
            kind: None,
        };
        assert!(subject(&input(None, Some("渝中区解放碑步行街8号"))).is_ok());
        let field = |r: Result<EnforcementSubject, ApiError>| match r {
            Err(ApiError::InvalidField { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        // Punctuation is dropped by normalisation, so only the raw check bounds this.
        let long = format!("渝中区解放碑{}", "。".repeat(MAX_ADDRESS_CHARS));
        assert_eq!(field(subject(&input(None, Some(&long)))), "subject.address");
        assert_eq!(field(subject(&input(None, Some("渝中区\u{0}解放碑")))), "subject.address");
        assert_eq!(field(subject(&input(Some(&"9".repeat(41)), None))), "subject.credit_code");
        assert_eq!(field(subject(&input(None, None))), "subject");
    }

    #[test]
    fn fines_are_plausible() {
        assert_eq!(fine(500).expect("valid"), 500);
        assert!(fine(u64::MAX).is_err());
    }

    #[test]
    fn idempotency_keys_are_bounded_visible_ascii() {
        assert!(idempotency_key(b"abc-123").is_ok());
        assert!(idempotency_key(b"").is_err());
        assert!(idempotency_key(b"has space").is_err());
        assert!(idempotency_key(&[b'a'; 129]).is_err());
    }
}
