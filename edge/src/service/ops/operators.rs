//! Telling the operators. After the answer (`ops::later::Later::Alert`) the incident document
//! `alerts/{kind}_{subject}` is opened with `exists=false` or closed guarded by the version read,
//! so only the request that opens or closes it notifies. The channels are set once by an
//! operator (`config/alerts`): a phone (an SMS through the same dispatch path as notices, kind
//! `Notification`), a webhook URL that takes Slack's and Discord's JSON (`text` and
//! `content`) and/or email recipients (through Cloudflare's `send_email` binding, `ops::email`). The store being unreachable cannot be recorded in the store: that incident is
//! latched in a Durable Object instead and told through the webhook only.

use otp_shared::phone::Phone;
use otp_shared::wire::MessageKind;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, ErrorCode};
use crate::net::{HttpClient, OutboundRequest};
use crate::platform::{iso8601, GateAsk, Hit, LimitKind, Platform, RateRule};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::messaging::messages;
use crate::service::model::Tenant;
use crate::service::ops::alerts::remember_alert;
use crate::service::ops::email;
use crate::service::ops::incidents::{incident_id, AlertKind, CONFIG_CACHE_MS, LATCH_GATE};
use crate::service::repo::alerts::{AlertConfig, Incident, IncidentState};
use crate::service::sealing;

/// The pseudo-tenant the operators' SMS alerts are sent for: no quota, its own gate.
fn operators() -> Tenant {
    Tenant::new("_ops".into(), "otp-sms operators".into(), 0)
}

/// Where alerts go, as operators see it: the phone `+1415•••0123` style (the full number is
/// kept sealed).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AlertChannels)]
pub struct AlertConfigView {
    #[schema(example = "+1415•••0123")]
    pub phone: Option<String>,
    #[schema(example = "https://hooks.slack.com/services/T000/B000/XXXX")]
    pub webhook_url: Option<String>,
    pub emails: Vec<String>,
    /// None: never set.
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
}

impl AlertConfigView {
    pub fn of(c: &AlertConfig) -> AlertConfigView {
        AlertConfigView {
            phone: c.phone_masked.clone(),
            webhook_url: c.webhook_url.clone(),
            emails: c.emails.clone(),
            updated_at: (c.updated_at > 0).then(|| iso8601(c.updated_at)),
        }
    }
}

/// An incident as operators see it (in the API and in a webhook alert).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Incident)]
pub struct IncidentView {
    #[schema(example = "phone_down_phone-1")]
    pub id: String,
    pub kind: AlertKind,
    /// What it is about (a phone's id, `store`, ...).
    #[schema(example = "phone-1")]
    pub subject: String,
    pub state: IncidentState,
    #[schema(format = DateTime)]
    pub opened_at: String,
    #[schema(format = DateTime)]
    pub cleared_at: Option<String>,
    /// Times it was raised while open.
    pub raises: u32,
    /// What the check saw (by kind).
    pub details: Value,
    /// The channels told.
    #[schema(example = json!(["webhook"]))]
    pub notified: Vec<String>,
}

impl IncidentView {
    pub fn of(i: &Incident) -> IncidentView {
        IncidentView {
            id: i.id.clone(),
            kind: i.kind,
            subject: i.subject.clone(),
            state: i.state,
            opened_at: iso8601(i.opened_at),
            cleared_at: (i.cleared_at > 0).then(|| iso8601(i.cleared_at)),
            raises: i.raises,
            details: i.details.clone(),
            notified: i.notified.clone(),
        }
    }
}

/// What an operator sets (`PATCH /v1/admin/alerts`): absent fields stay, `null` removes.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertConfigInput {
    /// E.164: the phone that gets the alerts by SMS.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "+14155550123")]
    pub phone: Option<Option<String>>,
    /// A Slack-style incoming webhook.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "https://hooks.slack.com/services/T000/B000/XXXX")]
    pub webhook_url: Option<Option<String>>,
    /// Email recipients (at most 5): the whole list (`[]` or `null` removes every one).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>, max_items = 5, example = json!(["oncall@example.com"]))]
    pub emails: Option<Option<Vec<String>>>,
}

fn double_option<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// After the answer: opens or closes the incident and tells the operators (once each).
pub async fn settle_alert<P: Platform>(
    app: &App<P>,
    raised: bool,
    kind: AlertKind,
    subject: &str,
    details: Value,
) {
    let ctx = Ctx::new(
        crate::platform::new_id(&app.platform, "alert"),
        app.platform.now_ms(),
        String::new(),
    );
    if kind == AlertKind::StoreUnreachable {
        return settle_store_alert(app, &ctx, raised, subject, details).await;
    }
    let id = incident_id(kind, subject);
    let now = ctx.now_ms;
    let found = match app.repo().get_incident(&id).await {
        Ok(f) => f,
        Err(e) => return app.warn(&ctx, "alert_not_recorded", &e.to_string()),
    };
    // An occurrence of a kind nobody clears replaces the last one (and is told).
    let open_now = found
        .as_ref()
        .is_some_and(|d| d.value.state == IncidentState::Open)
        && !(raised && kind.per_occurrence());
    if raised == open_now {
        // Already open: count the raise (best effort); already closed: nothing to do.
        if let (true, Some(d)) = (raised, found) {
            let mut i = d.value;
            i.raises += 1;
            i.details = details;
            app.repo()
                .save_incident(&i, Some(&d.update_time))
                .await
                .ok();
        }
        remember_alert(app, &id, open_now);
        return;
    }
    let (incident, version) = match found {
        Some(d) => (Some(d.value), Some(d.update_time)),
        None => (None, None),
    };
    let incident = if raised {
        Incident {
            id: id.clone(),
            kind,
            subject: subject.into(),
            state: IncidentState::Open,
            opened_at: now,
            cleared_at: 0,
            raises: 1,
            details,
            notified: Vec::new(),
        }
    } else {
        let Some(mut i) = incident else { return };
        i.state = IncidentState::Cleared;
        i.cleared_at = now;
        i
    };
    // Only the writer that opens (exists=false) or closes (its version) the incident tells.
    if app
        .repo()
        .save_incident(&incident, version.as_deref())
        .await
        .is_err()
    {
        return;
    }
    remember_alert(app, &id, raised);
    let text = alert_text(kind, subject, &incident, raised);
    let notified = notify_operators(app, &ctx, &text, &incident).await;
    let mut recorded = incident;
    recorded.notified = notified;
    if let Ok(Some(d)) = app.repo().get_incident(&id).await {
        if d.value.state == recorded.state {
            app.repo()
                .save_incident(&recorded, Some(&d.update_time))
                .await
                .ok();
        }
    }
}

/// The store's own incident, latched in a Durable Object: the first raise while unlatched tells
/// (through the webhook: an SMS needs the store), a clear while latched tells and unlatches.
async fn settle_store_alert<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    raised: bool,
    subject: &str,
    details: Value,
) {
    let latch = Hit {
        kind: LimitKind::Endpoint,
        key: format!(
            "alert:{}",
            incident_id(AlertKind::StoreUnreachable, subject)
        ),
        rule: RateRule {
            limit: 1,
            window_secs: 7 * 86_400,
        },
        persist: true,
    };
    let ask = |peek, undo| GateAsk {
        hits: vec![latch.clone()],
        peek,
        undo,
        ..Default::default()
    };
    let latched = |a: Result<crate::platform::GateAnswer, String>| a.map(|a| a.refused.is_some());
    let now = ctx.now_ms;
    let incident = Incident {
        id: incident_id(AlertKind::StoreUnreachable, subject),
        kind: AlertKind::StoreUnreachable,
        subject: subject.into(),
        state: if raised {
            IncidentState::Open
        } else {
            IncidentState::Cleared
        },
        opened_at: now,
        cleared_at: if raised { 0 } else { now },
        raises: 1,
        details,
        notified: Vec::new(),
    };
    if raised {
        // Admitted: the latch was free, this is the incident's first raise.
        if let Ok(false) = latched(app.platform.gate(LATCH_GATE, &ask(false, false)).await) {
            let text = alert_text(AlertKind::StoreUnreachable, subject, &incident, true);
            notify_operators(app, ctx, &text, &incident).await;
        }
    } else if let Ok(true) = latched(app.platform.gate(LATCH_GATE, &ask(true, false)).await) {
        app.platform.gate(LATCH_GATE, &ask(false, true)).await.ok();
        let text = alert_text(AlertKind::StoreUnreachable, subject, &incident, false);
        notify_operators(app, ctx, &text, &incident).await;
    }
}

/// Sends `text` to every configured channel; returns the channels that took it.
async fn notify_operators<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    text: &str,
    incident: &Incident,
) -> Vec<String> {
    let Some(cfg) = alert_config(app).await else {
        return Vec::new();
    };
    let mut done = Vec::new();
    if let Some(url) = &cfg.webhook_url {
        let body = json!({"text": text, "content": text, "alert": IncidentView::of(incident)});
        let req = OutboundRequest::new("POST", url.clone())
            .json_body(body.to_string().into_bytes())
            .timeout_ms(5_000);
        match app.platform.http().send(req).await {
            Ok(r) if r.is_success() => done.push("webhook".to_string()),
            Ok(r) => app.warn(ctx, "alert_webhook_refused", &format!("http {}", r.status)),
            Err(e) => app.warn(ctx, "alert_webhook_failed", &e.to_string()),
        }
    }
    if !cfg.emails.is_empty() {
        let subject = text.lines().next().unwrap_or(text);
        let body = email_body(text, incident);
        let from = &app.cfg.alert_email_from;
        let mut took = false;
        for to in &cfg.emails {
            let id = crate::platform::new_id(&app.platform, "alert");
            let raw = email::message(from, to, subject, &body, &id, ctx.now_ms);
            match app.platform.send_email(from, to, &raw).await {
                Ok(()) => took = true,
                Err(e) => app.warn(ctx, "alert_email_failed", &e),
            }
        }
        if took {
            done.push("email".to_string());
        }
    }
    let phone = cfg
        .phone_sealed
        .as_deref()
        .and_then(|s| sealing::open(&app.secrets.seal, "config/alerts", s))
        .and_then(|p| Phone::parse(&p).ok());
    if let (Some(phone), true) = (phone, incident.kind != AlertKind::StoreUnreachable) {
        let short: String = text.chars().take(300).collect();
        match messages::send_message(
            app,
            ctx,
            &operators(),
            &phone,
            &short,
            MessageKind::Notification,
        )
        .await
        {
            Ok(_) => done.push("phone".to_string()),
            Err(e) => app.warn(ctx, "alert_sms_failed", e.code.as_str()),
        }
    }
    done
}

/// The channels, read at most once a minute; the last known ones when the store fails.
pub async fn alert_config<P: Platform>(app: &App<P>) -> Option<AlertConfig> {
    let now = app.platform.now_ms();
    let cached = app.alert_cache.config.last();
    if let Some((at, c)) = &cached {
        if now - at < CONFIG_CACHE_MS {
            return Some(c.clone());
        }
    }
    match app.repo().get_alert_config().await {
        Ok(c) => {
            // None stored yet: the configured fallback, if any.
            let c = c.unwrap_or_else(|| AlertConfig {
                webhook_url: app.cfg.alert_webhook_url.clone(),
                ..Default::default()
            });
            app.alert_cache.config.put(now, c.clone());
            Some(c)
        }
        // The store is down: what this isolate read last, or the configured fallback.
        Err(_) => cached.map(|(_, c)| c).or_else(|| {
            app.cfg.alert_webhook_url.clone().map(|u| AlertConfig {
                webhook_url: Some(u),
                ..Default::default()
            })
        }),
    }
}

/// Sets the channels (`PATCH /v1/admin/alerts`).
pub async fn set_alert_config<P: Platform>(
    app: &App<P>,
    input: &AlertConfigInput,
    now: i64,
) -> Result<AlertConfig, Error> {
    let mut c = app.repo().get_alert_config().await?.unwrap_or_default();
    if let Some(p) = &input.phone {
        match p {
            None => {
                c.phone_sealed = None;
                c.phone_masked = None;
            }
            Some(raw) => {
                let phone = crate::service::abuse::numbers::parse_required(Some(raw), None)?;
                let mut nonce = [0u8; 12];
                app.platform.fill_random(&mut nonce);
                c.phone_sealed = Some(sealing::seal(
                    &app.secrets.seal,
                    "config/alerts",
                    nonce,
                    phone.as_str(),
                ));
                c.phone_masked = Some(phone.masked());
            }
        }
    }
    if let Some(list) = &input.emails {
        c.emails = email::check_recipients(list.as_deref().unwrap_or_default())
            .map_err(|m| Error::msg(ErrorCode::ValidationFailed, m))?;
    }
    if let Some(u) = &input.webhook_url {
        c.webhook_url = match u {
            None => None,
            Some(url) => {
                crate::service::ops::webhooks::endpoints::check_url(
                    url.trim(),
                    app.cfg.webhooks.allow_http,
                )?;
                Some(url.trim().to_string())
            }
        };
    }
    c.updated_at = now;
    app.repo().put_alert_config(&c).await?;
    app.alert_cache.config.put(now, c.clone());
    Ok(c)
}

/// Sends a test alert to the channels now; says which took it.
pub async fn test_alert<P: Platform>(app: &App<P>, ctx: &Ctx) -> Result<Vec<String>, Error> {
    let cfg = alert_config(app).await.unwrap_or_default();
    if cfg.webhook_url.is_none() && cfg.phone_sealed.is_none() && cfg.emails.is_empty() {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "no alert channel is configured: set a phone, a webhook_url or emails first",
        ));
    }
    let incident = Incident {
        id: "test".into(),
        kind: AlertKind::Test,
        subject: "test".into(),
        state: IncidentState::Cleared,
        opened_at: ctx.now_ms,
        cleared_at: ctx.now_ms,
        raises: 1,
        details: Value::Null,
        notified: Vec::new(),
    };
    Ok(notify_operators(
        app,
        ctx,
        "[otp-sms] test alert: this channel works.",
        &incident,
    )
    .await)
}

/// An alert email's body: the alert's line, then what the incident record holds.
fn email_body(text: &str, i: &Incident) -> String {
    let mut b = format!(
        "{text}\n\nIncident: {}\nKind: {}\nSubject: {}\nState: {}\nOpened: {}\n",
        i.id,
        i.kind.as_str(),
        i.subject,
        if i.state == IncidentState::Open {
            "open"
        } else {
            "cleared"
        },
        iso8601(i.opened_at)
    );
    if i.cleared_at > 0 {
        b.push_str(&format!("Cleared: {}\n", iso8601(i.cleared_at)));
    }
    b.push_str(&format!("Raises: {}\n", i.raises));
    if !i.details.is_null() {
        b.push_str(&format!("Details: {}\n", i.details));
    }
    b.push_str("\nIncidents: GET /v1/admin/alerts (otpctl alerts get). You get this because your address is set in PATCH /v1/admin/alerts.\n");
    b
}

fn alert_text(kind: AlertKind, subject: &str, i: &Incident, raised: bool) -> String {
    if raised {
        let why = i
            .details
            .get("error")
            .or_else(|| i.details.get("reason"))
            .and_then(Value::as_str)
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        format!("[otp-sms] ALERT {}: {}{why}", subject, kind.headline())
    } else {
        let mins = ((i.cleared_at - i.opened_at) / 60_000).max(0);
        format!(
            "[otp-sms] CLEARED {}: {} is over after {mins} min (raised {} time{}).",
            subject,
            kind.headline(),
            i.raises,
            if i.raises == 1 { "" } else { "s" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_are_plain_and_stable() {
        let id = incident_id(AlertKind::PhoneDown, "phone-1");
        assert_eq!(id, "phone_down_phone-1");
        assert_eq!(
            incident_id(AlertKind::FraudBlock, "t/../x"),
            "fraud_block_t____x"
        );
    }

    #[test]
    fn texts_say_what_and_how_long() {
        let mut i = Incident {
            id: "x".into(),
            kind: AlertKind::PhoneDown,
            subject: "phone-1".into(),
            state: IncidentState::Open,
            opened_at: 0,
            cleared_at: 0,
            raises: 3,
            details: json!({"error": "timed out"}),
            notified: vec![],
        };
        assert_eq!(
            alert_text(AlertKind::PhoneDown, "phone-1", &i, true),
            "[otp-sms] ALERT phone-1: phone not reachable (timed out)"
        );
        i.cleared_at = 12 * 60_000;
        assert!(alert_text(AlertKind::PhoneDown, "phone-1", &i, false)
            .contains("after 12 min (raised 3 times)"));
    }
}
