//! SLA service settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use whistle_common::ratelimit::RateLimitSettings;
use whistle_common::settings::{
    AuthSettings, FetchSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError, ShutdownSettings,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `/api/v1/sla/summary` and `/healthz`, `/readyz`, `/metrics`.
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    pub redis: RedisSettings,
    pub registry_path: PathBuf,
    /// The SLA policy file.
    pub policy_path: PathBuf,
    pub group_id: String,
    /// How often the open/overdue gauges are recomputed.
    pub gauge_seconds: u64,
    /// Token verification for `/api/v1/sla/summary` (the shared `jwt_secret`).
    pub auth: AuthSettings,
    /// Per-account request rate limits (`429 rate_limited`); see `whistle_common::ratelimit`.
    pub rate_limit: RateLimitSettings,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8084),
            // The clocks run on the events' own times: a fetch up to 100 ms late moves no
            // deadline, and under load it takes many events at once (at 200 whistles/s the SLA
            // service's CPU per whistle fell from 0.66 to 0.36 ms; docs/performance.md).
            kafka: KafkaSettings::default().fetching(FetchSettings::BULK),
            redis: RedisSettings::default(),
            registry_path: PathBuf::from("deploy/data/registry.json"),
            policy_path: PathBuf::from("deploy/data/sla.json"),
            group_id: "whistle-sla".to_owned(),
            gauge_seconds: 30,
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
        if self.gauge_seconds == 0 {
            return Err(SettingsError::Invalid { key: "gauge_seconds", message: "must be at least 1".into() });
        }
        Ok(())
    }
}
