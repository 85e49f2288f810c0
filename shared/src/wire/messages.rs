//! Messages: what travels between the edge and a phone (sends, status reports, inbound SMS).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Otp,
    Direct,
    Notification,
}

impl MessageKind {
    /// Lower sends first: otp > direct > notification.
    pub fn priority(self) -> u8 {
        match self {
            MessageKind::Otp => 0,
            MessageKind::Direct => 1,
            MessageKind::Notification => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Otp => "otp",
            MessageKind::Direct => "direct",
            MessageKind::Notification => "notification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "otp" => Some(MessageKind::Otp),
            "direct" => Some(MessageKind::Direct),
            "notification" => Some(MessageKind::Notification),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    Queued,
    Sending,
    Sent,
    Failed,
    Expired,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Sending => "sending",
            MessageState::Sent => "sent",
            MessageState::Failed => "failed",
            MessageState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(MessageState::Queued),
            "sending" => Some(MessageState::Sending),
            "sent" => Some(MessageState::Sent),
            "failed" => Some(MessageState::Failed),
            "expired" => Some(MessageState::Expired),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            MessageState::Sent | MessageState::Failed | MessageState::Expired
        )
    }
}

/// `POST /v1/send` plaintext. `id` is the idempotency key on the gateway.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    pub id: String,
    pub kind: MessageKind,
    pub to: String,
    pub text: String,
    /// Unix seconds after which the message must not be sent.
    pub expires_at: u64,
    #[serde(default)]
    pub sim_slot: Option<u8>,
    pub tenant_id: String,
    pub request_id: String,
    /// The tenant's weight in the phone's fair share of its pacing window; absent = 1 (an equal
    /// share). Gateways that predate it ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_weight: Option<u16>,
}

/// Keeps the number and text out of logs.
impl std::fmt::Debug for SendRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendRequest")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("to", &"<redacted>")
            .field("text", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("sim_slot", &self.sim_slot)
            .field("tenant_id", &self.tenant_id)
            .field("request_id", &self.request_id)
            .field("share_weight", &self.share_weight)
            .finish()
    }
}

/// 202 reply to `POST /v1/send` (plain JSON; never the number or text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAccepted {
    pub id: String,
    pub state: MessageState,
    pub queue_depth: u64,
    pub duplicate: bool,
}

/// Delivery state of one message: reply to `GET /v1/messages/{id}` and body of the status callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub id: String,
    pub state: MessageState,
    pub attempts: u32,
    pub error: Option<String>,
    /// Unix seconds of the state change.
    pub at: u64,
    pub gateway_id: String,
    /// Why a `failed` message failed, as far as the phone can tell (absent from older gateways
    /// and on every other state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
}

/// What a failed send means, classified from what `termux-sms-send` printed and how it ended.
/// Every class but `uncertain` says the SMS certainly did not leave this phone, so the edge may
/// give an OTP to another phone while it is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Android's RESULT_ERROR_LIMIT_EXCEEDED: the SIM (or the app) hit a sending limit; it rests.
    LimitExceeded,
    /// No service, radio off or radio not available: the phone cannot reach the network.
    NoService,
    /// RESULT_ERROR_GENERIC_FAILURE: often a SIM out of credit; a run of them rests the SIM.
    GenericFailure,
    /// Sending is not permitted here (Termux:API's Google Play build, a missing SMS permission).
    NotPermitted,
    /// The SIM budgets and rests leave this phone no SIM that can send it before its deadline.
    NoCapacity,
    /// The edge took it back before it was sent (to hand it to another phone).
    Canceled,
    /// A failure the program's output does not explain.
    Unknown,
    /// It may have been sent (the program timed out, or the gateway stopped while it ran): never
    /// send it again, anywhere.
    Uncertain,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::LimitExceeded => "limit_exceeded",
            FailureClass::NoService => "no_service",
            FailureClass::GenericFailure => "generic_failure",
            FailureClass::NotPermitted => "not_permitted",
            FailureClass::NoCapacity => "no_capacity",
            FailureClass::Canceled => "canceled",
            FailureClass::Unknown => "unknown",
            FailureClass::Uncertain => "uncertain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            FailureClass::LimitExceeded,
            FailureClass::NoService,
            FailureClass::GenericFailure,
            FailureClass::NotPermitted,
            FailureClass::NoCapacity,
            FailureClass::Canceled,
            FailureClass::Unknown,
            FailureClass::Uncertain,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// The SMS certainly did not leave the phone.
    pub fn certainly_unsent(self) -> bool {
        self != FailureClass::Uncertain
    }
}

/// Reply to `POST /v1/messages/{id}/cancel`: `canceled` when the message was still queued and is
/// now failed (`canceled`), else its state, untouched (a send already started is never stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    pub id: String,
    pub canceled: bool,
    pub state: MessageState,
}

/// Reply to `POST /v1/messages/{id}/release`: `released` when the held message may now be sent (or
/// already was released), else its state (a hold that lapsed is `failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseResult {
    pub id: String,
    pub released: bool,
    pub state: MessageState,
}

/// Most reports in one status callback.
pub const MAX_REPORTS_PER_BATCH: usize = 16;

/// Body of the status callback (`POST {edge}/internal/gateway/status`): up to
/// [`MAX_REPORTS_PER_BATCH`] reports, oldest first, all from the signing gateway. Only state
/// changes after the hand-off are reported (sending, sent, failed, expired): the 202 of
/// `POST /v1/send` already said queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBatch {
    pub reports: Vec<StatusReport>,
}

/// Most inbound SMS in one callback.
pub const MAX_INBOUND_PER_BATCH: usize = 16;

/// One SMS the phone received, as the gateway forwards it. `seq` is the gateway's own durable
/// sequence number: the edge makes it the record's id, so a repeat of it is recognised.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundSms {
    pub seq: u64,
    /// The sender as the phone shows it: usually E.164, possibly a short code or a name.
    pub from: String,
    pub text: String,
    /// Unix seconds when the gateway first saw it.
    pub received_at: u64,
    /// The phone's own row id (`termux-sms-list` `_id`), for tracing.
    #[serde(default)]
    pub sms_id: i64,
}

/// Keeps the sender and text out of logs.
impl std::fmt::Debug for InboundSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSms")
            .field("seq", &self.seq)
            .field("from", &"<redacted>")
            .field("text", &"<redacted>")
            .field("received_at", &self.received_at)
            .field("sms_id", &self.sms_id)
            .finish()
    }
}

/// Body of `POST {edge}/internal/gateway/inbound`: up to [`MAX_INBOUND_PER_BATCH`] messages,
/// oldest first, signed and encrypted like every callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundBatch {
    pub messages: Vec<InboundSms>,
}
