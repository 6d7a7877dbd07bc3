//! Registry service settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use whistle_common::ratelimit::RateLimitSettings;
use whistle_common::settings::{
    AuthSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError, ShutdownSettings,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    /// Read by the what-if preview (the stored case views); never written.
    pub redis: RedisSettings,
    /// The shipped data file: version 0 of every item, and the districts, towns and departments.
    pub registry_path: PathBuf,
    /// Largest CSV import accepted, in bytes.
    pub max_import_bytes: usize,
    /// Token verification (the shared `jwt_secret`).
    pub auth: AuthSettings,
    /// Per-account request rate limits (`429 rate_limited`); see `whistle_common::ratelimit`.
    pub rate_limit: RateLimitSettings,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8085),
            kafka: KafkaSettings::default(),
            redis: RedisSettings::default(),
            registry_path: PathBuf::from("deploy/data/registry.json"),
            max_import_bytes: 8 * 1024 * 1024,
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
        if self.max_import_bytes < 1024 {
            return Err(SettingsError::Invalid { key: "max_import_bytes", message: "must be at least 1024".into() });
        }
        Ok(())
    }
}
