//! Gateway settings.

use serde::{Deserialize, Serialize};
use whistle_common::settings::{
    AuthSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError, ShutdownSettings,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `/ws` plus `/healthz`, `/readyz`, `/metrics`.
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    pub redis: RedisSettings,
    /// Consumer group of the projector; every gateway instance shares it.
    pub group_id: String,
    pub websocket: WebSocketSettings,
    /// Token verification (the shared `jwt_secret`).
    pub auth: AuthSettings,
    pub shutdown: ShutdownSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8082),
            kafka: KafkaSettings::default(),
            redis: RedisSettings::default(),
            group_id: "whistle-projector".to_owned(),
            websocket: WebSocketSettings::default(),
            auth: AuthSettings::default(),
            shutdown: ShutdownSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketSettings {
    /// Channels one connection may subscribe to.
    pub max_subscriptions: usize,
    /// Frames a channel may queue for a session that is not reading; past it the session is
    /// closed with 4008 and resumes from its cursor.
    pub channel_queue: usize,
    /// Largest frame a client may send.
    pub max_message_bytes: usize,
    /// Server pings keep idle connections alive through proxies and find dead peers.
    pub ping_seconds: u64,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        WebSocketSettings { max_subscriptions: 32, channel_queue: 1024, max_message_bytes: 16 * 1024, ping_seconds: 30 }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.auth.validate()?;
        let ws = &self.websocket;
        if ws.max_subscriptions == 0 {
            return Err(SettingsError::Invalid {
                key: "websocket.max_subscriptions",
                message: "must be at least 1".into(),
            });
        }
        if ws.channel_queue < 16 {
            return Err(SettingsError::Invalid {
                key: "websocket.channel_queue",
                message: "must be at least 16".into(),
            });
        }
        if ws.ping_seconds == 0 {
            return Err(SettingsError::Invalid { key: "websocket.ping_seconds", message: "must be at least 1".into() });
        }
        Ok(())
    }
}
