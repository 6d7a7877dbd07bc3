//! Typed settings shared by the services.
//!
//! Layering: the service's `Default`, then the TOML file named by `WHISTLE_CONFIG` (if set), then
//! environment variables `WHISTLE_<KEY>` or `WHISTLE_<SECTION>__<KEY>` (double underscore between
//! levels, e.g. `WHISTLE_GROUP_ID=whistle-router`, `WHISTLE_KAFKA__BROKERS=127.0.0.1:19092`).
//! Every `WHISTLE_*` variable must name one of the service's top-level settings or be one of
//! [`NOT_SETTINGS`] (the dev scripts', the tests' and the tools' own variables); any other stops
//! start-up with its name, so a misspelt setting is never silently ignored. Within a section, an
//! unknown key is an error too.

use std::collections::{BTreeSet, HashMap};

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The `WHISTLE_*` variables that are not settings. The services started by
/// `deploy/dev/services.sh` and by the tests inherit the whole environment of the developer or the
/// test, so these must not stop them; every other `WHISTLE_*` variable must name a setting of the
/// service. An entry ending in `*` covers every variable with that prefix. A variable that names a
/// setting is read as one even when it is listed here.
pub const NOT_SETTINGS: &[&str] = &[
    // Read by the services themselves, outside the settings.
    "WHISTLE_CONFIG",     // the TOML settings file
    "WHISTLE_ENV",        // `auth.environment` where a service has it (production | development)
    "WHISTLE_DEMO",       // `auth.demo` where a service has it (1: the demo accounts)
    "WHISTLE_LOG_FORMAT", // `json` for JSON log lines (telemetry)
    // The dev scripts (deploy/dev/*.sh; lib.sh exports the first four to everything it starts).
    "WHISTLE_ROOT",
    "WHISTLE_CACHE",
    "WHISTLE_RUN",
    "WHISTLE_LOGS",
    "WHISTLE_DEV_DIR",
    "WHISTLE_LOCK_FD",
    "WHISTLE_BIN_DIR",
    "WHISTLE_KAFKA_PORT",
    "WHISTLE_KAFKA_CONTROLLER_PORT",
    "WHISTLE_KAFKA_DATA_DIR",
    "WHISTLE_KAFKA_SASL",
    "WHISTLE_KAFKA_START_TIMEOUT",
    "WHISTLE_REDIS_PORT",
    "WHISTLE_REDIS_MAXMEMORY",
    "WHISTLE_REDIS_REPLICA_PORT",
    "WHISTLE_POSTGRES_PORT",
    "WHISTLE_SMTP_PORT", // smtp.sh: the dev mail server's port
    "WHISTLE_OIDC_PORT", // oidc.sh: the dev OpenID Connect provider's port
    "WHISTLE_REPLICAS",  // services.sh: instances of each stateless service
    "WHISTLE_SENTINEL_PORTS",
    "WHISTLE_SENTINEL_MASTER",
    "WHISTLE_HTTP_PORT",
    "WHISTLE_INTAKE_PORT",
    "WHISTLE_GATEWAY_PORT",
    "WHISTLE_ROUTER_PORT",
    "WHISTLE_SLA_PORT",
    "WHISTLE_REGISTRY_PORT",
    "WHISTLE_LEDGER_PORT",
    "WHISTLE_LEDGER_DATABASE_URL", // services.sh hands it to the ledger as WHISTLE_DATABASE__URL
    "WHISTLE_NOTIFY_PORT",
    "WHISTLE_NGINX_DIR",
    "WHISTLE_NGINX_USER",
    "WHISTLE_CONSOLE_DIR",
    "WHISTLE_INGRESS_LIMIT_EXEMPT", // nginx.sh: addresses its per-address limits leave alone
    "WHISTLE_DEMO_PASSWORD",        // services.sh hands it to intake as WHISTLE_AUTH__DEMO_PASSWORD
    // The tests, the console's browser tests and the tools.
    "WHISTLE_TEST_*",  // WHISTLE_TEST_KAFKA, _REDIS, _POSTGRES, _SMTP, _MAILBOX
    "WHISTLE_FAULT_*", // WHISTLE_FAULT_SECONDS, _RATE, _SEED, _KEEP (docs/faults.md)
    "WHISTLE_STORM_*", // WHISTLE_STORM_CASES, _BOARDS (tests/storm.rs)
    "WHISTLE_STACK_URL",
    "WHISTLE_BASE_URL",
    "WHISTLE_SCREENSHOTS",
    "WHISTLE_CHROMIUM",
];

/// Whether `name` is one of [`NOT_SETTINGS`].
pub fn is_not_a_setting(name: &str) -> bool {
    NOT_SETTINGS.iter().any(|entry| match entry.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *entry,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: {0}")]
    Load(#[from] config::ConfigError),
    #[error("settings: {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error(
        "settings: {} {} no setting of {service}; its settings are {} (as WHISTLE_<SETTING> or \
         WHISTLE_<SECTION>__<KEY>); the WHISTLE_* variables that are not settings are listed in \
         whistle_common::settings::NOT_SETTINGS",
        variables.join(", "),
        if variables.len() == 1 { "names" } else { "name" },
        known.join(", ")
    )]
    UnknownVariables { variables: Vec<String>, service: String, known: Vec<String> },
}

/// Loads settings of type `T`, starting from `T::default()`, from this process's environment.
pub fn load<T>() -> Result<T, SettingsError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let service = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "this service".to_owned());
    // A variable whose name or value is not Unicode is no setting of ours (and would make
    // `std::env::vars` panic).
    load_from(&service, std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
}

/// As [`load`], from an explicit environment; `service` names the service in errors.
pub fn load_from<T, I>(service: &str, env: I) -> Result<T, SettingsError>
where
    T: DeserializeOwned + Serialize + Default,
    I: IntoIterator<Item = (String, String)>,
{
    let mut env: HashMap<String, String> = env.into_iter().collect();
    let defaults = config::Config::try_from(&T::default())?;
    let mut top_level: BTreeSet<String> =
        defaults.clone().try_deserialize::<HashMap<String, config::Value>>()?.into_keys().collect();
    // Optional settings without a default are absent from the serialised defaults.
    top_level.extend(probe::fields::<T>().iter().map(|f| (*f).to_owned()));
    // The deployment-wide switches, read as `auth.environment` and `auth.demo` by the services
    // that authenticate people (the others have neither).
    if top_level.contains("auth") {
        for (switch, setting) in [("WHISTLE_ENV", "WHISTLE_AUTH__ENVIRONMENT"), ("WHISTLE_DEMO", "WHISTLE_AUTH__DEMO")]
        {
            if let Some(value) = env.get(switch).cloned()
                && !env.contains_key(setting)
            {
                let value = match (switch, value.trim().to_ascii_lowercase().as_str()) {
                    ("WHISTLE_DEMO", "1" | "true" | "yes" | "on") => "true".to_owned(),
                    ("WHISTLE_DEMO", "0" | "false" | "no" | "off" | "") => "false".to_owned(),
                    ("WHISTLE_ENV", "prod") => "production".to_owned(),
                    ("WHISTLE_ENV", "dev") => "development".to_owned(),
                    (_, other) => other.to_owned(),
                };
                env.insert(setting.to_owned(), value);
            }
        }
    }
    let mut overrides = HashMap::new();
    let mut unknown = Vec::new();
    for (name, value) in &env {
        let Some(rest) = name.strip_prefix("WHISTLE_") else { continue };
        let first = rest.split("__").next().unwrap_or_default();
        if top_level.iter().any(|t| t.eq_ignore_ascii_case(first)) {
            overrides.insert(name.clone(), value.clone());
        } else if !is_not_a_setting(name) {
            unknown.push(name.clone());
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(SettingsError::UnknownVariables {
            variables: unknown,
            service: service.to_owned(),
            known: top_level.into_iter().collect(),
        });
    }
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

/// The top-level field names a settings type declares, read from its derived `Deserialize`.
mod probe {
    use serde::Deserialize;
    use serde::de::{self, Visitor};

    /// Carries the names out of the deserializer (as its "error").
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);

    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fields {:?}", self.0)
        }
    }

    impl std::error::Error for Fields {}

    impl de::Error for Fields {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }

    struct Probe;

    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Fields;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    /// Empty when `T` is not a plain derived struct (then the serialised defaults are the list).
    pub(super) fn fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
        match T::deserialize(Probe) {
            Err(Fields(fields)) => fields,
            Ok(_) => &[],
        }
    }
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
    /// librdkafka's `security.protocol`: `plaintext` (the default), `sasl_plaintext`,
    /// `sasl_ssl` or `ssl`. With SASL the service logs in as [`Self::sasl_username`].
    pub security_protocol: String,
    /// The SASL mechanism (`SCRAM-SHA-512`, as the dev stack and the Strimzi KafkaUsers use).
    pub sasl_mechanism: String,
    /// This service's Kafka user (its ACLs say what it may read and write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_username: Option<String>,
    #[serde(serialize_with = "expose_opt", skip_serializing_if = "Option::is_none")]
    pub sasl_password: Option<SecretString>,
    /// A CA bundle (PEM) to verify the brokers' certificates with (`ssl` / `sasl_ssl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_ca_location: Option<std::path::PathBuf>,
    /// How this service's consumer group fetches (`WHISTLE_KAFKA__FETCH__MIN_BYTES`,
    /// `WHISTLE_KAFKA__FETCH__WAIT_MS`); each service has its own default.
    pub fetch: FetchSettings,
}

/// How long the broker holds a consumer group's fetch for data: it answers once `min_bytes` are
/// there or `wait_ms` passed (librdkafka's `fetch.min.bytes` and `fetch.wait.max.ms`). With
/// nothing to read, each consumer sends a fetch every `wait_ms`: the broker's idle work. A fetch
/// answered at the first byte is a fetch per append under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchSettings {
    pub min_bytes: usize,
    pub wait_ms: u64,
}

impl FetchSettings {
    /// The groups on a whistle's way to its board (router, projector): answered at the first
    /// byte, so a fetch waits for no more than the append it is for; an idle consumer asks twice
    /// a second. (4 KiB or 5 ms, tried before, cost the same CPU under load and ten times the
    /// broker's idle work: 200 fetches a second per consumer; docs/performance.md, issue N.)
    pub const PROMPT: FetchSettings = FetchSettings { min_bytes: 1, wait_ms: 500 };
    /// The groups whose events may come later (SLA, ledger, notifier): one fetch per many appends
    /// under load; their events arrive up to `wait_ms` later.
    pub const BULK: FetchSettings = FetchSettings { min_bytes: 64 * 1024, wait_ms: 100 };

    fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=100 * 1024 * 1024).contains(&self.min_bytes) {
            return Err(SettingsError::Invalid {
                key: "kafka.fetch.min_bytes",
                message: format!("{} is outside 1..=104857600 bytes", self.min_bytes),
            });
        }
        if !(1..=60_000).contains(&self.wait_ms) {
            return Err(SettingsError::Invalid {
                key: "kafka.fetch.wait_ms",
                message: format!("{} is outside 1..=60000 ms", self.wait_ms),
            });
        }
        Ok(())
    }
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings::PROMPT
    }
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "127.0.0.1:19092".to_owned(),
            topics: Topics::default(),
            partitions: 6,
            replication_factor: 1,
            security_protocol: "plaintext".to_owned(),
            sasl_mechanism: "SCRAM-SHA-512".to_owned(),
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            fetch: FetchSettings::default(),
        }
    }
}

impl KafkaSettings {
    /// These settings with the consumer group fetching as `fetch` (a service's default).
    pub fn fetching(self, fetch: FetchSettings) -> Self {
        KafkaSettings { fetch, ..self }
    }

    /// Refuses a protocol librdkafka does not know, and SASL without a user and password.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.fetch.validate()?;
        let protocol = self.security_protocol.to_ascii_lowercase();
        if !matches!(protocol.as_str(), "plaintext" | "ssl" | "sasl_plaintext" | "sasl_ssl") {
            return Err(SettingsError::Invalid {
                key: "kafka.security_protocol",
                message: format!("{:?} is none of plaintext, ssl, sasl_plaintext, sasl_ssl", self.security_protocol),
            });
        }
        if protocol.starts_with("sasl") {
            let user = self.sasl_username.as_deref().unwrap_or_default();
            let password = self.sasl_password.as_ref().map_or("", |p| p.expose_secret());
            if user.is_empty() || password.is_empty() {
                return Err(SettingsError::Invalid {
                    key: "kafka.sasl_username",
                    message: format!(
                        "{protocol} needs WHISTLE_KAFKA__SASL_USERNAME and WHISTLE_KAFKA__SASL_PASSWORD (this service's Kafka user)"
                    ),
                });
            }
        }
        Ok(())
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
    /// Redis Sentinel addresses, comma-separated (`host:port,host:port,...`). When set, the
    /// services ask the Sentinels which server is the primary of [`Self::sentinel_master`], and
    /// again after a failover; `url` then only lends its credentials and database number.
    pub sentinels: String,
    /// The name the Sentinels monitor the primary under (`sentinel monitor <name> ...`).
    pub sentinel_master: String,
    /// The Sentinels' own password (their `requirepass`), if they take one; empty: none. The
    /// servers behind them are logged in to with the credentials of `url`.
    #[serde(serialize_with = "expose")]
    pub sentinel_password: SecretString,
    /// How many replicas must hold a consumer's Redis writes (`WAIT`) before it commits the Kafka
    /// offsets behind them, so a failover to a replica cannot lose a projection whose offset was
    /// committed. Unset: 1 with Sentinels, 0 without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_acks: Option<u32>,
}

impl RedisSettings {
    /// The Sentinel addresses, if any are configured.
    pub fn sentinel_addresses(&self) -> Vec<String> {
        self.sentinels.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    /// Replicas that must acknowledge a consumer's writes before its offsets are committed.
    pub fn required_replica_acks(&self) -> u32 {
        self.replica_acks.unwrap_or(u32::from(!self.sentinel_addresses().is_empty()))
    }
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    // Only used to seed the layered config with defaults; never for display.
    s.serialize_str(secret.expose_secret())
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: SecretString::from("redis://127.0.0.1:16379"),
            key_prefix: "whistle:".to_owned(),
            sentinels: String::new(),
            sentinel_master: "whistle".to_owned(),
            sentinel_password: SecretString::from(""),
            replica_acks: None,
        }
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
    /// Where this runs (`WHISTLE_ENV`, or `auth.environment`): `production` (the default) or
    /// `development`. Production refuses the demo accounts.
    pub environment: Environment,
    /// The demo accounts (`town-<code>`, `dept-<code>`, `manager`, `manager-<district>`,
    /// `supervisor`, `admin`) exist only when this is on (`WHISTLE_DEMO=1`, which the dev scripts
    /// set) and [`Self::demo_password`] is set; never in production.
    pub demo: bool,
    /// The demo accounts' password (at least [`MIN_DEMO_PASSWORD_CHARS`] characters).
    #[serde(serialize_with = "expose_opt", skip_serializing_if = "Option::is_none")]
    pub demo_password: Option<SecretString>,
    /// A JSON file of real accounts: `[{"username", "password_hash" (argon2 PHC string), "role", ...}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts_file: Option<std::path::PathBuf>,
    /// Single sign-on with an OpenID Connect provider (intake only); off unless `issuer` is set.
    pub oidc: OidcSettings,
}

/// Single sign-on (`auth.oidc`, `WHISTLE_AUTH__OIDC__...`): the authorization-code flow with PKCE
/// against an OpenID Connect provider. The provider only vouches for a name: the account, its
/// role and its scope are Whistle's own. Intake checks these at start-up (`whistle_intake::oidc`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSettings {
    /// The provider's issuer URL, exactly as its tokens' `iss` says (its discovery document is
    /// `{issuer}/.well-known/openid-configuration`). Unset: no single sign-on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Whistle's client id at the provider.
    pub client_id: String,
    /// Whistle's client secret at the provider (sent with HTTP Basic to its token endpoint).
    #[serde(serialize_with = "expose_opt", skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretString>,
    /// The public URL of intake's callback, as registered at the provider, e.g.
    /// `https://whistle.example.gov.cn/api/v1/auth/oidc/callback`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The id_token claim that names the Whistle account.
    pub username_claim: String,
    /// The button's label in both languages; `label_zh` / `label_en` override it per language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_zh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_en: Option<String>,
    /// How long the provider's discovery document and keys are kept before they are read again.
    pub discovery_ttl_seconds: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            issuer: None,
            client_id: String::new(),
            client_secret: None,
            redirect_url: None,
            username_claim: "preferred_username".to_owned(),
            label: None,
            label_zh: None,
            label_en: None,
            discovery_ttl_seconds: 3600,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: SecretString::from(""),
            token_ttl_minutes: 8 * 60,
            environment: Environment::Production,
            demo: false,
            demo_password: None,
            accounts_file: None,
            oidc: OidcSettings::default(),
        }
    }
}

/// Shortest signing key accepted (HS256 keys shorter than the hash add no strength).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// Shortest demo password accepted: the demo accounts include `admin` and the city's `manager`.
pub const MIN_DEMO_PASSWORD_CHARS: usize = 8;

/// Where a service runs (`WHISTLE_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Production,
    Development,
}

impl AuthSettings {
    /// The demo accounts' password, when the demo accounts are on (validated by
    /// [`Self::validate`]).
    pub fn demo_accounts_password(&self) -> Option<&SecretString> {
        self.demo_password.as_ref().filter(|_| self.demo)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.demo {
            if self.environment == Environment::Production {
                return Err(SettingsError::Invalid {
                    key: "auth.demo",
                    message: "the demo accounts (including admin and the city-wide manager) are refused in \
                              production: unset WHISTLE_DEMO, or set WHISTLE_ENV=development on a development machine"
                        .into(),
                });
            }
            let chars = self.demo_password.as_ref().map_or(0, |p| p.expose_secret().chars().count());
            if chars < MIN_DEMO_PASSWORD_CHARS {
                return Err(SettingsError::Invalid {
                    key: "auth.demo_password",
                    message: format!(
                        "the demo accounts need a password of at least {MIN_DEMO_PASSWORD_CHARS} characters \
                         (WHISTLE_AUTH__DEMO_PASSWORD); an empty one would open every demo account"
                    ),
                });
            }
        }
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

/// A PostgreSQL database (the account store). Unset `url`: the service runs without one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/database`; carries a password, so it never prints.
    #[serde(serialize_with = "expose_opt", skip_serializing_if = "Option::is_none")]
    pub url: Option<SecretString>,
    /// Connections of this process at most (a login holds one for a millisecond or two).
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered `503 unavailable`.
    pub acquire_timeout_seconds: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings { url: None, max_connections: 8, acquire_timeout_seconds: 3 }
    }
}

impl DatabaseSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(url) = &self.url {
            let url = url.expose_secret();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(SettingsError::Invalid {
                    key: "database.url",
                    message: "must be a postgres:// URL (WHISTLE_DATABASE__URL)".into(),
                });
            }
        }
        if self.max_connections == 0 {
            return Err(SettingsError::Invalid {
                key: "database.max_connections",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// An HTTP listener. Port 0 picks a free port (tests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    /// Longest one request may take before it is answered `408 timeout` (the work it started
    /// is dropped). Above the slowest legitimate request: a Kafka acknowledgement (10 s at most)
    /// or a login's password check under load.
    #[serde(default = "default_request_timeout_seconds")]
    pub request_timeout_seconds: u64,
}

fn default_request_timeout_seconds() -> u64 {
    30
}

impl HttpSettings {
    pub fn new(port: u16) -> Self {
        HttpSettings { host: "127.0.0.1".to_owned(), port, request_timeout_seconds: default_request_timeout_seconds() }
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_seconds.max(1))
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

    /// A service whose group fetches in bulk by default.
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Bulk {
        kafka: KafkaSettings,
    }

    impl Default for Bulk {
        fn default() -> Self {
            Bulk { kafka: KafkaSettings::default().fetching(FetchSettings::BULK) }
        }
    }

    #[test]
    fn one_fetch_setting_from_the_environment_keeps_the_services_other_default() {
        let s: Bulk = load_from("bulk", env(&[("WHISTLE_KAFKA__FETCH__WAIT_MS", "20")])).expect("loads");
        assert_eq!(s.kafka.fetch, FetchSettings { min_bytes: FetchSettings::BULK.min_bytes, wait_ms: 20 });
        let s: Sample = load_from("sample", env(&[])).expect("loads");
        assert_eq!(s.kafka.fetch, FetchSettings::PROMPT);
    }

    #[test]
    fn a_fetch_that_never_waits_is_refused_by_name() {
        let kafka = KafkaSettings::default().fetching(FetchSettings { min_bytes: 1, wait_ms: 0 });
        let err = kafka.validate().expect_err("refused");
        assert!(err.to_string().contains("kafka.fetch.wait_ms"), "{err}");
        let kafka = KafkaSettings::default().fetching(FetchSettings { min_bytes: 0, wait_ms: 5 });
        assert!(kafka.validate().expect_err("refused").to_string().contains("kafka.fetch.min_bytes"));
    }

    #[test]
    fn environment_overrides_defaults() {
        let s: Sample =
            load_from("sample", env(&[("WHISTLE_KAFKA__BROKERS", "k:1"), ("WHISTLE_KAFKA__PARTITIONS", "3")]))
                .expect("loads");
        assert_eq!(s.kafka.brokers, "k:1");
        assert_eq!(s.kafka.partitions, 3);
        assert_eq!(s.kafka.topics.cases, "whistle.cases.v1");
    }

    #[test]
    fn unknown_keys_are_rejected_and_named() {
        let err =
            load_from::<Sample, _>("sample", env(&[("WHISTLE_KAFKA__BROKRS", "k:1")])).expect_err("typo is refused");
        assert!(err.to_string().contains("brokrs"), "{err}");
    }

    #[test]
    fn a_variable_that_names_no_setting_stops_loading_with_its_name() {
        let err = load_from::<Sample, _>("whistle-sample", env(&[("WHISTLE_REDSI__URL", "redis://x")]))
            .expect_err("a misspelt section is refused");
        let message = err.to_string();
        assert!(message.contains("WHISTLE_REDSI__URL names no setting of whistle-sample"), "{message}");
        assert!(message.contains("kafka, redis"), "the known settings are listed: {message}");
        let err = load_from::<WithTopLevel, _>("whistle-sample", env(&[("WHISTLE_GROUPID", "g"), ("WHISTLE_X", "1")]))
            .expect_err("a misspelt top-level setting is refused");
        assert!(err.to_string().contains("WHISTLE_GROUPID, WHISTLE_X name no setting of whistle-sample"), "{err}");
    }

    #[test]
    fn the_variables_of_the_scripts_tests_and_tools_are_not_settings() {
        let everything = env(&[
            ("WHISTLE_RUN", "/tmp/x"),
            ("WHISTLE_CACHE", "/tmp/c"),
            ("WHISTLE_ROOT", "/w"),
            ("WHISTLE_LOGS", "/tmp/x/logs"),
            ("WHISTLE_DEMO_PASSWORD", "p"),
            ("WHISTLE_KAFKA_PORT", "19092"),
            ("WHISTLE_REDIS_PORT", "16379"),
            ("WHISTLE_HTTP_PORT", "8080"),
            ("WHISTLE_REGISTRY_PORT", "8085"),
            ("WHISTLE_REDIS_MAXMEMORY", "2gb"),
            ("WHISTLE_TEST_KAFKA", "127.0.0.1:19092"),
            ("WHISTLE_TEST_REDIS", "redis://127.0.0.1:16379"),
            ("WHISTLE_TEST_POSTGRES", "postgres://whistle:x@127.0.0.1:15432/whistle"),
            ("WHISTLE_POSTGRES_PORT", "15432"),
            ("WHISTLE_FAULT_SECONDS", "600"),
            ("WHISTLE_STORM_BOARDS", "2000"),
            ("WHISTLE_STACK_URL", "http://127.0.0.1:8080"),
            ("WHISTLE_BASE_URL", "http://127.0.0.1:8080"),
            ("WHISTLE_SCREENSHOTS", "/tmp/s"),
            ("WHISTLE_LOG_FORMAT", "json"),
            ("NOT_OURS", "x"),
        ]);
        let s: Sample = load_from("sample", everything).expect("loads");
        assert_eq!(s.redis.key_prefix, "whistle:");
    }

    #[test]
    fn a_known_variable_still_overrides_beside_the_listed_ones() {
        let s: WithTopLevel = load_from(
            "sample",
            env(&[("WHISTLE_RUN", "/tmp/x"), ("WHISTLE_GROUP_ID", "g2"), ("WHISTLE_TEST_KAFKA", "k")]),
        )
        .expect("loads");
        assert_eq!(s.group_id, "g2");
    }

    #[test]
    fn a_prefix_entry_covers_its_prefix_only() {
        assert!(is_not_a_setting("WHISTLE_FAULT_RATE"));
        assert!(is_not_a_setting("WHISTLE_RUN"));
        assert!(!is_not_a_setting("WHISTLE_RUNS"));
        assert!(!is_not_a_setting("WHISTLE_FAULT"));
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct WithOptional {
        kafka: KafkaSettings,
        #[serde(skip_serializing_if = "Option::is_none")]
        extra: Option<Topics>,
    }

    #[test]
    fn an_optional_setting_without_a_default_can_be_set() {
        let s: WithOptional = load_from("sample", env(&[("WHISTLE_EXTRA__CASES", "c")])).expect("loads");
        assert_eq!(s.extra.map(|t| t.cases).as_deref(), Some("c"));
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
            load_from("sample", env(&[("WHISTLE_GROUP_ID", "g1"), ("WHISTLE_KAFKA__BROKERS", "k:2")])).expect("loads");
        assert_eq!((s.group_id.as_str(), s.kafka.brokers.as_str()), ("g1", "k:2"));
    }

    #[test]
    fn secrets_do_not_print() {
        let s = RedisSettings {
            url: SecretString::from("redis://:hunter2@h:1"),
            key_prefix: "p".into(),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn sentinels_come_from_one_comma_separated_variable_and_imply_one_replica_ack() {
        let s: Sample = load_from(
            "sample",
            env(&[
                ("WHISTLE_REDIS__SENTINELS", " 10.0.0.1:26379, 10.0.0.2:26379 ,,"),
                ("WHISTLE_REDIS__SENTINEL_MASTER", "m"),
                ("WHISTLE_REDIS__SENTINEL_PASSWORD", "s3cret"),
            ]),
        )
        .expect("loads");
        assert_eq!(s.redis.sentinel_addresses(), ["10.0.0.1:26379", "10.0.0.2:26379"]);
        assert_eq!(s.redis.sentinel_master, "m");
        assert_eq!(s.redis.sentinel_password.expose_secret(), "s3cret");
        assert_eq!(s.redis.required_replica_acks(), 1);
        let explicit: Sample =
            load_from("sample", env(&[("WHISTLE_REDIS__SENTINELS", "h:1"), ("WHISTLE_REDIS__REPLICA_ACKS", "0")]))
                .expect("loads");
        assert_eq!(explicit.redis.required_replica_acks(), 0);
        let single: Sample = load_from("sample", env(&[])).expect("loads");
        assert!(single.redis.sentinel_addresses().is_empty());
        assert!(single.redis.sentinel_password.expose_secret().is_empty());
        assert_eq!(single.redis.required_replica_acks(), 0);
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct WithAuth {
        auth: AuthSettings,
    }

    fn auth_from(pairs: &[(&str, &str)]) -> Result<AuthSettings, SettingsError> {
        let mut all = vec![("WHISTLE_AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef")];
        all.extend_from_slice(pairs);
        let s: WithAuth = load_from("sample", env(&all))?;
        s.auth.validate()?;
        Ok(s.auth)
    }

    #[test]
    fn production_is_the_default_and_the_demo_accounts_are_off_unless_asked_for() {
        let auth = auth_from(&[("WHISTLE_AUTH__DEMO_PASSWORD", "whistle-demo")]).expect("valid");
        assert_eq!(auth.environment, Environment::Production);
        assert!(auth.demo_accounts_password().is_none(), "a password alone does not turn them on");
        let dev = auth_from(&[
            ("WHISTLE_ENV", "development"),
            ("WHISTLE_DEMO", "1"),
            ("WHISTLE_AUTH__DEMO_PASSWORD", "whistle-demo"),
        ])
        .expect("valid");
        assert!(dev.demo_accounts_password().is_some());
    }

    #[test]
    fn demo_accounts_in_production_or_with_a_short_password_stop_start_up_with_the_reason() {
        let refused = |pairs: &[(&str, &str)], key: &str, says: &str| match auth_from(pairs) {
            Err(SettingsError::Invalid { key: k, message }) => {
                assert_eq!(k, key, "{pairs:?}");
                assert!(message.contains(says), "{message}");
            }
            other => panic!("{pairs:?}: {other:?}"),
        };
        refused(&[("WHISTLE_DEMO", "1"), ("WHISTLE_AUTH__DEMO_PASSWORD", "whistle-demo")], "auth.demo", "production");
        refused(
            &[("WHISTLE_ENV", "production"), ("WHISTLE_DEMO", "true"), ("WHISTLE_AUTH__DEMO_PASSWORD", "whistle-demo")],
            "auth.demo",
            "WHISTLE_DEMO",
        );
        refused(
            &[("WHISTLE_ENV", "dev"), ("WHISTLE_DEMO", "1"), ("WHISTLE_AUTH__DEMO_PASSWORD", "")],
            "auth.demo_password",
            "empty",
        );
        refused(
            &[("WHISTLE_ENV", "dev"), ("WHISTLE_DEMO", "1"), ("WHISTLE_AUTH__DEMO_PASSWORD", "short")],
            "auth.demo_password",
            "8",
        );
        refused(&[("WHISTLE_ENV", "dev"), ("WHISTLE_DEMO", "1")], "auth.demo_password", "at least");
        match load_from::<WithAuth, _>("sample", env(&[("WHISTLE_AUTH__JWT_SECRET", "too-short")]))
            .map(|s| s.auth.validate())
        {
            Ok(Err(SettingsError::Invalid { key, .. })) => assert_eq!(key, "auth.jwt_secret"),
            other => panic!("{other:?}"),
        }
        assert!(load_from::<WithAuth, _>("sample", env(&[("WHISTLE_ENV", "staging")])).is_err(), "unknown environment");
    }

    #[test]
    fn the_switches_are_no_settings_of_a_service_without_authentication() {
        let s: Sample =
            load_from("sample", env(&[("WHISTLE_ENV", "production"), ("WHISTLE_DEMO", "1")])).expect("ignored");
        assert_eq!(s.redis.sentinel_master, "whistle");
    }
}
