//! `config/alerts` (where operator alerts go: a sealed phone, a webhook URL) and `alerts/{kind}_{subject}`
//! (one incident: open until cleared, then reopened by the next raise).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::net::HttpClient;
use crate::service::repo::view::Repo;
use crate::store::{Doc, Precondition, StoreError, Write};

const CONFIG: &str = "config/alerts";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertConfig {
    /// The operator phone, sealed (never stored in clear), and masked for display.
    pub phone_sealed: Option<String>,
    pub phone_masked: Option<String>,
    /// Slack- or Discord-compatible incoming webhook.
    pub webhook_url: Option<String>,
    /// Email recipients (plain addresses, checked when set), through the `send_email` binding.
    pub emails: Vec<String>,
    pub updated_at: i64,
}

/// What an incident is about; its id is `{kind}_{subject}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// A SIM's codes are verified far less than its peers' (`fleet::converting`).
    LowConversion,
    /// `POST /v1/admin/alerts/test`: never stored, only told.
    Test,
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
            AlertKind::LowConversion => "low_conversion",
            AlertKind::Test => "test",
        }
    }

    /// Kinds whose raiser tells each occurrence once and nobody clears (a fraud-guard block lifts
    /// by itself): every raise is an incident of its own.
    pub fn per_occurrence(self) -> bool {
        matches!(self, AlertKind::FraudBlock)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Open,
    Cleared,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub kind: AlertKind,
    pub subject: String,
    pub state: IncidentState,
    pub opened_at: i64,
    #[serde(default)]
    pub cleared_at: i64,
    /// Raises seen while open (the summary says how many).
    pub raises: u32,
    #[serde(default)]
    pub details: Value,
    /// Channels that took the last notice (`webhook`, `phone`, `email`).
    #[serde(default)]
    pub notified: Vec<String>,
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_alert_config(&self) -> Result<Option<AlertConfig>, StoreError> {
        Ok(self
            .db
            .get::<AlertConfig, _>(self.http, self.now, CONFIG)
            .await?
            .map(|d| d.value))
    }

    pub async fn put_alert_config(&self, c: &AlertConfig) -> Result<(), StoreError> {
        self.commit(vec![Write::set(CONFIG.into(), c)])
            .await
            .map(|_| ())
    }

    pub async fn get_incident(&self, id: &str) -> Result<Option<Doc<Incident>>, StoreError> {
        self.db
            .get(self.http, self.now, &format!("alerts/{id}"))
            .await
    }

    /// Writes an incident: a new one only if none exists, a known one only at the version read.
    pub async fn save_incident(
        &self,
        i: &Incident,
        version: Option<&str>,
    ) -> Result<(), StoreError> {
        let p = match version {
            Some(v) => Precondition::UpdateTime(v.to_string()),
            None => Precondition::Exists(false),
        };
        self.commit(vec![
            Write::set(format!("alerts/{}", i.id), i).precondition(p)
        ])
        .await
        .map(|_| ())
    }

    /// Incidents, the most recently opened first.
    pub async fn list_incidents(&self, limit: usize) -> Result<Vec<Incident>, StoreError> {
        let docs = self.newest("alerts", &[], "opened_at", limit).await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }
}
