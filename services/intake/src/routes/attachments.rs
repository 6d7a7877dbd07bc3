//! Evidence attachments: `POST /api/v1/attachments` (upload one file) and
//! `GET /api/v1/attachments/{id}` (its bytes), and the checks of the attachment ids a raise, a
//! town case or an investigation references.
//!
//! An upload is read as it streams in: its first bytes say what it is (JPEG, PNG, WebP, MP4,
//! never the part's content type or file name), and that kind's size limit stops it (`413`)
//! before more than the limit is held. Its metadata is stripped ([`whistle_attachments::clean`])
//! on a blocking thread, then the bytes are stored and indexed.
//!
//! Who may read an attachment: its uploader's body (town, department, command centre), and
//! every account that may read a case referencing it. Everyone else gets `403` (issue M's
//! contract); an id that names nothing is `404`. Ids are random (UUIDv7 with 74 random bits), so
//! the difference tells a stranger nothing it could guess.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt as _;
use uuid::Uuid;
use whistle_attachments::kind::{SNIFF_BYTES, sniff};
use whistle_attachments::{Attachment, AttachmentSettings, AttachmentStore, Kind};
use whistle_auth::Principal;
use whistle_schemas::api::AttachmentUploaded;

use super::AppState;
use super::whistles::authorize;
use crate::error::ApiError;

/// Most attachments one raise, town case or investigation references.
pub const MAX_ATTACHMENTS: usize = 9;
/// What a multipart body may carry besides the file (boundaries, part headers).
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// The attachment store with its limits (present when `attachments.store` is set).
#[derive(Clone)]
pub struct Evidence {
    pub store: AttachmentStore,
    pub max_image_bytes: u64,
    pub max_video_bytes: u64,
    /// Uploads in progress (each holds its file in memory).
    pub uploads: Arc<tokio::sync::Semaphore>,
}

impl Evidence {
    pub fn new(store: AttachmentStore, settings: &AttachmentSettings) -> Evidence {
        Evidence {
            store,
            max_image_bytes: settings.max_image_bytes,
            max_video_bytes: settings.max_video_bytes,
            uploads: Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent_uploads)),
        }
    }

    fn limit(&self, kind: Kind) -> u64 {
        if kind.is_image() { self.max_image_bytes } else { self.max_video_bytes }
    }
}

/// `1 MiB`, `512 KiB`: a limit as people read it.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

fn evidence_of(state: &AppState) -> Result<&Evidence, ApiError> {
    state.evidence.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "no attachment store is configured on this server (attachments.store and database.url)".into(),
        )
    })
}

fn unavailable(err: anyhow::Error) -> ApiError {
    tracing::warn!(error = %format_args!("{err:#}"), "attachment store unavailable");
    ApiError::Unavailable("the attachment store is unavailable; nothing was stored, retry shortly".into())
}

/// The body `principal` uploads for, or `403`.
fn uploader_body(principal: &Principal) -> Result<String, ApiError> {
    principal.evidence_body().ok_or_else(|| {
        ApiError::forbidden(format!(
            "attachments are uploaded by towns, departments and command centres for their own cases; you are {principal}"
        ))
    })
}

fn multipart_error(err: MultipartError, evidence: &Evidence) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(None, evidence);
    }
    ApiError::MalformedBody(format!("the multipart body does not parse: {}", err.body_text()))
}

fn too_large(kind: Option<Kind>, evidence: &Evidence) -> ApiError {
    let limits = format!(
        "at most {} for a photo (JPEG, PNG, WebP) and {} for a video (MP4)",
        size(evidence.max_image_bytes),
        size(evidence.max_video_bytes)
    );
    ApiError::FileTooLarge(match kind {
        Some(kind) => format!("the {} is larger than {}; {limits}", kind.name(), size(evidence.limit(kind))),
        None => format!("the upload is too large; {limits}"),
    })
}

/// `POST /api/v1/attachments`: one file in the multipart field `file`; `201` with its id.
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let body = uploader_body(&principal)?;
    let evidence = evidence_of(&state)?.clone();
    let mut multipart = multipart.map_err(|e| {
        ApiError::MalformedBody(format!(
            "expected a multipart/form-data body with one file in the field \"file\": {}",
            e.body_text()
        ))
    })?;
    let _permit = evidence.uploads.acquire().await.context("the upload semaphore is closed")?;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(e, &evidence))? {
        match field.name() {
            Some("file") if file.is_none() => file = Some(read_file(field, &evidence).await?),
            Some("file") => {
                return Err(ApiError::InvalidField { field: "file", message: "one file per request".into() });
            }
            other => {
                let name = other.unwrap_or_default().chars().take(40).collect::<String>();
                return Err(ApiError::InvalidField {
                    field: "file",
                    message: format!("unexpected field {name:?}: the body has one field, \"file\""),
                });
            }
        }
    }
    let (kind, data) = file.ok_or_else(|| ApiError::InvalidField {
        field: "file",
        message: "the body has no field \"file\" with the photo or video".into(),
    })?;
    let original = data.len();
    let cleaned = tokio::task::spawn_blocking(move || whistle_attachments::clean::clean(kind, &data))
        .await
        .context("the metadata stripping task failed")?
        .map_err(|refused| ApiError::UnsupportedMediaType(refused.to_string()))?;
    let stripped = original.saturating_sub(cleaned.bytes.len());
    let attachment = evidence.store.put(cleaned, &principal.user, &body).await.map_err(unavailable)?;
    state.metrics.attachments.with_label_values(&[attachment.kind.content_type()]).inc();
    state.metrics.attachment_bytes_stripped.inc_by(u64::try_from(stripped).unwrap_or(0));
    tracing::info!(
        attachment = %attachment.id, content_type = attachment.kind.content_type(), size = attachment.size,
        stripped, body = %body, user = %principal.user, "attachment stored"
    );
    let location = format!("/api/v1/attachments/{}", attachment.id);
    let answer = AttachmentUploaded {
        id: attachment.id,
        sha256: attachment.sha256,
        content_type: attachment.kind.content_type().to_owned(),
        size: attachment.size,
    };
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(answer)).into_response())
}

/// The file's kind and bytes, read chunk by chunk: its kind's limit stops it as soon as it is
/// passed. What is still coming is then read and dropped (up to the route's body limit), so
/// the client is answered `413` rather than cut off mid-send.
async fn read_file(mut field: Field<'_>, evidence: &Evidence) -> Result<(Kind, Vec<u8>), ApiError> {
    let mut data = Vec::new();
    let mut kind = None;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, evidence))? {
        data.extend_from_slice(&chunk);
        if kind.is_none() && data.len() >= SNIFF_BYTES {
            kind = Some(sniff(&data).map_err(|e| ApiError::UnsupportedMediaType(e.to_string()))?);
        }
        if let Some(kind) = kind
            && u64::try_from(data.len()).unwrap_or(u64::MAX) > evidence.limit(kind)
        {
            drop(data);
            while let Ok(Some(_)) = field.chunk().await {}
            return Err(too_large(Some(kind), evidence));
        }
    }
    let kind = match kind {
        Some(kind) => kind,
        None => sniff(&data).map_err(|e| ApiError::UnsupportedMediaType(e.to_string()))?,
    };
    Ok((kind, data))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no attachment {}", id.chars().take(40).collect::<String>()))
}

/// `GET /api/v1/attachments/{id}`: the stored bytes, to those who may read them.
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let evidence = evidence_of(&state)?;
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found(&id))?;
    let attachment = evidence.store.get(uuid).await.map_err(unavailable)?.ok_or_else(|| not_found(&id))?;
    if !may_read(&state, evidence, &principal, &attachment).await? {
        return Err(ApiError::forbidden(format!(
            "{principal} may not read attachment {id}: it is neither its body's upload nor evidence of a case it reads"
        )));
    }
    let stream = evidence.store.bytes(&attachment).await.map_err(unavailable)?;
    let attachment_id = attachment.id;
    let stream = stream.map_err(move |e| {
        tracing::error!(attachment = %attachment_id, error = %e, "reading an attachment from the store failed midway");
        e
    });
    let disposition = if attachment.kind.is_image() { "inline" } else { "attachment" };
    let extension = match attachment.kind {
        Kind::Jpeg => "jpg",
        Kind::Png => "png",
        Kind::Webp => "webp",
        Kind::Mp4 => "mp4",
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(attachment.kind.content_type())),
        (header::CONTENT_LENGTH, HeaderValue::from(attachment.size)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("{disposition}; filename=\"{}.{extension}\"", attachment.id))
                .context("a disposition header")?,
        ),
        // Evidence is read with a token, often on shared devices: never kept by a cache.
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        (header::ETAG, HeaderValue::from_str(&format!("\"{}\"", attachment.sha256)).context("an etag")?),
        // Shown as a document of its own, it may run nothing.
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
    ];
    Ok((headers, Body::from_stream(stream)).into_response())
}

/// Whether `principal` may read `attachment`: its own body's, or referenced by a case it reads.
async fn may_read(
    state: &AppState,
    evidence: &Evidence,
    principal: &Principal,
    attachment: &Attachment,
) -> Result<bool, ApiError> {
    if principal.evidence_body().as_deref() == Some(attachment.body.as_str()) {
        return Ok(true);
    }
    for case in evidence.store.cases(attachment.id).await.map_err(unavailable)? {
        if let Some(case) = state.store.get(case).await.map_err(ApiError::store)?
            && authorize(principal, &case, None).is_ok()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The attachment ids a raise, town case or investigation references, checked: at most
/// [`MAX_ATTACHMENTS`], each uploaded for the acting `principal`'s body. Repeated ids count
/// once. Canonical ids, for the event.
pub(super) async fn referenced(state: &AppState, principal: &Principal, ids: &[String]) -> Result<Vec<Uuid>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if ids.len() > MAX_ATTACHMENTS {
        return Err(ApiError::InvalidField {
            field: "attachments",
            message: format!("at most {MAX_ATTACHMENTS} attachments"),
        });
    }
    let body = uploader_body(principal)?;
    let unknown = |id: &str| {
        ApiError::UnknownAttachment(format!(
            "no attachment {:?} was uploaded by {body}; upload the file first (POST /api/v1/attachments)",
            id.chars().take(40).collect::<String>()
        ))
    };
    let mut parsed: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids {
        let uuid = Uuid::parse_str(id.trim()).map_err(|_| unknown(id))?;
        if !parsed.contains(&uuid) {
            parsed.push(uuid);
        }
    }
    let evidence = evidence_of(state)?;
    let owned = evidence.store.owned_by(&parsed, &body).await.map_err(unavailable)?;
    if let Some(missing) = parsed.iter().find(|id| !owned.contains(id)) {
        return Err(unknown(&missing.to_string()));
    }
    Ok(parsed)
}

/// Records that `case` references `ids`, before the event that says so is published: a reader
/// of the case can read them as soon as it can read the case.
pub(super) async fn reference(state: &AppState, case: Uuid, ids: &[Uuid]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    evidence_of(state)?.store.reference(case, ids).await.map_err(unavailable)
}

/// The ids as the events carry them.
pub(super) fn as_strings(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_people_write_them() {
        assert_eq!(size(10 * 1024 * 1024), "10 MiB");
        assert_eq!(size(512 * 1024), "512 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
