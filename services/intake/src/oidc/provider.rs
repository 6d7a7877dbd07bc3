//! The identity provider as Whistle uses it: its discovery document and signing keys (read
//! again after `discovery_ttl`, and the keys also when an id_token names one not seen yet), the
//! authorization request, the code exchange and every check of the id_token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

use super::config::OidcConfig;
use super::flow::{Flow, s256_challenge, same};

/// What Whistle asks the provider for.
pub const SCOPE: &str = "openid profile email";
/// Signatures an id_token may carry: public-key ones only (an HMAC one would be keyed with the
/// client secret, and `none` is no signature).
pub const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];
/// One request to the provider at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Keys are read again for an unknown `kid` at most this often (a rotated key is found at once,
/// a flood of made-up `kid`s costs the provider one request per interval).
const KEYS_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// When the provider cannot be reached, its last discovery document and keys serve this much
/// longer than their TTL.
const STALE_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Clock difference allowed with the provider's `exp` / `iat` (another organisation's clocks).
const LEEWAY_SECONDS: u64 = 60;

/// Why the provider's part of a sign-in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// It did not answer, or answered something unusable; a retry may help.
    #[error("{0}")]
    Unavailable(String),
    /// It refused Whistle's client credentials: the deployment's settings are wrong.
    #[error(
        "the identity provider refused Whistle's client credentials; an administrator must check auth.oidc.client_id and auth.oidc.client_secret"
    )]
    ClientRefused,
    /// It refused the code (used already, expired, or the PKCE verifier does not match).
    #[error("the identity provider refused the sign-in code ({0}); start the sign-in again")]
    CodeRefused(String),
    /// The id_token failed a check.
    #[error("{0}")]
    BadToken(String),
}

/// The parts of the discovery document Whistle uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
}

#[derive(Debug, Clone)]
struct Cached {
    fetched: Instant,
    metadata: Arc<Metadata>,
    keys: Arc<JwkSet>,
    keys_fetched: Instant,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
}

/// The provider of `auth.oidc.issuer`.
#[derive(Debug)]
pub struct Provider {
    config: OidcConfig,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl Provider {
    pub fn new(config: OidcConfig) -> anyhow::Result<Provider> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            // The endpoints are the discovery document's; a redirect elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("whistle-intake")
            .build()
            .map_err(|e| anyhow::anyhow!("building the OIDC HTTP client: {e}"))?;
        Ok(Provider { config, http, cache: tokio::sync::Mutex::new(None) })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The authorization request for `flow`: where the login sends the browser.
    pub async fn authorization_url(&self, flow: &Flow) -> Result<Url, ProviderError> {
        let current = self.current().await?;
        let mut url = current.metadata.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", self.config.redirect_url.as_str())
            .append_pair("scope", SCOPE)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &s256_challenge(&flow.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Exchanges the callback's code (with the flow's PKCE verifier) for the id_token.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<String, ProviderError> {
        let current = self.current().await?;
        // client_secret_basic: both parts form-encoded first (RFC 6749, 2.3.1).
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let answer = self
            .http
            .post(current.metadata.token_endpoint.clone())
            .basic_auth(encode(&self.config.client_id), Some(encode(self.config.client_secret.expose_secret())))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.config.redirect_url.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| unavailable(format!("the identity provider's token endpoint did not answer: {e}")))?;
        let status = answer.status();
        if status.is_server_error() {
            return Err(unavailable(format!("the identity provider's token endpoint answered {status}")));
        }
        if status.is_client_error() {
            let body: ErrorAnswer = answer.json().await.unwrap_or_default();
            if status == reqwest::StatusCode::UNAUTHORIZED || body.error == "invalid_client" {
                tracing::error!(%status, error = %body.error, "the OIDC provider refused Whistle's client credentials");
                return Err(ProviderError::ClientRefused);
            }
            let error: String = if body.error.is_empty() { status.to_string() } else { body.error };
            return Err(ProviderError::CodeRefused(error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect()));
        }
        if !status.is_success() {
            return Err(unavailable(format!("the identity provider's token endpoint answered {status}")));
        }
        let body: TokenAnswer = answer
            .json()
            .await
            .map_err(|e| unavailable(format!("the identity provider's token answer is not JSON: {e}")))?;
        body.id_token.ok_or_else(|| {
            ProviderError::BadToken("the identity provider answered no id_token (is the openid scope allowed?)".into())
        })
    }

    /// Checks the id_token (signature by one of the provider's keys, `iss`, `aud`, `azp`, `exp`,
    /// the flow's `nonce`) and answers its claims. A key not seen yet (or, without a `kid`, a
    /// signature the only key does not verify) has the keys read again.
    pub async fn validate(&self, id_token: &str, nonce: &str) -> Result<Map<String, Value>, ProviderError> {
        let current = self.current().await?;
        match verify_id_token(&self.config, &current.keys, id_token, nonce) {
            Err(Unverified::UnknownKey(_)) => {}
            other => return other.map_err(Unverified::into_error),
        }
        let keys = self.refresh_keys(&current).await?;
        verify_id_token(&self.config, &keys, id_token, nonce).map_err(Unverified::into_error)
    }

    /// The account name the id_token's claims give (`auth.oidc.username_claim`).
    pub fn username(&self, claims: &Map<String, Value>) -> Result<String, ProviderError> {
        let claim = &self.config.username_claim;
        match claims.get(claim).and_then(Value::as_str) {
            Some(name) if !name.is_empty() && name.chars().count() <= 256 => Ok(name.to_owned()),
            _ => Err(ProviderError::BadToken(format!(
                "the id_token has no {claim} claim naming the account (auth.oidc.username_claim)"
            ))),
        }
    }

    /// The keys read again for a key not seen yet (a rotation), at most every
    /// [`KEYS_REFRESH_INTERVAL`]; otherwise the ones at hand.
    async fn refresh_keys(&self, current: &Cached) -> Result<Arc<JwkSet>, ProviderError> {
        let mut cache = self.cache.lock().await;
        match cache.as_mut() {
            Some(c) if c.keys_fetched.elapsed() >= KEYS_REFRESH_INTERVAL => {
                let keys = Arc::new(self.keys(&c.metadata.jwks_uri).await?);
                c.keys = keys.clone();
                c.keys_fetched = Instant::now();
                Ok(keys)
            }
            Some(c) => Ok(c.keys.clone()),
            None => Ok(current.keys.clone()),
        }
    }

    /// The discovery document and keys: cached ones while fresh, else read again; the last
    /// ones for a while longer when the provider does not answer.
    async fn current(&self) -> Result<Cached, ProviderError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.fetched.elapsed() < self.config.discovery_ttl
        {
            return Ok(c.clone());
        }
        match self.discover().await {
            Ok(fresh) => {
                *cache = Some(fresh.clone());
                Ok(fresh)
            }
            Err(e) => match cache.as_ref() {
                Some(stale) if stale.fetched.elapsed() < self.config.discovery_ttl + STALE_GRACE => {
                    tracing::warn!(error = %e, "OIDC discovery failed; using the last discovery document");
                    Ok(stale.clone())
                }
                _ => Err(e),
            },
        }
    }

    async fn discover(&self) -> Result<Cached, ProviderError> {
        let metadata: Metadata = self.get_json(&self.config.discovery_url, "discovery document").await?;
        if metadata.issuer != self.config.issuer {
            tracing::error!(configured = %self.config.issuer, discovered = %metadata.issuer, "OIDC issuer mismatch");
            return Err(unavailable(format!(
                "the identity provider's discovery document names the issuer {}, not auth.oidc.issuer",
                metadata.issuer
            )));
        }
        for (what, url) in [
            ("authorization_endpoint", &metadata.authorization_endpoint),
            ("token_endpoint", &metadata.token_endpoint),
            ("jwks_uri", &metadata.jwks_uri),
        ] {
            let http_ok = self.config.allow_http && url.scheme() == "http";
            if url.scheme() != "https" && !http_ok {
                return Err(unavailable(format!("the identity provider's {what} is not https: {url}")));
            }
        }
        let keys = self.keys(&metadata.jwks_uri).await?;
        let now = Instant::now();
        Ok(Cached { fetched: now, metadata: Arc::new(metadata), keys: Arc::new(keys), keys_fetched: now })
    }

    async fn keys(&self, jwks_uri: &Url) -> Result<JwkSet, ProviderError> {
        self.get_json(jwks_uri, "keys (jwks_uri)").await
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &Url, what: &str) -> Result<T, ProviderError> {
        let answer = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(format!("the identity provider's {what} did not answer: {e}")))?;
        if !answer.status().is_success() {
            return Err(unavailable(format!("the identity provider's {what} answered {}", answer.status())));
        }
        answer.json().await.map_err(|e| unavailable(format!("the identity provider's {what} is not usable: {e}")))
    }
}

fn unavailable(message: String) -> ProviderError {
    tracing::warn!(%message, "OIDC provider unavailable");
    ProviderError::Unavailable(message)
}

/// Whether a key's `alg` is the token's.
fn key_algorithm_is(key: KeyAlgorithm, alg: Algorithm) -> bool {
    matches!(
        (key, alg),
        (KeyAlgorithm::RS256, Algorithm::RS256)
            | (KeyAlgorithm::RS384, Algorithm::RS384)
            | (KeyAlgorithm::RS512, Algorithm::RS512)
            | (KeyAlgorithm::PS256, Algorithm::PS256)
            | (KeyAlgorithm::PS384, Algorithm::PS384)
            | (KeyAlgorithm::PS512, Algorithm::PS512)
            | (KeyAlgorithm::ES256, Algorithm::ES256)
            | (KeyAlgorithm::ES384, Algorithm::ES384)
    )
}

/// Why an id_token did not verify against a key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unverified {
    /// No key of the set fits its `kid` and algorithm, or (no `kid`) the set's only key does
    /// not verify it: the keys may have rotated.
    UnknownKey(String),
    /// Any other failed check.
    Bad(String),
}

impl Unverified {
    fn into_error(self) -> ProviderError {
        match self {
            Unverified::UnknownKey(m) | Unverified::Bad(m) => ProviderError::BadToken(m),
        }
    }
}

/// Every check of an id_token, against the provider's keys `keys`: a public-key signature by the
/// key of its `kid` (or the only key fit for its algorithm), `iss` exactly `auth.oidc.issuer`,
/// `aud` holding the client id (and `azp` the client id when there are several audiences), `exp`
/// and `iat` present and `exp` not past, and the `nonce` of this sign-in. Answers the claims.
pub fn verify_id_token(
    config: &OidcConfig,
    keys: &JwkSet,
    id_token: &str,
    nonce: &str,
) -> Result<Map<String, Value>, Unverified> {
    let bad = |m: &str| Unverified::Bad(m.to_owned());
    if id_token.len() > 16 * 1024 {
        return Err(bad("the id_token is too large"));
    }
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| bad("the id_token is not a signed JWT"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(Unverified::Bad(format!(
            "the id_token is signed with {:?}; Whistle takes RS256, ES256 and the other public-key signatures",
            header.alg
        )));
    }
    let Some(jwk) = pick(keys, header.kid.as_deref(), header.alg) else {
        return Err(Unverified::UnknownKey(format!(
            "no key of the provider's JWKS signed this id_token (kid {})",
            header.kid.as_deref().map_or_else(|| "absent".to_owned(), |k| k.chars().take(64).collect())
        )));
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad("the provider's signing key is not usable"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS;
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation) {
        Ok(data) => data.claims,
        // Without a `kid`, the provider's only key was taken: it may have been replaced since
        // the keys were read (a provider that names no keys rotates them just the same).
        Err(e) if header.kid.is_none() && matches!(e.kind(), ErrorKind::InvalidSignature) => {
            return Err(Unverified::UnknownKey(
                "the id_token's signature does not verify with the provider's key (absent kid)".into(),
            ));
        }
        Err(e) => {
            return Err(bad(match e.kind() {
                ErrorKind::ExpiredSignature => "the id_token has expired",
                ErrorKind::InvalidIssuer => "the id_token's issuer is not auth.oidc.issuer",
                ErrorKind::InvalidAudience => "the id_token is not for Whistle's client id",
                ErrorKind::InvalidSignature => "the id_token's signature does not verify",
                ErrorKind::MissingRequiredClaim(_) => "the id_token lacks exp, iat, iss, aud or sub",
                _ => "the id_token is not valid",
            }));
        }
    };
    // OpenID Connect Core 3.1.3.7: with several audiences, the authorized party must be us.
    if let Some(Value::Array(audiences)) = claims.get("aud")
        && audiences.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(config.client_id.as_str())
    {
        return Err(bad("the id_token names several audiences and its azp is not Whistle's client id"));
    }
    match claims.get("nonce").and_then(Value::as_str) {
        Some(theirs) if same(theirs, nonce) => {}
        _ => return Err(bad("the id_token's nonce is not this sign-in's (a replayed token?)")),
    }
    Ok(claims)
}

/// The key of `kid`, or without one the only signing key fit for `alg`.
fn pick(keys: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let fits = |jwk: &&Jwk| {
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => {
                matches!(
                    alg,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                )
            }
            AlgorithmParameters::EllipticCurve(_) => matches!(alg, Algorithm::ES256 | Algorithm::ES384),
            // Symmetric and EdDSA keys are never taken for an id_token here.
            AlgorithmParameters::OctetKey(_) | AlgorithmParameters::OctetKeyPair(_) => false,
        };
        let usable = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption));
        let same_alg = jwk.common.key_algorithm.is_none_or(|a| key_algorithm_is(a, alg));
        family && usable && same_alg
    };
    match kid {
        Some(kid) => keys.keys.iter().filter(|k| k.common.key_id.as_deref() == Some(kid)).find(fits).cloned(),
        None => {
            let mut fit = keys.keys.iter().filter(fits);
            match (fit.next(), fit.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use whistle_common::settings::{Environment, OidcSettings};

    use super::*;

    /// A key made for these tests only (never a provider's).
    const PRIVATE_DER: &[u8] = include_bytes!("testdata/test-only-rsa.der");
    const MODULUS: &str = "lACEWhijgTdpkDAme9JDGRJbvOcfGALkMlvb58vCu_l5s7o6R_sfWCH1Al4brgB3KiTHVtGTVu0NafeqhUMGKJF9YLSGybMAJ89xs0lC1iAleHeaSZdGDqQx0B0j_TNiMYSTQeGltMWTr4wvMK4HpDV3v_cJop1cRnOi8dFOGgbDNUkFVzpzq6jDlfyukugRkeTjZpGk4j5B5cvpQ55i-k_ZxwpxKIF9ufZmvWCmNDNzVkSc_VrDXXWNuj_-NvtS7FP911LX5YT5YrdLf5PYLxF3Xi1D-FgPoX9ku5vZsYrIPkITk5V1W80Nabpu9dBtHQto0XIK-Gu7IdEk4EMnPw";
    const ISSUER: &str = "https://id.example.org";

    fn config() -> OidcConfig {
        let s = OidcSettings {
            issuer: Some(ISSUER.into()),
            client_id: "whistle".into(),
            client_secret: Some("s3cret".to_owned().into()),
            redirect_url: Some("https://whistle.example.org/api/v1/auth/oidc/callback".into()),
            ..Default::default()
        };
        OidcConfig::from_settings(&s, Environment::Production).expect("valid").expect("on")
    }

    fn keys(kid: Option<&str>) -> JwkSet {
        let mut key = json!({"kty": "RSA", "n": MODULUS, "e": "AQAB", "use": "sig"});
        if let Some(kid) = kid {
            key["kid"] = json!(kid);
        }
        serde_json::from_value(json!({"keys": [key]})).expect("a JWKS")
    }

    fn claims() -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": ISSUER, "aud": ["whistle"], "sub": "s-1", "iat": now, "exp": now + 300,
               "nonce": "the-nonce", "preferred_username": "li.wei"})
    }

    fn sign(claims: &Value, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_owned);
        let key = EncodingKey::from_rsa_der(PRIVATE_DER);
        jsonwebtoken::encode(&header, claims, &key).expect("signs")
    }

    fn refused(token: &str, keys: &JwkSet) -> String {
        match verify_id_token(&config(), keys, token, "the-nonce") {
            Err(Unverified::Bad(m) | Unverified::UnknownKey(m)) => m,
            Ok(c) => panic!("accepted {c:?}"),
        }
    }

    #[test]
    fn a_good_id_token_verifies_with_or_without_a_kid() {
        let c =
            verify_id_token(&config(), &keys(Some("k1")), &sign(&claims(), Some("k1")), "the-nonce").expect("valid");
        assert_eq!(c.get("preferred_username"), Some(&json!("li.wei")));
        verify_id_token(&config(), &keys(None), &sign(&claims(), None), "the-nonce").expect("one key, no kid");
    }

    #[test]
    fn an_es256_id_token_verifies_with_its_p256_key_and_not_with_an_rsa_one() {
        const P256_DER: &[u8] = include_bytes!("testdata/test-only-p256.der");
        let ec: JwkSet = serde_json::from_value(json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec1",
            "x": "ZT8VFYJtTu0PT5U7n2pJlHTmXTsXKmV6MtMWbRhIVkI", "y": "z23ab4Ols-I8bLgkr5grGYSCWDUI3qQIXVpNybtzNN8"}]}))
        .expect("a JWKS");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("ec1".into());
        let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_ec_der(P256_DER)).expect("signs");
        let c = verify_id_token(&config(), &ec, &token, "the-nonce").expect("valid");
        assert_eq!(c.get("preferred_username"), Some(&json!("li.wei")));
        // The same kid on an RSA key: no key fits an ES256 signature.
        let mut rsa = keys(Some("ec1"));
        rsa.keys.extend(keys(None).keys);
        assert!(matches!(verify_id_token(&config(), &rsa, &token, "the-nonce"), Err(Unverified::UnknownKey(_))));
    }

    #[test]
    fn an_id_token_of_another_sign_in_issuer_or_client_is_refused() {
        let k = keys(None);
        let other_nonce = verify_id_token(&config(), &k, &sign(&claims(), None), "another-nonce");
        assert!(matches!(other_nonce, Err(Unverified::Bad(m)) if m.contains("nonce")));
        let mut c = claims();
        c.as_object_mut().expect("object").remove("nonce");
        assert!(refused(&sign(&c, None), &k).contains("nonce"));
        let mut c = claims();
        c["iss"] = json!("https://evil.example");
        assert!(refused(&sign(&c, None), &k).contains("issuer"));
        let mut c = claims();
        c["aud"] = json!("someone-else");
        assert!(refused(&sign(&c, None), &k).contains("client id"));
        let mut c = claims();
        c["aud"] = json!(["whistle", "someone-else"]);
        assert!(refused(&sign(&c, None), &k).contains("azp"));
        c["azp"] = json!("whistle");
        verify_id_token(&config(), &k, &sign(&c, None), "the-nonce").expect("azp is ours");
        let mut c = claims();
        c["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
        assert!(refused(&sign(&c, None), &k).contains("expired"));
    }

    #[test]
    fn a_forged_unsigned_or_unknown_key_id_token_is_refused() {
        let k = keys(Some("k1"));
        let token = sign(&claims(), Some("k1"));
        let parts: Vec<&str> = token.split('.').collect();
        let mut c = claims();
        c["preferred_username"] = json!("admin");
        let other = sign(&c, Some("k1"));
        let spliced = format!("{}.{}.{}", parts[0], other.split('.').nth(1).expect("payload"), parts[2]);
        assert!(refused(&spliced, &k).contains("signature"));
        // alg none: {"alg":"none"}
        let none = format!("eyJhbGciOiJub25lIn0.{}.", parts[1]);
        assert!(!refused(&none, &k).is_empty());
        // HS256 keyed with anything: refused before any key is looked at.
        let hs = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(b"s3cret"))
            .expect("signs");
        assert!(refused(&hs, &k).contains("HS256"));
        assert!(matches!(
            verify_id_token(&config(), &k, &sign(&claims(), Some("k2")), "the-nonce"),
            Err(Unverified::UnknownKey(_))
        ));
        // Without a kid, a signature the only key does not verify may be a rotated key's: the
        // keys are read again, and the token is refused if it still does not verify.
        let no_kid = sign(&claims(), None);
        let parts: Vec<&str> = no_kid.split('.').collect();
        let mut c = claims();
        c["preferred_username"] = json!("admin");
        let other = sign(&c, None);
        let spliced = format!("{}.{}.{}", parts[0], other.split('.').nth(1).expect("payload"), parts[2]);
        assert!(matches!(
            verify_id_token(&config(), &keys(None), &spliced, "the-nonce"),
            Err(Unverified::UnknownKey(_))
        ));
    }
}
