//! Phone numbers as callers give them, with the service's error codes: libphonenumber's rules from
//! `otp_shared::phone` (valid for its region; national formats with a `country` hint), and the
//! one SMS policy the gateway applies too (`sms_policy`: mobile lines, lines the plan cannot tell
//! from mobile, and VoIP when the tenant allows it).

use otp_shared::phone::{sms_policy, Phone, PhoneError};
use serde_json::json;

use crate::error::{Error, ErrorCode};

/// The service's error for a phone the shared rules refused.
pub fn phone_error(e: PhoneError) -> Error {
    match e {
        PhoneError::Required => Error::new(ErrorCode::PhoneRequired),
        PhoneError::UnknownCountry => Error::new(ErrorCode::CountryInvalid),
        PhoneError::NotMobile(t) => Error::msg(ErrorCode::PhoneNotMobile, e.to_string())
            .details(json!({"number_type": t.as_str()})),
        PhoneError::Invalid(_) => Error::msg(
            ErrorCode::PhoneInvalid,
            format!("Invalid phone number format: the number {e}"),
        ),
    }
}

/// A required phone field, in international form or in the national format of `country` (ISO
/// 3166 alpha-2): missing -> `phone_required`, malformed -> `phone_invalid`, an unknown country
/// -> `country_invalid`.
pub fn parse_required(raw: Option<&str>, country: Option<&str>) -> Result<Phone, Error> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::new(ErrorCode::PhoneRequired))?;
    Phone::parse_with_country(raw, country).map_err(phone_error)
}

/// An optional phone field, validated when present.
pub fn parse_optional(raw: Option<&str>, country: Option<&str>) -> Result<Option<Phone>, Error> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_required(Some(s), country).map(Some),
    }
}

/// Whether an SMS may go to `phone`: `phone_not_mobile` (naming the type) for fixed lines,
/// premium rate, shared cost, UAN, voicemail, pagers..., and for VoIP unless `allow_voip`.
pub fn sms_allowed(phone: &Phone, allow_voip: bool) -> Result<(), Error> {
    sms_policy(phone.number_type(), allow_voip).map_err(phone_error)
}

/// Whether `iso` is an ISO 3166 alpha-2 code libphonenumber has metadata for (any case).
pub fn is_known_country(iso: &str) -> bool {
    // The shared rules keep their region table private; a national parse tells a known country
    // (the number is then judged) from an unknown one (refused before any digit is read).
    iso.len() == 2
        && !matches!(
            Phone::parse_with_country("0", Some(iso)),
            Err(PhoneError::UnknownCountry)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_formats_need_their_country() {
        let p = parse_required(Some("0412 345 678"), Some("AU")).unwrap();
        assert_eq!(p.as_str(), "+61412345678");
        assert_eq!(
            parse_required(Some("0412 345 678"), None).unwrap_err().code,
            ErrorCode::PhoneInvalid
        );
        assert_eq!(
            parse_required(Some("0412 345 678"), Some("XX"))
                .unwrap_err()
                .code,
            ErrorCode::CountryInvalid
        );
        assert_eq!(
            parse_required(Some("  "), Some("AU")).unwrap_err().code,
            ErrorCode::PhoneRequired
        );
    }

    #[test]
    fn numbers_out_of_every_range_are_invalid() {
        let e = parse_required(Some("+1 000 000 0000"), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::PhoneInvalid);
        assert!(
            e.message.starts_with("Invalid phone number format"),
            "{}",
            e.message
        );
    }

    #[test]
    fn only_mobile_lines_get_sms_and_the_error_names_the_type() {
        let landline = parse_required(Some("+442079460000"), None).unwrap();
        let e = sms_allowed(&landline, true).unwrap_err();
        assert_eq!(e.code, ErrorCode::PhoneNotMobile);
        assert_eq!(e.details.unwrap()["number_type"], "fixed_line");
        assert!(e.message.contains("fixed_line"), "{}", e.message);
        let premium = parse_required(Some("+19005550123"), None).unwrap();
        assert_eq!(
            sms_allowed(&premium, true).unwrap_err().details.unwrap()["number_type"],
            "premium_rate"
        );
        let mobile = parse_required(Some("+33612345678"), None).unwrap();
        assert!(sms_allowed(&mobile, false).is_ok());
        let us = parse_required(Some("+14155550123"), None).unwrap();
        assert!(sms_allowed(&us, false).is_ok(), "fixed line or mobile");
    }

    #[test]
    fn voip_numbers_need_the_tenants_consent() {
        let voip = parse_required(Some("+445612345678"), None).unwrap();
        assert_eq!(voip.number_type(), otp_shared::phone::NumberType::Voip);
        let e = sms_allowed(&voip, false).unwrap_err();
        assert_eq!(e.details.unwrap()["number_type"], "voip");
        assert!(sms_allowed(&voip, true).is_ok());
    }

    #[test]
    fn known_countries() {
        assert!(is_known_country("FR"));
        assert!(is_known_country("au"));
        assert!(!is_known_country("XX"));
        assert!(!is_known_country("FRA"));
        assert!(!is_known_country(""));
    }
}
