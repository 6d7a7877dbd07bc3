//! Bodies of the account administration API (`/api/v1/accounts...`, admin only) and of the
//! self-service password change (`POST /api/v1/auth/password`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A role and the scope it needs: `town` needs `town`; `department` needs `department`;
/// `command_centre` needs `district`; `manager` takes an optional `district` (none: the city);
/// `admin` takes none. Districts of towns and departments follow from their codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountScope {
    /// `town`, `department`, `command_centre`, `manager` or `admin`.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

/// `POST /api/v1/accounts`: a new account with its initial password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// 1 to 64 of `A-Z a-z 0-9 . _ @ -`, starting with a letter or digit.
    pub username: String,
    /// At least 10 characters, at most 256.
    pub password: String,
    /// `town`, `department`, `command_centre`, `manager` or `admin`.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

/// `POST /api/v1/accounts/{username}/password`: an administrator sets a new password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub password: String,
}

/// `POST /api/v1/auth/password`: the logged-in account changes its own password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub old_password: String,
    pub new_password: String,
}

/// An account of the account store, as administrators see it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountRecord {
    pub username: String,
    /// `town`, `department`, `command_centre`, `manager` or `admin`.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// A disabled account cannot log in, and its tokens were revoked when it was disabled.
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

/// `GET /api/v1/accounts`: the account store's accounts, by username. Accounts of the accounts
/// file and the demo accounts are not listed (they are not administered here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountRecord>,
}

/// One change to an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccountAuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The account that made the change (the administrator, or the account itself).
    pub actor: String,
    pub actor_role: String,
    /// `created`, `disabled`, `enabled`, `password_reset`, `role_assigned` or `password_changed`.
    pub action: String,
    /// The account changed.
    pub username: String,
    /// What changed (e.g. the role before and after); never a password or its hash.
    pub detail: serde_json::Value,
}

/// `GET /api/v1/accounts/audit[?username=NAME][&before=ID][&limit=N]`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccountAudit {
    pub entries: Vec<AccountAuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}
