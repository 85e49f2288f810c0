//! The typed answers of the compatibility routes: the seed's `/api/*` (camelCase, inside its
//! `{success, message, data}` envelope) and Twilio Verify's verification resource.

use otp_shared::ids::MessageId;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::service::model::DeliveryState;

/// `POST /api/send-otp`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedSent {
    #[schema(example = "+14155550123")]
    pub phone: String,
    /// Seconds the code is valid.
    #[schema(minimum = 0)]
    pub expires_in: i64,
    pub verification_id: String,
    pub message_id: MessageId,
}

/// `POST /api/resend-otp`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedResent {
    pub phone: String,
    /// Seconds the code is still valid.
    #[schema(minimum = 0)]
    pub expires_in: i64,
    /// Sends of this code so far.
    #[schema(minimum = 2)]
    pub attempt_count: u32,
}

/// `POST /api/verify-otp`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedVerified {
    pub phone: String,
    /// Always `true`.
    pub verified: bool,
    #[schema(format = DateTime)]
    pub verified_at: String,
}

/// `POST /api/direct-message`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedMessageSent {
    pub phone: String,
    pub message_id: MessageId,
    pub status: DeliveryState,
}

/// Twilio's name for a verification's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TwilioStatus {
    Pending,
    Approved,
    Canceled,
    MaxAttemptsReached,
    Deleted,
    Failed,
    Expired,
}

/// One send of the code, as Twilio lists them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TwilioAttempt {
    pub attempt_sid: String,
    #[schema(example = "sms")]
    pub channel: &'static str,
    /// Whole seconds, as Twilio's SDKs parse them.
    pub time: String,
}

/// Twilio Verify's verification resource (`/v2/Services/{id}/Verifications` and
/// `VerificationCheck`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TwilioVerification {
    #[schema(example = "ver_0123456789abcdefghjkz9y8x7")]
    pub sid: String,
    #[schema(example = "VA123")]
    pub service_sid: String,
    pub account_sid: String,
    #[schema(example = "+14155550123")]
    pub to: String,
    #[schema(example = "sms")]
    pub channel: &'static str,
    pub status: TwilioStatus,
    pub valid: bool,
    /// Always empty.
    #[schema(value_type = Object)]
    pub lookup: Value,
    /// Always null.
    #[schema(value_type = Option<String>)]
    pub amount: Option<()>,
    /// Always null.
    #[schema(value_type = Option<String>)]
    pub payee: Option<()>,
    pub send_code_attempts: Vec<TwilioAttempt>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub sna: Option<()>,
    pub date_created: String,
    pub date_updated: String,
    pub url: String,
}
