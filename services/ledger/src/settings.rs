//! Ledger service settings.

use serde::{Deserialize, Serialize};
use whistle_common::ratelimit::RateLimitSettings;
use whistle_common::settings::{
    AuthSettings, DatabaseSettings, FetchSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError,
    ShutdownSettings,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The list, export and report endpoints, and `/healthz`, `/readyz`, `/metrics`.
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    /// The token denylist (logouts), shared with the other services.
    pub redis: RedisSettings,
    /// The ledger's PostgreSQL database (required).
    pub database: DatabaseSettings,
    /// The registry file, for district names in report titles; unset: codes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_path: Option<std::path::PathBuf>,
    /// The assist data, for the outcome figures' repeat window (the inspection fence's window
    /// in `fences.json`).
    pub assist: AssistSettings,
    pub group_id: String,
    /// Case events applied at most in one transaction (a batch: what was fetched while the
    /// last batch was written; one case's events apply in topic order).
    pub max_batch: usize,
    /// Token verification (the shared `jwt_secret`).
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8086),
            kafka: KafkaSettings::default().fetching(FetchSettings::BULK),
            redis: RedisSettings::default(),
            database: DatabaseSettings::default(),
            registry_path: Some(std::path::PathBuf::from("deploy/data/registry.json")),
            assist: AssistSettings::default(),
            group_id: "ledger".to_owned(),
            max_batch: 512,
            auth: AuthSettings::default(),
            rate_limit: RateLimitSettings::default(),
            shutdown: ShutdownSettings::default(),
        }
    }
}

/// Where the assist data lives, as intake's setting of the same name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssistSettings {
    /// Directory of the assist data files; by default `assist/` next to the registry file, so
    /// one setting moves both (as for intake).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<std::path::PathBuf>,
}

impl Settings {
    /// Where the assist data lives, if anywhere.
    pub fn assist_data_dir(&self) -> Option<std::path::PathBuf> {
        self.assist
            .data_dir
            .clone()
            .or_else(|| self.registry_path.as_ref().and_then(|p| p.parent()).map(|p| p.join("assist")))
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        self.auth.validate()?;
        self.kafka.validate()?;
        self.rate_limit.validate()?;
        self.database.validate()?;
        if self.database.url.is_none() {
            return Err(SettingsError::Invalid {
                key: "database.url",
                message: "the ledger needs its PostgreSQL database (WHISTLE_DATABASE__URL)".into(),
            });
        }
        if self.assist_data_dir().is_none() {
            return Err(SettingsError::Invalid {
                key: "assist.data_dir",
                message: "the outcome figures need the assist data's fences.json (or a registry_path beside it)".into(),
            });
        }
        if !(1..=4096).contains(&self.max_batch) {
            return Err(SettingsError::Invalid { key: "max_batch", message: "must be between 1 and 4096".into() });
        }
        Ok(())
    }
}
