//! Notifier settings (`WHISTLE_SMTP__URL`, `WHISTLE_DELIVERY__MAX_ATTEMPTS`, …).

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use whistle_common::ratelimit::RateLimitSettings;
use whistle_common::settings::{
    AuthSettings, DatabaseSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError, ShutdownSettings,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The roster and dead-letter API and `/healthz`, `/readyz`, `/metrics`.
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    /// Only for the token denylist (auth).
    pub redis: RedisSettings,
    /// Rosters, case towns and deliveries (required).
    pub database: DatabaseSettings,
    pub group_id: String,
    /// Sample rosters loaded when the store has none (`deploy/data/rosters.json`); empty: none.
    pub rosters_path: Option<PathBuf>,
    /// The console's base URL, for the link in every message.
    pub console_url: String,
    pub smtp: SmtpSettings,
    pub sms: SmsSettings,
    pub delivery: DeliverySettings,
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub shutdown: ShutdownSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// `smtp://host:port`, plain SMTP (a local relay or the dev server, `deploy/dev/smtp.sh`).
    pub url: String,
    /// The sender, e.g. `吹哨报到 <notify@whistle.localhost>`.
    pub from: String,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            url: "smtp://127.0.0.1:12525".to_owned(),
            from: "吹哨报到 <notify@whistle.localhost>".to_owned(),
        }
    }
}

impl SmtpSettings {
    pub fn host_port(&self) -> Result<(String, u16), SettingsError> {
        let bad =
            || SettingsError::Invalid { key: "smtp.url", message: format!("{:?} is not smtp://host:port", self.url) };
        let rest = self.url.strip_prefix("smtp://").ok_or_else(bad)?;
        let (host, port) = rest.trim_end_matches('/').rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok((host.to_owned(), port))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSettings {
    /// The SMS gateway's endpoint; unset: no SMS.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer …`; never printed.
    #[serde(serialize_with = "expose_opt", skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretString>,
}

fn expose_opt<S: serde::Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    // Only used to seed the layered config with defaults; never for display.
    match secret {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// The first retry waits about this long; each further one twice as long …
    pub backoff_base_ms: u64,
    /// … up to this.
    pub backoff_cap_seconds: u64,
    /// How long a sender holds a delivery before another may take it over.
    pub lease_seconds: u64,
    /// Deliveries leased at once, and sent at once.
    pub batch: u32,
    pub concurrency: usize,
    /// One attempt's bound (SMTP dialogue, robot or gateway request).
    pub timeout_seconds: u64,
    /// How often a sender looks for work another instance planned.
    pub poll_ms: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            max_attempts: 8,
            backoff_base_ms: 1000,
            backoff_cap_seconds: 600,
            lease_seconds: 60,
            batch: 32,
            concurrency: 8,
            timeout_seconds: 10,
            poll_ms: 1000,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8087),
            kafka: KafkaSettings::default(),
            redis: RedisSettings::default(),
            database: DatabaseSettings::default(),
            group_id: "whistle-notify".to_owned(),
            rosters_path: Some(PathBuf::from("deploy/data/rosters.json")),
            console_url: "http://127.0.0.1:8080".to_owned(),
            smtp: SmtpSettings::default(),
            sms: SmsSettings::default(),
            delivery: DeliverySettings::default(),
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
                message: "the notifier keeps its rosters and deliveries in PostgreSQL: set WHISTLE_DATABASE__URL"
                    .into(),
            });
        }
        self.smtp.host_port()?;
        if self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(SettingsError::Invalid {
                key: "smtp.from",
                message: format!("{:?} is not a mailbox", self.smtp.from),
            });
        }
        if let Some(url) = &self.sms.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(SettingsError::Invalid { key: "sms.url", message: "an http:// or https:// URL".into() });
        }
        if self.delivery.max_attempts == 0 {
            return Err(SettingsError::Invalid { key: "delivery.max_attempts", message: "at least 1".into() });
        }
        if self.delivery.batch == 0 || self.delivery.timeout_seconds == 0 {
            return Err(SettingsError::Invalid {
                key: "delivery",
                message: "batch and timeout_seconds at least 1".into(),
            });
        }
        Ok(())
    }
}
