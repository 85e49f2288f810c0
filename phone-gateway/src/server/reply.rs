//! Replies: JSON bodies and the one error shape, `{"error":{"code":..,"message":..}}`.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use otp_shared::wire::{ErrorBody, WireError};
use serde::Serialize;
use tracing::warn;

pub type Resp = Response<Full<Bytes>>;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn auth(e: WireError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        warn!(error = %e, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn response(&self) -> Resp {
        json(
            self.status,
            &ErrorBody::new(self.code, self.message.clone()),
        )
    }
}

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(body).expect("serialise"),
    )));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
