//! Operator alerts: what an operator must hear about without looking (a phone down, a SIM at its
//! limit, a fraud-guard block, the store unreachable...). Raised on an edge, not repeatedly: an
//! alert is one incident per (kind, subject) until it is cleared.
//!
//! The seam every part of the service calls. Today an alert is a structured log line and an audit
//! entry; delivery (an operator phone, a Slack/Discord-compatible webhook, once per incident and a
//! summary when it clears) is built behind these two functions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::app::{App, Ctx};
use crate::platform::Platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    PhoneDown,
    KillSwitchTripped,
    SimAtLimit,
    SimResting,
    StoreUnreachable,
    FraudBlock,
    WebhookDisabled,
    StuckMessages,
    CanaryMissed,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::PhoneDown => "phone_down",
            AlertKind::KillSwitchTripped => "kill_switch_tripped",
            AlertKind::SimAtLimit => "sim_at_limit",
            AlertKind::SimResting => "sim_resting",
            AlertKind::StoreUnreachable => "store_unreachable",
            AlertKind::FraudBlock => "fraud_block",
            AlertKind::WebhookDisabled => "webhook_disabled",
            AlertKind::StuckMessages => "stuck_messages",
            AlertKind::CanaryMissed => "canary_missed",
        }
    }
}

impl<P: Platform> App<P> {
    /// An incident began (or goes on) for `subject` (a gateway id, a tenant, a prefix...).
    pub async fn raise_alert(&self, ctx: &Ctx, kind: AlertKind, subject: &str, details: Value) {
        self.alert_record(ctx, "alert.raised", kind, subject, details)
            .await;
    }

    /// The incident is over.
    pub async fn clear_alert(&self, ctx: &Ctx, kind: AlertKind, subject: &str, details: Value) {
        self.alert_record(ctx, "alert.cleared", kind, subject, details)
            .await;
    }

    async fn alert_record(
        &self,
        ctx: &Ctx,
        action: &str,
        kind: AlertKind,
        subject: &str,
        details: Value,
    ) {
        let line = serde_json::json!({"level": "warn", "event": action, "alert": kind.as_str(), "subject": subject, "request_id": ctx.request_id});
        self.platform.log(&line.to_string());
        let details = serde_json::json!({"alert": kind.as_str(), "details": details});
        self.audit(ctx, "system", action, subject, details).await;
    }
}
