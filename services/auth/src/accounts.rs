//! Accounts and logins. Passwords are kept only as argon2id hashes (PHC strings); verifying one
//! costs tens of milliseconds of CPU on purpose, so it runs on the blocking pool, a few at a time.
//!
//! Where accounts come from, in order of precedence (the first that has the name decides):
//! 1. the accounts file (`auth.accounts_file`), read at start-up, changed only by editing it;
//! 2. the account store ([`AccountSource`], PostgreSQL), administered through the API;
//! 3. the demo accounts, when `auth.demo_password` is set (recognised by the live registry).
//!
//! A name the accounts file holds cannot be created in the store; a store account shadows the
//! demo account of the same name.
//!
//! Throttling is [`crate::throttle`]'s: only failures count, per account and client address.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::principal::{Principal, Role};
use crate::throttle::{LoginThrottle, Refusal};

/// Password checks running at once; more wait (each takes a core for tens of milliseconds).
const CONCURRENT_CHECKS: usize = 4;

/// Logins waiting for a check at most; beyond, a login is refused at once as busy, so a flood
/// cannot queue up minutes of hashing in front of everyone else.
const MAX_WAITING: usize = 64;

/// Longest username or password looked at; longer ones are refused without hashing.
pub const MAX_CREDENTIAL_CHARS: usize = 256;

/// argon2id memory cost in KiB (19 MiB), iterations and lanes: OWASP's recommended minimum for
/// argon2id (m=19456, t=2, p=1), about 20–50 ms on one core. Hashes carry their parameters, so
/// raising these later still verifies the old hashes.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("the documented argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// One account of the accounts file.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountEntry {
    pub username: String,
    /// An argon2 PHC string, e.g. `$argon2id$v=19$m=19456,t=2,p=1$...`.
    pub password_hash: String,
    #[serde(flatten)]
    pub role: Role,
}

/// An account of the account store, as a login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub enabled: bool,
}

/// Accounts kept outside the process (the PostgreSQL account store, `whistle-accounts`).
pub trait AccountSource: Send + Sync {
    /// The account named `username`, if there is one.
    fn find<'a>(&'a self, username: &'a str) -> BoxFuture<'a, anyhow::Result<Option<StoredAccount>>>;
}

/// Decides whether a demo username names a real place, and with which role.
pub type DemoResolver = Arc<dyn Fn(&str) -> Option<Role> + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: the answer does not say which.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The right password for a disabled account (said only to someone who knows the password).
    #[error("this account is disabled; ask an administrator")]
    Disabled,
    /// This client address failed too often lately; retry after the wait.
    #[error("too many failed logins from your address; retry in {} s", .0.as_secs().max(1))]
    TooManyAttempts(std::time::Duration),
    /// Too many logins waiting for a password check.
    #[error("too many logins at once; retry shortly")]
    Busy,
    /// This client address already has its share of logins running and waiting.
    #[error("too many logins at once from your address; retry in a second")]
    AddressBusy,
    /// The account store did not answer.
    #[error("the account store is unavailable; retry shortly")]
    Unavailable,
}

/// Where a login's account was found.
enum Found {
    File(Role),
    Store(StoredAccount),
    Demo(Role),
    Nobody,
}

/// Every account that can log in.
#[derive(Clone)]
pub struct Directory {
    accounts: Arc<HashMap<String, AccountEntry>>,
    store: Option<Arc<dyn AccountSource>>,
    demo: Option<(String, DemoResolver)>,
    /// Compared against when the user is unknown, so both cases cost the same.
    decoy: Arc<str>,
    permits: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    throttle: Arc<LoginThrottle>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("accounts", &self.accounts.len())
            .field("store", &self.store.is_some())
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

/// An argon2id hash of `password` with a fresh salt (the parameters above).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Checks `password` against a PHC string (whatever argon2 parameters it names).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Whether `hash` is a PHC string a login can check.
pub fn is_password_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok()
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
            store: None,
            demo,
            decoy: hash_password("decoy password, never matches")?.into(),
            permits: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
            waiting: Arc::default(),
            throttle: Arc::new(LoginThrottle::new()),
        })
    }

    /// Adds the account store as the second source (after the accounts file).
    pub fn with_store(mut self, store: Arc<dyn AccountSource>) -> Directory {
        self.store = Some(store);
        self
    }

    /// Whether the accounts file holds `username` (such a name cannot be created in the store).
    pub fn in_file(&self, username: &str) -> bool {
        self.accounts.contains_key(username)
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

    /// Checks a username and password sent from `client` (the client's address, the key its
    /// failures are counted under).
    pub async fn login(&self, username: &str, password: &str, client: &str) -> Result<Principal, LoginError> {
        if username.is_empty()
            || username.chars().count() > MAX_CREDENTIAL_CHARS
            || password.chars().count() > MAX_CREDENTIAL_CHARS
        {
            return Err(LoginError::InvalidCredentials);
        }
        let mut admission = self.throttle.admit(username, client).map_err(|refusal| match refusal {
            Refusal::Wait(wait) => LoginError::TooManyAttempts(wait),
            Refusal::Busy => LoginError::AddressBusy,
        })?;
        // This address's turn first: its other logins wait apart from everyone else's.
        admission.turn().await;
        let found = self.find(username).await?;
        let hash: Arc<str> = match &found {
            Found::File(_) => self.accounts.get(username).map(|e| e.password_hash.as_str().into()).unwrap_or_default(),
            Found::Store(account) => account.password_hash.as_str().into(),
            Found::Demo(_) => self.demo.as_ref().map(|(h, _)| h.as_str().into()).unwrap_or_default(),
            Found::Nobody => self.decoy.clone(),
        };
        let waiting = self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if waiting >= MAX_WAITING {
            return Err(LoginError::Busy);
        }
        let matched = {
            let _permit = self.permits.acquire().await.map_err(|_| LoginError::Busy)?;
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false)
        };
        let role = match found {
            Found::Nobody => None,
            Found::File(role) | Found::Demo(role) => Some(role),
            Found::Store(before) if matched => {
                // Read again: an administrator may have disabled or changed the account while
                // the password was being checked, and the token must not outlive that change.
                let now = self.store_find(username).await?;
                match now {
                    Some(now) if now.password_hash == before.password_hash && now.role == before.role => {
                        if !now.enabled {
                            return Err(LoginError::Disabled);
                        }
                        Some(now.role)
                    }
                    _ => None,
                }
            }
            Found::Store(_) => None,
        };
        match role {
            Some(role) if matched => {
                self.throttle.succeeded(username, client);
                Ok(Principal::new(username, role))
            }
            _ => {
                self.throttle.failed(username, client);
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// The account named `username`, for a login someone else vouched for (single sign-on: the
    /// identity provider checked who it is, no password here). The role comes from wherever the
    /// account is kept, as at a password login; an unknown name is `InvalidCredentials`, a
    /// disabled account of the store `Disabled`.
    pub async fn account(&self, username: &str) -> Result<Principal, LoginError> {
        if username.is_empty() || username.chars().count() > MAX_CREDENTIAL_CHARS {
            return Err(LoginError::InvalidCredentials);
        }
        match self.find(username).await? {
            Found::File(role) | Found::Demo(role) => Ok(Principal::new(username, role)),
            Found::Store(account) if account.enabled => Ok(Principal::new(username, account.role)),
            Found::Store(_) => Err(LoginError::Disabled),
            Found::Nobody => Err(LoginError::InvalidCredentials),
        }
    }

    /// Hashes a new password on the blocking pool, sharing the password checks' permits (a
    /// hash costs what a check does).
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await.context("the password checks are closed")?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_password(&password)).await.context("hashing a password")?
    }

    async fn store_find(&self, username: &str) -> Result<Option<StoredAccount>, LoginError> {
        let Some(store) = &self.store else { return Ok(None) };
        store.find(username).await.map_err(|err| {
            tracing::warn!(error = %format_args!("{err:#}"), "account store unavailable at login");
            LoginError::Unavailable
        })
    }

    async fn find(&self, username: &str) -> Result<Found, LoginError> {
        if let Some(entry) = self.accounts.get(username) {
            return Ok(Found::File(entry.role.clone()));
        }
        if let Some(account) = self.store_find(username).await? {
            return Ok(Found::Store(account));
        }
        Ok(match &self.demo {
            Some((_, resolve)) => resolve(username).map_or(Found::Nobody, Found::Demo),
            None => Found::Nobody,
        })
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
        let ip = "ip:10.0.0.1";
        let p = dir.login("town-500103001", "whistle-demo", ip).await.expect("logs in");
        assert_eq!(p.role, Role::Town { town: "500103001".into(), district: "500103".into() });
        assert_eq!(dir.login("town-500103001", "wrong", ip).await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("town-999999999", "whistle-demo", ip).await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("", "whistle-demo", ip).await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("admin", &"x".repeat(10_000), ip).await, Err(LoginError::InvalidCredentials));
    }

    #[tokio::test]
    async fn guessing_from_one_address_slows_that_address_only_and_successes_are_never_slowed() {
        let dir = Directory::new(vec![], Some(&SecretString::from("whistle-demo")), resolver()).expect("builds");
        for n in 0..20 {
            assert!(dir.login("admin", "whistle-demo", "ip:10.0.0.1").await.is_ok(), "correct login {n}");
        }
        for n in 0..crate::throttle::FREE_FAILURES {
            assert_eq!(dir.login("admin", "guess", "ip:203.0.113.9").await, Err(LoginError::InvalidCredentials), "{n}");
        }
        assert!(matches!(
            dir.login("admin", "whistle-demo", "ip:203.0.113.9").await,
            Err(LoginError::TooManyAttempts(_))
        ));
        assert!(dir.login("admin", "whistle-demo", "ip:10.0.0.1").await.is_ok(), "the owner is not locked out");
        assert!(dir.login("town-500103001", "whistle-demo", "ip:203.0.113.9").await.is_ok(), "another account");
    }

    struct Store(std::sync::Mutex<Vec<StoredAccount>>);

    impl AccountSource for Store {
        fn find<'a>(&'a self, username: &'a str) -> BoxFuture<'a, anyhow::Result<Option<StoredAccount>>> {
            let found = self.0.lock().expect("lock").iter().find(|a| a.username == username).cloned();
            Box::pin(async move { Ok(found) })
        }
    }

    #[tokio::test]
    async fn the_file_wins_over_the_store_and_the_store_over_the_demo_accounts() {
        let file = AccountEntry {
            username: "li.wei".into(),
            password_hash: hash_password("from the file").expect("hash"),
            role: Role::Manager { district: None },
        };
        let stored = |username: &str, password: &str, enabled| StoredAccount {
            username: username.into(),
            password_hash: hash_password(password).expect("hash"),
            role: Role::Admin,
            enabled,
        };
        let store = Arc::new(Store(std::sync::Mutex::new(vec![
            stored("li.wei", "from the store", true),
            stored("admin", "the real admin", true),
            stored("zhang.min", "disabled one", false),
        ])));
        let dir = Directory::new(vec![file], Some(&SecretString::from("whistle-demo")), resolver())
            .expect("builds")
            .with_store(store);
        let ip = "ip:10.0.0.1";
        assert_eq!(
            dir.login("li.wei", "from the file", ip).await.expect("file").role,
            Role::Manager { district: None }
        );
        assert_eq!(dir.login("li.wei", "from the store", ip).await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("admin", "the real admin", ip).await.expect("store").role, Role::Admin);
        assert_eq!(dir.login("admin", "whistle-demo", ip).await, Err(LoginError::InvalidCredentials), "shadowed");
        assert!(dir.login("town-500103001", "whistle-demo", ip).await.is_ok(), "other demo accounts stay");
        assert_eq!(dir.login("zhang.min", "disabled one", ip).await, Err(LoginError::Disabled));
        assert_eq!(dir.login("zhang.min", "wrong", ip).await, Err(LoginError::InvalidCredentials));
        assert!(dir.in_file("li.wei") && !dir.in_file("admin"));
    }

    #[tokio::test]
    async fn an_account_vouched_for_elsewhere_has_its_own_role_and_a_disabled_one_is_refused() {
        let file = AccountEntry {
            username: "li.wei".into(),
            password_hash: hash_password("from the file").expect("hash"),
            role: Role::Manager { district: None },
        };
        let stored = |username: &str, enabled| StoredAccount {
            username: username.into(),
            password_hash: hash_password("unused").expect("hash"),
            role: Role::Admin,
            enabled,
        };
        let store = Arc::new(Store(std::sync::Mutex::new(vec![stored("wang.fang", true), stored("zhang.min", false)])));
        let dir = Directory::new(vec![file], Some(&SecretString::from("whistle-demo")), resolver())
            .expect("builds")
            .with_store(store);
        assert_eq!(dir.account("li.wei").await.expect("file").role, Role::Manager { district: None });
        assert_eq!(dir.account("wang.fang").await.expect("store").role, Role::Admin);
        assert!(matches!(dir.account("town-500103001").await.expect("demo").role, Role::Town { .. }));
        assert_eq!(dir.account("zhang.min").await, Err(LoginError::Disabled));
        assert_eq!(dir.account("nobody").await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.account("").await, Err(LoginError::InvalidCredentials));
    }

    #[test]
    fn hashes_use_the_documented_argon2id_parameters() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
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
        let ip = "ip:10.0.0.1";
        assert_eq!(dir.login("li.wei", "correct horse", ip).await.expect("logs in").user, "li.wei");
        assert_eq!(dir.login("li.wei", "whistle-demo", ip).await, Err(LoginError::InvalidCredentials));
        assert_eq!(dir.login("admin", "whistle-demo", ip).await, Err(LoginError::InvalidCredentials));
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
