//! A tenant's endpoints: register (the signing secret is shown once, then kept sealed), list,
//! change (URL, events, enabled), remove. Enabling a disabled endpoint starts it afresh.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, new_id, Platform};
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::messaging::dispatch;
use crate::service::model::Tenant;
use crate::service::ops::webhooks::events::EventType;
use crate::service::ops::webhooks::sign;
use crate::service::ops::webhooks::targets;
use crate::service::repo::webhooks::{self as repo_wh, EndpointRecord};
use crate::service::sealing;
use crate::service::tenants::admission;
use crate::store::{Doc, StoreError};

/// Endpoints one tenant may have.
pub const MAX_ENDPOINTS: usize = 10;

/// `POST /v1/webhooks` (which needs `url`) and `PATCH /v1/webhooks/{id}` (absent fields stay).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookInput)]
pub struct EndpointInput {
    /// https:// (http:// to this machine only).
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "https://hooks.example/otp"
    )]
    pub url: Option<String>,
    /// The event types to send; default on creation: all.
    #[schema(value_type = Option<Vec<super::events::EventType>>, min_items = 1)]
    pub events: Option<Vec<String>>,
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// `PATCH` only: `true` enables it afresh.
    pub enabled: Option<bool>,
}

pub fn endpoint_json(e: &EndpointRecord) -> Value {
    serde_json::to_value(WebhookView::of(e)).unwrap_or_default()
}

/// A webhook endpoint as its tenant sees it (never its secret but in the answer that made it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookView {
    #[schema(example = "whe_01jd9")]
    pub id: String,
    #[schema(example = "https://hooks.example/otp")]
    pub url: String,
    /// Event types it receives (`message.sent`, ...).
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Since when its attempts fail without a success.
    #[schema(format = DateTime)]
    pub failing_since: Option<String>,
    #[schema(format = DateTime)]
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// `whsec_…`, only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookView {
    pub fn of(e: &EndpointRecord) -> WebhookView {
        WebhookView {
            id: e.id.clone(),
            url: e.url.clone(),
            events: e.events.clone(),
            description: e.description.clone(),
            enabled: e.enabled,
            failing_since: (e.failing_since > 0).then(|| iso8601(e.failing_since)),
            disabled_at: (e.disabled_at > 0).then(|| iso8601(e.disabled_at)),
            disabled_reason: e.disabled_reason.clone(),
            created_at: iso8601(e.created_at),
            updated_at: iso8601(e.updated_at),
            secret: None,
        }
    }
}

/// A tenant's webhook endpoints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookList)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// An absolute `https://` URL (or `http://` where `WEBHOOK_ALLOW_HTTP` is on) without
/// credentials or a fragment, at most 2,000 characters.
pub fn check_url(url: &str, allow_http: bool) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::msg(
            ErrorCode::WebhookUrlInvalid,
            format!("The webhook URL {why}"),
        ))
    };
    if url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("is too long or has spaces");
    }
    let rest = match url.split_once("://") {
        Some(("https", r)) => r,
        Some(("http", r)) if allow_http => r,
        Some(("http", _)) => return bad("must use https"),
        _ => return bad("must be an absolute https:// URL"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return bad("needs a host and no user or password");
    }
    if url.contains('#') {
        return bad("may not have a fragment");
    }
    Ok(())
}

fn check_events(events: &[String]) -> Result<Vec<String>, Error> {
    if events.is_empty() {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "events must name at least one event type",
        ));
    }
    let mut out = Vec::new();
    for e in events {
        if EventType::parse(e).is_none() {
            let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                format!("unknown event type {e:?}; known: {}", all.join(", ")),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn check_description(d: &str) -> Result<String, Error> {
    let d = d.trim();
    if d.chars().count() > 200 || d.chars().any(char::is_control) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "description must be at most 200 characters, without control characters",
        ));
    }
    Ok(d.to_string())
}

/// Registers an endpoint; returns it with its secret (shown this once).
pub async fn create_webhook<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    input: &EndpointInput,
    first: &FirstCommit<'_>,
) -> Result<(EndpointRecord, String), Error> {
    let url = input.url.as_deref().map(str::trim).unwrap_or("");
    if url.is_empty() {
        return Err(Error::msg(ErrorCode::ValidationFailed, "url is required"));
    }
    check_url(url, app.cfg.webhooks.allow_http)?;
    let events = match &input.events {
        Some(e) => check_events(e)?,
        None => EventType::ALL
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
    };
    let description = check_description(input.description.as_deref().unwrap_or(""))?;
    admission::admit(app, ctx, tenant, Vec::new(), false).await?;
    if app.repo().endpoints_of(&tenant.id).await?.len() >= MAX_ENDPOINTS {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            format!("a tenant has at most {MAX_ENDPOINTS} webhook endpoints"),
        ));
    }
    let mut random = [0u8; sign::SECRET_BYTES];
    app.platform.fill_random(&mut random);
    let secret = sign::new_secret(&random);
    let id = new_id(&app.platform, "whe");
    let mut nonce = [0u8; 12];
    app.platform.fill_random(&mut nonce);
    let e = EndpointRecord {
        secret_sealed: sealing::seal(&app.secrets.seal, &id, nonce, &secret),
        id,
        tenant_id: tenant.id.clone(),
        url: url.to_string(),
        events,
        description,
        enabled: true,
        created_at: ctx.now_ms,
        updated_at: ctx.now_ms,
        failing_since: 0,
        disabled_at: 0,
        disabled_reason: None,
    };
    let mut writes = vec![repo_wh::endpoint_create(&e)];
    writes.extend(first.claim_write());
    match app.repo().commit(writes).await {
        Ok(_) => first.landed(),
        Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => {
            return Err(dispatch::lost_race(app, ctx).await)
        }
        Err(e) => return Err(e.into()),
    }
    targets::forget_webhook_targets(app, &tenant.id);
    Ok((e, secret))
}

/// One of the tenant's endpoints (another tenant's is `webhook_not_found`).
pub async fn tenant_webhook<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    id: &str,
) -> Result<Doc<EndpointRecord>, Error> {
    app.repo()
        .get_endpoint(id)
        .await?
        .filter(|d| d.value.tenant_id == tenant.id)
        .ok_or_else(|| Error::new(ErrorCode::WebhookNotFound))
}

pub async fn update_webhook<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    id: &str,
    input: &EndpointInput,
) -> Result<EndpointRecord, Error> {
    let doc = tenant_webhook(app, tenant, id).await?;
    let mut e = doc.value;
    if let Some(url) = &input.url {
        check_url(url.trim(), app.cfg.webhooks.allow_http)?;
        e.url = url.trim().to_string();
    }
    if let Some(ev) = &input.events {
        e.events = check_events(ev)?;
    }
    if let Some(d) = &input.description {
        e.description = check_description(d)?;
    }
    match input.enabled {
        Some(true) if !e.enabled => {
            e.enabled = true;
            e.failing_since = 0;
            e.disabled_at = 0;
            e.disabled_reason = None;
        }
        Some(false) if e.enabled => {
            e.enabled = false;
            e.disabled_at = ctx.now_ms;
            e.disabled_reason = Some("disabled by the tenant".into());
        }
        _ => {}
    }
    e.updated_at = ctx.now_ms;
    app.repo()
        .commit(vec![repo_wh::endpoint_update(&e, &doc.update_time)])
        .await?;
    targets::forget_webhook_targets(app, &tenant.id);
    Ok(e)
}

/// Removes an endpoint; its pending deliveries fail when next looked at.
pub async fn delete_webhook<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    id: &str,
) -> Result<(), Error> {
    let doc = tenant_webhook(app, tenant, id).await?;
    app.repo()
        .commit(vec![crate::store::Write::delete(repo_wh::endpoint_path(
            &doc.value.id,
        ))])
        .await?;
    targets::forget_webhook_targets(app, &tenant.id);
    Ok(())
}

/// The endpoint's secret, unsealed (to sign an attempt).
pub fn webhook_secret<P: Platform>(app: &App<P>, e: &EndpointRecord) -> Option<Vec<u8>> {
    sealing::open(&app.secrets.seal, &e.id, &e.secret_sealed)
        .as_deref()
        .and_then(sign::key_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_and_plain() {
        assert!(check_url("https://hooks.example/otp?x=1", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        for bad in [
            "http://hooks.example/otp",
            "ftp://x",
            "https://",
            "https://user:pw@hooks.example/",
            "https://hooks.example/#frag",
            "https://hooks.example/a b",
            "/relative",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_are_checked_and_deduplicated() {
        let e = check_events(&["message.sent".into(), "message.sent".into()]).unwrap();
        assert_eq!(e, vec!["message.sent"]);
        assert!(check_events(&[]).is_err());
        assert!(check_events(&["message.sending".into()]).is_err());
    }
}
