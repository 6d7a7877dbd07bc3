//! Revoked tokens: a denylist in Redis whose entries expire with the tokens they name, and the
//! [`Verifier`] every service checks tokens with (signature, expiry, then the denylist).
//!
//! Two kinds of entry, under the deployment's Redis key prefix:
//! - `<prefix>auth:revoked:<jti>`: one token, logged out. Expires when the token does.
//! - `<prefix>auth:not-before:<user>`: the account's tokens issued at or before this instant
//!   (milliseconds since the epoch) are revoked: the account was disabled, its password reset or
//!   its role changed. Expires after the longest a token lives, when no such token is left.
//!
//! Cost: checking a token is one Redis round trip (`MGET` of its two keys) the first time this
//! process sees it in a while. The verdict is then kept for [`CACHE_FOR`] (a revocation, until
//! the token expires), in a table of at most [`MAX_CACHED`] tokens, so a busy client costs one
//! look-up per token and second at most, and a revocation made by another process takes effect
//! here within [`CACHE_FOR`] (at once in the process that made it). When Redis does not answer,
//! the check fails closed: `503 unavailable`, never a revoked token let through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use uuid::Uuid;
use whistle_common::redis_conn::Redis;
use whistle_common::settings::AuthSettings;

use crate::http::AuthError;
use crate::token::{TokenError, TokenKeys, Verified};

/// How long a "not revoked" verdict is trusted before Redis is asked again.
pub const CACHE_FOR: Duration = Duration::from_secs(1);

/// Tokens whose verdict is kept at most; a fuller table is swept, then cleared.
pub const MAX_CACHED: usize = 50_000;

/// Longest a denylist look-up may take before the request is answered `503`.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a revocation could not be checked or recorded.
#[derive(Debug, thiserror::Error)]
#[error("the token denylist (Redis) is unavailable: {0}")]
pub struct Unavailable(String);

enum Backend {
    Redis {
        redis: Redis,
        prefix: String,
    },
    /// For handler tests without Redis: the same rules, in this process only.
    Memory(Mutex<HashMap<String, i64>>),
}

#[derive(Clone, Copy)]
struct Cached {
    revoked: bool,
    until: Instant,
}

/// The denylist. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Revocations {
    backend: Arc<Backend>,
    /// How long a not-before entry is kept: the longest a token lives, plus the clock leeway.
    keep_not_before: Duration,
    cache: Arc<Mutex<HashMap<Uuid, (String, Cached)>>>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &*self.backend {
            Backend::Redis { .. } => "redis",
            Backend::Memory(_) => "memory",
        };
        f.debug_struct("Revocations").field("backend", &kind).finish_non_exhaustive()
    }
}

/// The allowance on clocks between services (as [`TokenKeys`] allows on expiry).
const LEEWAY: Duration = Duration::from_secs(60);

impl Revocations {
    /// The denylist in Redis under `prefix`; `token_ttl` is the longest a token lives.
    pub fn redis(redis: Redis, prefix: impl Into<String>, token_ttl: Duration) -> Revocations {
        Revocations::with(Backend::Redis { redis, prefix: prefix.into() }, token_ttl)
    }

    /// A denylist in this process's memory (handler tests).
    pub fn in_memory(token_ttl: Duration) -> Revocations {
        Revocations::with(Backend::Memory(Mutex::default()), token_ttl)
    }

    fn with(backend: Backend, token_ttl: Duration) -> Revocations {
        Revocations { backend: Arc::new(backend), keep_not_before: token_ttl + LEEWAY, cache: Arc::default() }
    }

    fn revoked_key(prefix: &str, jti: &Uuid) -> String {
        format!("{prefix}auth:revoked:{jti}")
    }

    fn not_before_key(prefix: &str, user: &str) -> String {
        format!("{prefix}auth:not-before:{user}")
    }

    /// Whether the token was revoked.
    pub async fn is_revoked(&self, verified: &Verified) -> Result<bool, Unavailable> {
        let now = Instant::now();
        if let Some((_, cached)) = self.lock().get(&verified.jti)
            && cached.until > now
        {
            return Ok(cached.revoked);
        }
        let (jti_entry, not_before) = self.look_up(verified).await?;
        let revoked = jti_entry || not_before.is_some_and(|ms| verified.issued_at.timestamp_millis() <= ms);
        let until = if revoked {
            let left = (verified.expires_at - Utc::now()).to_std().unwrap_or_default();
            now + left + LEEWAY
        } else {
            now + CACHE_FOR
        };
        self.remember(verified, Cached { revoked, until }, now);
        Ok(revoked)
    }

    async fn look_up(&self, verified: &Verified) -> Result<(bool, Option<i64>), Unavailable> {
        match &*self.backend {
            Backend::Redis { redis, prefix } => {
                let keys = [
                    Revocations::revoked_key(prefix, &verified.jti),
                    Revocations::not_before_key(prefix, &verified.principal.user),
                ];
                let mut conn = redis.clone();
                let mut cmd = redis::cmd("MGET");
                cmd.arg(&keys);
                let query = cmd.query_async::<(Option<String>, Option<i64>)>(&mut conn);
                match tokio::time::timeout(LOOKUP_TIMEOUT, query).await {
                    Ok(Ok((jti, not_before))) => Ok((jti.is_some(), not_before)),
                    Ok(Err(err)) => Err(Unavailable(err.to_string())),
                    Err(_) => Err(Unavailable("no answer in time".into())),
                }
            }
            Backend::Memory(map) => {
                let map = map.lock().unwrap_or_else(|p| p.into_inner());
                Ok((
                    map.contains_key(&Revocations::revoked_key("", &verified.jti)),
                    map.get(&Revocations::not_before_key("", &verified.principal.user)).copied(),
                ))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (String, Cached)>> {
        // Plain values only: a poisoned lock still holds usable verdicts.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, verified: &Verified, cached: Cached, now: Instant) {
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, c)| c.until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(verified.jti, (verified.principal.user.clone(), cached));
    }

    /// The instant up to which the account's tokens are revoked, if it has one.
    pub async fn revoked_until(&self, user: &str) -> Result<Option<DateTime<Utc>>, Unavailable> {
        let ms = match &*self.backend {
            Backend::Redis { redis, prefix } => {
                let mut conn = redis.clone();
                let mut cmd = redis::cmd("GET");
                cmd.arg(Revocations::not_before_key(prefix, user));
                match tokio::time::timeout(LOOKUP_TIMEOUT, cmd.query_async::<Option<i64>>(&mut conn)).await {
                    Ok(Ok(ms)) => ms,
                    Ok(Err(err)) => return Err(Unavailable(err.to_string())),
                    Err(_) => return Err(Unavailable("no answer in time".into())),
                }
            }
            Backend::Memory(map) => {
                map.lock().unwrap_or_else(|p| p.into_inner()).get(&Revocations::not_before_key("", user)).copied()
            }
        };
        Ok(ms.and_then(DateTime::from_timestamp_millis))
    }

    /// Revokes one token (logout) until it expires.
    pub async fn revoke(&self, verified: &Verified) -> Result<(), Unavailable> {
        let left = (verified.expires_at - Utc::now()).to_std().unwrap_or_default() + LEEWAY;
        match &*self.backend {
            Backend::Redis { redis, prefix } => {
                let mut conn = redis.clone();
                redis::cmd("SET")
                    .arg(Revocations::revoked_key(prefix, &verified.jti))
                    .arg(1)
                    .arg("PX")
                    .arg(millis(left))
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| Unavailable(e.to_string()))?;
            }
            Backend::Memory(map) => {
                map.lock().unwrap_or_else(|p| p.into_inner()).insert(Revocations::revoked_key("", &verified.jti), 1);
            }
        }
        let now = Instant::now();
        self.remember(verified, Cached { revoked: true, until: now + left }, now);
        Ok(())
    }

    /// Revokes every token of `user` issued at or before `at`. A later call with an earlier
    /// instant never shortens what an earlier call revoked.
    pub async fn revoke_all(&self, user: &str, at: DateTime<Utc>) -> Result<(), Unavailable> {
        let at = at.timestamp_millis();
        match &*self.backend {
            Backend::Redis { redis, prefix } => {
                // Keep the larger instant: two changes racing must not undo each other.
                let script = redis::Script::new(
                    "local old = tonumber(redis.call('GET', KEYS[1]) or '0') \
                     local new = tonumber(ARGV[1]) \
                     if new > old then old = new end \
                     redis.call('SET', KEYS[1], old, 'PX', ARGV[2]) return old",
                );
                let mut conn = redis.clone();
                script
                    .key(Revocations::not_before_key(prefix, user))
                    .arg(at)
                    .arg(millis(self.keep_not_before))
                    .invoke_async::<i64>(&mut conn)
                    .await
                    .map_err(|e| Unavailable(e.to_string()))?;
            }
            Backend::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
                let entry = map.entry(Revocations::not_before_key("", user)).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        // This process forgets what it knew of the account's tokens at once.
        self.lock().retain(|_, (owner, _)| owner != user);
        Ok(())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Verifies tokens as every service must: signature, issuer and expiry ([`TokenKeys`]), then the
/// denylist ([`Revocations`]).
#[derive(Clone, Debug)]
pub struct Verifier {
    pub keys: Arc<TokenKeys>,
    pub revocations: Revocations,
}

impl Verifier {
    pub fn new(keys: Arc<TokenKeys>, revocations: Revocations) -> Verifier {
        Verifier { keys, revocations }
    }

    /// A service's verifier: the keys of validated `auth` settings, the denylist in its Redis
    /// under the deployment's key prefix.
    pub fn from_settings(auth: &AuthSettings, redis: Redis, key_prefix: &str) -> Verifier {
        let ttl = Duration::from_secs(auth.token_ttl_minutes.saturating_mul(60));
        Verifier::new(Arc::new(TokenKeys::from_settings(auth)), Revocations::redis(redis, key_prefix, ttl))
    }

    /// The token's content, if it is valid and not revoked.
    pub async fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let verified = self.keys.verify(token)?;
        self.recheck(&verified).await?;
        Ok(verified)
    }

    /// Whether a token verified earlier (a live connection's) is still not revoked.
    pub async fn recheck(&self, verified: &Verified) -> Result<(), AuthError> {
        match self.revocations.is_revoked(verified).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(AuthError::Token(TokenError::Revoked)),
            Err(err) => {
                tracing::warn!(error = %err, "token denylist unavailable");
                Err(AuthError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::{Principal, Role};

    fn setup() -> (Verifier, Arc<TokenKeys>) {
        let keys = Arc::new(TokenKeys::new(b"0123456789abcdef0123456789abcdef", chrono::Duration::hours(1)));
        (Verifier::new(keys.clone(), Revocations::in_memory(Duration::from_secs(3600))), keys)
    }

    fn manager() -> Principal {
        Principal::new("li.wei", Role::Manager { district: None })
    }

    #[tokio::test]
    async fn a_logged_out_token_is_refused_and_others_of_the_account_are_not() {
        let (verifier, keys) = setup();
        let (first, _) = keys.issue(&manager());
        let (second, _) = keys.issue(&manager());
        let verified = verifier.verify(&first).await.expect("valid");
        verifier.revocations.revoke(&verified).await.expect("revoked");
        assert_eq!(verifier.verify(&first).await, Err(AuthError::Token(TokenError::Revoked)));
        assert!(verifier.verify(&second).await.is_ok(), "another session of the account stays");
    }

    #[tokio::test]
    async fn revoking_an_account_refuses_its_earlier_tokens_and_not_later_ones() {
        let (verifier, keys) = setup();
        let now = Utc::now();
        let (before, _) = keys.issue_at(&manager(), now - chrono::Duration::seconds(5), chrono::Duration::hours(1));
        let (at, _) = keys.issue_at(&manager(), now, chrono::Duration::hours(1));
        let other = Principal::new("zhang.min", Role::Admin);
        let (others, _) = keys.issue(&other);
        assert!(verifier.verify(&before).await.is_ok(), "cached as valid first");
        verifier.revocations.revoke_all("li.wei", now).await.expect("revoked");
        assert_eq!(verifier.verify(&before).await, Err(AuthError::Token(TokenError::Revoked)), "the cache is dropped");
        assert_eq!(verifier.verify(&at).await, Err(AuthError::Token(TokenError::Revoked)), "issued at the instant");
        let (after, _) = keys.issue_at(&manager(), now + chrono::Duration::milliseconds(1), chrono::Duration::hours(1));
        assert!(verifier.verify(&after).await.is_ok(), "a token issued after the change is valid");
        assert!(verifier.verify(&others).await.is_ok(), "other accounts are untouched");
        // An earlier instant does not undo the later one.
        verifier.revocations.revoke_all("li.wei", now - chrono::Duration::hours(1)).await.expect("revoked");
        assert_eq!(verifier.verify(&at).await, Err(AuthError::Token(TokenError::Revoked)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_stays_bounded() {
        let (verifier, keys) = setup();
        for n in 0..(MAX_CACHED + 10) {
            let p = Principal::new(format!("u{n}"), Role::Admin);
            verifier.verify(&keys.issue(&p).0).await.expect("valid");
        }
        assert!(verifier.revocations.lock().len() <= MAX_CACHED);
    }
}
