//! The `/v1/` routes: request validation, calls into the [`DockBackend`] on the
//! blocking pool, and JSON answers (`{"error": "..."}` for every failure).

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, http};
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutLayer;

use super::files::serve_file;
use super::listing::list_recordings;
use super::wire::{
    AckReply, AckRequest, AssignmentReply, AssignmentRequest, DeviceInfo, ErrorBody, HeadRequest,
    Listing, TimeReply, TimeRequest,
};
use super::{Ack, DockBackend, DockError, DockLimits};
use crate::evidence::head::HeadStatement;
use crate::evidence::officer::OfficerId;
use crate::layout::{self, RecordingId, SegmentFile, parse_sequence};

/// Longest nonce accepted for a head statement (as `bodycam ctl head`).
const MAX_NONCE_BYTES: usize = 64;
/// Longest blob name accepted in an acknowledgement, in bytes (as the store's).
const MAX_BLOB_LEN: usize = 1024;
/// Clock bounds for `POST /v1/time`: 2020-01-01T00:00:00Z ..= 2100-01-01T00:00:00Z.
const MIN_UTC_MS: i64 = 1_577_836_800_000;
const MAX_UTC_MS: i64 = 4_102_444_800_000;

/// Shared by every handler.
#[derive(Clone)]
struct AppState {
    backend: Arc<dyn DockBackend>,
}

/// The router with its limits (body size, request time).
pub fn router(backend: Arc<dyn DockBackend>, limits: &DockLimits) -> Router {
    Router::new()
        .route("/v1/device", get(device))
        .route("/v1/head", post(head))
        .route("/v1/recordings", get(recordings))
        .route(
            "/v1/recordings/{rec}/segments/{seq}/media",
            get(|s: State<AppState>, id: SegmentId, r: Request| {
                segment_file(s, id, r, SegmentFile::Media)
            }),
        )
        .route(
            "/v1/recordings/{rec}/segments/{seq}/journal",
            get(|s: State<AppState>, id: SegmentId, r: Request| {
                segment_file(s, id, r, SegmentFile::Journal)
            }),
        )
        .route(
            "/v1/recordings/{rec}/segments/{seq}/meta",
            get(|s: State<AppState>, id: SegmentId, r: Request| {
                segment_file(s, id, r, SegmentFile::Meta)
            }),
        )
        .route("/v1/recordings/{rec}/segments/{seq}/ack", post(acknowledge))
        .route("/v1/audit", get(audit))
        .route("/v1/time", post(set_time))
        .route("/v1/assignment", post(assign))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .with_state(AppState { backend })
}

/// A failed request: status and message, answered as `{"error": message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<DockError> for ApiError {
    fn from(e: DockError) -> ApiError {
        ApiError::new(e.status(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %self.message, "dock request failed");
        } else {
            tracing::debug!(status = %self.status, error = %self.message, "dock request refused");
        }
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

/// A validated `{rec}/{seq}` pair from the path; anything else is a 400 before any
/// filesystem access.
struct SegmentId {
    recording: RecordingId,
    sequence: u32,
}

impl<S: Send + Sync> FromRequestParts<S> for SegmentId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((rec, seq)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("bad path: {}", e.body_text())))?;
        let recording = RecordingId::parse(&rec).ok_or_else(|| {
            ApiError::bad_request(
                "bad recording id (expected YYYYMMDDTHHMMSSZ or YYYYMMDDTHHMMSSZ-N)",
            )
        })?;
        let sequence = parse_sequence(&seq)
            .ok_or_else(|| ApiError::bad_request("bad segment sequence (expected 1..=999999)"))?;
        Ok(SegmentId {
            recording,
            sequence,
        })
    }
}

/// A JSON body (`Content-Type: application/json`, unknown fields refused): malformed or
/// mistyped JSON is 400, a missing content type 415, a body over the limit 413.
struct JsonBody<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => {
                let status = match &e {
                    JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
                        StatusCode::BAD_REQUEST
                    }
                    _ => e.status(),
                };
                Err(ApiError::new(status, e.body_text()))
            }
        }
    }
}

/// Run a backend call on the blocking pool (it may wait for the daemon's loop).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DockError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("backend call failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

async fn device(State(s): State<AppState>) -> Result<Json<DeviceInfo>, ApiError> {
    let b = s.backend;
    blocking(move || Ok(b.device_info())).await.map(Json)
}

async fn head(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<HeadRequest>,
) -> Result<Json<HeadStatement>, ApiError> {
    let nonce = hex::decode(&req.nonce)
        .ok()
        .filter(|n| (1..=MAX_NONCE_BYTES).contains(&n.len()))
        .ok_or_else(|| ApiError::bad_request("nonce must be 1 to 64 bytes of hex"))?;
    let b = s.backend;
    blocking(move || b.head(&nonce)).await.map(Json)
}

async fn recordings(State(s): State<AppState>) -> Result<Json<Listing>, ApiError> {
    let b = s.backend;
    blocking(move || list_recordings(b.as_ref()))
        .await
        .map(Json)
}

/// Whether `path` is a regular file (symlinks are not followed, never served).
async fn is_regular_file(path: &std::path::Path) -> bool {
    tokio::fs::symlink_metadata(path)
        .await
        .is_ok_and(|m| m.file_type().is_file())
}

/// 404 unless the segment exists (media or journal), 409 unless it is closed.
async fn require_closed(s: &AppState, id: &SegmentId) -> Result<(), ApiError> {
    let root = s.backend.store_root();
    let exists = is_regular_file(&layout::segment_path(
        &root,
        &id.recording,
        id.sequence,
        SegmentFile::Media,
    ))
    .await
        || is_regular_file(&layout::segment_path(
            &root,
            &id.recording,
            id.sequence,
            SegmentFile::Journal,
        ))
        .await;
    if !exists {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no segment {}/{:06}", id.recording, id.sequence),
        ));
    }
    let b = s.backend.clone();
    let (rec, seq) = (id.recording.as_str().to_string(), id.sequence);
    if blocking(move || Ok(b.segment_closed(&rec, seq))).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "segment {}/{:06} is still being written",
                id.recording, id.sequence
            ),
        ))
    }
}

async fn segment_file(
    State(s): State<AppState>,
    id: SegmentId,
    req: Request,
    part: SegmentFile,
) -> Result<Response, ApiError> {
    require_closed(&s, &id).await?;
    let path = layout::segment_path(&s.backend.store_root(), &id.recording, id.sequence, part);
    if !is_regular_file(&path).await {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "segment {}/{:06} has no {part:?} file",
                id.recording, id.sequence
            ),
        ));
    }
    Ok(serve_file(path, part.content_type(), req).await)
}

async fn audit(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let path = layout::audit_path(&s.backend.store_root());
    if !is_regular_file(&path).await {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no audit log yet"));
    }
    Ok(serve_file(path, "application/octet-stream", req).await)
}

async fn acknowledge(
    State(s): State<AppState>,
    id: SegmentId,
    JsonBody(req): JsonBody<AckRequest>,
) -> Result<Json<AckReply>, ApiError> {
    let sha = &req.sha256;
    if sha.len() != 64 || !sha.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("sha256 must be 64 hex digits"));
    }
    let blob_len = req.blob.len();
    if blob_len == 0 || blob_len > MAX_BLOB_LEN || req.blob.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "blob must be 1 to 1024 bytes without control characters",
        ));
    }
    require_closed(&s, &id).await?;
    let ack = Ack {
        recording: id.recording.as_str().to_string(),
        segment: id.sequence,
        blob: req.blob,
        sha256: req.sha256.to_ascii_lowercase(),
    };
    tracing::info!(recording = %ack.recording, segment = ack.segment, blob = %ack.blob, "dock acknowledgement");
    let b = s.backend;
    blocking(move || b.acknowledge(&ack)).await.map(Json)
}

async fn set_time(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<TimeRequest>,
) -> Result<Json<TimeReply>, ApiError> {
    if !(MIN_UTC_MS..=MAX_UTC_MS).contains(&req.utc_ms) {
        return Err(ApiError::bad_request(
            "utc_ms must be between 2020-01-01 and 2100-01-01",
        ));
    }
    let b = s.backend;
    blocking(move || b.set_time(req.utc_ms)).await.map(Json)
}

async fn assign(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<AssignmentRequest>,
) -> Result<Json<AssignmentReply>, ApiError> {
    let officer = match &req.officer {
        Some(o) => Some(OfficerId::parse(o).map_err(|e| ApiError::bad_request(e.to_string()))?),
        None => None,
    };
    if let Some(d) = &req.dock
        && (d.is_empty() || d.len() > 64 || !d.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
    {
        return Err(ApiError::bad_request(
            "dock must be 1 to 64 printable ASCII characters",
        ));
    }
    tracing::info!(officer = ?req.officer, dock = ?req.dock, "dock assignment");
    let b = s.backend;
    blocking(move || b.assign(officer, req.dock))
        .await
        .map(Json)
}

async fn not_found(uri: http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {}", uri.path()),
    )
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
