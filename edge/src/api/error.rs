//! One error type for every failure the API reports. Each has a stable `code` (listed in the OpenAPI
//! spec through [`ErrorCode::ALL`]) and its HTTP status; handlers return `Result<_, ApiError>` and
//! the envelope is written in one place.

use serde_json::{json, Value};

use super::http::ApiResponse;

macro_rules! error_codes {
    ($($variant:ident = ($code:literal, $status:literal, $text:literal)),+ $(,)?) => {
        /// Stable error codes. Never rename one: clients match on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $(ErrorCode::$variant => $code),+ } }
            pub fn status(self) -> u16 { match self { $(ErrorCode::$variant => $status),+ } }
            /// A default human text; most errors give a more specific one.
            pub fn default_message(self) -> &'static str { match self { $(ErrorCode::$variant => $text),+ } }
        }
    };
}

error_codes! {
    BadJson = ("bad_json", 400, "The request body is not valid JSON"),
    ValidationFailed = ("validation_failed", 400, "The request is not valid"),
    PhoneRequired = ("phone_required", 400, "Phone number is required"),
    PhoneInvalid = ("phone_invalid", 400, "Invalid phone number format"),
    CodeRequired = ("code_required", 400, "The code is required"),
    MessageRequired = ("message_required", 400, "The message text is required"),
    MessageTooLong = ("message_too_long", 400, "The message is too long"),
    MessageInvalidChars = ("message_invalid_chars", 400, "The message contains control characters"),
    TemplateInvalid = ("template_invalid", 400, "The message template is not valid"),
    CodeTypeInvalid = ("code_type_invalid", 400, "The code type is not valid"),
    Unauthorized = ("unauthorized", 401, "A valid API key is required"),
    Forbidden = ("forbidden", 403, "This key may not use this route"),
    TenantSuspended = ("tenant_suspended", 403, "This account is suspended"),
    TenantExpired = ("tenant_expired", 403, "This account's plan has expired"),
    SendingDisabled = ("sending_disabled", 503, "Sending is stopped by the kill switch"),
    QuotaExhausted = ("quota_exhausted", 402, "The message quota is used up"),
    NotFound = ("not_found", 404, "No such route"),
    MethodNotAllowed = ("method_not_allowed", 405, "Method not allowed on this route"),
    VerificationNotFound = ("verification_not_found", 404, "No pending verification for this phone"),
    MessageNotFound = ("message_not_found", 404, "No such message"),
    TenantNotFound = ("tenant_not_found", 404, "No such tenant"),
    CodeIncorrect = ("code_incorrect", 422, "Invalid or expired OTP"),
    VerificationExpired = ("verification_expired", 410, "Invalid or expired OTP"),
    TooManyAttempts = ("too_many_attempts", 410, "Too many attempts; request a new code"),
    AlreadyVerified = ("already_verified", 410, "This code was already used"),
    TooManySends = ("too_many_sends", 429, "Maximum resend attempts exceeded"),
    RateLimited = ("rate_limited", 429, "Too many requests"),
    IdempotencyKeyReused = ("idempotency_key_reused", 422, "This Idempotency-Key was used with a different request"),
    IdempotencyInProgress = ("idempotency_in_progress", 409, "A request with this Idempotency-Key is still in progress"),
    PayloadTooLarge = ("payload_too_large", 413, "The request body is too large"),
    Conflict = ("conflict", 409, "The resource changed or already exists"),
    GatewayUnavailable = ("gateway_unavailable", 503, "No SMS gateway could take the message; nothing was sent or charged"),
    StoreUnavailable = ("store_unavailable", 503, "The data store is unavailable; nothing was changed"),
    Internal = ("internal", 500, "Internal error"),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.default_message().to_string(),
            details: None,
            retry_after_secs: None,
        }
    }
    pub fn msg(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::new(code)
        }
    }
    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs.max(1));
        self
    }
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The /v1 shape: `{success:false, error:{code, message, request_id, details?}}`.
    pub fn to_v1_response(&self, request_id: &str) -> ApiResponse {
        let mut error =
            json!({"code": self.code.as_str(), "message": self.message, "request_id": request_id});
        if let Some(d) = &self.details {
            error["details"] = d.clone();
        }
        self.with_retry(ApiResponse::json(
            self.status(),
            &json!({"success": false, "error": error}),
        ))
    }

    /// The seed's shape, where `error` stays a human string; the stable code rides beside it.
    pub fn to_seed_response(&self, request_id: &str) -> ApiResponse {
        let body = json!({"success": false, "error": self.message, "code": self.code.as_str(), "request_id": request_id});
        // The seed answered every failure with a 4xx; keep 5xx only for real outages.
        self.with_retry(ApiResponse::json(self.status(), &body))
    }

    fn with_retry(&self, resp: ApiResponse) -> ApiResponse {
        match self.retry_after_secs {
            Some(s) => resp.with_header("retry-after", s.to_string()),
            None => resp,
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            assert!(
                c.status() >= 400,
                "{} has status {}",
                c.as_str(),
                c.status()
            );
        }
    }

    #[test]
    fn v1_envelope_carries_code_and_request_id() {
        let r = ApiError::new(ErrorCode::RateLimited)
            .retry_after(7)
            .to_v1_response("req_1");
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        let v = r.json_value();
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["code"], "rate_limited");
        assert_eq!(v["error"]["request_id"], "req_1");
    }

    #[test]
    fn seed_envelope_keeps_error_a_string() {
        let v = ApiError::new(ErrorCode::PhoneInvalid)
            .to_seed_response("req_2")
            .json_value();
        assert_eq!(v["error"], "Invalid phone number format");
        assert_eq!(v["code"], "phone_invalid");
    }
}
