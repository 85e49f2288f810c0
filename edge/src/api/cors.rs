//! CORS at the edge. A preflight (`OPTIONS`) carries no key: it is answered from the union of the
//! origins tenants listed (`service::cors`, cached in the isolate, so no store read once warm).
//! The request itself must then come from an origin its own tenant listed, or it is refused with
//! 403 `origin_not_allowed` before anything runs; admin routes take no cross-origin calls at
//! all; the public spec and health answer any origin. Same-origin calls (the dashboard) pass.

use super::http::{ApiRequest, ApiResponse};
use super::render;
use super::routes::{match_path, Auth, ROUTES};
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ops::cors;

const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id, x-api-key";
const EXPOSE_HEADERS: &str = "x-request-id, idempotent-replayed, retry-after";
/// How long a browser may reuse a preflight's answer.
const MAX_AGE_SECS: &str = "600";

/// The request's `Origin` when it names another site than the one it is sent to.
pub fn cross_origin(req: &ApiRequest) -> Option<&str> {
    let origin = req.header("origin")?;
    let host = req.header("host").unwrap_or("");
    let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or(origin);
    (authority != host || host.is_empty()).then_some(origin)
}

/// Who may call a path (its routes share one kind of caller), and its methods.
fn path_info(path: &str) -> Option<(Auth, Vec<&'static str>)> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let matching: Vec<_> = ROUTES
        .iter()
        .filter(|r| match_path(r.path, path).is_some())
        .collect();
    let first = matching.first()?;
    Some((first.auth, matching.iter().map(|r| r.method).collect()))
}

/// The answer to an `OPTIONS` preflight.
pub async fn preflight<P: Platform>(
    app: &App<P>,
    req: &ApiRequest,
    request_id: &str,
) -> ApiResponse {
    let Some((auth, methods)) = path_info(&req.path) else {
        return render::error(
            super::routes::Envelope::V1,
            &Error::new(ErrorCode::NotFound),
            request_id,
        );
    };
    let origin = cross_origin(req).map(str::to_string);
    let allowed = match (&origin, auth) {
        (None, _) => None,
        (Some(_), Auth::Public) => Some("*".to_string()),
        (Some(o), Auth::Tenant) if cors::origin_listed(app, o).await => Some(o.clone()),
        _ => None,
    };
    match allowed {
        Some(o) => ApiResponse::raw(204, "text/plain", Vec::new())
            .with_header("access-control-allow-origin", o)
            .with_header("access-control-allow-methods", methods.join(", "))
            .with_header("access-control-allow-headers", ALLOW_HEADERS)
            .with_header("access-control-max-age", MAX_AGE_SECS)
            .with_header("vary", "Origin"),
        None => {
            let e = Error::msg(
                ErrorCode::OriginNotAllowed,
                "No tenant allows browser calls from this origin (settings.cors_origins)",
            );
            render::error(super::routes::Envelope::V1, &e, request_id).with_header("vary", "Origin")
        }
    }
}

/// Headers that let the browser read an answer to an allowed cross-origin call.
pub fn decorate(resp: ApiResponse, allow_origin: &str) -> ApiResponse {
    resp.with_header("access-control-allow-origin", allow_origin.to_string())
        .with_header("access-control-expose-headers", EXPOSE_HEADERS)
        .with_header("vary", "Origin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_calls_are_not_cross_origin() {
        let r = ApiRequest::new("POST", "/v1/otp/send")
            .with_header("host", "api.example:8787")
            .with_header("origin", "http://api.example:8787");
        assert_eq!(cross_origin(&r), None);
        let r = r.with_header("origin", "https://shop.example");
        // The first Origin header wins; build a fresh one.
        let r2 = ApiRequest::new("POST", "/v1/otp/send")
            .with_header("host", "api.example")
            .with_header("origin", "https://shop.example");
        assert_eq!(cross_origin(&r2), Some("https://shop.example"));
        assert!(cross_origin(&ApiRequest::new("GET", "/health")).is_none());
        drop(r);
    }

    #[test]
    fn paths_tell_their_callers_and_methods() {
        assert_eq!(
            path_info("/v1/messages").map(|p| p.1),
            Some(vec!["POST", "GET"])
        );
        assert_eq!(path_info("/v1/otp/send").map(|p| p.0), Some(Auth::Tenant));
        assert_eq!(
            path_info("/v1/admin/tenants/t_1").map(|p| p.0),
            Some(Auth::Admin)
        );
        assert!(path_info("/nope").is_none());
    }
}
