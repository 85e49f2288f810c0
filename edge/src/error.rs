//! The one error type of the service. Every failure has a stable `code` (clients match on it) and
//! a kind; the HTTP status and the body shapes (v1, seed, Twilio) are decided in `api/render.rs`
//! alone, so nothing below `api/` knows about HTTP.

use serde_json::Value;

use crate::store::StoreError;

/// What sort of failure a code is; `api/render.rs` maps each kind to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is malformed or fails validation.
    Invalid,
    /// Well-formed but refused for what it says (a wrong code, a reused key).
    Unprocessable,
    Unauthenticated,
    Forbidden,
    PaymentRequired,
    NotFound,
    MethodNotAllowed,
    /// Someone else changed or holds the resource.
    Conflict,
    /// The resource existed but can no longer be used.
    Gone,
    TooLarge,
    TooMany,
    /// A dependency (store, phones) cannot serve now; nothing was changed.
    Unavailable,
    Internal,
}

macro_rules! error_codes {
    ($($variant:ident = ($code:literal, $kind:ident, $text:literal)),+ $(,)?) => {
        /// Stable error codes. Never rename one: clients match on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $(ErrorCode::$variant => $code),+ } }
            pub fn kind(self) -> ErrorKind { match self { $(ErrorCode::$variant => ErrorKind::$kind),+ } }
            /// A default human text; most errors give a more specific one.
            pub fn default_message(self) -> &'static str { match self { $(ErrorCode::$variant => $text),+ } }
        }
    };
}

error_codes! {
    BadJson = ("bad_json", Invalid, "The request body is not valid JSON"),
    ValidationFailed = ("validation_failed", Invalid, "The request is not valid"),
    PhoneRequired = ("phone_required", Invalid, "Phone number is required"),
    PhoneInvalid = ("phone_invalid", Invalid, "Invalid phone number format"),
    CountryInvalid = ("country_invalid", Invalid, "country must be an ISO 3166 alpha-2 code, such as AU"),
    PhoneNotMobile = ("phone_not_mobile", Invalid, "SMS go to mobile numbers; this number is of another type"),
    CodeRequired = ("code_required", Invalid, "The code is required"),
    MessageRequired = ("message_required", Invalid, "The message text is required"),
    MessageTooLong = ("message_too_long", Invalid, "The message is too long"),
    MessageInvalidChars = ("message_invalid_chars", Invalid, "The message contains control characters"),
    TemplateInvalid = ("template_invalid", Invalid, "The message template is not valid"),
    WebOtpHostInvalid = ("webotp_host_invalid", Invalid, "The WebOTP host must be a bare lowercase host name such as example.com"),
    AppHashInvalid = ("app_hash_invalid", Invalid, "The app hash must be the 11 characters Android's AppSignatureHelper prints"),
    CodeTypeInvalid = ("code_type_invalid", Invalid, "The code type is not valid"),
    CodeTooWeak = ("code_too_weak", Invalid, "These code settings are too easy to guess"),
    Unauthorized = ("unauthorized", Unauthenticated, "A valid API key is required"),
    Forbidden = ("forbidden", Forbidden, "This key may not use this route"),
    KeyScope = ("key_scope", Forbidden, "This key's role or scopes do not allow this route"),
    TenantSuspended = ("tenant_suspended", Forbidden, "This account is suspended"),
    TenantExpired = ("tenant_expired", Forbidden, "This account's plan has expired"),
    GeoBlocked = ("geo_blocked", Forbidden, "SMS to this destination are not allowed for this account; nothing was sent or charged"),
    FraudSuspected = ("fraud_suspected", Forbidden, "Sends to this destination are paused by the fraud guard; nothing was sent or charged"),
    SendingDisabled = ("sending_disabled", Unavailable, "Sending is stopped by the kill switch"),
    QuotaExhausted = ("quota_exhausted", PaymentRequired, "The message quota is used up"),
    NotFound = ("not_found", NotFound, "No such route"),
    MethodNotAllowed = ("method_not_allowed", MethodNotAllowed, "Method not allowed on this route"),
    VerificationNotFound = ("verification_not_found", NotFound, "No pending verification for this phone"),
    MessageNotFound = ("message_not_found", NotFound, "No such message"),
    TenantNotFound = ("tenant_not_found", NotFound, "No such tenant"),
    KeyNotFound = ("key_not_found", NotFound, "No such API key"),
    GatewayNotFound = ("gateway_not_found", NotFound, "No such gateway"),
    BackupNotFound = ("backup_not_found", NotFound, "No complete backup for that day"),
    WebhookNotFound = ("webhook_not_found", NotFound, "No such webhook endpoint"),
    OptoutNotFound = ("optout_not_found", NotFound, "This number is not on the opt-out list"),
    WebhookUrlInvalid = ("webhook_url_invalid", Invalid, "The webhook URL is not valid"),
    WebhookDisabled = ("webhook_disabled", Conflict, "This webhook endpoint is disabled; enable it first"),
    RecipientOptedOut = ("recipient_opted_out", Forbidden, "The recipient replied STOP: messages to this number are refused"),
    OriginNotAllowed = ("origin_not_allowed", Forbidden, "Browser calls from this origin are not allowed"),
    CodeIncorrect = ("code_incorrect", Unprocessable, "Invalid or expired OTP"),
    VerificationExpired = ("verification_expired", Gone, "Invalid or expired OTP"),
    TooManyAttempts = ("too_many_attempts", Gone, "Too many attempts; request a new code"),
    AlreadyVerified = ("already_verified", Gone, "This code was already used"),
    VerificationPending = ("verification_pending", Conflict, "The user has not texted the words to the pool number yet"),
    ReverseNothingToSend = ("reverse_nothing_to_send", Conflict, "A reverse verification sends nothing: start a new one with /v1/otp/send"),
    ReverseUnavailable = ("reverse_unavailable", Unavailable, "No phone of the pool can receive the user's SMS now; nothing was started"),
    PhoneLocked = ("phone_locked", TooMany, "Too many wrong codes for this phone; try again later"),
    TooManySends = ("too_many_sends", TooMany, "Maximum resend attempts exceeded"),
    RateLimited = ("rate_limited", TooMany, "Too many requests"),
    IdempotencyKeyReused = ("idempotency_key_reused", Unprocessable, "This Idempotency-Key was used with a different request"),
    IdempotencyInProgress = ("idempotency_in_progress", Conflict, "A request with this Idempotency-Key is still in progress"),
    PayloadTooLarge = ("payload_too_large", TooLarge, "The request body is too large"),
    Conflict = ("conflict", Conflict, "The resource changed or already exists"),
    GatewayUnavailable = ("gateway_unavailable", Unavailable, "No SMS gateway could take the message; nothing was sent or charged"),
    StoreUnavailable = ("store_unavailable", Unavailable, "The data store is unavailable; nothing was changed"),
    EnrolTokenInvalid = ("enrol_token_invalid", Unauthenticated, "This enrolment token is not valid"),
    EnrolTokenUsed = ("enrol_token_used", Gone, "This enrolment token was already used; ask the operator for a new one"),
    EnrolTokenExpired = ("enrol_token_expired", Gone, "This enrolment token has expired; ask the operator for a new one"),
    EnrolTokenRevoked = ("enrol_token_revoked", Gone, "This enrolment token was revoked; ask the operator for a new one"),
    GatewayRetired = ("gateway_retired", Gone, "This phone was retired; enrol it again with a new token"),
    GatewayConfigured = ("gateway_configured", Conflict, "This phone is configured by GATEWAYS and GATEWAY_SECRETS; change it there"),
    Internal = ("internal", Internal, "Internal error"),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after_secs: Option<u64>,
    /// Why, for the logs only (a store's or a config's own text): never rendered to callers.
    pub cause: Option<String>,
}

impl Error {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.default_message().to_string(),
            details: None,
            retry_after_secs: None,
            cause: None,
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

    /// Same error under another code (an alias that speaks of the same failure differently).
    pub fn recode(self, code: ErrorCode) -> Self {
        Self { code, ..self }
    }

    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Self {
        Error::new(code)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// A store failure that escapes a service. The store's own text stays in the logs (the pipeline
/// logs `internal` and `store_unavailable` with the request id): callers get a generic answer.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::AlreadyExists
            | StoreError::PreconditionFailed(_)
            | StoreError::Aborted(_)
            | StoreError::NotFound => ErrorCode::Conflict,
            StoreError::Invalid(_) => ErrorCode::Internal,
            StoreError::Unavailable(_) | StoreError::Auth(_) => ErrorCode::StoreUnavailable,
        };
        Error::new(code).cause(e.to_string())
    }
}

impl Error {
    /// Keeps `why` for the log line without showing it to the caller.
    pub fn cause(mut self, why: impl Into<String>) -> Self {
        self.cause = Some(why.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
        }
    }

    #[test]
    fn store_errors_keep_their_text_out_of_the_message() {
        let e: Error = StoreError::Unavailable("http 503 from 10.0.0.7: token abc".into()).into();
        assert_eq!(e.code, ErrorCode::StoreUnavailable);
        assert!(!e.message.contains("10.0.0.7"));
        assert!(e.cause.unwrap().contains("10.0.0.7"));
    }
}
