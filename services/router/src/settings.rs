//! Router settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use whistle_common::settings::{HttpSettings, KafkaSettings, SettingsError, ShutdownSettings};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Admin listener: `/healthz`, `/readyz`, `/metrics`.
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    pub registry_path: PathBuf,
    /// Consumer group; every router instance of a deployment shares it.
    pub group_id: String,
    /// Raised whistles being routed at once (bounded, so memory is too).
    pub max_in_flight: usize,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8083),
            kafka: KafkaSettings::default(),
            registry_path: PathBuf::from("deploy/data/registry.json"),
            group_id: "whistle-router".to_owned(),
            max_in_flight: 256,
            shutdown: ShutdownSettings::default(),
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.max_in_flight == 0 || self.max_in_flight > 10_000 {
            return Err(SettingsError::Invalid { key: "max_in_flight", message: "must be between 1 and 10000".into() });
        }
        if self.group_id.trim().is_empty() {
            return Err(SettingsError::Invalid { key: "group_id", message: "must not be empty".into() });
        }
        Ok(())
    }
}
