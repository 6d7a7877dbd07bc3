//! Intake settings.

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
    pub redis: RedisSettings,
    pub registry: RegistrySettings,
    pub assist: AssistSettings,
    pub limits: Limits,
    pub auth: AuthSettings,
    /// Per-client request rate limits (`429 rate_limited`); see `whistle_common::ratelimit`.
    pub rate_limit: RateLimitSettings,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8081),
            kafka: KafkaSettings::default(),
            redis: RedisSettings::default(),
            registry: RegistrySettings::default(),
            assist: AssistSettings::default(),
            limits: Limits::default(),
            auth: AuthSettings::default(),
            rate_limit: RateLimitSettings::default(),
            shutdown: ShutdownSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySettings {
    /// The registry data file.
    pub path: PathBuf,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings { path: PathBuf::from("deploy/data/registry.json") }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssistSettings {
    /// Directory of the assist data files (`items.json`, `benchmarks.json`, `fences.json`); by
    /// default `assist/` next to the registry file, so one setting moves both.
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Where the assist data lives.
    pub fn assist_data_dir(&self) -> PathBuf {
        self.assist.data_dir.clone().unwrap_or_else(|| {
            self.registry.path.parent().map(|p| p.join("assist")).unwrap_or_else(|| PathBuf::from("assist"))
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted; photos are uploaded elsewhere and referenced by URL.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: 64 * 1024 }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.auth.validate()?;
        self.rate_limit.validate()?;
        if self.limits.max_body_bytes < 1024 {
            return Err(SettingsError::Invalid {
                key: "limits.max_body_bytes",
                message: "must be at least 1024".into(),
            });
        }
        if self.kafka.topics.cases == self.kafka.topics.deadletter {
            return Err(SettingsError::Invalid {
                key: "kafka.topics.deadletter",
                message: "must differ from kafka.topics.cases".into(),
            });
        }
        Ok(())
    }
}
