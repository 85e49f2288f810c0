//! OTP verifications: send, resend, verify. The rules (code generation, normalisation, hashing,
//! odds) are in `otp_shared::otp`; this module orders the I/O.
//!
//! A tenant has one live verification per phone, in the document named by the phone's slot
//! (`Secrets::verification_slot`); the verification id carries the slot, so finding it by phone or
//! by id is one read. Every change to an existing verification (a check, a resend, an expiry) is a
//! commit guarded by the version that was read: of two racing changes one loses and reads again,
//! so an approved or exhausted verification stays final and `checks` never goes down.

use otp_shared::otp::{self as rules, CodeType};
use otp_shared::phone::Phone;
use otp_shared::templates;
use otp_shared::wire::MessageKind;

use crate::error::{Error, ErrorCode};
use crate::platform::{Hit, LimitKind, Platform, PlatformRng, RateRule};
use crate::service::abuse::destination;
use crate::service::abuse::fraud;
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::messaging::converted;
use crate::service::messaging::dispatch;
use crate::service::messaging::dispatch::{Outgoing, Undo};
use crate::service::messaging::optouts;
use crate::service::model::{
    CodeKind, FailureWindow, Tenant, VerificationRecord, VerificationStatus,
};
use crate::service::ops::analytics::Event;
use crate::service::ops::conversion::Figure;
use crate::service::ops::webhooks::targets;
use crate::service::repo;
use crate::service::sealing;
use crate::service::secrets::{base32, SLOT_CHARS};
use crate::service::tenants::admission;

pub mod reverse;

/// Caller's choices for one send; `None` takes the tenant's setting.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    pub code_type: Option<CodeKind>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub verification: VerificationRecord,
    pub message_id: otp_shared::ids::MessageId,
    /// queued or unknown.
    pub delivery_state: crate::service::model::DeliveryState,
    pub gateway_id: otp_shared::ids::GatewayId,
    /// `phone`, or `provider:twilio` for the paid fallback.
    pub channel: String,
}

/// The outcome of one check, as the API reports it.
#[derive(Debug, Clone)]
pub enum CheckResult {
    Approved(VerificationRecord),
    WrongCode {
        attempts_left: u32,
        verification: VerificationRecord,
    },
}

/// How many times a guarded change is retried after losing a race before giving up.
const RACE_RETRIES: usize = 6;

pub fn code_type_of(tenant: &Tenant, kind: Option<CodeKind>) -> Result<CodeType, Error> {
    let s = &tenant.settings;
    let ct = match kind.unwrap_or(s.code_type) {
        CodeKind::Words => CodeType::Words {
            count: s.word_count,
        },
        CodeKind::Digits => CodeType::Digits {
            len: s.digit_length,
        },
    };
    ct.validate()
        .map_err(|e| Error::msg(ErrorCode::CodeTypeInvalid, e.to_string()))?;
    // A per-send choice of code type must be as hard to guess as the settings allow.
    let odds = rules::guess_odds(ct, s.max_checks);
    if odds > rules::MAX_GUESS_ODDS {
        return Err(Error::msg(
            ErrorCode::CodeTooWeak,
            format!(
                "{ct:?} with {} checks can be guessed 1 time in {:.0}",
                s.max_checks,
                1.0 / odds
            ),
        ));
    }
    Ok(ct)
}

/// The language of an OTP text: the request's `locale` when a built-in one, else the language of
/// the number's country when it has a built-in one other than English, else the tenant's setting.
pub fn text_locale(tenant: &Tenant, requested: Option<&str>, phone: &Phone) -> &'static str {
    let built_in = |l: &str| {
        let primary = l
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        templates::locales().find(|t| *t == primary)
    };
    if let Some(l) = requested.and_then(built_in) {
        return l;
    }
    match phone.region().map(templates::locale_for_region) {
        Some(l) if l != "en" => l,
        _ => templates::resolve_locale(Some(&tenant.settings.locale), None),
    }
}

/// The slot a verification id names (`ver_` + slot + 6 random characters).
pub fn slot_of_id(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("ver_")?;
    (rest.len() == SLOT_CHARS + 6 && otp_shared::ids::is_plain_id(rest))
        .then(|| &rest[..SLOT_CHARS])
}

/// The per-phone send window (`max_sends` per `send_window_secs`), shared by send and resend;
/// kept durably by the gate, so an eviction does not reset it.
pub(crate) fn send_window<P: Platform>(app: &App<P>, tenant: &Tenant, phone: &str) -> Hit {
    let s = &tenant.settings;
    Hit {
        kind: LimitKind::PhoneSends,
        key: app.secrets.phone_tag(phone),
        rule: RateRule {
            limit: s.max_sends,
            window_secs: s.send_window_secs,
        },
        persist: true,
    }
}

/// The text of an OTP: the tenant's template or a built-in sentence in `locale`, then the
/// tenant's app-hash and WebOTP lines; always one SMS.
pub(crate) fn render_text<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    code: &str,
    locale: &str,
) -> Result<String, Error> {
    let s = &tenant.settings;
    let p = templates::TextParams {
        code,
        style: s.text_style,
        minutes: (s.ttl_secs / 60).max(1),
        app: s.app_name.as_deref().unwrap_or(&tenant.name),
        webotp_host: s.webotp_host.as_deref(),
        app_hash: s.app_hash.as_deref(),
    };
    match &s.template {
        Some(t) => templates::render_custom_with(t, &p)
            .map_err(|e| Error::msg(ErrorCode::TemplateInvalid, e.to_string())),
        None => Ok(templates::render_with(
            locale,
            &p,
            &mut PlatformRng(&app.platform),
        )),
    }
}

pub async fn send_otp<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    phone: &Phone,
    opts: &SendOptions,
    first: &FirstCommit<'_>,
) -> Result<Sent, Error> {
    dispatch::sending_allowed_for(app, tenant, ctx)?;
    destination::check_destination(app, tenant, phone).await?;
    if tenant.settings.optout_blocks_otp {
        optouts::check_optout(app, tenant, phone).await?;
    }
    let code_type = code_type_of(tenant, opts.code_type)?;
    let s = &tenant.settings;
    let code = rules::generate(code_type, &mut PlatformRng(&app.platform));
    let slot = app.secrets.verification_slot(&tenant.id, phone.as_str());
    let mut tail = [0u8; 4];
    app.platform.fill_random(&mut tail);
    let id = format!("ver_{slot}{}", &base32(&tail)[..6]);
    let mut nonce = [0u8; 12];
    app.platform.fill_random(&mut nonce);
    let locale = text_locale(tenant, opts.locale.as_deref(), phone);
    let text = render_text(app, tenant, &code, locale)?;
    let expires_at = ctx.now_ms + s.ttl_secs as i64 * 1000;
    let out = Outgoing {
        tenant,
        kind: MessageKind::Otp,
        phone,
        info: otp_shared::sms::analyze(&text),
        text,
        deadline_ms: expires_at,
        hits: vec![send_window(app, tenant, phone.as_str())],
        verification_id: Some(id.clone()),
        fraud: fraud::guard_send_for(app, tenant, fraud::watched_for(&app.secrets, ctx, phone))
            .await,
    };
    // The verification remembers its end user's key, so an approval credits them.
    let end_user = ctx.end_user().map(|u| u.watched(&app.secrets).key);
    let mut prepared = dispatch::charge(app, ctx, out).await?;
    let code_kind = opts.code_type.unwrap_or(s.code_type);
    prepared.tag_conversion(converted::tags_for(tenant, phone, code_kind, locale));
    let v = VerificationRecord {
        code_hmac: rules::code_hmac(
            &app.secrets.code_hmac,
            &id,
            &rules::normalize(code_type, &code),
        ),
        code_sealed: sealing::seal(&app.secrets.seal, &id, nonce, &code),
        id,
        tenant_id: tenant.id.clone(),
        phone: phone.as_str().to_string(),
        code_kind,
        status: VerificationStatus::Pending,
        checks: 0,
        max_checks: s.max_checks,
        sends: 1,
        created_at: ctx.now_ms,
        expires_at,
        verified_at: 0,
        message_ids: vec![prepared.message_id().to_string()],
        request_id: ctx.request_id.clone(),
        phone_failures: FailureWindow::default(),
        end_user,
        reverse: None,
    };
    let start = repo::verifications::start_write(&slot, &v);
    let recorded = match dispatch::record(app, ctx, &prepared, Some(&start), Some(first)).await {
        Ok(r) => r,
        Err(e) => {
            dispatch::abandon(app, &prepared).await;
            return Err(e);
        }
    };
    let canceled = {
        let (slot, mut v) = (slot.clone(), v.clone());
        v.status = VerificationStatus::Canceled;
        Box::new(move |version: &str| repo::verifications::update_write(&slot, &v, version)) as Undo
    };
    let handed = dispatch::deliver(app, ctx, prepared, recorded, Some(canceled)).await?;
    ctx.count(&tenant.id, Event::OtpSent);
    converted::count(app, ctx, &handed.message, Figure::Sent, None).await;
    Ok(Sent {
        verification: v,
        message_id: handed.message.id,
        delivery_state: handed.message.state,
        channel: handed
            .message
            .channel
            .clone()
            .unwrap_or_else(|| "phone".into()),
        gateway_id: handed.message.gateway_id,
    })
}

/// Finds the verification a resend or check names: by id, by phone, or by both (which must
/// agree). Returns it with its slot and version.
pub async fn find_verification<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    id: Option<&str>,
    phone: Option<&Phone>,
) -> Result<(VerificationRecord, String, String), Error> {
    let not_found = || Error::new(ErrorCode::VerificationNotFound);
    let id = id.filter(|i| !i.is_empty());
    let slot = match (id, phone) {
        (Some(id), phone) => {
            let slot = slot_of_id(id).ok_or_else(not_found)?.to_string();
            if phone.is_some_and(|p| app.secrets.verification_slot(&tenant.id, p.as_str()) != slot)
            {
                return Err(Error::msg(
                    ErrorCode::ValidationFailed,
                    "phone is not the number of this verification",
                ));
            }
            slot
        }
        (None, Some(phone)) => app.secrets.verification_slot(&tenant.id, phone.as_str()),
        (None, None) => {
            return Err(Error::msg(
                ErrorCode::PhoneRequired,
                "Phone number or verification id is required",
            ))
        }
    };
    let (v, version) = app
        .repo()
        .get_verification(&slot)
        .await?
        .ok_or_else(not_found)?;
    if v.tenant_id != tenant.id
        || id.is_some_and(|id| id != v.id)
        || v.status == VerificationStatus::Canceled
    {
        return Err(not_found());
    }
    Ok((v, slot, version))
}

pub async fn resend_otp<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    id: Option<&str>,
    phone: Option<&Phone>,
    first: &FirstCommit<'_>,
) -> Result<Sent, Error> {
    dispatch::sending_allowed_for(app, tenant, ctx)?;
    let mut prepared = None;
    for _ in 0..RACE_RETRIES {
        let (mut v, slot, version) = find_verification(app, tenant, id, phone).await?;
        if v.reverse.is_some() {
            return give_up(app, prepared, ErrorCode::ReverseNothingToSend).await;
        }
        match v.status {
            VerificationStatus::Pending if v.expires_at > ctx.now_ms => {}
            VerificationStatus::Approved => {
                return give_up(app, prepared, ErrorCode::AlreadyVerified).await
            }
            VerificationStatus::Exhausted => {
                return give_up(app, prepared, ErrorCode::TooManyAttempts).await
            }
            _ => return give_up(app, prepared, ErrorCode::VerificationExpired).await,
        }
        let Some(code) = sealing::open(&app.secrets.seal, &v.id, &v.code_sealed) else {
            return give_up(app, prepared, ErrorCode::Internal).await;
        };
        let number = Phone::parse(&v.phone).map_err(|_| Error::new(ErrorCode::Internal))?;
        if prepared.is_none() {
            // The tenant's geo permissions may have narrowed since the first send.
            destination::check_destination(app, tenant, &number).await?;
        }
        let locale = text_locale(tenant, None, &number);
        let text = render_text(app, tenant, &code, locale)?;
        let p = match prepared.take() {
            Some(mut p) => {
                // A concurrent send may have replaced the verification: the text follows it.
                crate::service::messaging::dispatch::Prepared::retext(&mut p, text, v.expires_at);
                p
            }
            None => {
                let out = Outgoing {
                    tenant,
                    kind: MessageKind::Otp,
                    phone: &number,
                    info: otp_shared::sms::analyze(&text),
                    text,
                    deadline_ms: v.expires_at,
                    hits: vec![send_window(app, tenant, &v.phone)],
                    verification_id: Some(v.id.clone()),
                    fraud: fraud::guard_send_for(
                        app,
                        tenant,
                        fraud::watched_for(&app.secrets, ctx, &number),
                    )
                    .await,
                };
                let mut p = dispatch::charge(app, ctx, out).await?;
                p.tag_conversion(converted::tags_for(tenant, &number, v.code_kind, locale));
                p
            }
        };
        v.sends += 1;
        v.message_ids.push(p.message_id().to_string());
        let update = repo::verifications::update_write(&slot, &v, &version);
        match dispatch::record(app, ctx, &p, Some(&update), Some(first)).await {
            Ok(recorded) => {
                let undone = {
                    let (slot, mut before) = (slot.clone(), v.clone());
                    // A failed resend leaves the earlier, delivered code usable.
                    before.sends -= 1;
                    before.message_ids.pop();
                    Box::new(move |version: &str| {
                        repo::verifications::update_write(&slot, &before, version)
                    }) as Undo
                };
                let handed = dispatch::deliver(app, ctx, p, recorded, Some(undone)).await?;
                ctx.count(&tenant.id, Event::OtpResent);
                converted::count(app, ctx, &handed.message, Figure::Sent, None).await;
                return Ok(Sent {
                    verification: v,
                    message_id: handed.message.id,
                    delivery_state: handed.message.state,
                    channel: handed
                        .message
                        .channel
                        .clone()
                        .unwrap_or_else(|| "phone".into()),
                    gateway_id: handed.message.gateway_id,
                });
            }
            Err(e) if e.is(ErrorCode::Conflict) => prepared = Some(p),
            Err(e) => return give_up(app, Some(p), e.code).await.map_err(|_| e),
        }
    }
    give_up(app, prepared, ErrorCode::Conflict).await
}

async fn give_up<P: Platform, T>(
    app: &App<P>,
    prepared: Option<crate::service::messaging::dispatch::Prepared>,
    code: ErrorCode,
) -> Result<T, Error> {
    if let Some(p) = prepared {
        dispatch::abandon(app, &p).await;
    }
    Err(Error::new(code))
}

pub async fn verify_otp<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    id: Option<&str>,
    phone: Option<&Phone>,
    code: &str,
    first: &FirstCommit<'_>,
) -> Result<CheckResult, Error> {
    admission::admit(app, ctx, tenant, Vec::new(), false).await?;
    let s = &tenant.settings;
    for _ in 0..RACE_RETRIES {
        let (mut v, slot, version) = find_verification(app, tenant, id, phone).await?;
        if v.reverse.is_some() {
            return reverse_status(app, ctx, &slot, v, &version, code, first).await;
        }
        if code.trim().is_empty() {
            return Err(Error::new(ErrorCode::CodeRequired));
        }
        match v.status {
            VerificationStatus::Pending => {}
            VerificationStatus::Approved => return Err(Error::new(ErrorCode::AlreadyVerified)),
            VerificationStatus::Exhausted => return Err(Error::new(ErrorCode::TooManyAttempts)),
            _ => return Err(Error::new(ErrorCode::VerificationExpired)),
        }
        if v.expires_at <= ctx.now_ms {
            v.status = VerificationStatus::Expired;
            if commit_check(app, ctx, &slot, &v, &version, first)
                .await
                .is_ok()
            {
                ctx.count(&tenant.id, Event::OtpExpired);
            }
            return Err(Error::new(ErrorCode::VerificationExpired));
        }
        if v.checks >= v.max_checks {
            return Err(Error::new(ErrorCode::TooManyAttempts));
        }
        let locked = v.phone_failures.locked_for(
            ctx.now_ms,
            s.max_failed_checks_per_hour,
            s.max_failed_checks_per_day,
        );
        if let Some(wait) = locked {
            return Err(Error::new(ErrorCode::PhoneLocked).retry_after(wait));
        }
        let kind = match v.code_kind {
            CodeKind::Words => CodeType::Words { count: 1 },
            CodeKind::Digits => CodeType::Digits { len: 6 },
        };
        let matched = rules::hmac_matches(
            &app.secrets.code_hmac,
            &v.id,
            &rules::normalize(kind, code),
            &v.code_hmac,
        );
        v.checks += 1;
        if matched {
            v.status = VerificationStatus::Approved;
            v.verified_at = ctx.now_ms;
        } else {
            v.phone_failures = v.phone_failures.record_failure(ctx.now_ms);
            if v.checks >= v.max_checks {
                v.status = VerificationStatus::Exhausted;
            }
        }
        match commit_check(app, ctx, &slot, &v, &version, first).await {
            Ok(()) => {}
            Err(e) if e.is(ErrorCode::Conflict) => continue,
            Err(e) => return Err(e),
        }
        if matched {
            ctx.count(&tenant.id, Event::OtpApproved);
            ctx.defer(crate::service::ops::later::Later::EndUserSeen {
                tenant_id: tenant.id.clone(),
                slot: slot.clone(),
                at_ms: ctx.now_ms,
            });
            count_verified(app, ctx, &v).await;
            if let Ok(number) = Phone::parse(&v.phone) {
                let mut keys: Vec<String> =
                    crate::service::abuse::fraud::rules::destination(&number)
                        .into_iter()
                        .map(|w| w.key)
                        .collect();
                keys.extend(v.end_user.clone());
                fraud::guard_approved(ctx, tenant, keys);
            }
            return Ok(CheckResult::Approved(v));
        }
        ctx.count(&tenant.id, Event::OtpFailed);
        return Ok(CheckResult::WrongCode {
            attempts_left: v.max_checks - v.checks,
            verification: v,
        });
    }
    Err(Error::msg(
        ErrorCode::Conflict,
        "Too many concurrent checks of this verification; retry",
    ))
}

/// `verify` of a reverse verification: the user's SMS approves it, so the call only reads the
/// outcome (as often as asked). Approved answers as an approved code does; still waiting is
/// `verification_pending`; a code is refused (the user texts the words, nobody types them).
async fn reverse_status<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    slot: &str,
    mut v: VerificationRecord,
    version: &str,
    code: &str,
    first: &FirstCommit<'_>,
) -> Result<CheckResult, Error> {
    if !code.trim().is_empty() {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "a reverse verification is approved by the user's SMS: call verify without a code",
        ));
    }
    match v.status {
        VerificationStatus::Approved => Ok(CheckResult::Approved(v)),
        VerificationStatus::Pending if v.expires_at > ctx.now_ms => {
            let to = v.reverse.as_ref().map(|r| r.number.clone());
            Err(
                Error::new(ErrorCode::VerificationPending).details(serde_json::json!({
                    "to": to,
                    "expires_in": (v.expires_at - ctx.now_ms) / 1000,
                })),
            )
        }
        VerificationStatus::Pending => {
            v.status = VerificationStatus::Expired;
            if commit_check(app, ctx, slot, &v, version, first)
                .await
                .is_ok()
            {
                ctx.count(&v.tenant_id, Event::OtpExpired);
            }
            Err(Error::new(ErrorCode::VerificationExpired))
        }
        _ => Err(Error::new(ErrorCode::VerificationExpired)),
    }
}

/// Credits an approval to the text that carried the code last (its phone and SIM): one read of
/// that message (two when the stuck sweep moved it). A store that does not answer loses this
/// approval's conversion figure, never the approval.
async fn count_verified<P: Platform>(app: &App<P>, ctx: &Ctx, v: &VerificationRecord) {
    let Some(mut id) = v.message_ids.last().cloned() else {
        return;
    };
    for _ in 0..2 {
        let Ok(Some(m)) = app.repo().get_message(&id).await else {
            return;
        };
        match m.rerouted_to.clone() {
            Some(next) if m.state != crate::service::model::DeliveryState::Sent => id = next,
            _ => {
                let ttv = ctx.now_ms - v.created_at;
                return converted::count(app, ctx, &m, Figure::Verified, Some(ttv)).await;
            }
        }
    }
}

/// A check's change, guarded by the version read, with the request's key claim and, when it
/// makes the verification final, its webhook event.
async fn commit_check<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    slot: &str,
    v: &VerificationRecord,
    version: &str,
    first: &FirstCommit<'_>,
) -> Result<(), Error> {
    let events: Vec<_> =
        crate::service::ops::webhooks::events::Event::for_verification(v, ctx.now_ms)
            .into_iter()
            .collect();
    let (hooks, hook_ids) = targets::webhook_writes_for(app, &v.tenant_id, &events).await?;
    let mut writes = vec![repo::verifications::update_write(slot, v, version)];
    writes.extend(hooks);
    writes.extend(first.claim_write());
    match app.repo().commit(writes).await {
        Ok(_) => {
            first.landed();
            targets::defer_webhooks(ctx, hook_ids);
            Ok(())
        }
        Err(
            crate::store::StoreError::PreconditionFailed(_)
            | crate::store::StoreError::AlreadyExists
            | crate::store::StoreError::Aborted(_),
        ) => Err(dispatch::lost_race(app, ctx).await),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_slot() {
        let slot = "abcdefghjkmnpqrstvwx";
        let id = format!("ver_{slot}z9y8x7");
        assert_eq!(slot_of_id(&id), Some(slot));
        assert_eq!(slot_of_id("ver_short"), None);
        assert_eq!(slot_of_id(&format!("msg_{slot}z9y8x7")), None);
        assert_eq!(slot_of_id(&format!("ver_{slot}z9y8/7")), None);
    }

    #[test]
    fn weak_code_choices_are_refused_with_the_odds() {
        let mut t = Tenant {
            id: "t_1".into(),
            name: "T".into(),
            status: Default::default(),
            quota_total: 0,
            quota_expires_at: 0,
            contact_phone: None,
            settings: Default::default(),
            kill_switch: false,
            created_at: 0,
            updated_at: 0,
        };
        assert!(code_type_of(&t, None).is_ok());
        t.settings.word_count = 1;
        let e = code_type_of(&t, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::CodeTooWeak);
        assert!(e.message.contains("1 time in"), "{}", e.message);
        t.settings.max_checks = 1;
        assert!(code_type_of(&t, None).is_ok());
    }
}
