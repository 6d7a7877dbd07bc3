//! The attachment store: the bytes in an object store (a local directory or an S3-compatible
//! bucket, through `object_store`), the index (who uploaded what, its hash, which cases
//! reference it) in PostgreSQL, schema `attachments` of intake's database.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use secrecy::ExposeSecret as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;
use whistle_common::settings::DatabaseSettings;

use crate::clean::Cleaned;
use crate::kind::Kind;
use crate::settings::{AttachmentSettings, Location};

/// The PostgreSQL schema of the index.
pub const SCHEMA: &str = "attachments";
/// Cases looked at, at most, to decide whether a reader may read an attachment.
pub const MAX_CASES_CHECKED: i64 = 50;

/// One stored attachment, as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: Uuid,
    pub sha256: String,
    pub kind: Kind,
    pub size: u64,
    pub uploader: String,
    /// The town, department or command centre it was uploaded for.
    pub body: String,
    pub object_key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    sha256: String,
    content_type: String,
    size: i64,
    uploader: String,
    body: String,
    object_key: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<Row> for Attachment {
    type Error = anyhow::Error;

    fn try_from(row: Row) -> anyhow::Result<Attachment> {
        let kind = Kind::from_content_type(&row.content_type)
            .with_context(|| format!("attachment {}: unknown content type {}", row.id, row.content_type))?;
        Ok(Attachment {
            id: row.id,
            sha256: row.sha256,
            kind,
            size: u64::try_from(row.size).context("a negative size")?,
            uploader: row.uploader,
            body: row.body,
            object_key: row.object_key,
            created_at: row.created_at,
        })
    }
}

/// The store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AttachmentStore {
    pool: PgPool,
    objects: Arc<dyn ObjectStore>,
}

/// The object store `location` names.
fn objects(location: &Location, settings: &AttachmentSettings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    match location {
        Location::File(dir) => {
            create_private_dir(dir)?;
            let store = LocalFileSystem::new_with_prefix(dir)
                .with_context(|| format!("opening the attachment directory {}", dir.display()))?;
            Ok(Arc::new(store))
        }
        Location::S3 { bucket, prefix } => {
            let s3 = &settings.s3;
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket).with_allow_http(s3.allow_http);
            if let Some(region) = &s3.region {
                builder = builder.with_region(region);
            }
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                builder = builder.with_access_key_id(id).with_secret_access_key(secret.expose_secret());
            }
            if s3.virtual_hosted_style {
                builder = builder.with_virtual_hosted_style_request(true);
            }
            let store = builder.build().context("configuring the S3 attachment store (attachments.s3)")?;
            if prefix.is_empty() { Ok(Arc::new(store)) } else { Ok(Arc::new(PrefixStore::new(store, prefix.as_str()))) }
        }
    }
}

/// Creates `dir` readable by this user only (0700) when it is missing; warns when an existing
/// one is open to others.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the attachment directory {}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format_args!("{:o}", mode & 0o777), "the attachment directory is open to other users; make it 0700");
    }
    Ok(())
}

impl AttachmentStore {
    /// Connects to the index (running its migrations) and opens the object store; `None` when
    /// `attachments.store` is not set.
    pub async fn connect(
        database: &DatabaseSettings,
        settings: &AttachmentSettings,
    ) -> anyhow::Result<Option<AttachmentStore>> {
        let Some(location) = settings.location()? else { return Ok(None) };
        let url = database.url.as_ref().context("attachments.store is set, but database.url (its index) is not")?;
        let objects = objects(&location, settings)?;
        // The index's tables and migration history live in their own schema: the account store
        // shares the database, and sqlx refuses a history with another's migrations in it.
        let options = PgConnectOptions::from_str(url.expose_secret())
            .context("database.url is not a PostgreSQL URL")?
            .options([("search_path", SCHEMA)]);
        let pool = PgPoolOptions::new()
            .max_connections(database.max_connections)
            .acquire_timeout(Duration::from_secs(database.acquire_timeout_seconds.max(1)))
            .connect_with(options)
            .await
            .context("connecting to the attachment index (database.url)")?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            .execute(&pool)
            .await
            .context("creating the attachment index's schema")?;
        sqlx::migrate!("./migrations").run(&pool).await.context("migrating the attachment index")?;
        tracing::info!(store = %objects, "attachment store ready");
        Ok(Some(AttachmentStore { pool, objects }))
    }

    /// Answers a trivial query (readiness).
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.context("pinging the attachment index")?;
        Ok(())
    }

    /// Stores a cleaned file for `body`, uploaded by `uploader`: the bytes first, then the row,
    /// so no row ever names bytes that are not there.
    pub async fn put(&self, cleaned: Cleaned, uploader: &str, body: &str) -> anyhow::Result<Attachment> {
        let id = Uuid::now_v7();
        let now = Utc::now();
        let object_key = format!("{}/{id}", now.format("%Y/%m"));
        let size = u64::try_from(cleaned.bytes.len()).context("size")?;
        let path = ObjectPath::from(object_key.as_str());
        self.objects
            .put(&path, PutPayload::from(Bytes::from(cleaned.bytes)))
            .await
            .with_context(|| format!("writing attachment {object_key} to the store"))?;
        let row: Result<Row, _> = sqlx::query_as(
            "INSERT INTO attachments (id, sha256, content_type, size, uploader, body, object_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id, sha256, content_type, size, uploader, body, object_key, created_at",
        )
        .bind(id)
        .bind(&cleaned.sha256)
        .bind(cleaned.kind.content_type())
        .bind(i64::try_from(size).context("size")?)
        .bind(uploader)
        .bind(body)
        .bind(&object_key)
        .bind(now)
        .fetch_one(&self.pool)
        .await;
        match row {
            Ok(row) => row.try_into(),
            Err(err) => {
                if let Err(e) = self.objects.delete(&path).await {
                    tracing::warn!(key = %object_key, error = %e, "an unindexed attachment stays in the store");
                }
                Err(anyhow::Error::from(err).context("indexing the attachment"))
            }
        }
    }

    pub async fn get(&self, id: Uuid) -> anyhow::Result<Option<Attachment>> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, sha256, content_type, size, uploader, body, object_key, created_at FROM attachments WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading the attachment index")?;
        row.map(Attachment::try_from).transpose()
    }

    /// The stored bytes of `attachment`, as a stream.
    pub async fn bytes(
        &self,
        attachment: &Attachment,
    ) -> anyhow::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        let path = ObjectPath::from(attachment.object_key.as_str());
        let result = self
            .objects
            .get(&path)
            .await
            .with_context(|| format!("reading attachment {} from the store", attachment.object_key))?;
        Ok(result.into_stream())
    }

    /// Which of `ids` exist and were uploaded for `body`.
    pub async fn owned_by(&self, ids: &[Uuid], body: &str) -> anyhow::Result<Vec<Uuid>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_scalar("SELECT id FROM attachments WHERE id = ANY($1) AND body = $2")
            .bind(ids)
            .bind(body)
            .fetch_all(&self.pool)
            .await
            .context("reading the attachment index")
    }

    /// Records that `case` references `ids` (again is fine).
    pub async fn reference(&self, case: Uuid, ids: &[Uuid]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO attachment_cases (attachment_id, case_id) SELECT unnest($1::uuid[]), $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(ids)
        .bind(case)
        .execute(&self.pool)
        .await
        .context("recording the attachments' case")?;
        Ok(())
    }

    /// The cases that reference attachment `id`, oldest first, at most [`MAX_CASES_CHECKED`].
    pub async fn cases(&self, id: Uuid) -> anyhow::Result<Vec<Uuid>> {
        sqlx::query_scalar(
            "SELECT case_id FROM attachment_cases WHERE attachment_id = $1 ORDER BY created_at, case_id LIMIT $2",
        )
        .bind(id)
        .bind(MAX_CASES_CHECKED)
        .fetch_all(&self.pool)
        .await
        .context("reading the attachment index")
    }
}
