//! Twilio Verify v2 compatibility: `POST /v2/Services/{ServiceSid}/Verifications` and
//! `/VerificationCheck` with Twilio's form fields, resource shapes and error codes, so an
//! application using Twilio's SDK works unchanged when pointed at this service. The AccountSid in
//! Basic auth is ignored; the AuthToken is the otp-sms API key. One otp-sms tenant serves any
//! ServiceSid.

use serde_json::json;

use crate::api::body;
use crate::api::handlers::Call;
use crate::api::http::{parse_form, ApiRequest, ApiResponse};
use crate::api::render;
use crate::api::views::compat::{TwilioAttempt, TwilioStatus, TwilioVerification};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::FirstCommit;
use crate::service::model::{VerificationRecord, VerificationStatus};
use crate::service::otp;
use crate::service::otp::{CheckResult, SendOptions};

fn form(req: &ApiRequest) -> Vec<(String, String)> {
    parse_form(&req.body)
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Twilio's timestamp form, whole seconds (`2026-11-25T10:00:00Z`): its SDKs parse only that and
/// hand anything else back as a plain string.
fn twilio_time(ms: i64) -> String {
    let s = iso8601(ms - ms.rem_euclid(1000));
    match s.strip_suffix(".000Z") {
        Some(whole) => format!("{whole}Z"),
        None => s,
    }
}

/// Twilio's name for a verification's state.
fn status_of(v: &VerificationRecord) -> TwilioStatus {
    match v.status {
        VerificationStatus::Pending => TwilioStatus::Pending,
        VerificationStatus::Approved => TwilioStatus::Approved,
        VerificationStatus::Canceled => TwilioStatus::Canceled,
        VerificationStatus::Expired => TwilioStatus::Expired,
        VerificationStatus::Exhausted => TwilioStatus::MaxAttemptsReached,
    }
}

fn resource(v: &VerificationRecord, service_sid: &str) -> TwilioVerification {
    let attempts = (1..=v.sends)
        .map(|i| TwilioAttempt {
            attempt_sid: format!("{}-{i}", v.id),
            channel: "sms",
            time: twilio_time(v.created_at),
        })
        .collect();
    TwilioVerification {
        sid: v.id.clone(),
        service_sid: service_sid.to_string(),
        account_sid: format!("AC{}", v.tenant_id),
        to: v.phone.clone(),
        channel: "sms",
        status: status_of(v),
        valid: v.status == VerificationStatus::Approved,
        lookup: json!({}),
        amount: None,
        payee: None,
        send_code_attempts: attempts,
        sna: None,
        date_created: twilio_time(v.created_at),
        date_updated: twilio_time(v.verified_at.max(v.created_at)),
        url: format!(
            "https://verify.twilio.com/v2/Services/{service_sid}/Verifications/{}",
            v.id
        ),
    }
}

pub async fn start<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let (tenant, service_sid) = (c.tenant()?, c.param()?);
    let f = form(c.req);
    if field(&f, "Channel").unwrap_or("") != "sms" {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "Invalid parameter `Channel`: only sms is supported",
        ));
    }
    if field(&f, "CustomCode").is_some() {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "Invalid parameter `CustomCode`: codes are always generated",
        ));
    }
    body::end_user(c.ctx, field(&f, "DeviceIp"))?;
    let phone = body::phone(field(&f, "To"), None)?;
    let opts = SendOptions {
        code_type: None,
        locale: field(&f, "Locale").map(str::to_string),
    };
    // Twilio repeats the live code when a verification is started again for the same number.
    let sent = match otp::resend_otp(app, c.ctx, tenant, None, Some(&phone), &first).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.code,
                ErrorCode::VerificationNotFound
                    | ErrorCode::VerificationExpired
                    | ErrorCode::AlreadyVerified
                    | ErrorCode::TooManyAttempts
            ) =>
        {
            otp::send_otp(app, c.ctx, tenant, &phone, &opts, &first).await?
        }
        Err(e) => return Err(e),
    };
    Ok(ApiResponse::json(
        201,
        &resource(&sent.verification, service_sid),
    ))
}

pub async fn check<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let (tenant, service_sid) = (c.tenant()?, c.param()?);
    let f = form(c.req);
    let code = field(&f, "Code")
        .ok_or_else(|| Error::msg(ErrorCode::CodeRequired, "Missing required parameter Code"))?;
    let phone = body::optional_phone(field(&f, "To"), None)?;
    let id = field(&f, "VerificationSid");
    match otp::verify_otp(app, c.ctx, tenant, id, phone.as_ref(), code, &first).await {
        Ok(CheckResult::Approved(v))
        | Ok(CheckResult::WrongCode {
            verification: v, ..
        }) => Ok(ApiResponse::json(200, &resource(&v, service_sid))),
        // Twilio answers "not found" for a verification that is used up, expired or approved.
        Err(e)
            if matches!(
                e.code,
                ErrorCode::VerificationExpired | ErrorCode::AlreadyVerified
            ) =>
        {
            Err(e.recode(ErrorCode::VerificationNotFound))
        }
        Err(e) => Err(e),
    }
}

/// Twilio's error code and HTTP status for one of ours.
fn twilio_code(e: &Error) -> (u32, u16) {
    use ErrorCode::*;
    match e.code {
        BadJson | ValidationFailed | PhoneRequired | PhoneInvalid | CountryInvalid
        | CodeRequired | CodeTypeInvalid | TemplateInvalid | MessageRequired | MessageTooLong
        | MessageInvalidChars => (60200, 400),
        // Twilio's "SMS is not supported by landline phone number".
        PhoneNotMobile => (60205, 400),
        // Geo permissions, and Fraud Guard's "delivery attempt blocked".
        GeoBlocked => (60605, 403),
        FraudSuspected => (60410, 403),
        Unauthorized => (20003, 401),
        Forbidden | KeyScope | TenantSuspended | TenantExpired => (20003, 403),
        VerificationNotFound | NotFound | MessageNotFound | TenantNotFound | KeyNotFound
        | GatewayNotFound => (20404, 404),
        TooManyAttempts => (60202, 429),
        TooManySends => (60203, 429),
        PhoneLocked => (60202, 429),
        RateLimited => (20429, 429),
        QuotaExhausted => (20005, 402),
        SendingDisabled | GatewayUnavailable | StoreUnavailable => (20503, 503),
        _ => (20500, render::status(e.code)),
    }
}

pub fn error_response(e: &Error, request_id: &str) -> ApiResponse {
    let (code, status) = twilio_code(e);
    let body = json!({"code": code, "message": e.message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status, "otp_sms_code": e.code.as_str(), "request_id": request_id});
    let resp = ApiResponse::json(status, &body);
    match e.retry_after_secs {
        Some(s) => resp.with_header("retry-after", s.to_string()),
        None => resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::model::CodeKind;

    fn record(status: VerificationStatus, sends: u32) -> VerificationRecord {
        VerificationRecord {
            id: "ver_1".into(),
            tenant_id: "t_1".into(),
            phone: "+14155550123".into(),
            code_hmac: String::new(),
            code_kind: CodeKind::Words,
            status,
            checks: 0,
            max_checks: 5,
            sends,
            created_at: 1_764_064_800_123,
            expires_at: 1_764_065_100_123,
            verified_at: 0,
            message_ids: Vec::new(),
            request_id: "req_1".into(),
            code_sealed: String::new(),
            phone_failures: Default::default(),
            end_user: None,
            reverse: None,
        }
    }

    #[test]
    fn resource_has_twilio_shape() {
        let v = json!(resource(&record(VerificationStatus::Pending, 2), "VA1"));
        for key in [
            "sid",
            "service_sid",
            "account_sid",
            "to",
            "channel",
            "status",
            "valid",
            "date_created",
            "date_updated",
            "lookup",
            "amount",
            "payee",
            "send_code_attempts",
            "url",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["sid"], "ver_1");
        assert_eq!(v["service_sid"], "VA1");
        assert_eq!(v["to"], "+14155550123");
        assert_eq!(v["status"], "pending");
        assert_eq!(v["valid"], false);
        assert_eq!(v["send_code_attempts"].as_array().unwrap().len(), 2);
        assert_eq!(
            v["url"],
            "https://verify.twilio.com/v2/Services/VA1/Verifications/ver_1"
        );
        // Whole seconds, as Twilio's SDKs parse them (%Y-%m-%dT%H:%M:%SZ).
        assert_eq!(v["date_created"], "2025-11-25T10:00:00Z");
    }

    #[test]
    fn status_follows_the_record() {
        let cases = [
            (VerificationStatus::Pending, "pending", false),
            (VerificationStatus::Approved, "approved", true),
            (VerificationStatus::Canceled, "canceled", false),
            (VerificationStatus::Expired, "expired", false),
            (VerificationStatus::Exhausted, "max_attempts_reached", false),
        ];
        for (status, name, valid) in cases {
            let v = json!(resource(&record(status, 1), "VA1"));
            assert_eq!(
                (v["status"].as_str().unwrap(), v["valid"].as_bool().unwrap()),
                (name, valid)
            );
        }
    }

    #[test]
    fn form_fields_treat_empty_as_missing() {
        let f = parse_form(b"To=%2B14155550123&Channel=sms&Locale=&Code=a+b");
        assert_eq!(field(&f, "To"), Some("+14155550123"));
        assert_eq!(field(&f, "Locale"), None);
        assert_eq!(field(&f, "Code"), Some("a b"));
        assert_eq!(
            field(&f, "code"),
            None,
            "Twilio parameter names are case-sensitive"
        );
    }

    #[test]
    fn errors_use_twilio_codes() {
        let r = error_response(&Error::new(ErrorCode::TooManyAttempts), "req_1");
        assert_eq!(r.status, 429);
        let v = r.json_value();
        assert_eq!(v["code"], 60202);
        assert_eq!(v["more_info"], "https://www.twilio.com/docs/errors/60202");
        assert_eq!(
            error_response(&Error::new(ErrorCode::PhoneInvalid), "r").json_value()["code"],
            60200
        );
        assert_eq!(
            error_response(&Error::new(ErrorCode::VerificationNotFound), "r").status,
            404
        );
        let r = error_response(&Error::new(ErrorCode::TooManySends).retry_after(30), "r");
        assert_eq!(
            (
                r.status,
                r.json_value()["code"].as_u64(),
                r.header("retry-after")
            ),
            (429, Some(60203), Some("30"))
        );
        assert_eq!(
            error_response(&Error::new(ErrorCode::Unauthorized), "r").json_value()["status"],
            401
        );
    }
}
