//! Intake settings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use whistle_attachments::AttachmentSettings;
use whistle_common::ratelimit::RateLimitSettings;
use whistle_common::settings::{
    AuthSettings, DatabaseSettings, HttpSettings, KafkaSettings, RedisSettings, SettingsError, ShutdownSettings,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    pub redis: RedisSettings,
    /// The registry data file (the same setting as in the other services).
    pub registry_path: PathBuf,
    /// Deprecated: the old spelling of `registry_path` (`[registry] path`,
    /// `WHISTLE_REGISTRY__PATH`), still read, with a warning at start-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistrySettings>,
    pub assist: AssistSettings,
    pub limits: Limits,
    pub auth: AuthSettings,
    /// The account store (PostgreSQL). Unset `database.url`: only the accounts file and the demo
    /// accounts log in, and the account administration API answers `503`.
    pub database: DatabaseSettings,
    /// Per-client request rate limits (`429 rate_limited`); see `whistle_common::ratelimit`.
    pub rate_limit: RateLimitSettings,
    /// Evidence attachments: where the files are kept, how large they may be. Their index is
    /// in `database.url`'s database (schema `attachments`).
    pub attachments: AttachmentSettings,
    /// Open311 GeoReport v2 clients (`/open311/v2/`).
    pub open311: Open311Settings,
    /// Which raises are likely duplicates of an open whistle (`possible_duplicates`).
    pub duplicates: DuplicateSettings,
    pub shutdown: ShutdownSettings,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Open311Settings {
    /// The clients' API keys: a file of `client key` lines (`#` comments), read at start-up.
    /// Unset: no client may post (reading is public); a demo stack also has the key
    /// `whistle-demo-open311`.
    pub keys_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::new(8081),
            kafka: KafkaSettings::default(),
            redis: RedisSettings::default(),
            registry_path: PathBuf::from(DEFAULT_REGISTRY_PATH),
            registry: None,
            assist: AssistSettings::default(),
            limits: Limits::default(),
            auth: AuthSettings::default(),
            database: DatabaseSettings::default(),
            rate_limit: RateLimitSettings::default(),
            attachments: AttachmentSettings::default(),
            open311: Open311Settings::default(),
            duplicates: DuplicateSettings::default(),
            shutdown: ShutdownSettings::default(),
        }
    }
}

const DEFAULT_REGISTRY_PATH: &str = "deploy/data/registry.json";

/// The deprecated `[registry]` section: only `path`, now `registry_path`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// The registry data file.
    pub path: PathBuf,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssistSettings {
    /// Directory of the assist data files (`items.json`, `benchmarks.json`, `fences.json`); by
    /// default `assist/` next to the registry file, so one setting moves both.
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// The registry data file: `registry_path`, or the deprecated `registry.path` when only that
    /// is set.
    pub fn registry_file(&self) -> &Path {
        match &self.registry {
            Some(legacy) => &legacy.path,
            None => &self.registry_path,
        }
    }

    /// Where the assist data lives.
    pub fn assist_data_dir(&self) -> PathBuf {
        self.assist.data_dir.clone().unwrap_or_else(|| {
            self.registry_file().parent().map(|p| p.join("assist")).unwrap_or_else(|| PathBuf::from("assist"))
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted (JSON). Uploads (`POST /api/v1/attachments`) have their
    /// own limits, `attachments.max_image_bytes` and `attachments.max_video_bytes`.
    pub max_body_bytes: usize,
    /// API requests handled at once; past it a request is answered `503 overloaded` with
    /// `Retry-After: 1` before anything of it is read (health, readiness and metrics are not
    /// counted). It bounds memory and keeps the latency of the requests taken under overload.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: 64 * 1024, max_in_flight: 256 }
    }
}

/// The duplicate finder: a raise for the same item within the item's radius and the window of
/// an open whistle of the same district is a likely duplicate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DuplicateSettings {
    /// The radius of an item with none of its own, in metres.
    pub radius_m: f64,
    /// Radii per item code, in metres (e.g. a river spill spreads further than a stall).
    pub item_radius_m: std::collections::BTreeMap<String, f64>,
    /// How far back a raise looks, in hours.
    pub window_hours: u32,
    /// Places kept per item (the newest); bounds the index in Redis.
    pub max_places_per_item: usize,
    /// Likely duplicates answered at most.
    pub max_answered: usize,
}

impl Default for DuplicateSettings {
    fn default() -> Self {
        DuplicateSettings {
            radius_m: 200.0,
            item_radius_m: Default::default(),
            window_hours: 24,
            max_places_per_item: 10_000,
            max_answered: 10,
        }
    }
}

/// The largest radius a duplicate search takes, in metres.
pub const MAX_DUPLICATE_RADIUS_M: f64 = 10_000.0;

impl DuplicateSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let radius = |r: f64| r.is_finite() && r > 0.0 && r <= MAX_DUPLICATE_RADIUS_M;
        if !radius(self.radius_m) {
            return Err(SettingsError::Invalid {
                key: "duplicates.radius_m",
                message: format!("must be more than 0 and at most {MAX_DUPLICATE_RADIUS_M} metres"),
            });
        }
        if let Some((item, _)) = self.item_radius_m.iter().find(|(_, r)| !radius(**r)) {
            return Err(SettingsError::Invalid {
                key: "duplicates.item_radius_m",
                message: format!("{item}: must be more than 0 and at most {MAX_DUPLICATE_RADIUS_M} metres"),
            });
        }
        if !(1..=24 * 30).contains(&self.window_hours) {
            return Err(SettingsError::Invalid { key: "duplicates.window_hours", message: "must be 1 to 720".into() });
        }
        if !(1..=1_000_000).contains(&self.max_places_per_item) {
            return Err(SettingsError::Invalid {
                key: "duplicates.max_places_per_item",
                message: "must be 1 to 1000000".into(),
            });
        }
        if !(1..=100).contains(&self.max_answered) {
            return Err(SettingsError::Invalid { key: "duplicates.max_answered", message: "must be 1 to 100".into() });
        }
        Ok(())
    }

    /// The radius for `item`, in metres.
    pub fn radius_for(&self, item: &str) -> f64 {
        self.item_radius_m.get(item).copied().unwrap_or(self.radius_m)
    }

    pub fn window(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.window_hours) * 3600)
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.duplicates.validate()?;
        self.auth.validate()?;
        crate::oidc::Oidc::config(&self.auth)?;
        self.kafka.validate()?;
        self.database.validate()?;
        self.rate_limit.validate()?;
        self.attachments.validate()?;
        if self.attachments.store.is_some() && self.database.url.is_none() {
            return Err(SettingsError::Invalid {
                key: "attachments.store",
                message: "is set, but database.url is not: the attachments' index is kept in that database".into(),
            });
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(SettingsError::Invalid {
                key: "limits.max_body_bytes",
                message: "must be at least 1024".into(),
            });
        }
        if self.limits.max_in_flight == 0 {
            return Err(SettingsError::Invalid {
                key: "limits.max_in_flight",
                message: "must be at least 1 (it is how many API requests are handled at once)".into(),
            });
        }
        if let Some(legacy) = &self.registry {
            if self.registry_path != Path::new(DEFAULT_REGISTRY_PATH) && self.registry_path != legacy.path {
                return Err(SettingsError::Invalid {
                    key: "registry.path",
                    message: "is the deprecated spelling of registry_path, and both are set: keep registry_path".into(),
                });
            }
            tracing::warn!(
                path = %legacy.path.display(),
                "the setting registry.path (WHISTLE_REGISTRY__PATH) is deprecated: use registry_path (WHISTLE_REGISTRY_PATH)"
            );
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

#[cfg(test)]
mod tests {
    use whistle_common::settings::load_from;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        load_from("whistle-intake", pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn the_registry_file_is_registry_path_as_in_the_other_services() {
        let s = load(&[("WHISTLE_REGISTRY_PATH", "/data/registry.json")]).expect("loads");
        assert_eq!(s.registry_file(), Path::new("/data/registry.json"));
        assert_eq!(s.assist_data_dir(), Path::new("/data/assist"));
        assert_eq!(load(&[]).expect("loads").registry_file(), Path::new(DEFAULT_REGISTRY_PATH));
    }

    #[test]
    fn a_duplicate_radius_out_of_range_stops_start_up_with_its_key() {
        let s = load(&[("WHISTLE_DUPLICATES__RADIUS_M", "350"), ("WHISTLE_DUPLICATES__WINDOW_HOURS", "12")])
            .expect("loads");
        assert_eq!((s.duplicates.radius_for("CQ-ENV-001"), s.duplicates.window_hours), (350.0, 12));
        s.duplicates.validate().expect("valid");
        let s = load(&[("WHISTLE_DUPLICATES__RADIUS_M", "0")]).expect("loads");
        let err = s.duplicates.validate().expect_err("no radius");
        assert!(err.to_string().contains("duplicates.radius_m"), "{err}");
    }

    #[test]
    fn the_deprecated_registry_path_spelling_still_works() {
        let s = load(&[("WHISTLE_REGISTRY__PATH", "/old/registry.json")]).expect("loads");
        assert_eq!(s.registry_file(), Path::new("/old/registry.json"));
    }

    #[test]
    fn both_spellings_with_different_files_are_refused() {
        let mut s = load(&[("WHISTLE_REGISTRY__PATH", "/old/r.json"), ("WHISTLE_REGISTRY_PATH", "/new/r.json")])
            .expect("loads");
        s.auth.jwt_secret = "k".repeat(32).into();
        let err = s.validate().expect_err("contradictory");
        assert!(err.to_string().contains("registry.path"), "{err}");
    }

    #[test]
    fn a_misspelt_registry_path_stops_start_up_with_its_name() {
        let err = load(&[("WHISTLE_REGSITRY_PATH", "/data/registry.json")]).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains("WHISTLE_REGSITRY_PATH names no setting of whistle-intake"), "{message}");
        assert!(message.contains("registry_path"), "{message}");
    }

    #[test]
    fn an_attachment_store_without_a_database_is_refused_with_its_key() {
        let mut s = load(&[
            ("WHISTLE_ATTACHMENTS__STORE", "file:///tmp/whistle-attachments"),
            ("WHISTLE_ATTACHMENTS__MAX_IMAGE_BYTES", "2097152"),
        ])
        .expect("loads");
        assert_eq!(s.attachments.max_image_bytes, 2 * 1024 * 1024);
        s.auth.jwt_secret = "k".repeat(32).into();
        let err = s.validate().expect_err("no database");
        assert!(err.to_string().contains("attachments.store"), "{err}");
        let s =
            load(&[("WHISTLE_ATTACHMENTS__S3__SECRET_ACCESS_KEY", "secret"), ("WHISTLE_ATTACHMENTS__STORE", "s3://b")])
                .expect("loads");
        assert!(s.attachments.s3.secret_access_key.is_some());
    }

    #[test]
    fn single_sign_on_is_configured_by_environment_and_an_http_issuer_stops_production() {
        let oidc = [
            ("WHISTLE_AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("WHISTLE_AUTH__OIDC__ISSUER", "http://127.0.0.1:19400"),
            ("WHISTLE_AUTH__OIDC__CLIENT_ID", "whistle-dev"),
            ("WHISTLE_AUTH__OIDC__CLIENT_SECRET", "whistle-dev-client-secret"),
            ("WHISTLE_AUTH__OIDC__REDIRECT_URL", "http://127.0.0.1:8080/api/v1/auth/oidc/callback"),
            ("WHISTLE_AUTH__OIDC__LABEL_EN", "City ID"),
            ("WHISTLE_OIDC_PORT", "19400"),
        ];
        let mut dev = oidc.to_vec();
        dev.push(("WHISTLE_ENV", "development"));
        let s = load(&dev).expect("loads");
        s.validate().expect("valid in development");
        assert_eq!(s.auth.oidc.issuer.as_deref(), Some("http://127.0.0.1:19400"));
        assert_eq!(
            (s.auth.oidc.username_claim.as_str(), s.auth.oidc.label_en.as_deref()),
            ("preferred_username", Some("City ID"))
        );
        let mut prod = oidc.to_vec();
        prod.push(("WHISTLE_ENV", "production"));
        let err = load(&prod).expect("loads").validate().expect_err("http in production");
        assert!(err.to_string().contains("auth.oidc.issuer") && err.to_string().contains("production"), "{err}");
        let mut no_secret = dev.clone();
        no_secret.retain(|(k, _)| *k != "WHISTLE_AUTH__OIDC__CLIENT_SECRET");
        let err = load(&no_secret).expect("loads").validate().expect_err("no secret");
        assert!(err.to_string().contains("auth.oidc.client_secret"), "{err}");
    }

    #[test]
    fn the_variables_services_sh_gives_intake_are_settings() {
        let s = load(&[
            ("WHISTLE_HTTP__PORT", "8081"),
            ("WHISTLE_KAFKA__BROKERS", "127.0.0.1:19092"),
            ("WHISTLE_REDIS__URL", "redis://127.0.0.1:16379"),
            ("WHISTLE_AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("WHISTLE_AUTH__DEMO_PASSWORD", "whistle-demo"),
            ("WHISTLE_RATE_LIMIT__TRUST_FORWARDED_FOR", "true"),
            ("WHISTLE_DATABASE__URL", "postgres://whistle:secret@127.0.0.1:15432/whistle"),
            ("WHISTLE_ATTACHMENTS__STORE", "file:///tmp/run/attachments"),
            ("WHISTLE_RUN", "/tmp/run"),
            ("WHISTLE_INTAKE_PORT", "8081"),
        ])
        .expect("loads");
        assert_eq!(s.http.port, 8081);
        assert!(s.database.url.is_some());
        s.validate().expect("valid");
    }
}
