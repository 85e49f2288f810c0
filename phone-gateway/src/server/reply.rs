//! Replies: a status and a JSON body, the one error shape `{"error":{"code":..,"message":..}}`, and
//! the reply signature that binds an answer to the authenticated request it answers.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use otp_shared::wire::{self, ErrorBody, Keys, WireError, HEADER_REPLY_SIGNATURE};
use serde::Serialize;
use tracing::warn;

pub type Resp = Response<Full<Bytes>>;

/// An answer before it goes on the wire.
pub struct Reply {
    pub status: StatusCode,
    body: Bytes,
    signature: Option<String>,
    content_type: &'static str,
}

impl Reply {
    pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Reply {
        Reply {
            status,
            body: Bytes::from(serde_json::to_vec(body).expect("serialise")),
            signature: None,
            content_type: "application/json",
        }
    }

    /// Prometheus' text format (`/metrics`).
    pub fn prometheus(text: String) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Bytes::from(text),
            signature: None,
            content_type: "text/plain; version=0.0.4",
        }
    }

    /// Signs the answer to the request whose header nonce is `request_nonce`.
    pub fn signed(mut self, keys: &Keys, request_nonce: &str) -> Reply {
        let sig = wire::sign_reply(keys, request_nonce, self.status.as_u16(), &self.body);
        self.signature = Some(sig);
        self
    }

    pub fn into_response(self) -> Resp {
        let mut resp = Response::new(Full::new(self.body));
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(sig) = self.signature.and_then(|s| HeaderValue::from_str(&s).ok()) {
            headers.insert(HEADER_REPLY_SIGNATURE, sig);
        }
        resp
    }
}

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

    pub fn reply(&self) -> Reply {
        Reply::json(
            self.status,
            &ErrorBody::new(self.code, self.message.clone()),
        )
    }
}
