//! Typed settings shared by the services.
//!
//! Layering: the service's `Default`, then the TOML file named by `WHISTLE_CONFIG` (if set), then
//! environment variables `WHISTLE_<KEY>` or `WHISTLE_<SECTION>__<KEY>` (double underscore between
//! levels, e.g. `WHISTLE_GROUP_ID=whistle-router`, `WHISTLE_KAFKA__BROKERS=127.0.0.1:19092`).
//! A variable is a setting when its first part names one of the service's top-level settings,
//! so the dev scripts' own `WHISTLE_RUN`, `WHISTLE_CACHE`… never collide. Within a section, an
//! unknown key is an error.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: {0}")]
    Load(#[from] config::ConfigError),
    #[error("settings: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Loads settings of type `T`, starting from `T::default()`.
pub fn load<T>() -> Result<T, SettingsError>
where
    T: DeserializeOwned + Serialize + Default,
{
    load_from(std::env::vars())
}

/// As [`load`], from an explicit environment (for tests).
pub fn load_from<T, I>(env: I) -> Result<T, SettingsError>
where
    T: DeserializeOwned + Serialize + Default,
    I: IntoIterator<Item = (String, String)>,
{
    let env: HashMap<String, String> = env.into_iter().collect();
    let defaults = config::Config::try_from(&T::default())?;
    let top_level: Vec<String> =
        defaults.clone().try_deserialize::<HashMap<String, config::Value>>()?.into_keys().collect();
    let overrides: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix("WHISTLE_")
                .and_then(|rest| rest.split("__").next())
                .is_some_and(|first| top_level.iter().any(|t| t.eq_ignore_ascii_case(first)))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut builder = config::Config::builder().add_source(defaults);
    if let Some(path) = env.get("WHISTLE_CONFIG") {
        builder = builder.add_source(config::File::with_name(path).required(true));
    }
    let environment = config::Environment::with_prefix("WHISTLE")
        .prefix_separator("_")
        .separator("__")
        .try_parsing(true)
        .source(Some(overrides));
    Ok(builder.add_source(environment).build()?.try_deserialize()?)
}

/// Where Kafka is and what the topics are called.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    pub brokers: String,
    pub topics: Topics,
    /// Partitions for topics this service creates if they are missing.
    pub partitions: i32,
    pub replication_factor: i32,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "127.0.0.1:19092".to_owned(),
            topics: Topics::default(),
            partitions: 6,
            replication_factor: 1,
        }
    }
}

/// Topic names. Tests give every run its own names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// Every event in every whistle's life, keyed by whistle id.
    pub cases: String,
    /// Messages a consumer could not process, with the reason.
    pub deadletter: String,
    /// The registry's item records (compacted, key = item code); every router and intake
    /// instance builds its live copy of the registry from it.
    pub registry: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            cases: "whistle.cases.v1".to_owned(),
            deadletter: "whistle.deadletter.v1".to_owned(),
            registry: "whistle.registry.v1".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// May carry a password, so it never prints.
    #[serde(serialize_with = "expose")]
    pub url: SecretString,
    /// Prefix of every key this deployment writes; tests use a random one.
    pub key_prefix: String,
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    // Only used to seed the layered config with defaults; never for display.
    s.serialize_str(secret.expose_secret())
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings { url: SecretString::from("redis://127.0.0.1:16379"), key_prefix: "whistle:".to_owned() }
    }
}

/// Authentication, shared by every service that answers people: they all verify the same
/// signed tokens, and the intake service also issues them at login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// The HMAC key tokens are signed with (at least 32 bytes); every service must share it.
    /// No default: a deployment sets `WHISTLE_AUTH__JWT_SECRET` (the dev scripts generate one).
    #[serde(serialize_with = "expose")]
    pub jwt_secret: SecretString,
    /// How long a token issued at login stays valid.
    pub token_ttl_minutes: u64,
    /// When set, the demo accounts (`town-<code>`, `dept-<code>`, `manager`, `manager-<district>`,
    /// `admin`) exist with this password. Never set it in production.
    #[serde(serialize_with = "expose_opt", skip_serializing_if = "Option::is_none")]
    pub demo_password: Option<SecretString>,
    /// A JSON file of real accounts: `[{"username", "password_hash" (argon2 PHC string), "role", ...}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts_file: Option<std::path::PathBuf>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: SecretString::from(""),
            token_ttl_minutes: 8 * 60,
            demo_password: None,
            accounts_file: None,
        }
    }
}

/// Shortest signing key accepted (HS256 keys shorter than the hash add no strength).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl AuthSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.jwt_secret.expose_secret().len() < MIN_JWT_SECRET_BYTES {
            return Err(SettingsError::Invalid {
                key: "auth.jwt_secret",
                message: format!(
                    "must be set to at least {MIN_JWT_SECRET_BYTES} bytes (WHISTLE_AUTH__JWT_SECRET); every service shares it"
                ),
            });
        }
        if self.token_ttl_minutes == 0 || self.token_ttl_minutes > 7 * 24 * 60 {
            return Err(SettingsError::Invalid {
                key: "auth.token_ttl_minutes",
                message: "must be between 1 minute and 7 days".into(),
            });
        }
        Ok(())
    }
}

fn expose_opt<S: serde::Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

/// An HTTP listener. Port 0 picks a free port (tests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
}

impl HttpSettings {
    pub fn new(port: u16) -> Self {
        HttpSettings { host: "127.0.0.1".to_owned(), port }
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Shutdown behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// How long draining may take after SIGTERM before tasks are abandoned.
    pub grace_seconds: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings { grace_seconds: 10 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        kafka: KafkaSettings,
        redis: RedisSettings,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn environment_overrides_defaults() {
        let s: Sample =
            load_from(env(&[("WHISTLE_KAFKA__BROKERS", "k:1"), ("WHISTLE_KAFKA__PARTITIONS", "3")])).expect("loads");
        assert_eq!(s.kafka.brokers, "k:1");
        assert_eq!(s.kafka.partitions, 3);
        assert_eq!(s.kafka.topics.cases, "whistle.cases.v1");
    }

    #[test]
    fn unknown_keys_are_rejected_and_named() {
        let err = load_from::<Sample, _>(env(&[("WHISTLE_KAFKA__BROKRS", "k:1")])).expect_err("typo is refused");
        assert!(err.to_string().contains("brokrs"), "{err}");
    }

    #[test]
    fn variables_that_name_no_setting_are_left_to_others() {
        let s: Sample = load_from(env(&[("WHISTLE_RUN", "/tmp/x"), ("WHISTLE_DEMO_PASSWORD", "p")])).expect("loads");
        assert_eq!(s.redis.key_prefix, "whistle:");
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct WithTopLevel {
        group_id: String,
        kafka: KafkaSettings,
    }

    #[test]
    fn top_level_settings_are_set_without_a_section() {
        let s: WithTopLevel =
            load_from(env(&[("WHISTLE_GROUP_ID", "g1"), ("WHISTLE_KAFKA__BROKERS", "k:2")])).expect("loads");
        assert_eq!((s.group_id.as_str(), s.kafka.brokers.as_str()), ("g1", "k:2"));
    }

    #[test]
    fn secrets_do_not_print() {
        let s = RedisSettings { url: SecretString::from("redis://:hunter2@h:1"), key_prefix: "p".into() };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
