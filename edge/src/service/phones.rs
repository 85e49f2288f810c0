//! Phone numbers as callers give them, with the service's error codes.

use otp_shared::phone::Phone;

use crate::error::{Error, ErrorCode};

/// A required phone field: missing -> `phone_required`, malformed -> `phone_invalid`.
pub fn parse_required(raw: Option<&str>, _country: Option<&str>) -> Result<Phone, Error> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::new(ErrorCode::PhoneRequired))?;
    Phone::parse(raw).map_err(|e| match e.code() {
        "phone_required" => Error::new(ErrorCode::PhoneRequired),
        _ => Error::msg(
            ErrorCode::PhoneInvalid,
            format!("Invalid phone number format: {e}"),
        ),
    })
}

/// An optional phone field, validated when present.
pub fn parse_optional(raw: Option<&str>) -> Result<Option<Phone>, Error> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_required(Some(s), None).map(Some),
    }
}
