//! Serving one file with tower-http's `ServeFile` (Range, ETag, Last-Modified,
//! If-Match/If-None-Match/If-(Un)Modified-Since), plus the one precondition it does not
//! evaluate: `If-Range` (RFC 9110 §13.1.5). A resumed download whose validator no longer
//! matches gets the whole file (200) instead of a range of a different file.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// Serve `path` for `req` with `content_type`.
pub async fn serve_file(path: PathBuf, content_type: &'static str, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    if parts.headers.contains_key(RANGE)
        && let Some(if_range) = parts.headers.get(IF_RANGE).cloned()
    {
        // Ask ServeFile for the current validators, then decide.
        let mut probe = Request::new(Body::empty());
        *probe.method_mut() = Method::HEAD;
        let current = match ServeFile::new(&path).oneshot(probe).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        if !if_range_matches(&if_range, current.headers()) {
            parts.headers.remove(RANGE);
        }
    }
    let req = Request::from_parts(parts, body);
    let mut response = match ServeFile::new(&path).oneshot(req).await {
        Ok(r) => r.into_response(),
        Err(never) => match never {},
    };
    if matches!(
        response.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT
    ) {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

/// Whether an `If-Range` value matches the representation: an entity tag by strong
/// comparison (a weak tag never matches), or an HTTP-date equal to `Last-Modified`.
fn if_range_matches(if_range: &HeaderValue, current: &HeaderMap) -> bool {
    let v = if_range.as_bytes().trim_ascii();
    if v.starts_with(b"W/") {
        false
    } else if v.starts_with(b"\"") {
        current
            .get(ETAG)
            .map(|e| e.as_bytes().trim_ascii())
            .is_some_and(|e| !e.starts_with(b"W/") && e == v)
    } else {
        current
            .get(LAST_MODIFIED)
            .is_some_and(|lm| lm.as_bytes().trim_ascii() == v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(etag: &'static str, lm: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ETAG, HeaderValue::from_static(etag));
        h.insert(LAST_MODIFIED, HeaderValue::from_static(lm));
        h
    }

    #[test]
    fn if_range_strong_etag_or_exact_date() {
        let h = headers("\"1a.2b-3c\"", "Wed, 25 Nov 2026 17:53:28 GMT");
        let m = |v: &'static str| if_range_matches(&HeaderValue::from_static(v), &h);
        assert!(m("\"1a.2b-3c\""));
        assert!(!m("\"1a.2b-3d\""));
        assert!(!m("W/\"1a.2b-3c\""));
        assert!(m("Wed, 25 Nov 2026 17:53:28 GMT"));
        assert!(!m("Wed, 25 Nov 2026 17:53:29 GMT"));
        let weak = headers("W/\"x\"", "Wed, 25 Nov 2026 17:53:28 GMT");
        assert!(!if_range_matches(
            &HeaderValue::from_static("W/\"x\""),
            &weak
        ));
        assert!(!if_range_matches(
            &HeaderValue::from_static("\"x\""),
            &HeaderMap::new()
        ));
    }
}
