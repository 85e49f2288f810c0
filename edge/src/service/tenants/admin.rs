//! Tenant lifecycle: creation with its first key, settings changes, suspension, renewal and key
//! rotation. Validation of settings lives here so the admin API and bulk operations share it.

use otp_shared::ids::TenantId;
use otp_shared::otp::{guess_odds, CodeType, MAX_GUESS_ODDS};
use serde::Deserialize;

use crate::error::{Error, ErrorCode};
use crate::platform::{new_id, parse_iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::messaging::dispatch;
use crate::service::model::{ApiKeyRecord, KeyStatus, Tenant, TenantSettings};
use crate::service::tenants::auth;
use crate::service::tenants::keys::{self, AdminRole, NewKey, Role, Scope};
use crate::store::StoreError;

/// Fields an admin may set on create or update; absent fields stay as they are.
/// (`POST /v1/admin/tenants` needs `name`; `PATCH` takes any of them, `settings` as a merge patch.)
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    #[schema(min_length = 1, max_length = 100, example = "Acme")]
    pub name: Option<String>,
    #[schema(minimum = 0)]
    pub quota: Option<i64>,
    /// ISO 8601 date or time; `null` clears.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    /// E.164; `null` clears.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_phone: Option<Option<String>>,
    #[schema(value_type = Option<TenantSettings>)]
    pub settings: Option<serde_json::Value>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub fn validate_settings(s: &TenantSettings) -> Result<(), Error> {
    let bad = |m: &str| Err(Error::msg(ErrorCode::ValidationFailed, m.to_string()));
    if !(1..=4).contains(&s.word_count) {
        return bad("settings.word_count must be 1 to 4");
    }
    if !(4..=10).contains(&s.digit_length) {
        return bad("settings.digit_length must be 4 to 10");
    }
    if !(30..=86_400).contains(&s.ttl_secs) {
        return bad("settings.ttl_secs must be 30 to 86400");
    }
    if !(1..=1000).contains(&s.max_failed_checks_per_hour)
        || !(s.max_failed_checks_per_hour..=10_000).contains(&s.max_failed_checks_per_day)
    {
        return bad("settings.max_failed_checks_per_hour must be 1 to 1000 and max_failed_checks_per_day at least that, up to 10000");
    }
    if !(1..=20).contains(&s.max_checks) {
        return bad("settings.max_checks must be 1 to 20");
    }
    if !(1..=50).contains(&s.max_sends) || !(60..=86_400).contains(&s.send_window_secs) {
        return bad("settings.max_sends must be 1 to 50 and settings.send_window_secs 60 to 86400");
    }
    for (name, r) in s.limits.named() {
        if r.limit == 0 || r.limit > 1_000_000 || r.window_secs == 0 || r.window_secs > 86_400 {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                format!("settings.limits.{name}: rate limits need limit 1 to 1000000 and window_secs 1 to 86400"),
            ));
        }
    }
    // Both code types can be asked for per send: neither may be easier to guess than the floor.
    for ct in [
        CodeType::Words {
            count: s.word_count,
        },
        CodeType::Digits {
            len: s.digit_length,
        },
    ] {
        let odds = guess_odds(ct, s.max_checks);
        if odds > MAX_GUESS_ODDS {
            return Err(Error::msg(
                ErrorCode::CodeTooWeak,
                format!(
                    "{ct:?} with {} checks can be guessed 1 time in {:.0} per verification; \
                     the floor is 1 in {:.0} (fewer checks or a longer code)",
                    s.max_checks,
                    1.0 / odds,
                    1.0 / MAX_GUESS_ODDS
                ),
            )
            .details(serde_json::json!({"guess_odds": odds, "max_guess_odds": MAX_GUESS_ODDS})));
        }
    }
    if s.cors_origins.len() > 20 {
        return bad("settings.cors_origins holds at most 20 origins");
    }
    if let Some(o) = s
        .cors_origins
        .iter()
        .find(|o| !crate::service::ops::cors::is_origin(o))
    {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            format!("settings.cors_origins: {o:?} is not an origin such as https://shop.example (scheme, host, optional port; lower case; no path)"),
        ));
    }
    if !(1..=100).contains(&s.share_weight) {
        return bad("settings.share_weight must be 1 to 100");
    }
    if s.fallback_monthly_cap > 1_000_000 {
        return bad("settings.fallback_monthly_cap must be 0 (off) to 1000000 codes a month");
    }
    Ok(())
}

/// The error for a refused template or extra line.
fn template_error(e: otp_shared::templates::TemplateError) -> Error {
    let code = match e.code() {
        "webotp_host_invalid" => ErrorCode::WebOtpHostInvalid,
        "app_hash_invalid" => ErrorCode::AppHashInvalid,
        _ => ErrorCode::TemplateInvalid,
    };
    Error::msg(code, e.to_string())
}

/// The OTP text settings of `t`: the WebOTP host and app hash well formed, and a custom template
/// that fits one SMS in the worst case of this tenant (the longest code of either type, its app
/// name, its validity and its extra lines), or the reason with the figures.
pub fn validate_texts(t: &Tenant) -> Result<(), Error> {
    use otp_shared::templates::{validate_app_hash, validate_custom_with, validate_webotp_host};
    let s = &t.settings;
    s.webotp_host
        .as_deref()
        .map(validate_webotp_host)
        .transpose()
        .map_err(template_error)?;
    s.app_hash
        .as_deref()
        .map(validate_app_hash)
        .transpose()
        .map_err(template_error)?;
    let Some(template) = &s.template else {
        return Ok(());
    };
    // A send may ask for either code type: the template must fit both.
    for code_type in [
        CodeType::Words {
            count: s.word_count,
        },
        CodeType::Digits {
            len: s.digit_length,
        },
    ] {
        let limits = otp_shared::templates::TemplateLimits {
            code_type,
            app: Some(s.app_name.as_deref().unwrap_or(&t.name)),
            minutes: Some((s.ttl_secs / 60).max(1)),
            webotp_host: s.webotp_host.as_deref(),
            app_hash: s.app_hash.as_deref(),
        };
        validate_custom_with(template, &limits).map_err(template_error)?;
    }
    Ok(())
}

/// Applies `input` to `t` (a new or existing tenant).
pub fn apply(t: &mut Tenant, input: &TenantInput) -> Result<(), Error> {
    if let Some(name) = &input.name {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "name must be 1 to 100 characters",
            ));
        }
        t.name = name.to_string();
    }
    if let Some(q) = input.quota {
        if !(0..=100_000_000).contains(&q) {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "quota must be 0 to 100000000",
            ));
        }
        t.quota_total = q;
    }
    if let Some(exp) = &input.expires_at {
        t.quota_expires_at = match exp {
            None => 0,
            Some(s) => parse_iso8601(s).ok_or_else(|| {
                Error::msg(
                    ErrorCode::ValidationFailed,
                    "expires_at must be an ISO 8601 date such as 2027-01-31",
                )
            })?,
        };
    }
    if let Some(cp) = &input.contact_phone {
        t.contact_phone = match cp {
            None => None,
            Some(s) => {
                // Notices go to it by SMS: it must be able to receive one.
                let phone = crate::service::abuse::numbers::parse_required(Some(s), None)?;
                crate::service::abuse::numbers::sms_allowed(&phone, false)?;
                Some(phone.as_str().to_string())
            }
        };
    }
    if let Some(patch) = &input.settings {
        check_limit_names(patch)?;
        let mut merged = serde_json::to_value(&t.settings).expect("settings serialise");
        merge(&mut merged, patch);
        t.settings = serde_json::from_value(merged)
            .map_err(|e| Error::msg(ErrorCode::ValidationFailed, format!("settings: {e}")))?;
        validate_settings(&t.settings)?;
        t.settings.geo.normalize()?;
    }
    if input.settings.is_some() || input.name.is_some() {
        // The tenant's name is the default app name a template is measured with.
        validate_texts(t)?;
    }
    Ok(())
}

/// The rate limits a patch names must exist: a misspelt route (`verfy`) is refused, not ignored.
fn check_limit_names(patch: &serde_json::Value) -> Result<(), Error> {
    const KNOWN: [&str; 7] = [
        "per_endpoint",
        "per_ip",
        "per_phone",
        "send",
        "resend",
        "verify",
        "messages",
    ];
    let Some(limits) = patch.get("limits").and_then(|l| l.as_object()) else {
        return Ok(());
    };
    match limits.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        Some(k) => Err(Error::msg(
            ErrorCode::ValidationFailed,
            format!(
                "settings.limits.{k} is not a limit; the limits are {}",
                KNOWN.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// JSON merge patch (RFC 7396).
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub struct Created {
    pub tenant: Tenant,
    pub key: NewKey,
}

pub async fn create<P: Platform>(
    app: &App<P>,
    input: &TenantInput,
    now: i64,
) -> Result<Created, Error> {
    if input.name.is_none() {
        return Err(Error::msg(ErrorCode::ValidationFailed, "name is required"));
    }
    let mut t = Tenant::new(new_id(&app.platform, "t"), String::new(), now);
    apply(&mut t, input)?;
    let key = keys::generate(&app.platform, Role::Tenant);
    let record = ApiKeyRecord {
        prefix: key.prefix.clone(),
        key_sha256: key.sha256.clone(),
        role: Role::Tenant,
        tenant_id: t.id.clone(),
        status: KeyStatus::Active,
        expires_at: 0,
        created_at: now,
        label: "primary".into(),
        admin_role: None,
        scopes: Vec::new(),
        replaced_by: None,
    };
    app.repo().create_tenant(&t, &record).await?;
    Ok(Created { tenant: t, key })
}

/// An admin key of its own with a role (admins can be told apart in the audit log by its prefix).
pub async fn create_admin_key<P: Platform>(
    app: &App<P>,
    label: &str,
    role: AdminRole,
    expires_at: i64,
    now: i64,
) -> Result<NewKey, Error> {
    let key = keys::generate(&app.platform, Role::Admin);
    let record = ApiKeyRecord {
        prefix: key.prefix.clone(),
        key_sha256: key.sha256.clone(),
        role: Role::Admin,
        tenant_id: TenantId::default(),
        status: KeyStatus::Active,
        expires_at,
        created_at: now,
        label: label.to_string(),
        admin_role: Some(role),
        scopes: Vec::new(),
        replaced_by: None,
    };
    app.repo().put_key(&record).await?;
    Ok(key)
}

/// Another key of a tenant, limited to `scopes` (none: all), beside its other keys. `ctx`'s
/// `Idempotency-Key` claim, if any, rides in the same commit.
pub async fn create_tenant_key<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    label: &str,
    scopes: Vec<Scope>,
    expires_at: i64,
    first: Option<&FirstCommit<'_>>,
) -> Result<(NewKey, ApiKeyRecord), Error> {
    let now = ctx.now_ms;
    let key = keys::generate(&app.platform, Role::Tenant);
    let record = ApiKeyRecord {
        prefix: key.prefix.clone(),
        key_sha256: key.sha256.clone(),
        role: Role::Tenant,
        tenant_id: tenant.id.clone(),
        status: KeyStatus::Active,
        expires_at,
        created_at: now,
        label: label.to_string(),
        admin_role: None,
        scopes,
        replaced_by: None,
    };
    let mut writes = vec![crate::service::repo::keys::create_write(&record)];
    writes.extend(first.and_then(FirstCommit::claim_write));
    let done = app.repo().commit(writes).await.map(|_| ());
    settle_key_commit(app, ctx, done, first).await?;
    Ok((key, record))
}

/// Stops one of `tenant`'s own keys at once (a tenant revoking its keys); another tenant's key, or
/// an admin key, is not found. Guarded by the version read; the claim rides in the commit.
pub async fn revoke_own_key<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    prefix: &str,
    first: &FirstCommit<'_>,
) -> Result<ApiKeyRecord, Error> {
    let Some((mut key, version)) = app.repo().get_key_versioned(prefix).await? else {
        return Err(Error::new(ErrorCode::KeyNotFound));
    };
    if key.role != Role::Tenant || key.tenant_id != tenant.id {
        return Err(Error::new(ErrorCode::KeyNotFound));
    }
    key.status = KeyStatus::Revoked;
    let mut writes = vec![crate::store::Write::set(format!("api_keys/{prefix}"), &key)
        .precondition(crate::store::Precondition::UpdateTime(version))];
    writes.extend(first.claim_write());
    let done = app.repo().commit(writes).await.map(|_| ());
    settle_key_commit(app, ctx, done, Some(first)).await?;
    auth::forget_cached_keys(app);
    Ok(key)
}

/// A new admin key with the role and label of `prefix`'s; the old one works `grace_secs` more
/// (0: stops now). One commit, the old key guarded by the version read: two rotations of the
/// same key cannot both win.
pub async fn rotate_admin_key<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    prefix: &str,
    grace_secs: i64,
    now: i64,
) -> Result<(NewKey, ApiKeyRecord, ApiKeyRecord), Error> {
    let Some((old, version)) = app.repo().get_key_versioned(prefix).await? else {
        return Err(Error::new(ErrorCode::KeyNotFound));
    };
    if old.role != Role::Admin || !old.live(now) {
        return Err(Error::msg(
            ErrorCode::KeyNotFound,
            "No live admin key has this prefix (tenant keys rotate with their tenant)",
        ));
    }
    if old.replaced_by.is_some() {
        return Err(Error::msg(
            ErrorCode::Conflict,
            "This admin key was already rotated: rotate the key that replaced it",
        ));
    }
    let key = keys::generate(&app.platform, Role::Admin);
    let record = ApiKeyRecord {
        prefix: key.prefix.clone(),
        key_sha256: key.sha256.clone(),
        role: Role::Admin,
        tenant_id: TenantId::default(),
        status: KeyStatus::Active,
        expires_at: old.expires_at,
        created_at: now,
        label: old.label.clone(),
        admin_role: Some(old.admin_role()),
        scopes: Vec::new(),
        replaced_by: None,
    };
    let mut ended = old;
    ended.replaced_by = Some(key.prefix.clone());
    let until = now + grace_secs.max(0) * 1000;
    if ended.expires_at == 0 || ended.expires_at > until {
        ended.expires_at = until;
    }
    // An admin route: its key's claim was committed by the pipeline (`Claimed`).
    let done = app
        .repo()
        .replace_key(&record, &ended, &version, None)
        .await;
    settle_key_commit(app, ctx, done, None).await?;
    auth::forget_cached_keys(app);
    Ok((key, record, ended))
}

/// A new key; the tenant's other live keys keep working for `grace_secs`, then stop.
/// `ctx`'s `Idempotency-Key` claim, if any, rides in the same commit.
pub async fn rotate_key<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    grace_secs: i64,
    now: i64,
    first: Option<&FirstCommit<'_>>,
) -> Result<(NewKey, i64), Error> {
    let key = keys::generate(&app.platform, Role::Tenant);
    let record = ApiKeyRecord {
        prefix: key.prefix.clone(),
        key_sha256: key.sha256.clone(),
        role: Role::Tenant,
        tenant_id: tenant.id.clone(),
        status: KeyStatus::Active,
        expires_at: 0,
        created_at: now,
        label: "rotated".into(),
        admin_role: None,
        scopes: Vec::new(),
        replaced_by: None,
    };
    let old_until = now + grace_secs.max(0) * 1000;
    let claim = first.and_then(FirstCommit::claim_write);
    let done = app
        .repo()
        .rotate_keys(&tenant.id, &record, old_until, claim)
        .await;
    settle_key_commit(app, ctx, done, first).await?;
    auth::forget_cached_keys(app);
    Ok((key, old_until))
}

/// Stops a key at once (any role). Every isolate refuses it within the key cache's lifetime.
pub async fn revoke_key<P: Platform>(app: &App<P>, prefix: &str) -> Result<ApiKeyRecord, Error> {
    let mut key = app
        .repo()
        .get_key(prefix)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::KeyNotFound))?;
    key.status = KeyStatus::Revoked;
    app.repo().update_key(&key).await?;
    auth::forget_cached_keys(app);
    Ok(key)
}

/// The outcome of a key commit guarded by the version read: the request's claim lands with it,
/// or the guard that lost the race is named (`dispatch::lost_race`).
async fn settle_key_commit<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    done: Result<(), StoreError>,
    first: Option<&FirstCommit<'_>>,
) -> Result<(), Error> {
    match done {
        Ok(()) => {
            if let Some(first) = first {
                first.landed();
            }
            Ok(())
        }
        Err(
            StoreError::PreconditionFailed(_) | StoreError::AlreadyExists | StoreError::Aborted(_),
        ) => Err(dispatch::lost_race(app, ctx).await),
        Err(e) => Err(e.into()),
    }
}
