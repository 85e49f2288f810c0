//! The events a tenant can subscribe to, and what each one says. An event's id is fixed by what
//! it is about and what happened (`msg_…-sent`), so the same change never makes two events and a
//! receiver can use `webhook-id` to drop a repeat.

use otp_shared::ids::TenantId;
use serde_json::{json, Value};

use crate::platform::iso8601;
use crate::service::model::{DeliveryState, MessageRecord, VerificationRecord, VerificationStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    MessageQueued,
    MessageSent,
    MessageFailed,
    MessageExpired,
    MessageUnknown,
    VerificationApproved,
    VerificationExpired,
    VerificationMaxAttempts,
    SmsReceived,
    OptoutAdded,
}

/// On the wire an event type is its name (`message.sent`): the schema lists `ALL` by name.
impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(EventType::ALL.iter().map(|t| t.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for EventType {}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::MessageQueued,
        EventType::MessageSent,
        EventType::MessageFailed,
        EventType::MessageExpired,
        EventType::MessageUnknown,
        EventType::VerificationApproved,
        EventType::VerificationExpired,
        EventType::VerificationMaxAttempts,
        EventType::SmsReceived,
        EventType::OptoutAdded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageQueued => "message.queued",
            EventType::MessageSent => "message.sent",
            EventType::MessageFailed => "message.failed",
            EventType::MessageExpired => "message.expired",
            EventType::MessageUnknown => "message.unknown",
            EventType::VerificationApproved => "verification.approved",
            EventType::VerificationExpired => "verification.expired",
            EventType::VerificationMaxAttempts => "verification.max_attempts",
            EventType::SmsReceived => "sms.received",
            EventType::OptoutAdded => "optout.added",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The id suffix (the part after the dot).
    fn tag(self) -> &'static str {
        self.as_str().split_once('.').map(|(_, t)| t).unwrap_or("")
    }

    /// Order among one subject's events: a message is queued, maybe unknown, then final.
    pub fn rank(self) -> u8 {
        match self {
            EventType::MessageQueued => 1,
            EventType::MessageUnknown => 2,
            EventType::MessageSent | EventType::MessageFailed | EventType::MessageExpired => 3,
            _ => 1,
        }
    }

    /// The event ids of one subject's events that come before this one.
    pub fn predecessors(self, subject: &str) -> Vec<String> {
        let before: &[EventType] = match self.rank() {
            2 => &[EventType::MessageQueued],
            3 if self.as_str().starts_with("message.") => {
                &[EventType::MessageQueued, EventType::MessageUnknown]
            }
            _ => &[],
        };
        before.iter().map(|t| event_id(subject, *t)).collect()
    }
}

pub fn event_id(subject: &str, t: EventType) -> String {
    format!("{subject}-{}", t.tag())
}

/// One thing that happened to a tenant's message, verification, inbound SMS or opt-out list.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: EventType,
    pub tenant_id: TenantId,
    pub subject: String,
    pub at: i64,
    pub data: Value,
}

impl Event {
    pub fn new(kind: EventType, tenant_id: &TenantId, subject: &str, at: i64, data: Value) -> Self {
        Event {
            id: event_id(subject, kind),
            kind,
            tenant_id: tenant_id.clone(),
            subject: subject.to_string(),
            at,
            data,
        }
    }

    /// The event for a message now in its state (`sending` is none: it is only a step).
    pub fn for_message(m: &MessageRecord, data: Value, at: i64) -> Option<Event> {
        let kind = match m.state {
            DeliveryState::Queued => EventType::MessageQueued,
            DeliveryState::Sent => EventType::MessageSent,
            DeliveryState::Failed => EventType::MessageFailed,
            DeliveryState::Expired => EventType::MessageExpired,
            DeliveryState::Unknown => EventType::MessageUnknown,
            DeliveryState::Sending => return None,
        };
        Some(Event::new(kind, &m.tenant_id, &m.id, at, data))
    }

    /// The event for a verification that reached a final state (canceled is none: its message's
    /// failure already says so).
    pub fn for_verification(v: &VerificationRecord, at: i64) -> Option<Event> {
        let kind = match v.status {
            VerificationStatus::Approved => EventType::VerificationApproved,
            VerificationStatus::Expired => EventType::VerificationExpired,
            VerificationStatus::Exhausted => EventType::VerificationMaxAttempts,
            _ => return None,
        };
        let data = json!({
            "id": v.id,
            "phone": v.phone,
            "status": match v.status { VerificationStatus::Exhausted => "max_attempts", VerificationStatus::Approved => "approved", _ => "expired" },
            "channel": if v.reverse.is_some() { "reverse" } else { "sms" },
            "checks": v.checks,
            "sends": v.sends,
            "created_at": iso8601(v.created_at),
            "expires_at": iso8601(v.expires_at),
            "verified_at": (v.verified_at > 0).then(|| iso8601(v.verified_at)),
        });
        Some(Event::new(kind, &v.tenant_id, &v.id, at, data))
    }

    /// The body a receiver gets (Standard Webhooks' recommended shape).
    pub fn payload(&self) -> Value {
        json!({"type": self.kind.as_str(), "timestamp": iso8601(self.at), "data": self.data})
    }
}

/// An enabled endpoint of a tenant and the event types it takes (an isolate keeps a tenant's
/// for a moment: `targets::webhook_targets`).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub endpoint_id: String,
    pub events: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ids_are_plain() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            let id = event_id("msg_0123456789abcdefghjk", t);
            assert!(otp_shared::ids::is_plain_id(&id), "{id}");
        }
        assert_eq!(EventType::parse("message.sending"), None);
    }

    #[test]
    fn a_final_message_event_waits_for_queued_and_unknown() {
        assert_eq!(
            EventType::MessageSent.predecessors("msg_1"),
            vec!["msg_1-queued", "msg_1-unknown"]
        );
        assert_eq!(
            EventType::MessageUnknown.predecessors("msg_1"),
            vec!["msg_1-queued"]
        );
        assert!(EventType::MessageQueued.predecessors("msg_1").is_empty());
        assert!(EventType::VerificationApproved
            .predecessors("ver_1")
            .is_empty());
    }
}
