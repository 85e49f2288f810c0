//! OTP verifications: send, resend, verify. The rules (code generation, normalisation, hashing,
//! the state machine) are in `otp_shared::otp`; this module orders the I/O so that nothing is
//! charged or half written when a step fails.

use otp_shared::otp::{self as rules, CodeType};
use otp_shared::phone::Phone;
use otp_shared::wire::{MessageKind, SendRequest};

use super::gateway::{self, Dispatch};
use super::keys::sha256_hex;
use super::model::{CodeKind, Tenant, VerificationRecord, VerificationStatus};
use super::ratelimit::RateRule;
use super::sealing;
use crate::api::app::{App, Ctx};
use crate::api::error::{ApiError, ErrorCode};
use crate::platform::{new_id, Platform, PlatformRng};

/// Caller's choices for one send; `None` takes the tenant's setting.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    pub code_type: Option<CodeKind>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub verification: VerificationRecord,
    pub message_id: String,
    /// queued, unknown.
    pub delivery_state: String,
    pub gateway_id: String,
}

#[derive(Debug, Clone)]
pub enum Checked {
    Approved(VerificationRecord),
}

pub fn code_type_of(tenant: &Tenant, kind: Option<CodeKind>) -> Result<CodeType, ApiError> {
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
        .map_err(|e| ApiError::msg(ErrorCode::CodeTypeInvalid, e.to_string()))?;
    Ok(ct)
}

/// The per-phone send window (`max_sends` per `send_window_secs`), shared by send and resend.
async fn count_send<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    phone: &Phone,
) -> Result<(), ApiError> {
    let s = &tenant.settings;
    let key = format!("sends:{}:{}", tenant.id, sha256_hex(phone.as_str()));
    app.rate_check(
        &key,
        RateRule {
            limit: s.max_sends,
            window_secs: s.send_window_secs,
        },
        true,
    )
    .await
    .map_err(|e| match e.code {
        ErrorCode::RateLimited => {
            ApiError::new(ErrorCode::TooManySends).retry_after(e.retry_after_secs.unwrap_or(1))
        }
        _ => e,
    })
}

pub fn ensure_sending_allowed<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    global_switch: bool,
) -> Result<(), ApiError> {
    if app.cfg.kill_switch || global_switch {
        return Err(ApiError::msg(
            ErrorCode::SendingDisabled,
            "Sending is stopped by the service's kill switch",
        ));
    }
    if tenant.kill_switch {
        return Err(ApiError::msg(
            ErrorCode::SendingDisabled,
            "Sending is stopped for this account",
        ));
    }
    Ok(())
}

pub async fn send<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    phone: &Phone,
    opts: &SendOptions,
    ctx: &Ctx,
) -> Result<Sent, ApiError> {
    ensure_sending_allowed(app, tenant, app.global_kill_switch(ctx).await?)?;
    let code_type = code_type_of(tenant, opts.code_type)?;
    count_send(app, tenant, phone).await?;

    let p = &app.platform;
    let code = rules::generate(code_type, &mut PlatformRng(p));
    let id = new_id(p, "ver");
    let mut nonce = [0u8; 12];
    p.fill_random(&mut nonce);
    let s = &tenant.settings;
    let verification = VerificationRecord {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        phone: phone.as_str().to_string(),
        code_hmac: rules::code_hmac(
            &app.cfg.otp_secret,
            &id,
            &rules::normalize(code_type, &code),
        ),
        code_kind: opts.code_type.unwrap_or(s.code_type),
        status: VerificationStatus::Pending,
        checks: 0,
        max_checks: s.max_checks,
        sends: 1,
        created_at: ctx.now_ms,
        expires_at: ctx.now_ms + s.ttl_secs as i64 * 1000,
        verified_at: 0,
        message_ids: Vec::new(),
        request_id: ctx.request_id.clone(),
        code_sealed: sealing::seal(&app.cfg.otp_secret, &id, nonce, &code),
    };
    let locale = opts.locale.clone().unwrap_or_else(|| s.locale.clone());
    deliver_counted(app, tenant, verification, &code, &locale, "otp_sent", ctx).await
}

/// [`deliver`], counting `event` when the message goes out.
async fn deliver_counted<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    v: VerificationRecord,
    code: &str,
    locale: &str,
    event: &str,
    ctx: &Ctx,
) -> Result<Sent, ApiError> {
    let sent = deliver(app, tenant, v, code, locale, ctx).await?;
    ctx.count(&tenant.id, event);
    Ok(sent)
}

/// Writes the verification and its message together with the quota unit they cost, then hands the
/// SMS to a gateway. A refused dispatch cancels the verification, fails the message and refunds the
/// unit, so nothing stays pending or charged that was never sent.
async fn deliver<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    mut v: VerificationRecord,
    code: &str,
    locale: &str,
    ctx: &Ctx,
) -> Result<Sent, ApiError> {
    let p = &app.platform;
    let text = render_text(app, tenant, code, locale)?;
    let info = otp_shared::sms::analyze(&text);
    let message_id = new_id(p, "msg");
    v.message_ids.push(message_id.clone());
    let phone = Phone::parse(&v.phone).map_err(|_| ApiError::new(ErrorCode::Internal))?;
    let mut message = super::messages::dispatching(
        message_id.clone(),
        tenant,
        MessageKind::Otp,
        &phone,
        &info,
        ctx,
    );
    let writes = crate::service::repo::Repo::verification_writes(&v, &message, v.sends == 1);
    let (shard, times) = super::quota::debit(app, tenant, writes, ctx).await?;
    let mut times = times.into_iter();
    let (version, message_version) = (
        times.next().unwrap_or_default(),
        times.next().unwrap_or_default(),
    );
    let req = SendRequest {
        id: message_id.clone(),
        kind: MessageKind::Otp,
        to: v.phone.clone(),
        text,
        expires_at: (v.expires_at / 1000) as u64,
        sim_slot: None,
        tenant_id: tenant.id.clone(),
        request_id: ctx.request_id.clone(),
    };
    let outcome = gateway::dispatch(p, &app.cfg.gateways, app.cfg.gateway_timeout_ms, &req).await;
    let (state, gateway_id) = match &outcome {
        Dispatch::Queued { gateway_id, .. } => ("queued", gateway_id.clone()),
        Dispatch::Unknown { gateway_id, .. } => ("unknown", gateway_id.clone()),
        Dispatch::Refused { .. } => ("failed", String::new()),
    };
    message.state = state.into();
    message.gateway_id = gateway_id.clone();
    message.updated_at = p.now_ms();
    if let Dispatch::Refused { reasons } = outcome {
        message.error = Some(reasons.join("; "));
        if v.sends == 1 {
            v.status = VerificationStatus::Canceled;
        } else {
            // A failed resend leaves the earlier, delivered code usable.
            v.sends -= 1;
            v.message_ids.pop();
        }
        app.repo.update_message(app, &message).await.ok();
        app.repo.update_verification(app, &v, &version).await.ok();
        app.repo.quota_refund(app, &tenant.id, shard).await.ok();
        return Err(ApiError::new(ErrorCode::GatewayUnavailable)
            .details(serde_json::json!({"reasons": message.error})));
    }
    app.repo
        .record_dispatched(app, &message, &message_version)
        .await;
    Ok(Sent {
        verification: v,
        message_id,
        delivery_state: state.into(),
        gateway_id,
    })
}

fn render_text<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    code: &str,
    locale: &str,
) -> Result<String, ApiError> {
    let s = &tenant.settings;
    let minutes = (s.ttl_secs / 60).max(1);
    let app_name = s.app_name.as_deref().unwrap_or(&tenant.name);
    match &s.template {
        Some(t) => otp_shared::templates::render_custom(t, code, minutes, app_name)
            .map_err(|e| ApiError::msg(ErrorCode::TemplateInvalid, e.to_string())),
        None => Ok(otp_shared::templates::render(
            locale,
            code,
            minutes,
            app_name,
            &mut PlatformRng(&app.platform),
        )),
    }
}

/// Finds the verification a resend or verify names: by id, or the phone's live one.
pub async fn find<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    id: Option<&str>,
    phone: Option<&Phone>,
) -> Result<(VerificationRecord, String), ApiError> {
    let not_found = || ApiError::new(ErrorCode::VerificationNotFound);
    let id = id.filter(|i| !i.is_empty());
    let vid = match (id, phone) {
        // Our ids are short and URL-safe; anything else names no verification.
        (Some(id), _)
            if id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            return Err(not_found())
        }
        (Some(id), _) => id.to_string(),
        (None, Some(phone)) => app
            .repo
            .live_verification_id(app, &tenant.id, phone.as_str())
            .await?
            .ok_or_else(not_found)?,
        (None, None) => {
            return Err(ApiError::msg(
                ErrorCode::PhoneRequired,
                "Phone number or verification id is required",
            ))
        }
    };
    let (v, version) = app
        .repo
        .get_verification(app, &vid)
        .await?
        .ok_or_else(not_found)?;
    if v.tenant_id != tenant.id || v.status == VerificationStatus::Canceled {
        return Err(not_found());
    }
    Ok((v, version))
}

pub async fn resend<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    id: Option<&str>,
    phone: Option<&Phone>,
    ctx: &Ctx,
) -> Result<Sent, ApiError> {
    ensure_sending_allowed(app, tenant, app.global_kill_switch(ctx).await?)?;
    let (mut v, _) = find(app, tenant, id, phone).await?;
    match v.status {
        VerificationStatus::Pending if v.expires_at > ctx.now_ms => {}
        VerificationStatus::Approved => return Err(ApiError::new(ErrorCode::AlreadyVerified)),
        VerificationStatus::Exhausted => return Err(ApiError::new(ErrorCode::TooManyAttempts)),
        _ => return Err(ApiError::new(ErrorCode::VerificationExpired)),
    }
    let phone = Phone::parse(&v.phone).map_err(|_| ApiError::new(ErrorCode::Internal))?;
    count_send(app, tenant, &phone).await?;
    let code = sealing::open(&app.cfg.otp_secret, &v.id, &v.code_sealed)
        .ok_or_else(|| ApiError::msg(ErrorCode::Internal, "stored code cannot be opened"))?;
    v.sends += 1;
    let locale = tenant.settings.locale.clone();
    deliver_counted(app, tenant, v, &code, &locale, "otp_resent", ctx).await
}

/// The outcome of one check, as the API reports it.
#[derive(Debug, Clone)]
pub enum CheckResult {
    Approved(VerificationRecord),
    WrongCode { attempts_left: u32 },
}

pub async fn verify<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    id: Option<&str>,
    phone: Option<&Phone>,
    code: &str,
    ctx: &Ctx,
) -> Result<CheckResult, ApiError> {
    if code.trim().is_empty() {
        return Err(ApiError::new(ErrorCode::CodeRequired));
    }
    // Optimistic concurrency: two checks racing on one verification both count.
    for _ in 0..5 {
        let (mut v, version) = find(app, tenant, id, phone).await?;
        match v.status {
            VerificationStatus::Pending => {}
            VerificationStatus::Approved => return Err(ApiError::new(ErrorCode::AlreadyVerified)),
            VerificationStatus::Exhausted => return Err(ApiError::new(ErrorCode::TooManyAttempts)),
            _ => return Err(ApiError::new(ErrorCode::VerificationExpired)),
        }
        if v.expires_at <= ctx.now_ms {
            v.status = VerificationStatus::Expired;
            if app
                .repo
                .update_verification(app, &v, &version)
                .await
                .is_ok()
            {
                ctx.count(&tenant.id, "otp_expired");
            }
            return Err(ApiError::new(ErrorCode::VerificationExpired));
        }
        if v.checks >= v.max_checks {
            return Err(ApiError::new(ErrorCode::TooManyAttempts));
        }
        let kind = match v.code_kind {
            CodeKind::Words => CodeType::Words { count: 1 },
            CodeKind::Digits => CodeType::Digits { len: 6 },
        };
        let matched = rules::hmac_matches(
            &app.cfg.otp_secret,
            &v.id,
            &rules::normalize(kind, code),
            &v.code_hmac,
        );
        v.checks += 1;
        if matched {
            v.status = VerificationStatus::Approved;
            v.verified_at = ctx.now_ms;
        } else if v.checks >= v.max_checks {
            v.status = VerificationStatus::Exhausted;
        }
        match app.repo.update_verification(app, &v, &version).await {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::Conflict => continue,
            Err(e) => return Err(e),
        }
        let event = if matched {
            "otp_approved"
        } else {
            "otp_failed"
        };
        ctx.count(&tenant.id, event);
        if matched {
            app.repo
                .clear_live_verification(app, &tenant.id, &v.phone, &v.id)
                .await
                .ok();
            return Ok(CheckResult::Approved(v));
        }
        return Ok(CheckResult::WrongCode {
            attempts_left: v.max_checks - v.checks,
        });
    }
    Err(ApiError::msg(
        ErrorCode::Conflict,
        "Too many concurrent checks of this verification; retry",
    ))
}
