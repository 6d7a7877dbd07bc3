//! Where attachments are kept, and how large they may be (`[attachments]` of intake's
//! settings, `WHISTLE_ATTACHMENTS__…`).

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use whistle_common::settings::SettingsError;

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentSettings {
    /// Where the files go: `file:///absolute/directory` (created 0700 when missing) or
    /// `s3://bucket/prefix` with [`AttachmentSettings::s3`]. Unset: the attachment API answers
    /// `503`, and a request that references attachments too. The index is intake's database
    /// (`database.url`), which must be set as well.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Options of an `s3://` store; `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, a web identity token) are read
    /// first and these override them.
    pub s3: S3Settings,
    /// Largest photo accepted (JPEG, PNG, WebP), in bytes: 10 MiB.
    pub max_image_bytes: u64,
    /// Largest video accepted (MP4), in bytes: 50 MiB. nginx's `client_max_body_size` for
    /// `/api/v1/attachments` must allow it (deploy/nginx/whistle.conf).
    pub max_video_bytes: u64,
    /// Uploads handled at once; each holds its file in memory (up to `max_video_bytes`), so
    /// this bounds the memory uploads take. Others wait their turn (within the request timeout).
    pub max_concurrent_uploads: usize,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            store: None,
            s3: S3Settings::default(),
            max_image_bytes: 10 * MIB,
            max_video_bytes: 50 * MIB,
            max_concurrent_uploads: 4,
        }
    }
}

/// An S3-compatible store (AWS, MinIO, Ceph, OSS, COS…).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The endpoint of a store that is not AWS, e.g. `https://minio.internal:9000`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(serialize_with = "expose_opt", skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<SecretString>,
    /// Allow an `http://` endpoint (a store on a trusted network only).
    pub allow_http: bool,
    /// `https://bucket.endpoint/key` requests instead of `https://endpoint/bucket/key`.
    pub virtual_hosted_style: bool,
}

fn expose_opt<S: serde::Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    // Only used to seed the layered config with defaults; never for display.
    match secret {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

/// A store location, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory (absolute).
    File(std::path::PathBuf),
    /// A bucket, and a key prefix inside it (possibly empty).
    S3 { bucket: String, prefix: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid { key, message: message.into() }
}

impl AttachmentSettings {
    /// The store's location, when one is set.
    pub fn location(&self) -> Result<Option<Location>, SettingsError> {
        let Some(store) = self.store.as_deref().map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
        let url = url::Url::parse(store)
            .map_err(|e| invalid("attachments.store", format!("is not a URL ({e}): use file:///dir or s3://bucket")))?;
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid("attachments.store", "a file:// URL needs an absolute path"))?;
                Ok(Some(Location::File(path)))
            }
            "s3" => {
                let bucket = url.host_str().filter(|b| !b.is_empty());
                let bucket = bucket.ok_or_else(|| invalid("attachments.store", "an s3:// URL names its bucket"))?;
                Ok(Some(Location::S3 { bucket: bucket.to_owned(), prefix: url.path().trim_matches('/').to_owned() }))
            }
            other => Err(invalid("attachments.store", format!("scheme {other}: is not file:// or s3://"))),
        }
    }

    /// The largest upload of any kind.
    pub fn max_bytes(&self) -> u64 {
        self.max_image_bytes.max(self.max_video_bytes)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let location = self.location()?;
        let s3 = &self.s3;
        let s3_set = s3.region.is_some()
            || s3.endpoint.is_some()
            || s3.access_key_id.is_some()
            || s3.secret_access_key.is_some()
            || s3.allow_http
            || s3.virtual_hosted_style;
        if s3_set && !matches!(location, Some(Location::S3 { .. })) {
            return Err(invalid("attachments.s3", "is set, but attachments.store is not an s3:// URL"));
        }
        if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
            return Err(invalid(
                "attachments.s3.secret_access_key",
                "an access key id and its secret come together (or neither, for the AWS_* environment)",
            ));
        }
        if let Some(endpoint) = &s3.endpoint
            && endpoint.starts_with("http://")
            && !s3.allow_http
        {
            return Err(invalid("attachments.s3.endpoint", "is http://; set attachments.s3.allow_http to allow it"));
        }
        for (key, value) in [
            ("attachments.max_image_bytes", self.max_image_bytes),
            ("attachments.max_video_bytes", self.max_video_bytes),
        ] {
            if !(1024..=1024 * MIB).contains(&value) {
                return Err(invalid(key, "must be between 1 KiB and 1 GiB"));
            }
        }
        if self.max_concurrent_uploads == 0 {
            return Err(invalid("attachments.max_concurrent_uploads", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(store: &str) -> AttachmentSettings {
        AttachmentSettings { store: Some(store.into()), ..Default::default() }
    }

    #[test]
    fn file_and_s3_locations_parse() {
        assert_eq!(
            with("file:///var/lib/whistle/attachments").location().expect("ok"),
            Some(Location::File("/var/lib/whistle/attachments".into()))
        );
        assert_eq!(
            with("s3://evidence/whistle/prod/").location().expect("ok"),
            Some(Location::S3 { bucket: "evidence".into(), prefix: "whistle/prod".into() })
        );
        assert_eq!(AttachmentSettings::default().location().expect("ok"), None);
        for bad in ["/var/lib/whistle", "http://example.org/x", "s3:///prefix", "file://relative/dir"] {
            assert!(with(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn contradictory_settings_name_their_key() {
        let mut s = with("file:///tmp/a");
        s.s3.region = Some("cn-north-1".into());
        assert!(s.validate().expect_err("s3 options on a file store").to_string().contains("attachments.s3"));
        let mut s = with("s3://bucket");
        s.s3.access_key_id = Some("AKIA".into());
        assert!(s.validate().expect_err("no secret").to_string().contains("secret_access_key"));
        let mut s = with("s3://bucket");
        s.s3.endpoint = Some("http://minio:9000".into());
        assert!(s.validate().expect_err("http").to_string().contains("allow_http"));
        s.s3.allow_http = true;
        s.validate().expect("allowed");
        let s = AttachmentSettings { max_image_bytes: 10, ..with("file:///tmp/a") };
        assert!(s.validate().expect_err("tiny").to_string().contains("max_image_bytes"));
    }
}
