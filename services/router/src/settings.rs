//! Router settings.

use std::path::PathBuf;
use std::time::Duration;

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
    /// The Kafka `transactional.id` of this instance (`WHISTLE_TRANSACTIONAL_ID`). It must be
    /// stable across restarts of one instance and differ between instances: a restarted instance
    /// fences its predecessor (a zombie can no longer commit) and aborts the transaction that one
    /// left open. Empty (the default) means `{group_id}-{host name}`, right for one router per
    /// host (a StatefulSet pod name, a VM); set it when running several on one host.
    pub transactional_id: String,
    /// Most messages consumed into one transaction.
    pub batch_max_messages: usize,
    /// How long a batch waits for more messages after its first one before it commits.
    pub batch_linger_ms: u64,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8083),
            kafka: KafkaSettings::default(),
            registry_path: PathBuf::from("deploy/data/registry.json"),
            group_id: "whistle-router".to_owned(),
            transactional_id: String::new(),
            batch_max_messages: 500,
            batch_linger_ms: 10,
            shutdown: ShutdownSettings::default(),
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.kafka.validate()?;
        if self.batch_max_messages == 0 || self.batch_max_messages > 10_000 {
            return Err(SettingsError::Invalid {
                key: "batch_max_messages",
                message: "must be between 1 and 10000".into(),
            });
        }
        if self.batch_linger_ms > 1_000 {
            return Err(SettingsError::Invalid { key: "batch_linger_ms", message: "must be at most 1000".into() });
        }
        if self.group_id.trim().is_empty() {
            return Err(SettingsError::Invalid { key: "group_id", message: "must not be empty".into() });
        }
        if self.transactional_id.chars().any(char::is_whitespace) {
            return Err(SettingsError::Invalid { key: "transactional_id", message: "must not contain spaces".into() });
        }
        Ok(())
    }

    /// The `transactional.id` to use: the setting, or `{group_id}-{host name}`.
    pub fn transactional_id(&self) -> String {
        if !self.transactional_id.is_empty() {
            return self.transactional_id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{}-{host}", self.group_id)
    }

    pub fn batch_linger(&self) -> Duration {
        Duration::from_millis(self.batch_linger_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_transactional_id_wins_over_the_derived_one() {
        let settings = Settings { transactional_id: "router-0".into(), ..Default::default() };
        assert_eq!(settings.transactional_id(), "router-0");
    }

    #[test]
    fn the_default_transactional_id_is_stable_and_names_the_group() {
        let settings = Settings::default();
        assert!(settings.transactional_id().starts_with("whistle-router-"));
        assert_eq!(settings.transactional_id(), settings.transactional_id());
    }

    #[test]
    fn an_empty_batch_is_refused_by_name() {
        let err = Settings { batch_max_messages: 0, ..Default::default() }.validate().expect_err("refused");
        assert!(err.to_string().contains("batch_max_messages"), "{err}");
    }
}
