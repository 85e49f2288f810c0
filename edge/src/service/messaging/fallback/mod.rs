//! The paid fallback: a code that no phone can take (none reachable, every budget spent, every
//! phone's kill switch engaged) goes through the operator's HTTP SMS provider (Twilio's
//! Messages API, `twilio`), for a tenant that opted in (`settings.fallback_monthly_cap` > 0),
//! while its month's cap lasts. Never silently: the message record says `channel:
//! "provider:twilio"`, the provider's sid, status and price; its webhooks and analytics
//! (`fallback_sent`, `fallback_refused`) say so too.
//!
//! The cap is a balance: one unit is taken under the version of the month's usage document
//! before the provider is called, so concurrent codes cannot overrun it; a certain refusal (a
//! documented error: nothing was created) gives it back. A documented error is final, never
//! retried: 21211 fails the code as `invalid_number`, 21408 as `region_not_enabled`, 21610 as
//! `opted_out` and adds the number to the tenant's opt-out list. The provider's status callbacks
//! (`status_callback`) move the message on, signed with the account's auth token; an unsigned or
//! forged one is refused.

pub mod config;
pub mod twilio;

use otp_shared::ids::TenantId;
use otp_shared::ids::UnixMs;
use otp_shared::phone::Phone;
use otp_shared::wire::{MessageKind, SendRequest};

use crate::error::{Error, ErrorCode};
use crate::net::{HttpClient, TransportError};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::model::AvoidReason;
use crate::service::fleet::standing;
use crate::service::messaging::dispatch::message_json;
use crate::service::messaging::optouts;
use crate::service::model::{DeliveryState, MessageRecord, ProviderLeg};
use crate::service::ops::analytics::Granularity;
use crate::service::ops::webhooks::events::Event;
use crate::service::ops::webhooks::targets;
use crate::service::repo;
use crate::service::repo::fallback::usage_write;
use crate::service::repo::inbound::OptoutSource;
use crate::store::{StoreError, Write};
use twilio::{Answer, Progress};

pub const CHANNEL: &str = "provider:twilio";

/// Tries at taking a unit of the cap before giving up (each lost one means another code took one).
const CAP_TRIES: u32 = 12;
/// Times (250 ms apart) a callback for a message whose provider answer is not written yet
/// reads it again.
const CALLBACK_WAITS: u32 = 8;

/// For a code that may use the fallback: when the fleet's last probe (the minute's job) reached
/// none of the phones of `order`, the reasons to skip them; else none, and the phones are tried.
/// Only "unreachable" counts: a phone that answers refuses for certain by itself (kill switch,
/// no SIM able to send), while one that does not would leave the code `unknown` (a lost
/// connection may have delivered it), and an unknown code is never sent again anywhere.
pub async fn unreachable_fleet<P: Platform>(
    app: &App<P>,
    cap: u32,
    m: &MessageRecord,
    order: &[String],
) -> Option<Vec<String>> {
    if cap == 0 || m.kind != MessageKind::Otp || order.is_empty() {
        return None;
    }
    let standings = standing::standings(app).await;
    order
        .iter()
        .all(|id| {
            standings
                .get(id.as_str())
                .is_some_and(|why| why.contains(&AvoidReason::Unreachable))
        })
        .then(|| {
            order
                .iter()
                .map(|id| format!("{id}: unreachable at the last probe"))
                .collect()
        })
}

/// What the fallback did with a code no phone took.
#[derive(Debug)]
pub enum Outcome {
    /// Not used (not opted in, no provider, the cap reached, the provider unreachable): the
    /// code is refused as without it; the reason, if any, joins the phones'.
    NotUsed(Option<String>),
    /// The provider has it (or may have it: an ambiguous answer); the message says so.
    Taken,
    /// The provider refused it with a documented error; the message is failed with its reason.
    Refused { code: u32, reason: &'static str },
}

/// The month a cap counts (`M202611`).
fn month(now_ms: i64) -> String {
    Granularity::Month.period(now_ms)
}

/// What `tenant_id`'s paid fallback has used this month (UTC) so far.
pub async fn month_usage<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    now_ms: i64,
) -> Result<repo::fallback::FallbackUsage, StoreError> {
    Ok(app
        .repo()
        .get_fallback_usage(tenant_id, &month(now_ms))
        .await?
        .0)
}

/// Takes one unit of `tenant_id`'s cap for this month; `Ok(false)` when it is spent.
async fn take_unit<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    month: &str,
    cap: u32,
) -> Result<bool, StoreError> {
    for attempt in 0..CAP_TRIES {
        let (mut u, version) = app.repo().get_fallback_usage(tenant_id, month).await?;
        if u.sent >= cap {
            return Ok(false);
        }
        u.sent += 1;
        match app
            .repo()
            .commit(vec![usage_write(&u, version.as_deref())])
            .await
        {
            Ok(_) => return Ok(true),
            Err(
                StoreError::PreconditionFailed(_)
                | StoreError::AlreadyExists
                | StoreError::Aborted(_),
            ) => {
                // Another code took one meanwhile: read again, after a little jitter.
                let ms = 5 + u64::from(app.random_below(20 * (attempt + 1)));
                app.platform.sleep(ms).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Aborted(
        "the fallback cap stayed contended".into(),
    ))
}

/// Gives back a unit taken for a message the provider certainly did not create.
async fn give_back<P: Platform>(app: &App<P>, ctx: &Ctx, tenant_id: &TenantId, month: &str) {
    for _ in 0..CAP_TRIES {
        let Ok((mut u, version)) = app.repo().get_fallback_usage(tenant_id, month).await else {
            break;
        };
        if u.sent == 0 || version.is_none() {
            return;
        }
        u.sent -= 1;
        match app
            .repo()
            .commit(vec![usage_write(&u, version.as_deref())])
            .await
        {
            Ok(_) => return,
            Err(StoreError::PreconditionFailed(_) | StoreError::Aborted(_)) => continue,
            Err(_) => break,
        }
    }
    app.warn(ctx, "fallback_unit_not_returned", tenant_id);
}

/// The message `m` (recorded, offered to every phone, taken by none) through the provider, if
/// its tenant opted in (`cap` > 0). `m` is changed to what happened; the caller writes it.
pub async fn try_send<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    cap: u32,
    m: &mut MessageRecord,
    req: &SendRequest,
) -> Outcome {
    if cap == 0 || m.kind != MessageKind::Otp {
        return Outcome::NotUsed(None);
    }
    let cfg = match app.repo().get_fallback_config().await {
        Ok(Some(c)) => c,
        Ok(None) => return Outcome::NotUsed(Some("fallback: no provider configured".into())),
        Err(e) => {
            app.warn(ctx, "fallback_config_unreadable", &e.to_string());
            return Outcome::NotUsed(Some("fallback: store unavailable".into()));
        }
    };
    let Some((user, password)) = config::credentials(app, &cfg) else {
        app.warn(
            ctx,
            "fallback_secret_unreadable",
            "the sealed provider secret does not open (server secret changed?)",
        );
        return Outcome::NotUsed(Some("fallback: provider secret unreadable".into()));
    };
    let now = app.platform.now_ms();
    let month = month(now);
    match take_unit(app, &m.tenant_id, &month, cap).await {
        Ok(true) => {}
        Ok(false) => {
            ctx.count_field(&m.tenant_id, "fallback_cap_reached");
            return Outcome::NotUsed(Some(format!("fallback: monthly cap of {cap} reached")));
        }
        Err(e) => {
            app.warn(ctx, "fallback_cap_unavailable", &e.to_string());
            return Outcome::NotUsed(Some("fallback: cap could not be counted".into()));
        }
    }
    let sender = config::sender(&cfg);
    let callback = cfg
        .status_callback_url
        .as_ref()
        .map(|u| format!("{u}?m={}", m.id));
    let validity = ((m.deadline_ms.0 - now) / 1000).clamp(1, 36_000) as u32;
    let request = twilio::create_request(
        &twilio::Create {
            base_url: &cfg.base_url,
            account_sid: &cfg.account_sid,
            user: &user,
            password: &password,
            sender: &sender,
            to: &req.to,
            body: &req.text,
            status_callback: callback.as_deref(),
            validity_secs: Some(validity),
        },
        app.cfg.gateway_timeout_ms,
    );
    let answer = app.platform.http().send(request).await;
    m.updated_at = app.platform.now_ms().into();
    match answer {
        Err(TransportError::Connect(e)) => {
            give_back(app, ctx, &m.tenant_id, &month).await;
            app.warn(ctx, "fallback_provider_unreachable", &e);
            Outcome::NotUsed(Some("fallback: provider unreachable".into()))
        }
        Err(e) => {
            // It may have been created: never sent again, recorded as unknown, the unit kept.
            take(
                m,
                DeliveryState::Unknown,
                ProviderLeg {
                    status: "unknown".into(),
                    ..Default::default()
                },
            );
            m.error = Some(format!("provider: {e}"));
            ctx.count_field(&m.tenant_id, "fallback_sent");
            Outcome::Taken
        }
        Ok(resp) => match twilio::read_answer(resp.status, &resp.body) {
            Answer::Created(r) => {
                let state = match twilio::progress(&r.status) {
                    Some(Progress::Sent) => DeliveryState::Sent,
                    Some(Progress::Failed) => DeliveryState::Failed,
                    _ => DeliveryState::Queued,
                };
                let cost = r.price.as_deref().and_then(twilio::price_micros);
                take(
                    m,
                    state,
                    ProviderLeg {
                        sid: Some(r.sid),
                        status: r.status,
                        price: r.price,
                        price_unit: r.price_unit,
                        error_code: r.error_code,
                    },
                );
                if let Some(c) = cost {
                    add_cost(app, ctx, &m.tenant_id, &month, c).await;
                }
                ctx.count_field(&m.tenant_id, "fallback_sent");
                Outcome::Taken
            }
            Answer::Refused(e) => {
                give_back(app, ctx, &m.tenant_id, &month).await;
                let reason = twilio::error_reason(e.code);
                take(
                    m,
                    DeliveryState::Failed,
                    ProviderLeg {
                        status: "failed".into(),
                        error_code: Some(e.code),
                        ..Default::default()
                    },
                );
                m.error = Some(format!("{reason}: {} (twilio {})", e.message, e.code));
                if e.code == twilio::ERR_UNSUBSCRIBED {
                    if let Ok(phone) = Phone::parse(&req.to) {
                        if let Err(err) = optouts::add_optout(
                            app,
                            ctx,
                            &m.tenant_id,
                            &phone,
                            OptoutSource::Provider,
                            None,
                        )
                        .await
                        {
                            app.warn(ctx, "fallback_optout_not_recorded", &err.to_string());
                        }
                    }
                }
                ctx.count_field(&m.tenant_id, "fallback_refused");
                Outcome::Refused {
                    code: e.code,
                    reason,
                }
            }
            Answer::Unexpected(status, _) => {
                // A 5xx or 429: Twilio created nothing; the code is refused as without it. Its
                // body is not logged (it may echo the text, the code).
                give_back(app, ctx, &m.tenant_id, &month).await;
                app.warn(ctx, "fallback_provider_error", &format!("HTTP {status}"));
                Outcome::NotUsed(Some(format!("fallback: provider answered {status}")))
            }
        },
    }
}

/// `m` as the provider's: no phone, never looked at by the stuck sweep (the provider reports).
fn take(m: &mut MessageRecord, state: DeliveryState, leg: ProviderLeg) {
    m.channel = Some(CHANNEL.to_string());
    m.gateway_id = Default::default();
    m.state = state;
    m.attempts = 1;
    m.failure_class = None;
    m.error = None;
    m.check_after = UnixMs(i64::MAX);
    m.provider = Some(leg);
}

async fn add_cost<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant_id: &TenantId,
    month: &str,
    micros: i64,
) {
    let w = Write::increment(
        repo::fallback::usage_path(tenant_id, month),
        "cost_micros",
        micros,
    );
    if let Err(e) = app.repo().commit(vec![w]).await {
        app.warn(ctx, "fallback_cost_not_recorded", &e.to_string());
    }
}

/// The error a caller gets for a code the provider refused.
pub fn refusal_error(code: u32, reason: &str, m: &MessageRecord) -> Error {
    let details = serde_json::json!({"channel": CHANNEL, "provider_code": code, "reason": reason, "message_id": m.id});
    match code {
        twilio::ERR_INVALID_TO => Error::msg(
            ErrorCode::PhoneInvalid,
            "The SMS provider says this is not a valid phone number (Twilio 21211); nothing was charged",
        ),
        twilio::ERR_UNSUBSCRIBED => Error::msg(
            ErrorCode::RecipientOptedOut,
            "The recipient unsubscribed from the SMS provider's messages (Twilio 21610); the number is now on the opt-out list",
        ),
        twilio::ERR_REGION_NOT_ENABLED => Error::msg(
            ErrorCode::GeoBlocked,
            "The SMS provider is not permitted to send to this number's region (Twilio 21408); nothing was charged",
        ),
        _ => Error::msg(
            ErrorCode::GatewayUnavailable,
            "No phone could take the message and the SMS provider refused it; nothing was charged",
        ),
    }
    .details(details)
}

/// A status callback: `query` as received (it names the message, `m=`), the form `body`, the
/// `X-Twilio-Signature` header. Refused (`forbidden`) unless signed with the account's auth
/// token over the configured callback URL; a known message moves on (guarded by its version).
pub async fn status_callback<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    query: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), Error> {
    let forbidden = || {
        Error::msg(
            ErrorCode::Forbidden,
            "The status callback's X-Twilio-Signature is missing or wrong",
        )
    };
    let cfg = app
        .repo()
        .get_fallback_config()
        .await?
        .ok_or_else(forbidden)?;
    let (Some(base), Some(token)) = (&cfg.status_callback_url, config::auth_token(app, &cfg))
    else {
        return Err(forbidden());
    };
    let params = twilio::form_decode(body)
        .ok_or_else(|| Error::msg(ErrorCode::ValidationFailed, "The body is not a form"))?;
    let url = format!("{base}?{query}");
    if !twilio::signature_valid(&token, &url, &params, signature.unwrap_or("")) {
        return Err(forbidden());
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let id = query
        .split('&')
        .find_map(|p| p.strip_prefix("m="))
        .unwrap_or("");
    let (Some(sid), Some(status)) = (get("MessageSid"), get("MessageStatus")) else {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "MessageSid and MessageStatus are required",
        ));
    };
    let progress = twilio::progress(status);
    let error_code = get("ErrorCode").and_then(|c| c.parse::<u32>().ok());
    let mut unseen = 0;
    let mut tries = 0;
    while tries < 3 {
        let Some((mut m, version)) = app.repo().get_message_doc(id).await? else {
            return Err(Error::msg(
                ErrorCode::NotFound,
                "No fallback message with this id and sid",
            ));
        };
        let Some(leg) = m.provider.clone().filter(|l| l.sid.as_deref() == Some(sid)) else {
            // The callback can outrun the send's own write of the provider's answer (Twilio
            // does not retry it): a message this recent is read again for a little while.
            if m.provider.is_none()
                && unseen < CALLBACK_WAITS
                && ctx.now_ms - m.created_at.0 < 60_000
            {
                unseen += 1;
                app.platform.sleep(250).await;
                continue;
            }
            return Err(Error::msg(
                ErrorCode::NotFound,
                "No fallback message with this id and sid",
            ));
        };
        let before = m.state;
        let mut leg = leg;
        leg.status = status.to_string();
        if error_code.is_some() {
            leg.error_code = error_code;
        }
        let next = match progress {
            Some(Progress::Sent) => Some(DeliveryState::Sent),
            Some(Progress::Failed) => Some(DeliveryState::Failed),
            _ => None,
        };
        if let Some(n) = next.filter(|n| m.state.may_become(*n)) {
            m.state = n;
            if n == DeliveryState::Failed {
                m.error = Some(format!(
                    "provider: {status}{}",
                    error_code
                        .map(|c| format!(" (twilio {c})"))
                        .unwrap_or_default()
                ));
            }
        }
        // The price comes with the resource once billed: asked for when the message is done.
        let mut cost = None;
        if leg.price.is_none() && next.is_some() {
            if let Some(r) = fetch(app, &cfg, sid).await {
                cost = r.price.as_deref().and_then(twilio::price_micros);
                leg.price = r.price;
                leg.price_unit = r.price_unit.or(leg.price_unit);
            }
        }
        m.provider = Some(leg);
        m.updated_at = app.platform.now_ms().into();
        let mut writes = vec![repo::messages::update_write(&m, &version)];
        let mut ids = Vec::new();
        if m.state != before {
            if let Some(e) = Event::for_message(&m, message_json(&m), m.updated_at.0) {
                let hooks = targets::webhook_targets(app, &m.tenant_id).await?;
                let (w, i) = targets::webhook_writes(app, &hooks, &[e]);
                writes.extend(w);
                ids = i;
            }
        }
        if let Some(c) = cost {
            writes.push(Write::increment(
                repo::fallback::usage_path(&m.tenant_id, &month(m.created_at.0)),
                "cost_micros",
                c,
            ));
        }
        match app.repo().commit(writes).await {
            Ok(_) => {
                targets::defer_webhooks(ctx, ids);
                if m.state != before {
                    ctx.count_field(
                        &m.tenant_id,
                        match m.state {
                            DeliveryState::Sent => "fallback_delivered",
                            _ => "fallback_failed",
                        },
                    );
                }
                return Ok(());
            }
            Err(StoreError::PreconditionFailed(_)) => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::msg(
        ErrorCode::Conflict,
        "The message changed meanwhile",
    ))
}

async fn fetch<P: Platform>(
    app: &App<P>,
    cfg: &repo::fallback::FallbackConfig,
    sid: &str,
) -> Option<twilio::MessageResource> {
    let (user, password) = config::credentials(app, cfg)?;
    let req = twilio::fetch_request(
        &cfg.base_url,
        &cfg.account_sid,
        &user,
        &password,
        sid,
        app.cfg.gateway_timeout_ms,
    );
    let resp = app.platform.http().send(req).await.ok()?;
    match twilio::read_answer(resp.status, &resp.body) {
        Answer::Created(r) => Some(r),
        _ => None,
    }
}
