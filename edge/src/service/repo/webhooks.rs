//! `webhook_endpoints/{id}` (a tenant's endpoint: URL, event types, sealed signing secret, health)
//! and `webhook_deliveries/{endpoint}_{event}` (one event for one endpoint: sealed payload, state,
//! every attempt). A delivery's id is fixed by its endpoint and event, so an event is never
//! queued twice for one endpoint (`exists=false`).

use otp_shared::ids::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::net::HttpClient;
use crate::service::repo::view::Repo;
use crate::store::{Doc, Filter, Precondition, StoreError, Write};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub id: String,
    pub tenant_id: TenantId,
    pub url: String,
    /// Event types it receives (`message.sent`, ...).
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub enabled: bool,
    /// The `whsec_` secret, sealed with the server key (bound to the endpoint id).
    pub secret_sealed: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// When its attempts started failing without a success since; 0 = healthy.
    #[serde(default)]
    pub failing_since: i64,
    #[serde(default)]
    pub disabled_at: i64,
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = WebhookDeliveryState)]
pub enum DeliveryState {
    /// Waiting for its first attempt or a retry.
    Pending,
    Delivered,
    /// Retries used up, or its endpoint disabled or deleted (a replay makes it pending again).
    Failed,
}

/// One attempt, as the tenant sees it in `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: i64,
    /// The endpoint's HTTP status; `None` when it did not answer (time-out, refused).
    pub status: Option<u16>,
    pub ms: i64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub endpoint_id: String,
    pub tenant_id: TenantId,
    pub event_id: String,
    pub event_type: String,
    /// What the event is about (a message, verification, inbound SMS or opt-out id).
    pub subject: String,
    /// Order among one subject's events (a message: queued 1, unknown 2, final 3): a later one
    /// waits while an earlier one is pending.
    pub rank: u8,
    /// The JSON body, sealed (it may hold a phone number or an inbound text).
    pub payload_sealed: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// When it is due (pending) — also a lease: whoever attempts it moves this first.
    pub next_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub delivered_at: i64,
    #[serde(default)]
    pub log: Vec<Attempt>,
}

/// Attempts kept per delivery (the count goes on).
pub const LOG_KEPT: usize = 25;

pub fn endpoint_path(id: &str) -> String {
    format!("webhook_endpoints/{id}")
}

pub fn delivery_path(id: &str) -> String {
    format!("webhook_deliveries/{id}")
}

pub fn delivery_id(endpoint_id: &str, event_id: &str) -> String {
    format!("{endpoint_id}_{event_id}")
}

pub fn endpoint_create(e: &EndpointRecord) -> Write {
    Write::set(endpoint_path(&e.id), e).precondition(Precondition::Exists(false))
}

pub fn endpoint_update(e: &EndpointRecord, version: &str) -> Write {
    Write::set(endpoint_path(&e.id), e).precondition(Precondition::UpdateTime(version.into()))
}

pub fn delivery_create(d: &DeliveryRecord) -> Write {
    Write::set(delivery_path(&d.id), d).precondition(Precondition::Exists(false))
}

pub fn delivery_update(d: &DeliveryRecord, version: &str) -> Write {
    Write::set(delivery_path(&d.id), d).precondition(Precondition::UpdateTime(version.into()))
}

fn parse<T: serde::de::DeserializeOwned>(d: Doc<Value>) -> Result<Doc<T>, StoreError> {
    Ok(Doc {
        value: serde_json::from_value(d.value)
            .map_err(|e| StoreError::Invalid(format!("{}: {e}", d.path)))?,
        path: d.path,
        update_time: d.update_time,
    })
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn endpoints_of(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Vec<Doc<EndpointRecord>>, StoreError> {
        let mut v = self
            .db
            .query_eq::<EndpointRecord, _>(
                self.http,
                self.now,
                "webhook_endpoints",
                "tenant_id",
                json!(tenant_id),
                100,
            )
            .await?;
        v.sort_by_key(|d| d.value.created_at);
        Ok(v)
    }

    pub async fn get_endpoint(&self, id: &str) -> Result<Option<Doc<EndpointRecord>>, StoreError> {
        self.db.get(self.http, self.now, &endpoint_path(id)).await
    }

    /// A delivery, its endpoint and the given other deliveries (its predecessors) in one read.
    pub async fn delivery_context(
        &self,
        id: &str,
        endpoint_id: &str,
        others: &[String],
    ) -> Result<
        (
            Option<Doc<DeliveryRecord>>,
            Option<Doc<EndpointRecord>>,
            Vec<DeliveryRecord>,
        ),
        StoreError,
    > {
        let mut paths = vec![delivery_path(id), endpoint_path(endpoint_id)];
        paths.extend(others.iter().map(|o| delivery_path(o)));
        let mut docs = self
            .db
            .batch_get::<Value, _>(self.http, self.now, &paths)
            .await?
            .into_iter();
        let delivery = docs.next().flatten().map(parse).transpose()?;
        let endpoint = docs.next().flatten().map(parse).transpose()?;
        let others = docs
            .flatten()
            .map(|d| parse::<DeliveryRecord>(d).map(|d| d.value))
            .collect::<Result<_, _>>()?;
        Ok((delivery, endpoint, others))
    }

    pub async fn get_deliveries(
        &self,
        ids: &[String],
    ) -> Result<Vec<Doc<DeliveryRecord>>, StoreError> {
        let paths: Vec<String> = ids.iter().map(|i| delivery_path(i)).collect();
        self.db
            .batch_get::<Value, _>(self.http, self.now, &paths)
            .await?
            .into_iter()
            .flatten()
            .map(parse)
            .collect()
    }

    /// An endpoint's deliveries, newest first, optionally in one state, created at or after `since`.
    pub async fn deliveries_of(
        &self,
        endpoint_id: &str,
        state: Option<DeliveryState>,
        since: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Doc<DeliveryRecord>>, StoreError> {
        let mut filters = vec![Filter::new("endpoint_id", "EQUAL", json!(endpoint_id))];
        if let Some(s) = state {
            filters.push(Filter::new("state", "EQUAL", json!(s)));
        }
        if let Some(t) = since {
            filters.push(Filter::new("created_at", "GREATER_THAN_OR_EQUAL", json!(t)));
        }
        self.newest("webhook_deliveries", &filters, "created_at", limit)
            .await
    }

    /// Pending deliveries due by `now`, the longest waiting first.
    pub async fn due_deliveries(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<Doc<DeliveryRecord>>, StoreError> {
        let filters = [
            Filter::new("state", "EQUAL", json!(DeliveryState::Pending)),
            Filter::new("next_at", "LESS_THAN_OR_EQUAL", json!(now)),
        ];
        self.db
            .query(
                self.http,
                self.now,
                "webhook_deliveries",
                &filters,
                Some("next_at"),
                limit,
            )
            .await
    }
}
