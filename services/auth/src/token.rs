//! Signed tokens: HS256 JWTs carrying the principal, with issue and expiry times.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use whistle_common::settings::AuthSettings;

use crate::principal::{Principal, Role};

/// The `iss` claim of every token Whistle issues.
pub const ISSUER: &str = "whistle";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
    #[serde(flatten)]
    role: Role,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired; log in again")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub principal: Principal,
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies tokens with one shared key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Clocks within one deployment agree closely; a small allowance only.
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// From validated settings (`AuthSettings::validate`).
    pub fn from_settings(settings: &AuthSettings) -> TokenKeys {
        let minutes = i64::try_from(settings.token_ttl_minutes).unwrap_or(i64::MAX / 60_000);
        TokenKeys::new(settings.jwt_secret.expose_secret().as_bytes(), Duration::minutes(minutes))
    }

    /// A token for `principal`, valid from now for the configured time.
    pub fn issue(&self, principal: &Principal) -> (String, DateTime<Utc>) {
        self.issue_at(principal, Utc::now(), self.ttl)
    }

    /// A token issued at `now`, valid for `ttl` (tests use this to make expired tokens).
    pub fn issue_at(&self, principal: &Principal, now: DateTime<Utc>, ttl: Duration) -> (String, DateTime<Utc>) {
        let expires_at = now + ttl;
        let claims = Claims {
            sub: principal.user.clone(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            role: principal.role.clone(),
        };
        // Encoding a plain struct with an HMAC key cannot fail.
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims");
        (token, expires_at)
    }

    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        // A token is a few hundred bytes; refuse anything absurd before parsing it.
        if token.len() > 4096 {
            return Err(TokenError::Invalid);
        }
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => {
                let expires_at = DateTime::from_timestamp(data.claims.exp, 0).ok_or(TokenError::Invalid)?;
                Ok(Verified { principal: Principal { user: data.claims.sub, role: data.claims.role }, expires_at })
            }
            Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(secret.as_bytes(), Duration::hours(8))
    }

    fn officer() -> Principal {
        Principal::new("dept-500103-UM", Role::Department { department: "500103-UM".into(), district: "500103".into() })
    }

    #[test]
    fn a_token_verifies_to_the_same_principal() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let (token, exp) = k.issue(&officer());
        let verified = k.verify(&token).expect("valid");
        assert_eq!(verified.principal, officer());
        assert_eq!(verified.expires_at.timestamp(), exp.timestamp());
    }

    #[test]
    fn forged_tampered_and_expired_tokens_are_refused() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let other = keys("another-secret-another-secret-xx");
        let (forged, _) = other.issue(&officer());
        assert_eq!(k.verify(&forged), Err(TokenError::Invalid));

        // Swap the payload for one claiming a wider role, keeping the signature.
        let (token, _) = k.issue(&officer());
        let parts: Vec<&str> = token.split('.').collect();
        let (manager, _) = k.issue(&Principal::new("x", Role::Manager { district: None }));
        let tampered = format!("{}.{}.{}", parts[0], manager.split('.').nth(1).expect("payload"), parts[2]);
        assert_eq!(k.verify(&tampered), Err(TokenError::Invalid));

        let (expired, _) = k.issue_at(&officer(), Utc::now() - Duration::hours(2), Duration::hours(1));
        assert_eq!(k.verify(&expired), Err(TokenError::Expired));

        for garbage in ["", "a.b.c", "Bearer x", &"x".repeat(5000)] {
            assert_eq!(k.verify(garbage), Err(TokenError::Invalid), "{garbage:.20}");
        }
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let (token, _) = k.issue(&officer());
        let payload = token.split('.').nth(1).expect("payload");
        // alg "none": header {"alg":"none","typ":"JWT"}
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(k.verify(&none), Err(TokenError::Invalid));
    }
}
