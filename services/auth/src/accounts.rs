//! Accounts and logins. Passwords are kept only as argon2id hashes (PHC strings); verifying one
//! costs tens of milliseconds of CPU on purpose, so it runs on the blocking pool, a few at a time.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::principal::{Principal, Role};

/// Password checks running at once; more wait (each takes a core for tens of milliseconds).
const CONCURRENT_CHECKS: usize = 4;

/// Logins waiting for a check at most; beyond, a login is refused at once as busy, so a flood
/// cannot queue up minutes of hashing in front of everyone else.
const MAX_WAITING: usize = 64;

/// Attempts per username: a burst of 10, then one every 5 seconds, whatever the outcome. A
/// password is not guessed at that pace, and a person who mistypes a few times never notices.
const ATTEMPTS_BURST: u32 = 10;
const ATTEMPTS_PER_SECOND: f64 = 0.2;

/// Longest username or password looked at; longer ones are refused without hashing.
pub const MAX_CREDENTIAL_CHARS: usize = 256;

/// One account of the accounts file.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountEntry {
    pub username: String,
    /// An argon2 PHC string, e.g. `$argon2id$v=19$m=19456,t=2,p=1$...`.
    pub password_hash: String,
    #[serde(flatten)]
    pub role: Role,
}

/// Decides whether a demo username names a real place, and with which role.
pub type DemoResolver = Arc<dyn Fn(&str) -> Option<Role> + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: the answer does not say which.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// Too many attempts for this username lately; retry after the wait.
    #[error("too many login attempts for this account; retry in {} s", .0.as_secs().max(1))]
    TooManyAttempts(std::time::Duration),
    /// Too many logins waiting for a password check.
    #[error("too many logins at once; retry shortly")]
    Busy,
}

/// Every account that can log in.
#[derive(Clone)]
pub struct Directory {
    accounts: Arc<HashMap<String, AccountEntry>>,
    demo: Option<(String, DemoResolver)>,
    /// Compared against when the user is unknown, so both cases cost the same.
    decoy: Arc<str>,
    permits: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    attempts: Arc<whistle_common::ratelimit::RateLimiter>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("accounts", &self.accounts.len())
            .field("demo", &self.demo.is_some())
            .finish_non_exhaustive()
    }
}

/// Counts a login out of the waiting line when it leaves, however it leaves.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// An argon2id hash of `password` with a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

impl Directory {
    /// Accounts from `accounts` plus, when `demo_password` is set, the demo accounts that
    /// `resolver` recognises. Hashes the demo password once (about 20–50 ms).
    pub fn new(
        accounts: Vec<AccountEntry>,
        demo_password: Option<&SecretString>,
        resolver: DemoResolver,
    ) -> anyhow::Result<Directory> {
        let mut by_name = HashMap::new();
        for entry in accounts {
            PasswordHash::new(&entry.password_hash)
                .map_err(|e| anyhow::anyhow!("account {}: password_hash is not a PHC string: {e}", entry.username))?;
            if by_name.insert(entry.username.clone(), entry).is_some() {
                anyhow::bail!("an account is listed twice");
            }
        }
        let demo = demo_password.map(|p| hash_password(p.expose_secret()).map(|h| (h, resolver))).transpose()?;
        Ok(Directory {
            accounts: Arc::new(by_name),
            demo,
            decoy: hash_password("decoy password, never matches")?.into(),
            permits: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
            waiting: Arc::default(),
            attempts: Arc::new(whistle_common::ratelimit::RateLimiter::new(
                whistle_common::ratelimit::Rate::new(ATTEMPTS_BURST, ATTEMPTS_PER_SECOND),
                100_000,
            )),
        })
    }

    /// Reads an accounts file (a JSON array of [`AccountEntry`]).
    pub fn read_accounts(path: &Path) -> anyhow::Result<Vec<AccountEntry>> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Whether demo accounts are on.
    pub fn demo(&self) -> bool {
        self.demo.is_some()
    }

    /// Checks a username and password.
    pub async fn login(&self, username: &str, password: &str) -> Result<Principal, LoginError> {
        if username.is_empty()
            || username.chars().count() > MAX_CREDENTIAL_CHARS
            || password.chars().count() > MAX_CREDENTIAL_CHARS
        {
            return Err(LoginError::InvalidCredentials);
        }
        let (hash, role): (Arc<str>, Option<Role>) = match self.accounts.get(username) {
            Some(entry) => (entry.password_hash.as_str().into(), Some(entry.role.clone())),
            None => match &self.demo {
                Some((hash, resolve)) => match resolve(username) {
                    Some(role) => (hash.as_str().into(), Some(role)),
                    None => (self.decoy.clone(), None),
                },
                None => (self.decoy.clone(), None),
            },
        };
        self.attempts.check(username).map_err(LoginError::TooManyAttempts)?;
        let waiting = self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if waiting >= MAX_WAITING {
            return Err(LoginError::Busy);
        }
        let _permit = self.permits.acquire().await.map_err(|_| LoginError::Busy)?;
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
        match role {
            Some(role) if matched => Ok(Principal::new(username, role)),
            _ => Err(LoginError::InvalidCredentials),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> DemoResolver {
        Arc::new(|name: &str| match name {
            "town-500103001" => Some(Role::Town { town: "500103001".into(), district: "500103".into() }),
            "admin" => Some(Role::Admin),
            _ => None,
        })
    }

    #[tokio::test]
    async fn demo_accounts_exist_only_for_known_places_and_the_right_password() {
        let dir = Directory::new(vec![], Some(&SecretString::from("whistle-demo")), resolver()).expect("builds");
        let p = dir.login("town-500103001", "whistle-demo").await.expect("logs in");
        assert_eq!(p.role, Role::Town { town: "500103001".into(), district: "500103".into() });
        assert_eq!(dir.login("town-500103001", "wrong").await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("town-999999999", "whistle-demo").await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("", "whistle-demo").await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("admin", &"x".repeat(10_000)).await, Err(LoginError::InvalidCredentials));
    }

    #[tokio::test]
    async fn guessing_one_accounts_password_is_slowed_and_other_accounts_are_not() {
        let dir = Directory::new(vec![], Some(&SecretString::from("whistle-demo")), resolver()).expect("builds");
        for n in 0..ATTEMPTS_BURST {
            assert_eq!(dir.login("admin", "guess").await, Err(LoginError::InvalidCredentials), "attempt {n}");
        }
        assert!(matches!(dir.login("admin", "whistle-demo").await, Err(LoginError::TooManyAttempts(_))));
        assert!(dir.login("town-500103001", "whistle-demo").await.is_ok(), "another account logs in");
    }

    #[tokio::test]
    async fn without_a_demo_password_only_listed_accounts_log_in() {
        let entry = AccountEntry {
            username: "li.wei".into(),
            password_hash: hash_password("correct horse").expect("hash"),
            role: Role::Manager { district: Some("500103".into()) },
        };
        assert!(entry.password_hash.starts_with("$argon2id$"), "stored hashed: {}", entry.password_hash);
        let dir = Directory::new(vec![entry], None, resolver()).expect("builds");
        assert!(!dir.demo());
        assert_eq!(dir.login("li.wei", "correct horse").await.expect("logs in").user, "li.wei");
        assert_eq!(dir.login("li.wei", "whistle-demo").await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("admin", "whistle-demo").await, Err(LoginError::InvalidCredentials));
    }

    #[test]
    fn an_accounts_file_with_a_plain_password_is_refused() {
        let entry = AccountEntry { username: "x".into(), password_hash: "hunter2".into(), role: Role::Admin };
        assert!(Directory::new(vec![entry], None, resolver()).is_err());
        let json = r#"[{"username":"a","password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA","role":"manager","district":"500103"}]"#;
        let parsed: Vec<AccountEntry> = serde_json::from_str(json).expect("parses");
        assert_eq!(parsed[0].role, Role::Manager { district: Some("500103".into()) });
    }
}
