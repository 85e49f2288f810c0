//! Reading request bodies into typed input with the API's error codes.

use otp_shared::phone::Phone;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::http::ApiRequest;
use crate::error::{Error, ErrorCode};
use crate::service::abuse::numbers;
use crate::service::ctx::Ctx;

/// Parses the body as a JSON object into `T`. An empty body is `{}`.
pub fn json<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, Error> {
    let body: &[u8] = if req.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &req.body
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Error::msg(
            ErrorCode::BadJson,
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(Error::msg(
            ErrorCode::BadJson,
            "The request body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| Error::msg(ErrorCode::ValidationFailed, format!("Invalid request: {e}")))
}

/// A required phone field, international or national with its `country` (ISO 3166 alpha-2):
/// missing -> `phone_required`, malformed -> `phone_invalid`, unknown country -> `country_invalid`.
pub fn phone(raw: Option<&str>, country: Option<&str>) -> Result<Phone, Error> {
    numbers::parse_required(raw, country)
}

/// An optional phone field, validated when present.
pub fn optional_phone(raw: Option<&str>, country: Option<&str>) -> Result<Option<Phone>, Error> {
    numbers::parse_optional(raw, country)
}

/// The end user's address from a body field (`end_user_ip`, Twilio's `DeviceIp`), when given: the
/// per-address limit and the fraud guard count it from here on.
pub fn end_user(ctx: &Ctx, raw: Option<&str>) -> Result<(), Error> {
    if let Some(ip) = raw.map(str::trim).filter(|s| !s.is_empty()) {
        ctx.set_end_user(crate::service::abuse::end_user::parse(ip)?);
    }
    Ok(())
}
