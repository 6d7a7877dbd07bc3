//! Accounts and their audit in PostgreSQL. Every change and its audit entry are written in one
//! transaction: there is no change without its entry.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::postgres::{PgPool, PgPoolOptions};
use whistle_auth::accounts::{AccountSource, StoredAccount};
use whistle_auth::{Principal, Role};
use whistle_common::settings::DatabaseSettings;

use crate::username::Username;

/// Accounts listed at most by one call (a city has a few thousand).
pub const MAX_LISTED: i64 = 10_000;
/// Audit entries answered at most by one call.
pub const MAX_AUDIT_PAGE: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such account")]
    NotFound,
    #[error("an account with this name exists")]
    Exists,
    /// The old password given for a change is not the account's (it changed meanwhile).
    #[error("the password changed meanwhile")]
    Changed,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// An account of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

/// One change to an account.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub username: String,
    pub detail: Value,
}

#[derive(sqlx::FromRow)]
struct Row {
    username: String,
    password_hash: String,
    role: String,
    town: Option<String>,
    department: Option<String>,
    district: Option<String>,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    password_changed_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    actor_role: String,
    action: String,
    username: String,
    detail: sqlx::types::Json<Value>,
}

const COLUMNS: &str =
    "username, password_hash, role, town, department, district, enabled, created_at, updated_at, password_changed_at";

/// A role as the table's columns: (role, town, department, district).
fn columns(role: &Role) -> (&'static str, Option<&str>, Option<&str>, Option<&str>) {
    match role {
        Role::Town { town, district } => ("town", Some(town), None, Some(district)),
        Role::Department { department, district } => ("department", None, Some(department), Some(district)),
        Role::CommandCentre { district } => ("command_centre", None, None, Some(district)),
        Role::Manager { district } => ("manager", None, None, district.as_deref()),
        Role::Supervisor { district } => ("supervisor", None, None, district.as_deref()),
        Role::Admin => ("admin", None, None, None),
    }
}

/// A role and its scope as the audit records it.
pub fn scope_json(role: &Role) -> Value {
    let (name, town, department, district) = columns(role);
    let mut v = json!({"role": name});
    for (key, value) in [("town", town), ("department", department), ("district", district)] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    v
}

impl TryFrom<Row> for Account {
    type Error = anyhow::Error;

    fn try_from(row: Row) -> anyhow::Result<Account> {
        let missing = || anyhow::anyhow!("account {}: role {} without its scope", row.username, row.role);
        let role = match row.role.as_str() {
            "town" => Role::Town {
                town: row.town.clone().ok_or_else(missing)?,
                district: row.district.clone().ok_or_else(missing)?,
            },
            "department" => Role::Department {
                department: row.department.clone().ok_or_else(missing)?,
                district: row.district.clone().ok_or_else(missing)?,
            },
            "command_centre" => Role::CommandCentre { district: row.district.clone().ok_or_else(missing)? },
            "manager" => Role::Manager { district: row.district.clone() },
            "supervisor" => Role::Supervisor { district: row.district.clone() },
            "admin" => Role::Admin,
            other => anyhow::bail!("account {}: unknown role {other}", row.username),
        };
        Ok(Account {
            username: row.username,
            password_hash: row.password_hash,
            role,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            password_changed_at: row.password_changed_at,
        })
    }
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> AuditEntry {
        AuditEntry {
            id: row.id,
            at: row.at,
            actor: row.actor,
            actor_role: row.actor_role,
            action: row.action,
            username: row.username,
            detail: row.detail.0,
        }
    }
}

/// The account store. Cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct AccountStore {
    pool: PgPool,
}

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

async fn audit(tx: &mut Tx, actor: &Principal, action: &str, username: &str, detail: Value) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO account_audit (actor, actor_role, action, username, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(&actor.user)
        .bind(actor.role.name())
        .bind(action)
        .bind(username)
        .bind(sqlx::types::Json(detail))
        .execute(&mut **tx)
        .await
        .context("writing the account audit")?;
    Ok(())
}

impl AccountStore {
    /// Connects (the pool opens connections as they are needed) and runs the migrations.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<AccountStore> {
        let url = settings.url.as_ref().context("database.url is not set")?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds.max(1)))
            .connect(url.expose_secret())
            .await
            .context("connecting to the account store (database.url)")?;
        let store = AccountStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Brings the schema up to date (several instances may do so at once: sqlx takes a lock).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations").run(&self.pool).await.context("migrating the account store")
    }

    /// Answers a trivial query (readiness).
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.context("pinging the account store")?;
        Ok(())
    }

    async fn begin(&self) -> anyhow::Result<Tx> {
        self.pool.begin().await.context("starting a transaction")
    }

    pub async fn find(&self, username: &str) -> anyhow::Result<Option<Account>> {
        let row = sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} FROM accounts WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .context("reading an account")?;
        row.map(Account::try_from).transpose()
    }

    /// Every account, by name (at most [`MAX_LISTED`]).
    pub async fn list(&self) -> anyhow::Result<Vec<Account>> {
        let rows = sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} FROM accounts ORDER BY username LIMIT $1"))
            .bind(MAX_LISTED)
            .fetch_all(&self.pool)
            .await
            .context("listing accounts")?;
        rows.into_iter().map(Account::try_from).collect()
    }

    /// A new, enabled account.
    pub async fn create(
        &self,
        actor: &Principal,
        username: &Username,
        password_hash: &str,
        role: &Role,
    ) -> Result<Account, StoreError> {
        let mut tx = self.begin().await?;
        let (name, town, department, district) = columns(role);
        let row = sqlx::query_as::<_, Row>(&format!(
            "INSERT INTO accounts (username, password_hash, role, town, department, district) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(username.as_str())
        .bind(password_hash)
        .bind(name)
        .bind(town)
        .bind(department)
        .bind(district)
        .fetch_optional(&mut *tx)
        .await
        .context("creating an account")?;
        let account = Account::try_from(row.ok_or(StoreError::Exists)?)?;
        audit(&mut tx, actor, "created", username.as_str(), scope_json(role)).await?;
        tx.commit().await.context("committing")?;
        Ok(account)
    }

    /// Locks the account's row for the rest of the transaction.
    async fn lock(tx: &mut Tx, username: &str) -> Result<Account, StoreError> {
        let row = sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} FROM accounts WHERE username = $1 FOR UPDATE"))
            .bind(username)
            .fetch_optional(&mut **tx)
            .await
            .context("reading an account")?;
        Ok(Account::try_from(row.ok_or(StoreError::NotFound)?)?)
    }

    /// Enables or disables the account; audited only when it changes. The caller revokes the
    /// account's tokens when disabling.
    pub async fn set_enabled(&self, actor: &Principal, username: &str, enabled: bool) -> Result<Account, StoreError> {
        let mut tx = self.begin().await?;
        let before = AccountStore::lock(&mut tx, username).await?;
        if before.enabled == enabled {
            return Ok(before);
        }
        let row = sqlx::query_as::<_, Row>(&format!(
            "UPDATE accounts SET enabled = $2, updated_at = now() WHERE username = $1 RETURNING {COLUMNS}"
        ))
        .bind(username)
        .bind(enabled)
        .fetch_one(&mut *tx)
        .await
        .context("updating an account")?;
        let action = if enabled { "enabled" } else { "disabled" };
        audit(&mut tx, actor, action, username, json!({})).await?;
        tx.commit().await.context("committing")?;
        Ok(Account::try_from(row)?)
    }

    /// An administrator sets a new password.
    pub async fn reset_password(
        &self,
        actor: &Principal,
        username: &str,
        password_hash: &str,
    ) -> Result<Account, StoreError> {
        let mut tx = self.begin().await?;
        AccountStore::lock(&mut tx, username).await?;
        let row = sqlx::query_as::<_, Row>(&format!(
            "UPDATE accounts SET password_hash = $2, password_changed_at = now(), updated_at = now() \
             WHERE username = $1 RETURNING {COLUMNS}"
        ))
        .bind(username)
        .bind(password_hash)
        .fetch_one(&mut *tx)
        .await
        .context("updating an account")?;
        audit(&mut tx, actor, "password_reset", username, json!({})).await?;
        tx.commit().await.context("committing")?;
        Ok(Account::try_from(row)?)
    }

    /// The account changes its own password: only while `old_hash` is still its hash (the one
    /// the old password was checked against).
    pub async fn change_own_password(
        &self,
        account: &Principal,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<Account, StoreError> {
        let mut tx = self.begin().await?;
        let before = AccountStore::lock(&mut tx, &account.user).await?;
        if before.password_hash != old_hash || !before.enabled {
            return Err(StoreError::Changed);
        }
        let row = sqlx::query_as::<_, Row>(&format!(
            "UPDATE accounts SET password_hash = $2, password_changed_at = now(), updated_at = now() \
             WHERE username = $1 RETURNING {COLUMNS}"
        ))
        .bind(&account.user)
        .bind(new_hash)
        .fetch_one(&mut *tx)
        .await
        .context("updating an account")?;
        audit(&mut tx, account, "password_changed", &account.user, json!({})).await?;
        tx.commit().await.context("committing")?;
        Ok(Account::try_from(row)?)
    }

    /// Gives the account another role and scope; audited (before and after) when it changes.
    pub async fn assign_role(&self, actor: &Principal, username: &str, role: &Role) -> Result<Account, StoreError> {
        let mut tx = self.begin().await?;
        let before = AccountStore::lock(&mut tx, username).await?;
        if &before.role == role {
            return Ok(before);
        }
        let (name, town, department, district) = columns(role);
        let row = sqlx::query_as::<_, Row>(&format!(
            "UPDATE accounts SET role = $2, town = $3, department = $4, district = $5, updated_at = now() \
             WHERE username = $1 RETURNING {COLUMNS}"
        ))
        .bind(username)
        .bind(name)
        .bind(town)
        .bind(department)
        .bind(district)
        .fetch_one(&mut *tx)
        .await
        .context("updating an account")?;
        let detail = json!({"from": scope_json(&before.role), "to": scope_json(role)});
        audit(&mut tx, actor, "role_assigned", username, detail).await?;
        tx.commit().await.context("committing")?;
        Ok(Account::try_from(row)?)
    }

    /// Audit entries, newest first: of one account or of all, older than `before` (an id).
    pub async fn audit(
        &self,
        username: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let rows = sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, actor, actor_role, action, username, detail FROM account_audit \
             WHERE ($1::text IS NULL OR username = $1) AND ($2::bigint IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(username)
        .bind(before)
        .bind(limit.clamp(1, MAX_AUDIT_PAGE))
        .fetch_all(&self.pool)
        .await
        .context("reading the account audit")?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }
}

impl AccountSource for AccountStore {
    fn find<'a>(&'a self, username: &'a str) -> BoxFuture<'a, anyhow::Result<Option<StoredAccount>>> {
        Box::pin(async move {
            // Names the table cannot hold are not looked up (and cost no round trip).
            if Username::parse(username).is_err() {
                return Ok(None);
            }
            Ok(AccountStore::find(self, username).await?.map(|a| StoredAccount {
                username: a.username,
                password_hash: a.password_hash,
                role: a.role,
                enabled: a.enabled,
            }))
        })
    }
}
