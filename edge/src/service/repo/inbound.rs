//! Inbound SMS and what they depend on:
//! - `inbound/{id}`: one received SMS; the sender and text sealed, the sender masked and tagged;
//!   its id fixed by the gateway and its sequence number, so a repeat is recognised;
//! - `routes/{gateway}_{phone tag}`: which tenant last wrote to a number through a phone (a reply
//!   there goes to that tenant, within 7 days);
//! - `optouts/{tenant}_{phone tag}`: a tenant's opt-out list.

use otp_shared::ids::{GatewayId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::net::HttpClient;
use crate::service::model::MessageRecord;
use crate::service::repo::view::Repo;
use crate::store::{Filter, Precondition, StoreError, Write};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundRecord {
    pub id: String,
    /// The tenant it was routed to; `None`: nobody wrote to this number through this phone lately.
    pub tenant_id: Option<TenantId>,
    /// Whether it has a tenant (what the operators' list of unrouted SMS queries).
    #[serde(default)]
    pub routed: bool,
    pub gateway_id: GatewayId,
    pub seq: u64,
    pub phone_masked: String,
    pub phone_sealed: String,
    /// The keyed tag of the sender (`Secrets::phone_tag`), empty when it is not a phone number.
    pub phone_tag: String,
    pub text_sealed: String,
    pub received_at: i64,
    pub created_at: i64,
    /// The tenant's last message to this number through this phone.
    pub in_reply_to: Option<String>,
    /// Set when the text was an opt-out keyword.
    pub keyword: Option<Keyword>,
}

/// An opt-out keyword a reply was: stored and answered as `stop` or `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    /// STOP, UNSUBSCRIBE, CANCEL, END or QUIT: the number is put on the tenant's opt-out list.
    Stop,
    /// START: the number's opt-out by SMS is undone.
    Start,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteRecord {
    pub tenant_id: TenantId,
    pub message_id: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptoutRecord {
    /// `{tenant}_{phone tag}`, the document id.
    pub id: String,
    pub tenant_id: TenantId,
    pub phone_masked: String,
    pub phone_sealed: String,
    pub phone_tag: String,
    pub source: OptoutSource,
    pub created_at: i64,
}

/// Who put a number on a tenant's opt-out list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptoutSource {
    /// The number replied STOP.
    Sms,
    /// The tenant (`POST /v1/optouts`).
    Api,
    /// An operator (`POST /v1/admin/optouts`).
    Admin,
    /// The paid fallback's provider said the number unsubscribed.
    Provider,
}

pub fn inbound_path(id: &str) -> String {
    format!("inbound/{id}")
}

pub fn route_path(gateway_id: &GatewayId, phone_tag: &str) -> String {
    format!("routes/{gateway_id}_{phone_tag}")
}

pub fn optout_id(tenant_id: &TenantId, phone_tag: &str) -> String {
    format!("{tenant_id}_{phone_tag}")
}

pub fn optout_path(id: &str) -> String {
    format!("optouts/{id}")
}

pub fn inbound_create(r: &InboundRecord) -> Write {
    Write::set(inbound_path(&r.id), r).precondition(Precondition::Exists(false))
}

pub fn route_write(gateway_id: &GatewayId, phone_tag: &str, r: &RouteRecord) -> Write {
    Write::set(route_path(gateway_id, phone_tag), r)
}

pub fn optout_write(o: &OptoutRecord) -> Write {
    Write::set(optout_path(&o.id), o)
}

impl<H: HttpClient> Repo<'_, H> {
    /// Whether the inbound record exists, and the route of its sender through its phone: one read.
    pub async fn inbound_context(
        &self,
        id: &str,
        route: Option<&str>,
    ) -> Result<(bool, Option<RouteRecord>), StoreError> {
        let mut paths = vec![inbound_path(id)];
        paths.extend(route.map(str::to_string));
        let docs = self
            .db
            .batch_get::<serde_json::Value, _>(self.http, self.now, &paths)
            .await?;
        let exists = docs.first().is_some_and(Option::is_some);
        let route = docs
            .get(1)
            .cloned()
            .flatten()
            .and_then(|d| serde_json::from_value(d.value).ok());
        Ok((exists, route))
    }

    pub async fn get_optout(&self, id: &str) -> Result<Option<OptoutRecord>, StoreError> {
        Ok(self
            .db
            .get::<OptoutRecord, _>(self.http, self.now, &optout_path(id))
            .await?
            .map(|d| d.value))
    }

    pub async fn optouts_of(
        &self,
        tenant_id: &TenantId,
        limit: usize,
    ) -> Result<Vec<OptoutRecord>, StoreError> {
        let tenant = Filter::new("tenant_id", "EQUAL", json!(tenant_id));
        let docs = self
            .newest("optouts", &[tenant], "created_at", limit)
            .await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }

    /// A tenant's inbound SMS (or, for `None`, the unrouted ones), newest first.
    pub async fn inbound_of(
        &self,
        tenant_id: Option<&TenantId>,
        limit: usize,
    ) -> Result<Vec<InboundRecord>, StoreError> {
        let filter = match tenant_id {
            Some(t) => Filter::new("tenant_id", "EQUAL", json!(t)),
            None => Filter::new("routed", "EQUAL", json!(false)),
        };
        let docs = self
            .newest("inbound", &[filter], "received_at", limit)
            .await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }

    /// A tenant's messages, newest first.
    pub async fn messages_of(
        &self,
        tenant_id: &TenantId,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let tenant = Filter::new("tenant_id", "EQUAL", json!(tenant_id));
        let docs = self
            .newest("messages", &[tenant], "created_at", limit)
            .await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }
}
