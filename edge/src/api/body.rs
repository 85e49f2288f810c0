//! Reading JSON bodies and common fields with the API's error codes.

use otp_shared::phone::Phone;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{ApiError, ErrorCode};
use super::http::ApiRequest;

/// Parses the body as a JSON object into `T`. An empty body is `{}`.
pub fn json<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, ApiError> {
    let body: &[u8] = if req.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &req.body
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::msg(
            ErrorCode::BadJson,
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::msg(
            ErrorCode::BadJson,
            "The request body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::msg(ErrorCode::ValidationFailed, format!("Invalid request: {e}")))
}

/// A required phone field: missing -> `phone_required`, malformed -> `phone_invalid`.
pub fn phone(raw: Option<&str>) -> Result<Phone, ApiError> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::PhoneRequired))?;
    Phone::parse(raw).map_err(|e| match e.code() {
        "phone_required" => ApiError::new(ErrorCode::PhoneRequired),
        _ => ApiError::msg(
            ErrorCode::PhoneInvalid,
            format!("Invalid phone number format: {e}"),
        ),
    })
}

/// An optional phone field, validated when present.
pub fn optional_phone(raw: Option<&str>) -> Result<Option<Phone>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => phone(Some(s)).map(Some),
    }
}
