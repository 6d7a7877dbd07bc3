//! Notifier settings (`WHISTLE_SMTP__URL`, `WHISTLE_DELIVERY__MAX_ATTEMPTS`, …).

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use whistle_common::ratelimit::RateLimitSettings;
use whistle_common::settings::{
    AuthSettings, DatabaseSettings, FetchSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError,
    ShutdownSettings,
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
    /// Outbound webhooks (`/api/v1/webhooks`).
    pub webhooks: WebhookSettings,
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

/// Outbound webhooks: the retry schedule, the pause rule, the bounds, and whether receivers may
/// sit on loopback or private addresses (`WHISTLE_WEBHOOKS__ALLOW_PRIVATE_TARGETS`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Receivers on loopback, private, link-local, unique-local, multicast or unspecified
    /// addresses are refused (SSRF) unless this is set; the dev scripts set it, production
    /// must not.
    pub allow_private_targets: bool,
    /// Attempts before a delivery is dead …
    pub max_attempts: u32,
    /// … or once it is this old, whichever comes first.
    pub max_age_seconds: u64,
    /// The first retry waits about this long; each further one twice as long, the upper half
    /// random (as for notifications) …
    pub backoff_base_ms: u64,
    /// … up to this.
    pub backoff_cap_seconds: u64,
    /// A subscription whose attempts have all failed for this long is paused.
    pub pause_after_seconds: u64,
    /// One attempt's bound (connect, send, answer).
    pub timeout_seconds: u64,
    /// Deliveries leased at once, and attempted at once.
    pub batch: u32,
    pub concurrency: usize,
    pub lease_seconds: u64,
    pub poll_ms: u64,
    /// Subscriptions per scope (a district, or every district).
    pub max_per_scope: u32,
    /// Finished (delivered or dead) deliveries kept per subscription, with their attempts; older
    /// ones are pruned. Pending ones are never pruned.
    pub kept_deliveries: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private_targets: false,
            max_attempts: 12,
            max_age_seconds: 24 * 3600,
            backoff_base_ms: 10_000,
            backoff_cap_seconds: 3600,
            pause_after_seconds: 24 * 3600,
            timeout_seconds: 10,
            batch: 32,
            concurrency: 8,
            lease_seconds: 60,
            poll_ms: 1000,
            max_per_scope: 20,
            kept_deliveries: 500,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8087),
            kafka: KafkaSettings::default().fetching(FetchSettings::BULK),
            redis: RedisSettings::default(),
            database: DatabaseSettings::default(),
            group_id: "whistle-notify".to_owned(),
            rosters_path: Some(PathBuf::from("deploy/data/rosters.json")),
            console_url: "http://127.0.0.1:8080".to_owned(),
            smtp: SmtpSettings::default(),
            sms: SmsSettings::default(),
            delivery: DeliverySettings::default(),
            webhooks: WebhookSettings::default(),
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
        let w = &self.webhooks;
        if w.max_attempts == 0 || w.max_age_seconds == 0 || w.pause_after_seconds == 0 {
            return Err(SettingsError::Invalid {
                key: "webhooks",
                message: "max_attempts, max_age_seconds and pause_after_seconds at least 1".into(),
            });
        }
        if w.batch == 0 || w.concurrency == 0 || w.timeout_seconds == 0 || w.max_per_scope == 0 {
            return Err(SettingsError::Invalid {
                key: "webhooks",
                message: "batch, concurrency, timeout_seconds and max_per_scope at least 1".into(),
            });
        }
        if w.lease_seconds <= w.timeout_seconds {
            return Err(SettingsError::Invalid {
                key: "webhooks.lease_seconds",
                message: format!(
                    "{} must exceed webhooks.timeout_seconds ({}): a lease running out mid-attempt sends twice",
                    w.lease_seconds, w.timeout_seconds
                ),
            });
        }
        Ok(())
    }
}
