//! Signed tokens: HS256 JWTs carrying the principal, with issue and expiry times and a `jti`.
//!
//! The `jti` is a UUID v7: unique, so one token can be revoked (logout), and carrying the
//! instant of issue to the millisecond, so every token of an account issued before a change
//! (disabled, new password, new role) can be revoked at once ([`crate::revocation`]).

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use whistle_common::settings::AuthSettings;

use uuid::Uuid;

use crate::principal::{Principal, Role};

/// The `iss` claim of every token Whistle issues.
pub const ISSUER: &str = "whistle";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
    /// Absent only in tokens issued before revocation existed; those are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
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
    /// Logged out, or the account was disabled or changed since the token was issued.
    #[error("the token was revoked (logged out, or the account changed); log in again")]
    Revoked,
}

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub principal: Principal,
    pub expires_at: DateTime<Utc>,
    /// The token's id (a UUID v7).
    pub jti: Uuid,
    /// When the token was issued, to the millisecond (from the `jti`).
    pub issued_at: DateTime<Utc>,
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
        validation.set_required_spec_claims(&["exp", "iss", "sub", "jti"]);
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
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let stamp = uuid::Timestamp::from_unix(uuid::NoContext, millis / 1000, (millis % 1000) as u32 * 1_000_000);
        let claims = Claims {
            sub: principal.user.clone(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Some(Uuid::new_v7(stamp).to_string()),
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
                let jti =
                    data.claims.jti.as_deref().and_then(|j| Uuid::parse_str(j).ok()).ok_or(TokenError::Invalid)?;
                let issued_at = issued_at(&jti).ok_or(TokenError::Invalid)?;
                Ok(Verified {
                    principal: Principal { user: data.claims.sub, role: data.claims.role },
                    expires_at,
                    jti,
                    issued_at,
                })
            }
            Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }
}

/// The instant a UUID v7 was made, to the millisecond; `None` for other versions.
fn issued_at(jti: &Uuid) -> Option<DateTime<Utc>> {
    if jti.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = jti.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
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
        let (again, _) = k.issue(&officer());
        assert_ne!(k.verify(&again).expect("valid").jti, verified.jti, "every token has its own jti");
    }

    #[test]
    fn the_jti_carries_the_instant_of_issue_to_the_millisecond() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let at = DateTime::parse_from_rfc3339("2026-03-04T05:06:07.891Z").expect("time").with_timezone(&Utc);
        let (token, _) = k.issue_at(&officer(), at, Duration::days(3650));
        let verified = k.verify(&token).expect("valid");
        assert_eq!(verified.issued_at, at);
        assert_eq!(verified.jti.get_version_num(), 7);
    }

    #[test]
    fn a_token_without_a_jti_is_refused() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let claims = serde_json::json!({
            "sub": "manager", "iss": ISSUER, "iat": Utc::now().timestamp(),
            "exp": (Utc::now() + Duration::hours(1)).timestamp(), "role": "manager"
        });
        let old = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("encodes");
        assert_eq!(k.verify(&old), Err(TokenError::Invalid));
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
