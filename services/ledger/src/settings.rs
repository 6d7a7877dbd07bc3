//! Ledger service settings.

use serde::{Deserialize, Serialize};
use whistle_common::ratelimit::RateLimitSettings;
use whistle_common::settings::{
    AuthSettings, DatabaseSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError, ShutdownSettings,
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
    pub group_id: String,
    /// Case events applied at once (different cases; one case's events apply in order).
    pub max_in_flight: usize,
    /// Token verification (the shared `jwt_secret`).
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8086),
            kafka: KafkaSettings::default(),
            redis: RedisSettings::default(),
            database: DatabaseSettings::default(),
            registry_path: Some(std::path::PathBuf::from("deploy/data/registry.json")),
            group_id: "ledger".to_owned(),
            max_in_flight: 32,
            auth: AuthSettings::default(),
            rate_limit: RateLimitSettings::default(),
            shutdown: ShutdownSettings::default(),
        }
    }
}

impl Settings {
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
        if !(1..=1024).contains(&self.max_in_flight) {
            return Err(SettingsError::Invalid { key: "max_in_flight", message: "must be between 1 and 1024".into() });
        }
        Ok(())
    }
}
