//! Outbound webhooks: systems outside Whistle subscribe a URL to case event types for a
//! district (or, an administrator's, for every district) and receive each such event as an HTTP
//! POST of the CloudEvent, signed with the subscription's secret.
//!
//! The consumer records one delivery per matching subscription in PostgreSQL, by a delivery id
//! that is a hash of the event id and the subscription id, before the event's offset is stored:
//! at least once, and a replay records nothing twice. The [`worker`] leases due deliveries,
//! POSTs them with bounded concurrency and a per-attempt timeout, retries with the notifier's
//! capped exponential backoff and jitter, and gives up after `webhooks.max_attempts` or
//! `webhooks.max_age_seconds`; a subscription failing for `webhooks.pause_after_seconds` is
//! paused.
//!
//! - [`target`]: which receivers may be reached (SSRF), at subscription and at every connection.
//! - [`store`]: subscriptions, deliveries and attempts in PostgreSQL.
//! - [`worker`]: deliveries out.
//! - [`http`]: the API, `/api/v1/webhooks...`.

pub mod http;
pub mod store;
pub mod target;
pub mod worker;

use hmac::{Hmac, Mac as _};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use whistle_schemas::events::CaseEventBody;
use whistle_schemas::notify as wire;

/// `sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret's UTF-8 bytes>`.
pub const SIGNATURE_HEADER: &str = "x-whistle-signature";
/// The delivery id: the same on every attempt, for the receiver to deduplicate on.
pub const DELIVERY_HEADER: &str = "x-whistle-delivery";
/// The event's CloudEvents type, and the subscription and the attempt (1-based), for logs.
pub const EVENT_HEADER: &str = "x-whistle-event";
pub const WEBHOOK_HEADER: &str = "x-whistle-webhook";
pub const ATTEMPT_HEADER: &str = "x-whistle-attempt";
/// Structured-mode CloudEvents over HTTP.
pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// The longest receiver URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A new subscription's secret: 32 bytes from a cryptographically secure generator (rand's
/// thread generator, seeded by the operating system), as hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// `sha256(event id | subscription id)`, hex: the same event for the same subscription always
/// has the same id.
pub fn delivery_id(event_id: Uuid, webhook: Uuid) -> String {
    let mut h = Sha256::new();
    h.update(event_id.as_bytes());
    h.update(b"|webhook|");
    h.update(webhook.as_bytes());
    hex::encode(h.finalize())
}

/// Why a subscription request was refused, and which stable code says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// `invalid_field`.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// `target_not_allowed`: the receiver is on an address the deployment does not reach.
    #[error("url: {0}")]
    NotAllowed(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> SubscriptionError {
    SubscriptionError::Invalid { field, message: message.into() }
}

/// A 6-digit district code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District(String);

impl District {
    pub fn parse(code: &str) -> Result<District, SubscriptionError> {
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(District(code.to_owned()))
        } else {
            Err(invalid("district", format!("{code:?} is not a 6-digit district code")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A checked subscription request (the address check against DNS is [`target`]'s, later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub url: url::Url,
    /// Known CloudEvents types, sorted, each once.
    pub events: Vec<String>,
    pub district: Option<District>,
}

impl Subscription {
    pub fn parse(request: &wire::WebhookRequest) -> Result<Subscription, SubscriptionError> {
        let url = target::parse_url(&request.url)?;
        if request.events.is_empty() {
            return Err(invalid("events", "at least one event type, e.g. \"whistle.dispatched\""));
        }
        let mut events = Vec::with_capacity(request.events.len());
        for (i, e) in request.events.iter().enumerate() {
            if !CaseEventBody::TYPES.contains(&e.as_str()) {
                return Err(SubscriptionError::Invalid {
                    field: "events",
                    message: format!(
                        "events[{i}]: {e:?} is not a case event type (e.g. \"whistle.dispatched\"; every type is in \
                         schemas/json/case-event.schema.json)"
                    ),
                });
            }
            events.push(e.clone());
        }
        events.sort();
        events.dedup();
        let district = request.district.as_deref().map(District::parse).transpose()?;
        Ok(Subscription { url, events, district })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str, events: &[&str], district: Option<&str>) -> wire::WebhookRequest {
        wire::WebhookRequest {
            url: url.into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            district: district.map(Into::into),
        }
    }

    #[test]
    fn signature_is_the_hex_hmac_sha256_of_the_body_keyed_with_the_secret() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secrets_are_32_random_bytes_in_hex() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_delivery_id_is_stable_per_event_and_subscription() {
        let (e, w) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(delivery_id(e, w), delivery_id(e, w));
        assert_ne!(delivery_id(e, w), delivery_id(e, Uuid::new_v4()));
        assert_ne!(delivery_id(e, w), delivery_id(Uuid::new_v4(), w));
    }

    #[test]
    fn a_subscription_names_known_event_types_each_once() {
        let s = Subscription::parse(&request(
            "http://example.cn/hook",
            &["whistle.raised", "whistle.dispatched", "whistle.raised"],
            Some("500103"),
        ))
        .expect("valid");
        assert_eq!(s.events, ["whistle.dispatched", "whistle.raised"]);
        assert_eq!(s.district.as_ref().map(District::as_str), Some("500103"));
        let err = Subscription::parse(&request("http://example.cn/", &["whistle.exploded"], None)).unwrap_err();
        assert!(err.to_string().starts_with("events: events[0]: \"whistle.exploded\""), "{err}");
        let err = Subscription::parse(&request("http://example.cn/", &[], None)).unwrap_err();
        assert!(matches!(err, SubscriptionError::Invalid { field: "events", .. }), "{err}");
        let err = Subscription::parse(&request("http://example.cn/", &["whistle.raised"], Some("5001"))).unwrap_err();
        assert!(matches!(err, SubscriptionError::Invalid { field: "district", .. }), "{err}");
    }
}
