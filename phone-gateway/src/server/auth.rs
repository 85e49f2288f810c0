//! Authentication of a signed request, cheapest check first: the headers (signature over the
//! declared body hash, timestamp) before a byte of the body is read, then the body under a size
//! limit and a deadline, then its hash and the AEAD. An unauthenticated client can therefore
//! neither make the gateway wait for a body nor make it buffer one.

use super::reply::ApiError;
use crate::app::App;
use crate::unix_now;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, StatusCode};
use otp_shared::wire;
use std::time::Duration;

/// A request that passed signature, time, body hash and AEAD checks; its nonce is not yet recorded
/// (that happens in the same transaction as the action).
pub struct Authed {
    /// The key the request was signed with (the answer is signed with it too).
    pub keys: otp_shared::wire::Keys,
    pub nonce: String,
    pub timestamp: u64,
    pub plaintext: Option<Vec<u8>>,
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "body too large",
    )
}

pub async fn authenticate(app: &App, req: Request<Incoming>) -> Result<Authed, ApiError> {
    let (parts, body) = req.into_parts();
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let route = wire::Route::new(method, path, &app.cfg.gateway_id);
    // The current key first; the previous one only during a key change's grace period.
    let accepted = app.keys.accepted(unix_now());
    let mut outcome = Err(wire::WireError::Unsigned);
    for (i, keys) in accepted.iter().enumerate() {
        let tried = wire::verify_headers(keys, route, header, unix_now(), app.cfg.auth.window_secs);
        match tried {
            Ok(s) => {
                outcome = Ok((i, s));
                break;
            }
            Err(e) if i == 0 => outcome = Err(e),
            Err(_) => {}
        }
    }
    let (used, signed) = outcome.map_err(ApiError::auth)?;

    let max = app.cfg.auth.max_body_bytes;
    let declared = header(CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let deadline = Duration::from_millis(app.cfg.server.body_timeout_ms);
    let body = tokio::time::timeout(deadline, Limited::new(body, max).collect())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the body did not arrive in time",
            )
        })?
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                too_large()
            } else {
                ApiError::bad_request("the body could not be read")
            }
        })?
        .to_bytes();

    let verified = signed.check_body(&body).map_err(ApiError::auth)?;
    let plaintext = verified.open().map_err(ApiError::auth)?;
    Ok(Authed {
        keys: accepted[used].clone(),
        nonce: verified.nonce,
        timestamp: verified.timestamp,
        plaintext,
    })
}
