//! The one place where an error becomes an HTTP status and a body, per envelope (v1, the seed's
//! aliases; Twilio's shape is in `compat::twilio`), and where success envelopes are written.

use serde_json::json;

use super::compat::twilio;
use super::http::ApiResponse;
use super::routes::Envelope;
use crate::error::{Error, ErrorCode, ErrorKind};
use crate::service::ctx::Ctx;

pub fn status(code: ErrorCode) -> u16 {
    match code.kind() {
        ErrorKind::Invalid => 400,
        ErrorKind::Unauthenticated => 401,
        ErrorKind::PaymentRequired => 402,
        ErrorKind::Forbidden => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::MethodNotAllowed => 405,
        ErrorKind::Conflict => 409,
        ErrorKind::Gone => 410,
        ErrorKind::TooLarge => 413,
        ErrorKind::Unprocessable => 422,
        ErrorKind::TooMany => 429,
        ErrorKind::Internal => 500,
        ErrorKind::Unavailable => 503,
    }
}

/// The answer for `e` in the route's envelope.
pub fn error(envelope: Envelope, e: &Error, request_id: &str) -> ApiResponse {
    let resp = match envelope {
        Envelope::Twilio => return twilio::error_response(e, request_id),
        Envelope::Seed => {
            // The seed's shape: `error` stays a human string; the stable code rides beside it.
            let mut body = json!({"success": false, "error": e.message, "code": e.code.as_str(), "request_id": request_id});
            if let Some(d) = &e.details {
                body["details"] = d.clone();
            }
            ApiResponse::json(status(e.code), &body)
        }
        Envelope::V1 | Envelope::Raw => {
            let mut error =
                json!({"code": e.code.as_str(), "message": e.message, "request_id": request_id});
            if let Some(d) = &e.details {
                error["details"] = d.clone();
            }
            ApiResponse::json(status(e.code), &json!({"success": false, "error": error}))
        }
    };
    with_retry_after(resp, e)
}

pub fn with_retry_after(resp: ApiResponse, e: &Error) -> ApiResponse {
    match e.retry_after_secs {
        Some(s) => resp.with_header("retry-after", s.to_string()),
        None => resp,
    }
}

/// The v1 success envelope.
/// The v1 success envelope around `data` (a typed answer of `api::views`, or a JSON value).
pub fn ok(status: u16, data: impl serde::Serialize, ctx: &Ctx) -> ApiResponse {
    ApiResponse::json(
        status,
        &json!({"success": true, "data": data, "request_id": ctx.request_id}),
    )
}

/// The seed's success envelope.
pub fn ok_seed(message: &str, data: impl serde::Serialize, ctx: &Ctx) -> ApiResponse {
    ApiResponse::json(
        200,
        &json!({"success": true, "message": message, "data": data, "request_id": ctx.request_id}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status() {
        for c in ErrorCode::ALL {
            assert!((400..600).contains(&status(*c)), "{}", c.as_str());
        }
        assert_eq!(status(ErrorCode::CodeIncorrect), 422);
        assert_eq!(status(ErrorCode::TooManyAttempts), 410);
        assert_eq!(status(ErrorCode::QuotaExhausted), 402);
    }

    #[test]
    fn v1_envelope_carries_code_and_request_id() {
        let r = error(
            Envelope::V1,
            &Error::new(ErrorCode::RateLimited).retry_after(7),
            "req_1",
        );
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        let v = r.json_value();
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["code"], "rate_limited");
        assert_eq!(v["error"]["request_id"], "req_1");
    }

    #[test]
    fn seed_envelope_keeps_error_a_string() {
        let v = error(
            Envelope::Seed,
            &Error::new(ErrorCode::PhoneInvalid),
            "req_2",
        )
        .json_value();
        assert_eq!(v["error"], "Invalid phone number format");
        assert_eq!(v["code"], "phone_invalid");
    }

    #[test]
    fn a_hidden_cause_is_never_rendered() {
        let e =
            Error::new(ErrorCode::StoreUnavailable).cause("token for sa@project: invalid_grant");
        for env in [Envelope::V1, Envelope::Seed, Envelope::Twilio] {
            let body = String::from_utf8(error(env, &e, "r").body).unwrap();
            assert!(!body.contains("invalid_grant"), "{env:?}: {body}");
        }
    }
}
