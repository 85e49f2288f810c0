//! `/v1/admin/*`: operators' routes. The pipeline has checked the admin key; every change writes
//! an audit entry (and so does a backup export, which reads everything).

use otp_shared::ids::{GatewayId, TenantId};
use serde_json::{json, Value};

use super::Call;
use crate::api::body;
use crate::api::http::{ApiRequest, ApiResponse};
use crate::api::render::ok;
use crate::api::requests::{
    AdminKeyBody, BulkBody, GatewayKillSwitchBody, ImportBody, KillSwitchBody, RenewBody,
    RotateBody, ScopedKeyBody,
};
use crate::api::views::admin::{
    AdminKeyCreated, AdminKeyRotated, AdminUsage, BulkItemError, BulkItemResult, BulkResults,
    Deleted, Export, GatewayKillSwitchSet, Imported, Items, KillSwitchSet, TenantKeyRotated,
};
use crate::api::views::{FallbackSpend, KeyList, KeyView, TenantPage, TenantView};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::fleet::links;
use crate::service::fleet::standing;
use crate::service::messaging::fallback;
use crate::service::model::{ApiKeyRecord, Tenant, TenantStatus};
use crate::service::ops::audit;
use crate::service::ops::cors;
use crate::service::ops::notify::{self, Notice};
use crate::service::tenants::admin::{self, TenantInput};
use crate::service::tenants::auth;
use crate::service::tenants::keys::{self, AdminRole, Scope};
use crate::service::tenants::quota;

pub fn tenant_json(t: &Tenant) -> Value {
    serde_json::to_value(TenantView::of(t)).unwrap_or_default()
}

/// A key as admins see it: never the key, never its hash (`views::KeyView`).
pub fn key_json(k: &ApiKeyRecord) -> Value {
    serde_json::to_value(KeyView::of(k)).unwrap_or_default()
}

fn limit_param(req: &ApiRequest, default: usize, max: usize) -> usize {
    req.query_param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

async fn load<P: Platform>(app: &App<P>, id: &str) -> Result<Tenant, Error> {
    app.repo()
        .get_tenant(id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::TenantNotFound))
}

/// Saves a changed tenant; this isolate forgets what it cached about keys at once.
async fn save<P: Platform>(app: &App<P>, t: &Tenant) -> Result<(), Error> {
    app.repo().put_tenant(t).await?;
    auth::forget_cached_keys(app);
    cors::forget_cors_union(app);
    Ok(())
}

/// The request body for the audit log, without anything that could be a secret.
fn redacted(req: &ApiRequest) -> Value {
    let mut v: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("api_key");
    }
    otp_shared::phone::mask_numbers_in(&mut v);
    v
}

pub async fn tenant_create<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let input: TenantInput = body::json(c.req)?;
    let created = admin::create(app, &input, c.ctx.now_ms).await?;
    cors::forget_cors_union(app);
    let t = &created.tenant;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "tenant.create",
        &t.id,
        json!({"name": t.name, "quota": t.quota_total}),
    )
    .await;
    notify::once(app, t, Notice::Welcome, c.ctx).await;
    let data = TenantView {
        api_key: Some(created.key.plain.clone()),
        ..TenantView::of(t)
    };
    Ok(ok(201, data, c.ctx))
}

pub async fn tenant_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let limit = limit_param(c.req, 50, 500);
    let (items, next) = app
        .repo()
        .list_tenants(limit, c.req.query_param("cursor").as_deref())
        .await?;
    let page = TenantPage {
        items: items.iter().map(TenantView::of).collect(),
        next_cursor: next,
    };
    Ok(ok(200, page, c.ctx))
}

pub async fn tenant_get<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let t = load(app, c.param()?).await?;
    let keys = app.repo().keys_of_tenant(&t.id).await?;
    let data = TenantView {
        quota_remaining: Some(quota::quota_remaining(app, &t.id).await?),
        keys: Some(keys.iter().map(KeyView::of).collect()),
        ..TenantView::of(&t)
    };
    Ok(ok(200, data, c.ctx))
}

async fn update<P: Platform>(
    app: &App<P>,
    id: &str,
    input: &TenantInput,
    now: i64,
) -> Result<Tenant, Error> {
    let mut t = load(app, id).await?;
    let old_quota = t.quota_total;
    admin::apply(&mut t, input)?;
    t.updated_at = now;
    save(app, &t).await?;
    if t.quota_total != old_quota {
        quota::quota_adjust(app, &t.id, t.quota_total - old_quota).await?;
    }
    Ok(t)
}

pub async fn tenant_update<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let input: TenantInput = body::json(c.req)?;
    let t = update(app, id, &input, c.ctx.now_ms).await?;
    audit::audit(app, c.ctx, c.actor()?, "tenant.update", id, redacted(c.req)).await;
    Ok(ok(200, TenantView::of(&t), c.ctx))
}

pub async fn tenant_delete<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    load(app, id).await?;
    app.repo().delete_tenant(&TenantId::from(id)).await?;
    auth::forget_cached_keys(app);
    audit::audit(app, c.ctx, c.actor()?, "tenant.delete", id, Value::Null).await;
    Ok(ok(200, Deleted::of(id), c.ctx))
}

pub async fn tenant_suspend<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    suspend: bool,
) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let mut t = load(app, id).await?;
    t.status = if suspend {
        TenantStatus::Suspended
    } else {
        TenantStatus::Active
    };
    t.updated_at = c.ctx.now_ms;
    save(app, &t).await?;
    let action = if suspend {
        "tenant.suspend"
    } else {
        "tenant.resume"
    };
    audit::audit(app, c.ctx, c.actor()?, action, id, Value::Null).await;
    Ok(ok(200, TenantView::of(&t), c.ctx))
}

pub async fn tenant_renew<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let mut t = load(app, id).await?;
    let b: RenewBody = body::json(c.req)?;
    let input = TenantInput {
        quota: Some(b.quota),
        expires_at: Some(b.expires_at.clone()),
        ..Default::default()
    };
    admin::apply(&mut t, &input)?;
    t.status = TenantStatus::Active;
    t.updated_at = c.ctx.now_ms;
    save(app, &t).await?;
    // A renewal starts a new period: the balance is reset to the new quota.
    quota::quota_reset(app, &t.id, t.quota_total).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "tenant.renew",
        id,
        json!({"quota": b.quota, "expires_at": b.expires_at}),
    )
    .await;
    Ok(ok(200, TenantView::of(&t), c.ctx))
}

pub async fn tenant_rotate_key<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let t = load(app, id).await?;
    let b: RotateBody = body::json(c.req)?;
    let grace = b.grace_secs.unwrap_or(86_400).clamp(0, 30 * 86_400);
    let (key, old_until) = admin::rotate_key(app, c.ctx, &t, grace, c.ctx.now_ms, None).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "tenant.rotate_key",
        id,
        json!({"grace_secs": grace, "new_prefix": key.prefix}),
    )
    .await;
    let data = TenantKeyRotated {
        id: id.into(),
        api_key: key.plain,
        old_keys_valid_until: iso8601(old_until),
    };
    Ok(ok(200, data, c.ctx))
}

/// `{"items":[{"op":"create", ...fields}, {"op":"update","id":"t_..", ...fields}]}`: each item is
/// validated and applied on its own; the answer lists a result per item, in order.
pub async fn tenant_bulk<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let b: BulkBody = body::json(c.req)?;
    if b.items.is_empty() || b.items.len() > 100 {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "items must hold 1 to 100 entries",
        ));
    }
    let actor = c.actor()?;
    let mut results = Vec::new();
    for (index, item) in b.items.into_iter().enumerate() {
        let entry = match bulk_item(app, item, c).await {
            Ok(t) => {
                audit::audit(
                    app,
                    c.ctx,
                    actor,
                    "tenant.bulk",
                    &t.id,
                    json!({"index": index}),
                )
                .await;
                BulkItemResult {
                    index,
                    ok: true,
                    data: Some(t),
                    error: None,
                }
            }
            Err(e) => BulkItemResult {
                index,
                ok: false,
                data: None,
                error: Some(BulkItemError {
                    code: e.code.as_str().to_string(),
                    message: e.message,
                }),
            },
        };
        results.push(entry);
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    let data = BulkResults {
        succeeded: results.len() - failed,
        failed,
        results,
    };
    Ok(ok(200, data, c.ctx))
}

async fn bulk_item<P: Platform>(
    app: &App<P>,
    mut item: Value,
    c: &Call<'_>,
) -> Result<TenantView, Error> {
    let obj = item
        .as_object_mut()
        .ok_or_else(|| Error::msg(ErrorCode::ValidationFailed, "each item must be an object"))?;
    let op = obj
        .remove("op")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let id = obj
        .remove("id")
        .and_then(|v| v.as_str().map(str::to_string));
    let input: TenantInput = serde_json::from_value(item)
        .map_err(|e| Error::msg(ErrorCode::ValidationFailed, e.to_string()))?;
    match (op.as_str(), id) {
        ("create", _) => {
            let created = admin::create(app, &input, c.ctx.now_ms).await?;
            notify::once(app, &created.tenant, Notice::Welcome, c.ctx).await;
            Ok(TenantView {
                api_key: Some(created.key.plain.clone()),
                ..TenantView::of(&created.tenant)
            })
        }
        ("update", Some(id)) => Ok(TenantView::of(
            &update(app, &id, &input, c.ctx.now_ms).await?,
        )),
        ("update", None) => Err(Error::msg(
            ErrorCode::ValidationFailed,
            "update needs an id",
        )),
        _ => Err(Error::msg(
            ErrorCode::ValidationFailed,
            "op must be \"create\" or \"update\"",
        )),
    }
}

pub async fn kill_switch<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let b: KillSwitchBody = body::json(c.req)?;
    match &b.tenant_id {
        Some(id) => {
            let mut t = load(app, id).await?;
            t.kill_switch = b.engaged;
            t.updated_at = c.ctx.now_ms;
            save(app, &t).await?;
        }
        None => {
            app.repo().set_global_kill_switch(b.engaged).await?;
            auth::forget_cached_keys(app);
        }
    }
    let scope = b.tenant_id.as_deref().unwrap_or("global");
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "kill_switch",
        b.tenant_id.as_deref().unwrap_or("*"),
        json!({"engaged": b.engaged}),
    )
    .await;
    let data = KillSwitchSet {
        engaged: b.engaged,
        scope: scope.to_string(),
    };
    Ok(ok(200, data, c.ctx))
}

pub async fn gateway_kill_switch<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let b: GatewayKillSwitchBody = body::json(c.req)?;
    if b.reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "reason must be at most 200 characters",
        ));
    }
    let state = links::set_gateway_kill_switch(
        app,
        c.ctx,
        &GatewayId::from(id),
        b.engaged,
        b.reason.clone(),
    )
    .await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "gateway.kill_switch",
        id,
        json!({"engaged": b.engaged, "effective": state.engaged}),
    )
    .await;
    let data = GatewayKillSwitchSet {
        gateway_id: id.into(),
        engaged: state.engaged,
        reason: state.reason,
    };
    Ok(ok(200, data, c.ctx))
}

pub async fn audit_log<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let limit = limit_param(c.req, 100, 1000);
    let entries = app
        .repo()
        .list_audit(limit, c.req.query_param("tenant_id").as_deref())
        .await?;
    // Bodies audited before numbers were masked at write time still show masked.
    let mut items = entries;
    items
        .iter_mut()
        .for_each(otp_shared::phone::mask_numbers_in);
    Ok(ok(200, Items { items }, c.ctx))
}

/// `?tenant_id=`, checked: it names counter documents.
fn tenant_param(c: &Call<'_>) -> Result<Option<TenantId>, Error> {
    match c.req.query_param("tenant_id") {
        Some(t) if !otp_shared::ids::is_plain_id(&t) => Err(Error::msg(
            ErrorCode::ValidationFailed,
            "tenant_id must be a tenant's id",
        )),
        t => Ok(t.map(TenantId::from)),
    }
}

pub async fn usage<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = tenant_param(c)?;
    let scope = tenant.as_deref().unwrap_or("_all");
    let counts = app.repo().event_totals(scope, c.ctx.now_ms).await?;
    let fallback = match &tenant {
        Some(id) => match app.repo().get_tenant(id).await? {
            Some(t) => {
                let spent = fallback::month_usage(app, id, c.ctx.now_ms).await?;
                Some(FallbackSpend::of(t.settings.fallback_monthly_cap, &spent))
            }
            None => None,
        },
        None => None,
    };
    let data = AdminUsage {
        tenant_id: tenant,
        counts,
        fallback,
    };
    Ok(ok(200, data, c.ctx))
}

/// `?granularity=hour|day|week|month&from=YYYY-MM-DD&to=YYYY-MM-DD[&tenant_id=]` (default: today, by hour).
pub async fn analytics<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let scope = tenant_param(c)?.map_or_else(|| "_all".to_string(), String::from);
    super::analytics::report(app, c, &scope).await
}

/// Top-level collections a backup holds; each tenant's quota shards travel with the tenant.
pub const BACKUP_COLLECTIONS: &[&str] = &[
    "tenants",
    "api_keys",
    "verifications",
    "messages",
    "idempotency",
    "counters",
    // When each end user was first and last verified (keyed hashes only): without them a restore
    // would count every returning number as new.
    "end_users",
    "audit",
    "config",
    "notifications",
    "gateway_checks",
    "webhook_endpoints",
    "webhook_deliveries",
    "inbound",
    "optouts",
    "routes",
    // Pointers of live reverse verifications (no secret: a keyed hash names each).
    "reverse",
    "alerts",
    "fleet",
    "canaries",
    "nonces",
    // Enrolled phones (their keys sealed: a restore needs the same OTP_HMAC_SECRET). Enrolment
    // tokens are not kept: they last an hour.
    "enrolled_phones",
];

pub async fn export<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let Some(collection) = c.req.query_param("collection") else {
        let collections = BACKUP_COLLECTIONS.iter().map(|c| c.to_string()).collect();
        return Ok(ok(200, Export::Collections { collections }, c.ctx));
    };
    if !BACKUP_COLLECTIONS.contains(&collection.as_str()) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            format!("collection must be one of {BACKUP_COLLECTIONS:?}"),
        ));
    }
    let limit = limit_param(c.req, 100, 300);
    let cursor = c.req.query_param("cursor");
    let (items, next) = app
        .repo()
        .export_page(&collection, limit, cursor.as_deref())
        .await?;
    // A backup reads everything: who took which page is worth knowing.
    let details =
        json!({"collection": collection, "documents": items.len(), "cursor": cursor.is_some()});
    audit::audit(app, c.ctx, c.actor()?, "export", &collection, details).await;
    let page = Export::Page {
        items,
        next_cursor: next,
    };
    Ok(ok(200, page, c.ctx))
}

pub async fn import<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let b: ImportBody = body::json(c.req)?;
    if b.items.is_empty() || b.items.len() > 200 {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "items must hold 1 to 200 documents",
        ));
    }
    for it in &b.items {
        if !backup_path_ok(&it.path) || !it.data.is_object() {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                format!("not a restorable document: {}", it.path),
            ));
        }
    }
    let written = b.items.len();
    app.repo()
        .import_documents(b.items.into_iter().map(|i| (i.path, i.data)).collect())
        .await?;
    auth::forget_cached_keys(app);
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "import",
        "*",
        json!({"documents": written}),
    )
    .await;
    Ok(ok(200, Imported { written }, c.ctx))
}

/// `collection/id` for a backup collection, or `tenants/{id}/quota_shards/{n}`.
pub fn backup_path_ok(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').collect();
    // Counter and audit ids are longer than other ids; the character set is the same.
    let id_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 200
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
    };
    match segs.as_slice() {
        [c, id] => BACKUP_COLLECTIONS.contains(c) && id_ok(id),
        ["tenants", id, "quota_shards", n] => id_ok(id) && n.parse::<u32>().is_ok(),
        _ => false,
    }
}

pub async fn cron_run<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let summary = crate::service::ops::cron::run(app, c.ctx).await;
    audit::audit(app, c.ctx, c.actor()?, "cron.run", "*", json!(summary)).await;
    Ok(ok(200, summary, c.ctx))
}

/// `expires_in_days` (1 to 3650) as an end time; none: no end.
pub fn end_time(days: Option<i64>, now: i64) -> Result<i64, Error> {
    match days {
        None => Ok(0),
        Some(d) if (1..=3650).contains(&d) => Ok(now + d * 86_400_000),
        Some(_) => Err(Error::msg(
            ErrorCode::ValidationFailed,
            "expires_in_days must be 1 to 3650",
        )),
    }
}

pub fn key_label(label: &str) -> Result<&str, Error> {
    let label = label.trim();
    if label.is_empty() || label.len() > 100 {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "label must be 1 to 100 characters",
        ));
    }
    Ok(label)
}

/// `POST /v1/admin/keys {"label", "role"?, "expires_in_days"?}`: an admin key of a role (owner
/// when none is given, as every admin key was before roles).
pub async fn key_create<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let b: AdminKeyBody = body::json(c.req)?;
    let label = key_label(&b.label)?;
    let role = match b.role.as_deref() {
        None => AdminRole::Owner,
        Some(r) => AdminRole::parse(r).ok_or_else(|| {
            Error::msg(
                ErrorCode::ValidationFailed,
                format!("role {r:?} is not one of owner, operator, support, billing"),
            )
        })?,
    };
    let expires_at = end_time(b.expires_in_days, c.ctx.now_ms)?;
    let key = admin::create_admin_key(app, label, role, expires_at, c.ctx.now_ms).await?;
    let details = json!({"label": label, "role": role, "expires_at": (expires_at != 0).then(|| iso8601(expires_at))});
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "admin_key.create",
        &key.prefix,
        details,
    )
    .await;
    let data = AdminKeyCreated {
        prefix: key.prefix,
        label: label.to_string(),
        role,
        api_key: key.plain,
        expires_at: (expires_at != 0).then(|| iso8601(expires_at)),
    };
    Ok(ok(201, data, c.ctx))
}

/// `POST /v1/admin/keys/{prefix}/rotate {"grace_secs"?}`: a new admin key of the same role and
/// label; the old one stops after the grace (none: now).
pub async fn key_rotate<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let prefix = c.param()?;
    let b: RotateBody = body::json(c.req)?;
    let grace = match b.grace_secs {
        None => 0,
        Some(g) if (0..=30 * 86_400).contains(&g) => g,
        Some(_) => {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "grace_secs must be 0 to 2592000",
            ))
        }
    };
    let (key, record, old) =
        admin::rotate_admin_key(app, c.ctx, prefix, grace, c.ctx.now_ms).await?;
    let role = record.admin_role();
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "admin_key.rotate",
        prefix,
        json!({"new_prefix": key.prefix, "role": role, "grace_secs": grace}),
    )
    .await;
    let data = AdminKeyRotated {
        prefix: key.prefix,
        label: record.label,
        role,
        api_key: key.plain,
        old_key_valid_until: iso8601(old.expires_at),
    };
    Ok(ok(201, data, c.ctx))
}

/// A key's scopes as asked (none: all), or the reason they are refused.
pub fn scopes_input(names: Option<&[String]>) -> Result<Vec<Scope>, Error> {
    match names {
        None => Ok(Vec::new()),
        Some(names) => {
            keys::parse_scopes(names).map_err(|m| Error::msg(ErrorCode::ValidationFailed, m))
        }
    }
}

/// The body of a scoped tenant key's creation, checked (`POST /v1/keys` and
/// `POST /v1/admin/tenants/{id}/keys`): `{"label", "scopes"?, "expires_in_days"?}`.
pub struct ScopedKeyRequest {
    pub label: String,
    pub scopes: Vec<Scope>,
    pub expires_at: i64,
}

impl ScopedKeyRequest {
    pub fn read(c: &Call<'_>) -> Result<Self, Error> {
        let b: ScopedKeyBody = body::json(c.req)?;
        Ok(Self {
            label: key_label(&b.label)?.to_string(),
            scopes: scopes_input(b.scopes.as_deref())?,
            expires_at: end_time(b.expires_in_days, c.ctx.now_ms)?,
        })
    }
}

/// `POST /v1/admin/tenants/{id}/keys {"label", "scopes"?, "expires_in_days"?}`: another key of
/// the tenant, limited to its scopes.
pub async fn tenant_key_create<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let ScopedKeyRequest {
        label,
        scopes,
        expires_at,
    } = ScopedKeyRequest::read(c)?;
    let label = label.as_str();
    let t = load(app, id).await?;
    let (key, record) =
        admin::create_tenant_key(app, c.ctx, &t, label, scopes, expires_at, None).await?;
    let data = KeyView::made(&record, &key.plain);
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "tenant.key_create",
        id,
        json!({"prefix": key.prefix, "label": label, "scopes": data.scopes}),
    )
    .await;
    Ok(ok(201, data, c.ctx))
}

pub async fn key_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let keys = app.repo().admin_keys().await?;
    let items = keys.iter().map(KeyView::of).collect();
    Ok(ok(200, KeyList { items }, c.ctx))
}

pub async fn key_revoke<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let prefix = c.param()?;
    let key = admin::revoke_key(app, prefix).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "key.revoke",
        prefix,
        json!({"role": key.role, "tenant_id": key.tenant_id}),
    )
    .await;
    Ok(ok(200, KeyView::of(&key), c.ctx))
}

pub async fn gateway_checks<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let limit = limit_param(c.req, 100, 1000);
    let items = app.repo().gateway_history(limit).await?;
    Ok(ok(200, Items { items }, c.ctx))
}

pub async fn gateways<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let items = standing::fleet_view(app).await;
    Ok(ok(200, Items { items }, c.ctx))
}

#[cfg(test)]
mod tests {
    use super::backup_path_ok;

    #[test]
    fn only_backup_paths_can_be_restored() {
        assert!(backup_path_ok("tenants/t_1"));
        assert!(backup_path_ok("tenants/t_1/quota_shards/3"));
        assert!(!backup_path_ok("tenants/t_1/secret/3"));
        assert!(!backup_path_ok("other/x"));
        assert!(!backup_path_ok("tenants/../x"));
    }
}
