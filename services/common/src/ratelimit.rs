//! Per-key token-bucket rate limits with bounded memory, and the axum layer that enforces them.
//!
//! A key is whoever a request is charged to: the authenticated user when the service can tell
//! (a key-extraction closure, e.g. the auth principal's user), else the client's address, else
//! one global key. Each key has a bucket of `burst` tokens refilled at `per_second`; a request
//! takes one token or is answered `429 rate_limited` with a `Retry-After` header.
//!
//! Memory stays bounded: at most `max_keys` buckets are kept. A bucket that has refilled to full
//! is indistinguishable from a new one, so idle keys are swept away (at most once per
//! [`SWEEP_EVERY`]). When the table is full of active keys (a flood from very many addresses),
//! new keys share one overflow bucket instead of growing the table: the flood throttles itself
//! and nobody's bucket is reset by eviction.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::Either;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use whistle_schemas::api::ErrorBody;

use crate::settings::SettingsError;

/// How often, at most, idle buckets are swept: often enough that memory follows the traffic,
/// rarely enough that a full table of active keys does not cost a scan per request.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The `[rate_limit]` settings section of a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Turned off only for single-host load generators, which would otherwise be one key.
    pub enabled: bool,
    /// Requests a key may send at once after being idle (the bucket size).
    pub burst: u32,
    /// Sustained requests per second per key (the refill rate).
    pub per_second: f64,
    /// Keys tracked at most; beyond it new keys share one overflow bucket.
    pub max_keys: usize,
    /// Take the client address from the last `X-Forwarded-For` entry (the address our own proxy
    /// saw). Only behind a proxy that sets it; otherwise clients could pick their own key.
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        // Far above what a person at a console does (a page load is a handful of requests), and
        // above the dev stack's smoke load (`cargo xtask test`, one host); a script looping on
        // the API is slowed to 100/s.
        RateLimitSettings {
            enabled: true,
            burst: 300,
            per_second: 100.0,
            max_keys: 100_000,
            trust_forwarded_for: false,
        }
    }
}

impl RateLimitSettings {
    /// Checks the section named `rate_limit`.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.burst == 0 {
            return Err(SettingsError::Invalid { key: "rate_limit.burst", message: "must be at least 1".into() });
        }
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(SettingsError::Invalid {
                key: "rate_limit.per_second",
                message: "must be a positive number".into(),
            });
        }
        if self.max_keys == 0 {
            return Err(SettingsError::Invalid { key: "rate_limit.max_keys", message: "must be at least 1".into() });
        }
        Ok(())
    }
}

/// A bucket size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    burst: f64,
    per_second: f64,
}

impl Rate {
    /// `burst` at least 1 and `per_second` positive and finite; other values are clamped.
    pub fn new(burst: u32, per_second: f64) -> Rate {
        let per_second = if per_second.is_finite() && per_second > 0.0 { per_second } else { f64::MIN_POSITIVE };
        Rate { burst: f64::from(burst.max(1)), per_second }
    }

    /// How long an empty bucket takes to fill.
    fn fill_time(&self) -> Duration {
        Duration::try_from_secs_f64(self.burst / self.per_second).unwrap_or(Duration::MAX)
    }
}

/// One token bucket. Usable on its own, e.g. for one WebSocket connection's frames.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn full(rate: &Rate, now: Instant) -> Bucket {
        Bucket { tokens: rate.burst, at: now }
    }

    fn refill(&mut self, rate: &Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
    }

    /// Takes one token, or says how long until one is available.
    pub fn take(&mut self, rate: &Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / rate.per_second;
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX))
        }
    }

    /// Whole tokens in the bucket at `now`.
    pub fn available(&mut self, rate: &Rate, now: Instant) -> u64 {
        self.refill(rate, now);
        // Never more than the burst, a u32.
        self.tokens.max(0.0) as u64
    }

    /// Takes `n` tokens, or as many as there are: for costs known only after the fact.
    pub fn spend(&mut self, rate: &Rate, now: Instant, n: u64) {
        self.refill(rate, now);
        self.tokens = (self.tokens - n as f64).max(0.0);
    }

    /// True when the bucket would be full by `now`: forgetting it changes nothing.
    fn idle(&self, rate: &Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + elapsed * rate.per_second >= rate.burst
    }
}

struct Table {
    buckets: HashMap<String, Bucket>,
    /// Shared by new keys while `buckets` is full of active keys.
    overflow: Bucket,
    last_sweep: Instant,
}

/// Token buckets by key, at most `max_keys` of them.
pub struct RateLimiter {
    rate: Rate,
    max_keys: usize,
    table: Mutex<Table>,
}

impl RateLimiter {
    pub fn new(rate: Rate, max_keys: usize) -> RateLimiter {
        let now = Instant::now();
        RateLimiter {
            rate,
            max_keys: max_keys.max(1),
            table: Mutex::new(Table { buckets: HashMap::new(), overflow: Bucket::full(&rate, now), last_sweep: now }),
        }
    }

    pub fn from_settings(settings: &RateLimitSettings) -> RateLimiter {
        RateLimiter::new(Rate::new(settings.burst, settings.per_second), settings.max_keys)
    }

    /// Charges one request to `key`; `Err` says how long until it could pass.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    pub fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        // The critical section is a hash lookup; a poisoned lock only means another request
        // panicked mid-update of plain numbers, which are still usable.
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = table.buckets.get_mut(key) {
            return bucket.take(&self.rate, now);
        }
        if now.saturating_duration_since(table.last_sweep) >= SWEEP_EVERY {
            table.sweep(&self.rate, now);
        }
        if table.buckets.len() >= self.max_keys {
            return table.overflow.take(&self.rate, now);
        }
        let mut bucket = Bucket::full(&self.rate, now);
        let taken = bucket.take(&self.rate, now);
        table.buckets.insert(key.to_owned(), bucket);
        taken
    }

    /// Keys currently tracked.
    pub fn tracked(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).buckets.len()
    }

    /// How long an idle key is remembered at most.
    pub fn idle_after(&self) -> Duration {
        self.rate.fill_time()
    }
}

impl Table {
    fn sweep(&mut self, rate: &Rate, now: Instant) {
        self.buckets.retain(|_, b| !b.idle(rate, now));
        if self.buckets.capacity() > 64 && self.buckets.len() < self.buckets.capacity() / 4 {
            self.buckets.shrink_to_fit();
        }
        self.last_sweep = now;
    }
}

/// Picks the key a request is charged to; `None` falls back to the client address.
pub type KeyFn = Arc<dyn Fn(&Request) -> Option<String> + Send + Sync>;

/// Longest `X-Forwarded-For` value looked at; a longer one is not ours and is ignored.
const MAX_FORWARDED_FOR: usize = 512;

/// The layer answering `429 rate_limited` once a key's bucket is empty.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Option<Arc<RateLimiter>>,
    key: KeyFn,
    trust_forwarded_for: bool,
}

impl RateLimitLayer {
    /// Every request charged to its client address (or one global key when unknown).
    pub fn new(limiter: Arc<RateLimiter>) -> RateLimitLayer {
        RateLimitLayer { limiter: Some(limiter), key: Arc::new(|_| None), trust_forwarded_for: false }
    }

    /// From settings; a disabled limit passes every request through.
    pub fn from_settings(settings: &RateLimitSettings) -> RateLimitLayer {
        RateLimitLayer {
            limiter: settings.enabled.then(|| Arc::new(RateLimiter::from_settings(settings))),
            key: Arc::new(|_| None),
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    /// Charges requests to the key `key` picks (e.g. the authenticated user); requests it gives
    /// no key for fall back to the client address.
    pub fn with_key(mut self, key: impl Fn(&Request) -> Option<String> + Send + Sync + 'static) -> RateLimitLayer {
        self.key = Arc::new(key);
        self
    }

    pub fn trust_forwarded_for(mut self, trust: bool) -> RateLimitLayer {
        self.trust_forwarded_for = trust;
        self
    }

    /// The limiter, when enabled (for tests and metrics).
    pub fn limiter(&self) -> Option<&Arc<RateLimiter>> {
        self.limiter.as_ref()
    }

    /// The key a request is charged to. Prefixes keep users and addresses apart.
    pub fn key_of(&self, req: &Request) -> String {
        if let Some(key) = (self.key)(req) {
            return format!("key:{key}");
        }
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        match client_address(req.headers(), peer, self.trust_forwarded_for) {
            Some(address) => format!("ip:{address}"),
            None => "global".to_owned(),
        }
    }
}

/// The client a request comes from, as one key per client: the peer's address, or with
/// `trust_forwarded_for` the last `X-Forwarded-For` entry (the address our own proxy saw), an
/// IPv6 client's /64 as one. `None` when neither is known.
pub fn client_address(headers: &HeaderMap, peer: Option<IpAddr>, trust_forwarded_for: bool) -> Option<String> {
    let forwarded = || {
        let value = headers.get("x-forwarded-for")?.to_str().ok()?;
        if value.len() > MAX_FORWARDED_FOR {
            return None;
        }
        value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
    };
    let ip = if trust_forwarded_for { forwarded().or(peer) } else { peer };
    ip.map(address_key)
}

/// An IPv6 client usually holds a whole /64, so that is one key; IPv4 addresses are their own.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The `429` answer, in the API's error shape.
pub fn too_many_requests(retry_after: Duration) -> Response {
    // Whole seconds, rounded up, at least one: a client retrying at once would be refused again.
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let seconds = seconds.clamp(1, 24 * 60 * 60);
    let body = ErrorBody::new("rate_limited", format!("too many requests; retry in {seconds} s"));
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService { inner, layer: self.clone() }
    }
}

#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl<S> tower::Service<Request> for RateLimitService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, std::future::Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if let Some(limiter) = &self.layer.limiter
            && let Err(wait) = limiter.check(&self.layer.key_of(&req))
        {
            return Either::Right(std::future::ready(Ok(too_many_requests(wait))));
        }
        Either::Left(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    fn limiter(burst: u32, per_second: f64, max_keys: usize) -> RateLimiter {
        RateLimiter::new(Rate::new(burst, per_second), max_keys)
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_gets_its_burst_then_waits_for_the_refill() {
        let l = limiter(3, 2.0, 10);
        for _ in 0..3 {
            assert_eq!(l.check("u"), Ok(()));
        }
        let wait = l.check("u").expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(500), "one token at 2/s");
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(l.check("u").is_err(), "not yet");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(l.check("u"), Ok(()));
        assert!(l.check("u").is_err(), "exactly one token came back");
        // A long idle refills to the burst, not beyond.
        tokio::time::advance(Duration::from_secs(3600)).await;
        for _ in 0..3 {
            assert_eq!(l.check("u"), Ok(()));
        }
        assert!(l.check("u").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn keys_do_not_share_buckets() {
        let l = limiter(1, 1.0, 10);
        assert_eq!(l.check("a"), Ok(()));
        assert!(l.check("a").is_err());
        assert_eq!(l.check("b"), Ok(()), "another key has its own bucket");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten_so_memory_follows_the_traffic() {
        let l = limiter(2, 1.0, 1000);
        for n in 0..500 {
            l.check(&format!("k{n}")).expect("fresh key");
        }
        assert_eq!(l.tracked(), 500);
        // Each bucket lost one token; two seconds later every one is full again, hence idle.
        tokio::time::advance(l.idle_after()).await;
        l.check("newcomer").expect("fresh key");
        assert_eq!(l.tracked(), 1, "the sweep dropped every idle key");
    }

    #[tokio::test(start_paused = true)]
    async fn a_table_full_of_active_keys_sends_new_keys_to_one_shared_bucket() {
        let l = limiter(2, 1.0, 4);
        for n in 0..4 {
            l.check(&format!("k{n}")).expect("fresh key");
        }
        // Many new keys: none is added, they share the overflow bucket (burst 2).
        assert_eq!(l.check("x1"), Ok(()));
        assert_eq!(l.check("x2"), Ok(()));
        assert!(l.check("x3").is_err(), "the overflow bucket is spent");
        assert_eq!(l.tracked(), 4, "memory stays bounded");
        // Known keys keep their own buckets.
        assert_eq!(l.check("k0"), Ok(()));
        // Once the active keys go idle, newcomers get their own buckets again.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(l.check("x3"), Ok(()));
        assert_eq!(l.tracked(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_never_exceeds_max_keys_whatever_the_key_sequence() {
        let l = limiter(5, 10.0, 64);
        for n in 0..10_000u32 {
            let _ = l.check(&format!("k{}", n.wrapping_mul(2_654_435_761) % 1000));
            if n % 97 == 0 {
                tokio::time::advance(Duration::from_millis(300)).await;
            }
            assert!(l.tracked() <= 64);
        }
    }

    #[test]
    fn settings_are_checked_and_name_the_key() {
        assert!(RateLimitSettings::default().validate().is_ok());
        for (edit, key) in [
            ((|s: &mut RateLimitSettings| s.burst = 0) as fn(&mut RateLimitSettings), "rate_limit.burst"),
            (|s| s.per_second = 0.0, "rate_limit.per_second"),
            (|s| s.per_second = f64::NAN, "rate_limit.per_second"),
            (|s| s.max_keys = 0, "rate_limit.max_keys"),
        ] {
            let mut s = RateLimitSettings::default();
            edit(&mut s);
            match s.validate() {
                Err(SettingsError::Invalid { key: k, .. }) => assert_eq!(k, key),
                other => panic!("expected {key} refused, got {other:?}"),
            }
        }
    }

    fn app(layer: RateLimitLayer) -> Router {
        Router::new().route("/", get(|| async { "ok" })).layer(layer)
    }

    fn request(user: Option<&str>, peer: Option<&str>, forwarded: Option<&str>) -> Request {
        let mut req = Request::builder().uri("/");
        if let Some(user) = user {
            req = req.header("x-user", user);
        }
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let mut req = req.body(Body::empty()).expect("request");
        if let Some(peer) = peer {
            req.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
        }
        req
    }

    fn user_header(req: &Request) -> Option<String> {
        req.headers().get("x-user").and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_answers_429_with_retry_after_in_the_error_shape() {
        let layer = RateLimitLayer::new(Arc::new(limiter(1, 0.5, 10)));
        let app = app(layer);
        let ok = app.clone().oneshot(request(None, Some("10.0.0.1:5000"), None)).await.expect("infallible");
        assert_eq!(ok.status(), StatusCode::OK);
        let limited = app.clone().oneshot(request(None, Some("10.0.0.1:5001"), None)).await.expect("infallible");
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "same address, other port");
        assert_eq!(limited.headers()[header::RETRY_AFTER], "2");
        let body = axum::body::to_bytes(limited.into_body(), 4096).await.expect("body");
        let body: ErrorBody = serde_json::from_slice(&body).expect("error shape");
        assert_eq!(body.error.code, "rate_limited");
        let other = app.oneshot(request(None, Some("10.0.0.2:5000"), None)).await.expect("infallible");
        assert_eq!(other.status(), StatusCode::OK, "another address has its own bucket");
    }

    #[tokio::test(start_paused = true)]
    async fn the_key_closure_wins_over_the_address() {
        let layer = RateLimitLayer::new(Arc::new(limiter(1, 1.0, 10))).with_key(user_header);
        let req = request(Some("alice"), Some("10.0.0.1:1"), None);
        assert_eq!(layer.key_of(&req), "key:alice");
        let app = app(layer);
        let send = |user, peer| app.clone().oneshot(request(user, Some(peer), None));
        assert_eq!(send(Some("alice"), "10.0.0.1:1").await.expect("ok").status(), StatusCode::OK);
        assert_eq!(
            send(Some("bob"), "10.0.0.1:1").await.expect("ok").status(),
            StatusCode::OK,
            "one office, two users"
        );
        assert_eq!(send(Some("alice"), "10.0.0.9:1").await.expect("ok").status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(send(None, "10.0.0.1:1").await.expect("ok").status(), StatusCode::OK, "no user: by address");
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted_and_ipv6_is_keyed_by_its_64() {
        let l = Arc::new(limiter(1, 1.0, 10));
        let req = request(None, Some("127.0.0.1:9"), Some("203.0.113.9, 198.51.100.7"));
        assert_eq!(RateLimitLayer::new(l.clone()).key_of(&req), "ip:127.0.0.1");
        let trusted = RateLimitLayer::new(l.clone()).trust_forwarded_for(true);
        assert_eq!(trusted.key_of(&req), "ip:198.51.100.7", "the entry our proxy added");
        let garbage = request(None, Some("127.0.0.1:9"), Some("not an address"));
        assert_eq!(trusted.key_of(&garbage), "ip:127.0.0.1");
        let v6 = request(None, Some("[2001:db8:1:2:aaaa::1]:443"), None);
        assert_eq!(trusted.key_of(&v6), "ip:2001:db8:1:2::/64");
        assert_eq!(trusted.key_of(&request(None, None, None)), "global");
    }

    #[tokio::test]
    async fn a_disabled_limit_passes_everything() {
        let settings = RateLimitSettings { enabled: false, burst: 1, ..Default::default() };
        let app = app(RateLimitLayer::from_settings(&settings));
        for _ in 0..5 {
            assert_eq!(app.clone().oneshot(request(None, None, None)).await.expect("ok").status(), StatusCode::OK);
        }
    }
}
