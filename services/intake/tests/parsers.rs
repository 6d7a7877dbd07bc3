//! Property tests of everything that turns request bytes into domain values: the JSON extractor
//! and the parsers in `domain`. None may panic; valid input is accepted as given (trimmed);
//! invalid input is refused with the error that names what is wrong.
//!
//! Case counts default to a few thousand per property (well under a minute in a debug build);
//! `PROPTEST_CASES=100000 cargo test -p whistle-intake --test parsers` runs longer.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use whistle_intake::domain::{self, MAX_ASSIST, MAX_DESCRIPTION_CHARS, MAX_PHOTOS, NewWhistle};
use whistle_intake::error::ApiError;
use whistle_intake::extract::ApiJson;
use whistle_schemas::Location;
use whistle_schemas::api::RaiseWhistleRequest;
use whistle_schemas::assist::SubjectInput;

/// `PROPTEST_CASES` when set, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Text a person would type: letters (CJK and Latin), digits, punctuation, spaces.
fn typed(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 ,.!?()\u{4e00}-\u{9fa5}\u{3002}\u{ff0c}]{{1,{max}}}"))
        .expect("regex")
        .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn valid_request() -> impl Strategy<Value = RaiseWhistleRequest> {
    let photo = prop_oneof!["https://[a-z]{1,10}\\.example/[a-z0-9/]{0,20}\\.jpg", "/uploads/[a-z0-9]{1,20}\\.png",];
    (
        "[0-9]{9}",
        "[A-Z]{2}-[A-Z]{2,5}-[0-9]{3}",
        (typed(50), proptest::option::of(typed(50))),
        typed(80),
        // Chongqing's main urban area: every point of it lies inside the municipality.
        (29.3f64..=29.8, 106.3f64..=106.8),
        proptest::collection::vec(photo, 0..=MAX_PHOTOS),
        any::<bool>(),
        proptest::collection::vec("[A-Z]{2,4}", 0..=MAX_ASSIST),
    )
        .prop_map(|(town, item, (first, second), address, (lat, lon), photos, support, assist)| {
            // A second paragraph exercises the newlines descriptions may hold.
            let description = match second {
                Some(s) => format!("{first}\n\t{s}"),
                None => first,
            };
            RaiseWhistleRequest {
                town,
                item,
                description,
                location: Location { lat, lon, address },
                photos,
                attachments: Vec::new(),
                support,
                assist,
                datum: None,
            }
        })
}

/// Any string at all, biased towards the characters validation cares about.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f\u{202a}-\u{202e}\u{2066}-\u{2069} a\n\r\t]{0,20}",
        (0usize..3000).prop_map(|n| "字".repeat(n)),
        Just(String::new()),
        Just("   ".to_owned()),
    ]
}

fn nasty_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        -200.0f64..200.0
    ]
}

fn any_request() -> impl Strategy<Value = RaiseWhistleRequest> {
    (
        nasty_string(),
        nasty_string(),
        nasty_string(),
        nasty_string(),
        (nasty_float(), nasty_float()),
        proptest::collection::vec(nasty_string(), 0..12),
        any::<bool>(),
        proptest::collection::vec(nasty_string(), 0..8),
    )
        .prop_map(|(town, item, description, address, (lat, lon), photos, support, assist)| RaiseWhistleRequest {
            town,
            item,
            description,
            location: Location { lat, lon, address },
            photos,
            attachments: Vec::new(),
            support,
            assist,
            datum: None,
        })
}

fn forbidden(c: char, multiline: bool) -> bool {
    (c.is_control() && !(multiline && (c == '\n' || c == '\t')))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn valid_raise_requests_are_accepted_as_given() {
    let mut runner = TestRunner::new(config(3000));
    runner
        .run(&valid_request(), |req| {
            let w = NewWhistle::parse(req.clone()).map_err(|e| TestCaseError::fail(format!("refused: {e:?}")))?;
            prop_assert_eq!(w.town.as_str(), req.town.as_str());
            prop_assert_eq!(w.item.as_str(), req.item.as_str());
            prop_assert_eq!(w.description, req.description.trim());
            prop_assert_eq!(w.location.address, req.location.address.trim());
            prop_assert_eq!(w.photos, req.photos);
            prop_assert!(w.assist.len() <= req.assist.len(), "duplicates are dropped, nothing is added");
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn any_raise_request_is_parsed_without_panic_and_what_passes_is_clean() {
    let mut runner = TestRunner::new(config(5000));
    runner
        .run(&any_request(), |req| {
            match NewWhistle::parse(req) {
                Ok(w) => {
                    prop_assert!(!w.description.is_empty());
                    prop_assert!(w.description.chars().count() <= MAX_DESCRIPTION_CHARS);
                    prop_assert!(!w.description.chars().any(|c| forbidden(c, true)));
                    prop_assert!(!w.location.address.chars().any(|c| forbidden(c, false)));
                    prop_assert!((-90.0..=90.0).contains(&w.location.lat));
                    prop_assert!((-180.0..=180.0).contains(&w.location.lon));
                    prop_assert!(w.photos.len() <= MAX_PHOTOS && w.photos.iter().all(|p| domain::photo_url(p)));
                    prop_assert!(w.assist.len() <= MAX_ASSIST);
                    prop_assert!(w.town.as_str().bytes().all(|b| b.is_ascii_digit()));
                    prop_assert!(w.item.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
                }
                Err(ApiError::InvalidField { .. } | ApiError::UnknownTown(_) | ApiError::UnknownItem(_)) => {}
                Err(other) => prop_assert!(false, "unexpected error variant {other:?}"),
            }
            Ok(())
        })
        .expect("property holds");
}

/// One corruption of a valid request, and the error it must produce.
#[derive(Debug, Clone)]
enum Corruption {
    Town(String),
    Item(String),
    Description(String),
    Address(String),
    Lat(f64),
    Lon(f64),
    Photo(String),
    TooManyPhotos,
    Assist(String),
    TooManyAssist,
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let control = "[\\x00-\\x08\\x0b-\\x1f\\x7f\u{202a}-\u{202e}\u{2066}-\u{2069}]";
    prop_oneof![
        prop_oneof!["[0-9]{0,8}", "[0-9]{10,12}", "[0-9]{4}[a-z ][0-9]{4}", "[０-９]{9}"].prop_map(Corruption::Town),
        prop_oneof!["[a-z]{3,10}", "-[A-Z]{3}", "[A-Z]{3}-", "[A-Z]{33,40}", "[A-Z]{2} [A-Z]{2}", "[A-Z]{0,2}"]
            .prop_map(Corruption::Item),
        prop_oneof![
            "[ \t\n]{0,5}".boxed(),
            (MAX_DESCRIPTION_CHARS + 1..MAX_DESCRIPTION_CHARS + 50).prop_map(|n| "河".repeat(n)).boxed(),
            proptest::string::string_regex(&format!("[a-z]{{1,5}}{control}[a-z]{{1,5}}")).expect("regex").boxed(),
        ]
        .prop_map(Corruption::Description),
        prop_oneof![Just(String::new()), "[a-z]{1,5}[\n\t][a-z]{1,5}", (201usize..400).prop_map(|n| "路".repeat(n))]
            .prop_map(Corruption::Address),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), 90.0001f64..1e9, -1e9f64..-90.0001].prop_map(Corruption::Lat),
        prop_oneof![Just(f64::NAN), Just(f64::NEG_INFINITY), 180.0001f64..1e9, -1e9f64..-180.0001]
            .prop_map(Corruption::Lon),
        prop_oneof![
            "(javascript|data|ftp|file):[a-z]{0,10}",
            "//[a-z]{1,10}\\.example/x",
            "https://[a-z]{1,5} [a-z]{1,5}",
            "/[a-z]{1,5}[\\x00-\\x1f][a-z]{0,5}",
            "https?://",
        ]
        .prop_map(Corruption::Photo),
        Just(Corruption::TooManyPhotos),
        prop_oneof!["[a-z]{2,4}", "[A-Z]{1}", "[A-Z]{5,8}", "[A-Z]{1,2}[0-9-][A-Z]?"].prop_map(Corruption::Assist),
        Just(Corruption::TooManyAssist),
    ]
}

fn expected_field(c: &Corruption) -> &'static str {
    match c {
        Corruption::Town(_) => "unknown_town",
        Corruption::Item(_) => "unknown_item",
        Corruption::Description(_) => "description",
        Corruption::Address(_) => "location.address",
        Corruption::Lat(_) => "location.lat",
        Corruption::Lon(_) => "location.lon",
        Corruption::Photo(_) | Corruption::TooManyPhotos => "photos",
        Corruption::Assist(_) | Corruption::TooManyAssist => "assist",
    }
}

#[test]
fn each_corruption_of_a_valid_request_is_refused_with_the_error_naming_it() {
    let mut runner = TestRunner::new(config(5000));
    runner
        .run(&(valid_request(), corruption()), |(mut req, c)| {
            match &c {
                Corruption::Town(t) => req.town = t.clone(),
                Corruption::Item(i) => req.item = i.clone(),
                Corruption::Description(d) => req.description = d.clone(),
                Corruption::Address(a) => req.location.address = a.clone(),
                Corruption::Lat(l) => req.location.lat = *l,
                Corruption::Lon(l) => req.location.lon = *l,
                Corruption::Photo(p) => req.photos = vec![p.clone()],
                Corruption::TooManyPhotos => req.photos = vec!["/p.jpg".into(); MAX_PHOTOS + 1],
                Corruption::Assist(a) => req.assist = vec![a.clone()],
                Corruption::TooManyAssist => req.assist = (0..=MAX_ASSIST).map(|_| "UM".to_owned()).collect(),
            }
            let got = match NewWhistle::parse(req) {
                Ok(_) => "accepted",
                Err(ApiError::UnknownTown(_)) => "unknown_town",
                Err(ApiError::UnknownItem(_)) => "unknown_item",
                Err(ApiError::InvalidField { field, .. }) => field,
                Err(other) => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
            };
            prop_assert_eq!(got, expected_field(&c), "{:?}", c);
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn free_text_is_trimmed_bounded_and_clean_or_refused() {
    let mut runner = TestRunner::new(config(5000));
    runner
        .run(&(nasty_string(), 1usize..100, any::<bool>()), |(value, max, multiline)| {
            match domain::text("f", &value, max, multiline) {
                Ok(t) => {
                    prop_assert!(!t.is_empty() && t.trim() == t);
                    prop_assert!(t.chars().count() <= max);
                    prop_assert!(!t.chars().any(|c| forbidden(c, multiline)), "{:?}", t);
                }
                Err(ApiError::InvalidField { field: "f", .. }) => {}
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn idempotency_keys_are_exactly_1_to_128_visible_ascii_bytes() {
    let mut runner = TestRunner::new(config(5000));
    let bytes =
        prop_oneof![proptest::collection::vec(any::<u8>(), 0..200), proptest::collection::vec(0x21u8..0x7f, 0..200)];
    runner
        .run(&bytes, |key| {
            let valid = (1..=128).contains(&key.len()) && key.iter().all(u8::is_ascii_graphic);
            match domain::idempotency_key(&key) {
                Ok(k) => prop_assert!(valid && k.as_bytes() == key.as_slice()),
                Err(ApiError::InvalidField { field: "Idempotency-Key", .. }) => prop_assert!(!valid),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn subjects_and_fines_never_panic_and_name_their_field() {
    let mut runner = TestRunner::new(config(3000));
    let input = (proptest::option::of(nasty_string()), proptest::option::of(nasty_string()), any::<u64>());
    runner
        .run(&input, |(credit_code, address, amount)| {
            match domain::subject(&SubjectInput { credit_code, address, kind: None }) {
                Ok(s) => {
                    prop_assert!(s.id.starts_with("ucc:") || s.id.starts_with("addr:"));
                    prop_assert!(s.id.chars().count() <= 130, "the id is part of a Redis key");
                    prop_assert!(!s.address.unwrap_or_default().chars().any(|c| forbidden(c, false)));
                }
                Err(ApiError::InvalidField { field, .. }) => {
                    prop_assert!(["subject", "subject.address", "subject.credit_code"].contains(&field));
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            prop_assert_eq!(domain::fine(amount).is_ok(), amount <= domain::MAX_FINE_YUAN);
            Ok(())
        })
        .expect("property holds");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

/// Runs the extractor on a body as a handler would see it.
fn extract(
    rt: &tokio::runtime::Runtime,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<RaiseWhistleRequest, ApiError> {
    let mut req = Request::builder().method("POST").uri("/api/v1/whistles");
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let req = req.body(Body::from(body)).expect("request");
    rt.block_on(ApiJson::<RaiseWhistleRequest>::from_request(req, &())).map(|ApiJson(r)| r)
}

#[test]
fn the_json_extractor_refuses_arbitrary_bytes_as_a_malformed_body() {
    let rt = runtime();
    let mut runner = TestRunner::new(config(3000));
    let valid = serde_json::to_vec(&json!({
        "town": "500103001", "item": "CQ-ENV-001", "description": "x",
        "location": {"lat": 1.0, "lon": 2.0, "address": "a"}
    }))
    .expect("json");
    // Random bytes, and prefixes of a valid body with random bytes spliced in.
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (0..valid.len(), proptest::collection::vec(any::<u8>(), 0..5)).prop_map(move |(cut, junk)| {
            let mut b = valid[..cut].to_vec();
            b.extend(junk);
            b
        }),
    ];
    runner
        .run(&bytes, |body| {
            let expected = serde_json::from_slice::<RaiseWhistleRequest>(&body).is_ok();
            match extract(&rt, Some("application/json"), body) {
                Ok(_) => prop_assert!(expected, "accepted what serde refuses"),
                Err(ApiError::MalformedBody(m)) => {
                    prop_assert!(!expected);
                    prop_assert!(!m.is_empty() && m.chars().count() <= 301, "short message: {}", m);
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            Ok(())
        })
        .expect("property holds");
    let missing = extract(&rt, None, b"{}".to_vec());
    assert!(matches!(missing, Err(ApiError::MalformedBody(m)) if m.contains("Content-Type")));
}

/// JSON values with the request's keys (and a few unknown ones), each of a random type.
fn request_shaped_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty_string().prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let key = prop_oneof![
        Just("town"),
        Just("item"),
        Just("description"),
        Just("location"),
        Just("photos"),
        Just("support"),
        Just("assist"),
        Just("priority"),
        Just("Town"),
    ];
    let location =
        (value.clone(), value.clone(), value.clone(), any::<bool>()).prop_map(|(lat, lon, address, extra)| {
            let mut l = json!({"lat": lat, "lon": lon, "address": address});
            if extra {
                l["alt"] = json!(1);
            }
            l
        });
    (proptest::collection::btree_map(key, value, 0..9), proptest::option::of(location)).prop_map(|(fields, loc)| {
        let mut obj: serde_json::Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if let Some(loc) = loc {
            obj.insert("location".into(), loc);
        }
        Value::Object(obj)
    })
}

#[test]
fn request_shaped_json_is_accepted_exactly_when_it_matches_the_schema() {
    let rt = runtime();
    let mut runner = TestRunner::new(config(3000));
    let accepted = std::cell::Cell::new(0u32);
    runner
        .run(&request_shaped_json(), |value| {
            let expected = serde_json::from_value::<RaiseWhistleRequest>(value.clone());
            let unknown_key = value.as_object().is_some_and(|o| o.keys().any(|k| k == "priority" || k == "Town"));
            match extract(&rt, Some("application/json"), serde_json::to_vec(&value).expect("json")) {
                Ok(req) => {
                    prop_assert!(!unknown_key, "unknown fields are refused");
                    prop_assert_eq!(Some(req.clone()), expected.ok());
                    // Whatever the types allowed, the domain parser has the last word, calmly.
                    let _ = NewWhistle::parse(req);
                }
                Err(ApiError::MalformedBody(_)) => prop_assert!(expected.is_err()),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            Ok(())
        })
        .expect("property holds");
    // Keep the generator honest: it must reach the accepting side too.
    let mut runner = TestRunner::new(config(200));
    runner
        .run(&valid_request(), |req| {
            let body = serde_json::to_vec(&req).expect("json");
            // serde_json's float parsing may differ from the printed value in the last bit.
            let expected: RaiseWhistleRequest = serde_json::from_slice(&body).expect("round trip");
            prop_assert_eq!(extract(&rt, Some("application/json"), body).ok(), Some(expected));
            accepted.set(accepted.get() + 1);
            Ok(())
        })
        .expect("property holds");
    assert!(accepted.get() > 0);
}
