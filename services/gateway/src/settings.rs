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
    /// The registry data file; the live copy (from the registry topic) says which channels exist.
    pub registry_path: std::path::PathBuf,
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
            registry_path: std::path::PathBuf::from("deploy/data/registry.json"),
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
    /// Cases in one snapshot frame at most (the most urgent); a department with thousands of
    /// open cases must not stall the gateway or the board with one huge frame.
    pub max_snapshot_cases: usize,
    /// Consecutive client frames answered with an error before the connection is closed (1008).
    pub max_consecutive_errors: u32,
    /// Client frames a connection may send at once (subscribing to every channel on connect).
    pub frames_burst: u32,
    /// Client frames per second a connection may sustain; each subscribe costs a Redis read.
    pub frames_per_second: f64,
    /// Subscribes (and pages) this gateway admits per second, over all connections, in the
    /// order they arrive: a reconnect storm is served in turn rather than all at once.
    pub subscribes_per_second: f64,
    /// Subscribes admitted at once ahead of that rate.
    pub subscribes_burst: u32,
    /// Longest a subscribe waits its turn; past it, the `overloaded` error with
    /// `retry_after_ms`.
    pub subscribe_max_wait_ms: u64,
    /// Open connections this gateway accepts; past it the upgrade is answered `503 overloaded`
    /// with `Retry-After` (each idle board costs tens of KiB and a file descriptor).
    pub max_connections: usize,
    /// Open connections one client address may hold (an IPv6 client's /64 as one); past it the
    /// upgrade is answered `429 too_many_connections` with `Retry-After`. An office behind one
    /// NAT address shares it.
    pub max_connections_per_address: usize,
    /// Take the client address from the last `X-Forwarded-For` entry (the address our own proxy
    /// saw), for the per-address cap. Only behind a proxy that sets it; otherwise clients could
    /// pick their own address.
    pub trust_forwarded_for: bool,
    /// Subscribes one connection may send at once (a board subscribing to all its channels).
    pub connection_subscribes_burst: u32,
    /// Subscribes per second one connection may sustain; past it a subscribe is answered
    /// `rate_limited` with `retry_after_ms`, and the subscription it would replace stays.
    pub connection_subscribes_per_second: f64,
    /// Stream entries one connection may have replayed at once (resuming from its cursors); a
    /// resume beyond what is left gets a fresh snapshot (`reset: true`) instead.
    pub replay_burst: u32,
    /// Replayed entries per second a connection's budget refills by.
    pub replay_per_second: f64,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        WebSocketSettings {
            max_subscriptions: 32,
            channel_queue: 1024,
            max_message_bytes: 16 * 1024,
            ping_seconds: 30,
            max_snapshot_cases: 500,
            max_consecutive_errors: 20,
            frames_burst: 64,
            frames_per_second: 10.0,
            subscribes_per_second: 500.0,
            subscribes_burst: 200,
            subscribe_max_wait_ms: 10_000,
            max_connections: 20_000,
            max_connections_per_address: 256,
            trust_forwarded_for: false,
            connection_subscribes_burst: 40,
            connection_subscribes_per_second: 1.0,
            replay_burst: 2_000,
            replay_per_second: 10.0,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.auth.validate()?;
        self.kafka.validate()?;
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
        if ws.max_message_bytes < 1024 {
            return Err(SettingsError::Invalid {
                key: "websocket.max_message_bytes",
                message: "must be at least 1024".into(),
            });
        }
        if ws.max_snapshot_cases == 0 {
            return Err(SettingsError::Invalid {
                key: "websocket.max_snapshot_cases",
                message: "must be at least 1".into(),
            });
        }
        if ws.frames_burst == 0 {
            return Err(SettingsError::Invalid { key: "websocket.frames_burst", message: "must be at least 1".into() });
        }
        if !(ws.frames_per_second.is_finite() && ws.frames_per_second > 0.0) {
            return Err(SettingsError::Invalid {
                key: "websocket.frames_per_second",
                message: "must be a positive number".into(),
            });
        }
        if !(ws.subscribes_per_second.is_finite() && ws.subscribes_per_second > 0.0) {
            return Err(SettingsError::Invalid {
                key: "websocket.subscribes_per_second",
                message: "must be a positive number".into(),
            });
        }
        if ws.subscribes_burst == 0 {
            return Err(SettingsError::Invalid {
                key: "websocket.subscribes_burst",
                message: "must be at least 1".into(),
            });
        }
        for (key, value) in [
            ("websocket.max_connections", ws.max_connections),
            ("websocket.max_connections_per_address", ws.max_connections_per_address),
            ("websocket.connection_subscribes_burst", ws.connection_subscribes_burst as usize),
            ("websocket.replay_burst", ws.replay_burst as usize),
        ] {
            if value == 0 {
                return Err(SettingsError::Invalid { key, message: "must be at least 1".into() });
            }
        }
        if ws.max_connections_per_address > ws.max_connections {
            return Err(SettingsError::Invalid {
                key: "websocket.max_connections_per_address",
                message: format!("must not exceed websocket.max_connections ({})", ws.max_connections),
            });
        }
        for (key, value) in [
            ("websocket.connection_subscribes_per_second", ws.connection_subscribes_per_second),
            ("websocket.replay_per_second", ws.replay_per_second),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(SettingsError::Invalid { key, message: "must be a positive number".into() });
            }
        }
        if ws.ping_seconds == 0 {
            return Err(SettingsError::Invalid { key: "websocket.ping_seconds", message: "must be at least 1".into() });
        }
        Ok(())
    }
}
