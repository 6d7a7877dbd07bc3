//! One single sign-on in flight: where the browser returns to, the random values that tie the
//! provider's answer to this browser (state, nonce, PKCE verifier), and the signed cookie that
//! keeps them between the login redirect and the callback.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The flow cookie's name.
pub const COOKIE: &str = "whistle_oidc_flow";
/// Sent only to the single sign-on endpoints (the callback reads it).
pub const COOKIE_PATH: &str = "/api/v1/auth/oidc";
/// How long a sign-in at the provider may take.
pub const FLOW_TTL: Duration = Duration::minutes(10);
/// The flow cookie's audience: a Whistle access token is never a flow cookie, nor the reverse
/// (the access token verifier needs a `sub`, a `jti` and a role, which a flow cookie lacks).
pub const AUDIENCE: &str = "whistle-oidc-flow";
/// Longest `return_to` taken.
const MAX_RETURN_TO: usize = 512;

/// A path on this site to send the browser back to after signing in: relative, never another
/// origin (no `//host`, no `/\host`, no scheme), no fragment (the token travels in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReturnTo(String);

/// Why a `return_to` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a path on this site (like /console/), {0}")]
pub struct BadReturnTo(&'static str);

impl ReturnTo {
    pub fn parse(raw: &str) -> Result<ReturnTo, BadReturnTo> {
        if raw.len() > MAX_RETURN_TO {
            return Err(BadReturnTo("at most 512 characters"));
        }
        if !raw.starts_with('/') {
            return Err(BadReturnTo("starting with /"));
        }
        if raw.starts_with("//") || raw.contains('\\') {
            return Err(BadReturnTo("not //host or a backslash (another site)"));
        }
        // It goes into a Location header as it is: visible ASCII only (percent-encode the rest).
        if !raw.chars().all(|c| c.is_ascii_graphic()) {
            return Err(BadReturnTo("in visible ASCII (percent-encoded), without spaces"));
        }
        if raw.contains('#') {
            return Err(BadReturnTo("without a fragment"));
        }
        // Resolved the way a browser resolves a Location, it must stay on this origin.
        let base = url::Url::parse("https://whistle.invalid/").expect("a valid base");
        match base.join(raw) {
            Ok(joined) if joined.origin() == base.origin() => Ok(ReturnTo(raw.to_owned())),
            _ => Err(BadReturnTo("on this site")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ReturnTo {
    fn default() -> Self {
        ReturnTo("/".to_owned())
    }
}

/// 32 random bytes, base64url: a `state`, a `nonce`, a PKCE `code_verifier` (43 characters,
/// RFC 7636's shortest, 256 bits).
pub fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE `code_challenge` of a verifier (method S256).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Compares without stopping at the first difference (a `state` is a secret of the browser).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the callback needs from the login redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub return_to: ReturnTo,
}

impl Flow {
    /// A new flow with fresh random values.
    pub fn start(return_to: ReturnTo) -> Flow {
        Flow { state: random_value(), nonce: random_value(), verifier: random_value(), return_to }
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    aud: String,
    iss: String,
    iat: i64,
    exp: i64,
    #[serde(flatten)]
    flow: Flow,
}

/// Why a flow cookie was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("no sign-in is in progress in this browser (the flow cookie is missing); start again")]
    Missing,
    #[error("the sign-in took longer than 10 minutes; start again")]
    Expired,
    #[error("the sign-in's cookie is not valid; start again")]
    Invalid,
}

/// Signs and checks flow cookies (HS256 with the token signing key, audience [`AUDIENCE`]).
#[derive(Clone)]
pub struct FlowSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for FlowSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowSigner").finish_non_exhaustive()
    }
}

impl FlowSigner {
    pub fn new(secret: &[u8]) -> FlowSigner {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[whistle_auth::token::ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.leeway = 5;
        FlowSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// The cookie value for `flow`, valid for [`FLOW_TTL`] from `now`.
    pub fn sign(&self, flow: &Flow, now: DateTime<Utc>) -> String {
        let claims = Claims {
            aud: AUDIENCE.to_owned(),
            iss: whistle_auth::token::ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: (now + FLOW_TTL).timestamp(),
            flow: flow.clone(),
        };
        // Encoding plain claims with an HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 of plain claims")
    }

    pub fn verify(&self, value: &str) -> Result<Flow, FlowError> {
        if value.len() > 4096 {
            return Err(FlowError::Invalid);
        }
        match jsonwebtoken::decode::<Claims>(value, &self.decoding, &self.validation) {
            // The return path is checked again: the cookie is ours, but the rule is cheap.
            Ok(data) => ReturnTo::parse(data.claims.flow.return_to.as_str())
                .map(|_| data.claims.flow)
                .map_err(|_| FlowError::Invalid),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(FlowError::Expired),
            Err(_) => Err(FlowError::Invalid),
        }
    }
}

/// The `Set-Cookie` that keeps a flow (HttpOnly, SameSite=Lax so it comes back on the provider's
/// top-level redirect, `Secure` when the callback is HTTPS).
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Lax{}",
        FLOW_TTL.num_seconds(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` that forgets the flow (a flow is used once, however it ends).
pub fn clear_cookie(secure: bool) -> String {
    format!("{COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax{}", if secure { "; Secure" } else { "" })
}

/// The flow cookie's value among the request's `Cookie` headers.
pub fn read_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn return_to_takes_paths_of_this_site_only() {
        for ok in ["/", "/console/", "/a/b?x=1&next=http://x", "/%2F%2Fevil.example"] {
            assert_eq!(ReturnTo::parse(ok).expect(ok).as_str(), ok);
        }
        for bad in [
            "",
            "console",
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/a b",
            "/a\r\nSet-Cookie: x=1",
            "/控制台/",
            "/console/#/board",
            &format!("/{}", "a".repeat(600)),
        ] {
            assert!(ReturnTo::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn a_flow_cookie_round_trips_and_expires_after_ten_minutes() {
        let signer = FlowSigner::new(SECRET);
        let flow = Flow::start(ReturnTo::parse("/console/").expect("path"));
        assert_ne!(flow.state, flow.nonce);
        assert_eq!(flow.verifier.len(), 43, "RFC 7636: 43 to 128 characters");
        let now = Utc::now();
        assert_eq!(signer.verify(&signer.sign(&flow, now)), Ok(flow.clone()));
        let nine = signer.sign(&flow, now - Duration::minutes(9));
        assert_eq!(signer.verify(&nine), Ok(flow.clone()));
        let eleven = signer.sign(&flow, now - Duration::minutes(11));
        assert_eq!(signer.verify(&eleven), Err(FlowError::Expired));
    }

    #[test]
    fn a_flow_cookie_signed_otherwise_or_tampered_with_is_refused() {
        let signer = FlowSigner::new(SECRET);
        let flow = Flow::start(ReturnTo::default());
        let other = FlowSigner::new(b"another-secret-another-secret-xx");
        assert_eq!(signer.verify(&other.sign(&flow, Utc::now())), Err(FlowError::Invalid));
        let value = signer.sign(&flow, Utc::now());
        let mut forged = Flow::start(ReturnTo::default());
        forged.state = "chosen-by-an-attacker".into();
        let forged_value = signer.sign(&forged, Utc::now());
        let parts: Vec<&str> = value.split('.').collect();
        let spliced = format!("{}.{}.{}", parts[0], forged_value.split('.').nth(1).expect("payload"), parts[2]);
        assert_eq!(signer.verify(&spliced), Err(FlowError::Invalid));
        assert_eq!(signer.verify("garbage"), Err(FlowError::Invalid));
        // A Whistle access token, signed with the same key, is no flow cookie.
        let keys = whistle_auth::TokenKeys::new(SECRET, Duration::hours(1));
        let (token, _) = keys.issue(&whistle_auth::Principal::new("admin", whistle_auth::Role::Admin));
        assert_eq!(signer.verify(&token), Err(FlowError::Invalid));
        // Nor is a flow cookie an access token.
        assert!(keys.verify(&value).is_err());
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_scoped_to_the_sign_on_endpoints() {
        let set = set_cookie("v", true);
        for part in
            ["whistle_oidc_flow=v", "Path=/api/v1/auth/oidc", "Max-Age=600", "HttpOnly", "SameSite=Lax", "Secure"]
        {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie("v", false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, "a=1; whistle_oidc_flow=abc.def.ghi; b=2".parse().expect("header"));
        assert_eq!(read_cookie(&headers).as_deref(), Some("abc.def.ghi"));
        headers.insert(axum::http::header::COOKIE, "whistle_oidc_flow=".parse().expect("header"));
        assert_eq!(read_cookie(&headers), None);
    }
}
