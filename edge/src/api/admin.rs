//! `/v1/admin/*`: operators' routes. Every route needs an admin key (checked in `App::dispatch`)
//! and every change writes an audit entry.

use serde::Deserialize;
use serde_json::{json, Value};

use super::app::{ok_json, App, Ctx};
use super::body;
use super::error::{ApiError, ErrorCode};
use super::http::{ApiRequest, ApiResponse};
use super::router::{Route, TenantAction};
use crate::platform::{iso8601, Platform};
use crate::service::model::{Tenant, TenantStatus};
use crate::service::notify::{self, Notice};
use crate::service::tenants::{self, TenantInput};

pub fn tenant_json(t: &Tenant) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "status": t.status,
        "quota": t.quota_total,
        "expires_at": (t.quota_expires_at != 0).then(|| iso8601(t.quota_expires_at)),
        "contact_phone": t.contact_phone,
        "kill_switch": t.kill_switch,
        "settings": t.settings,
        "created_at": iso8601(t.created_at),
        "updated_at": iso8601(t.updated_at),
    })
}

pub async fn dispatch<P: Platform>(
    app: &App<P>,
    r: Route,
    req: &ApiRequest,
    ctx: &Ctx,
    actor: &str,
) -> Result<ApiResponse, ApiError> {
    match r {
        Route::AdminTenantCreate => {
            let input: TenantInput = body::json(req)?;
            let created = tenants::create(app, &input, ctx.now_ms).await?;
            audit(
                app,
                actor,
                "tenant.create",
                &created.tenant.id,
                json!({"name": created.tenant.name, "quota": created.tenant.quota_total}),
                ctx,
            )
            .await;
            notify::once(app, &created.tenant, Notice::Welcome, ctx).await;
            let mut data = tenant_json(&created.tenant);
            data["api_key"] = json!(created.key.plain);
            Ok(ok_json(201, data, ctx))
        }
        Route::AdminTenantList => {
            let limit = req
                .query_param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(50usize)
                .clamp(1, 500);
            let (items, next) = app
                .repo
                .list_tenants(app, limit, req.query_param("cursor").as_deref())
                .await?;
            Ok(ok_json(
                200,
                json!({"items": items.iter().map(tenant_json).collect::<Vec<_>>(), "next_cursor": next}),
                ctx,
            ))
        }
        Route::AdminTenantGet(id) => {
            let t = load(app, &id).await?;
            let mut data = tenant_json(&t);
            data["quota_remaining"] = json!(app.repo.quota_remaining(app, &t.id).await?);
            Ok(ok_json(200, data, ctx))
        }
        Route::AdminTenantUpdate(id) => {
            let input: TenantInput = body::json(req)?;
            let t = update(app, &id, &input, ctx).await?;
            audit(
                app,
                actor,
                "tenant.update",
                &id,
                serde_json::to_value(redacted(req)).unwrap_or_default(),
                ctx,
            )
            .await;
            Ok(ok_json(200, tenant_json(&t), ctx))
        }
        Route::AdminTenantDelete(id) => {
            load(app, &id).await?;
            app.repo.delete_tenant(app, &id).await?;
            audit(app, actor, "tenant.delete", &id, Value::Null, ctx).await;
            Ok(ok_json(200, json!({"id": id, "deleted": true}), ctx))
        }
        Route::AdminTenantAction(id, action) => {
            tenant_action(app, &id, action, req, ctx, actor).await
        }
        Route::AdminTenantBulk => bulk(app, req, ctx, actor).await,
        Route::AdminKillSwitch => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                engaged: bool,
                #[serde(default)]
                tenant_id: Option<String>,
            }
            let b: Body = body::json(req)?;
            match &b.tenant_id {
                Some(id) => {
                    let mut t = load(app, id).await?;
                    t.kill_switch = b.engaged;
                    t.updated_at = ctx.now_ms;
                    app.repo.put_tenant(app, &t).await?;
                }
                None => app.repo.set_global_kill_switch(app, b.engaged).await?,
            }
            audit(
                app,
                actor,
                "kill_switch",
                b.tenant_id.as_deref().unwrap_or("*"),
                json!({"engaged": b.engaged}),
                ctx,
            )
            .await;
            Ok(ok_json(
                200,
                json!({"engaged": b.engaged, "scope": b.tenant_id.as_deref().unwrap_or("global")}),
                ctx,
            ))
        }
        Route::AdminAudit => {
            let limit = req
                .query_param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(100usize)
                .clamp(1, 1000);
            let entries = app
                .repo
                .list_audit(app, limit, req.query_param("tenant_id").as_deref())
                .await?;
            Ok(ok_json(200, json!({"items": entries}), ctx))
        }
        Route::AdminUsage => {
            let tenant = req.query_param("tenant_id");
            let totals = match &tenant {
                Some(t) => app.repo.event_totals(app, t, ctx.now_ms).await?,
                None => app.repo.event_totals(app, "_all", ctx.now_ms).await?,
            };
            Ok(ok_json(
                200,
                json!({"tenant_id": tenant, "counts": totals}),
                ctx,
            ))
        }
        Route::AdminExport => export(app, req, ctx).await,
        Route::AdminAnalytics => analytics(app, req, ctx).await,
        Route::AdminKeyCreate => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                label: String,
            }
            let b: Body = body::json(req)?;
            let label = b.label.trim();
            if label.is_empty() || label.len() > 100 {
                return Err(ApiError::msg(
                    ErrorCode::ValidationFailed,
                    "label must be 1 to 100 characters",
                ));
            }
            let key = tenants::create_admin_key(app, label, ctx.now_ms).await?;
            audit(
                app,
                actor,
                "admin_key.create",
                &key.prefix,
                json!({"label": label}),
                ctx,
            )
            .await;
            Ok(ok_json(
                201,
                json!({"prefix": key.prefix, "label": label, "api_key": key.plain}),
                ctx,
            ))
        }
        Route::AdminCronRun => {
            let summary = crate::service::cron::run(app, ctx).await;
            audit(app, actor, "cron.run", "*", summary.clone(), ctx).await;
            Ok(ok_json(200, summary, ctx))
        }
        Route::AdminGatewayHistory => {
            let limit = req
                .query_param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(100usize)
                .clamp(1, 1000);
            Ok(ok_json(
                200,
                json!({"items": app.repo.gateway_history(app, limit).await?}),
                ctx,
            ))
        }
        Route::AdminImport => {
            let written = import(app, req).await?;
            audit(
                app,
                actor,
                "import",
                "*",
                json!({"documents": written}),
                ctx,
            )
            .await;
            Ok(ok_json(200, json!({"written": written}), ctx))
        }
        _ => Err(ApiError::new(ErrorCode::NotFound)),
    }
}

/// `?granularity=hour|day|month&from=YYYY-MM-DD&to=YYYY-MM-DD[&tenant_id=]` (default: today, by hour).
async fn analytics<P: Platform>(
    app: &App<P>,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    use crate::service::analytics::{periods, summarize, Granularity};
    let g_text = req
        .query_param("granularity")
        .unwrap_or_else(|| "hour".into());
    let g = Granularity::parse(&g_text).ok_or_else(|| {
        ApiError::msg(
            ErrorCode::ValidationFailed,
            "granularity must be hour, day or month",
        )
    })?;
    let today = iso8601(ctx.now_ms)[..10].to_string();
    let from = req.query_param("from").unwrap_or_else(|| today.clone());
    let to = req.query_param("to").unwrap_or(today);
    let list = periods(g, &from, &to).map_err(|m| ApiError::msg(ErrorCode::ValidationFailed, m))?;
    let scope = req
        .query_param("tenant_id")
        .unwrap_or_else(|| "_all".into());
    let totals = app.repo.counter_totals(app, &scope, &list).await?;
    let mut sum = serde_json::Map::new();
    for m in &totals {
        for (k, v) in m {
            let s = sum.get(k).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap_or(0);
            sum.insert(k.clone(), json!(s));
        }
    }
    let series: Vec<Value> = list
        .iter()
        .zip(&totals)
        .map(|(p, m)| summarize(&p[1..], m))
        .collect();
    Ok(ok_json(
        200,
        json!({"scope": scope, "granularity": g_text, "from": from, "to": to, "total": summarize("total", &sum), "series": series}),
        ctx,
    ))
}

/// Top-level collections a backup holds; each tenant's quota shards travel with the tenant.
pub const BACKUP_COLLECTIONS: &[&str] = &[
    "tenants",
    "api_keys",
    "verifications",
    "phone_index",
    "messages",
    "idempotency",
    "counters",
    "audit",
    "config",
    "notifications",
    "gateway_checks",
];

async fn export<P: Platform>(
    app: &App<P>,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let Some(collection) = req.query_param("collection") else {
        return Ok(ok_json(
            200,
            json!({"collections": BACKUP_COLLECTIONS}),
            ctx,
        ));
    };
    if !BACKUP_COLLECTIONS.contains(&collection.as_str()) {
        return Err(ApiError::msg(
            ErrorCode::ValidationFailed,
            format!("collection must be one of {BACKUP_COLLECTIONS:?}"),
        ));
    }
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, 300);
    let (items, next) = app
        .repo
        .export_page(
            app,
            &collection,
            limit,
            req.query_param("cursor").as_deref(),
        )
        .await?;
    Ok(ok_json(
        200,
        json!({"items": items, "next_cursor": next}),
        ctx,
    ))
}

async fn import<P: Platform>(app: &App<P>, req: &ApiRequest) -> Result<usize, ApiError> {
    #[derive(Deserialize)]
    struct Item {
        path: String,
        data: Value,
    }
    #[derive(Deserialize)]
    struct Body {
        items: Vec<Item>,
    }
    let b: Body = body::json(req)?;
    if b.items.is_empty() || b.items.len() > 200 {
        return Err(ApiError::msg(
            ErrorCode::ValidationFailed,
            "items must hold 1 to 200 documents",
        ));
    }
    for it in &b.items {
        if !backup_path_ok(&it.path) || !it.data.is_object() {
            return Err(ApiError::msg(
                ErrorCode::ValidationFailed,
                format!("not a restorable document: {}", it.path),
            ));
        }
    }
    app.repo
        .import_documents(
            app,
            b.items
                .iter()
                .map(|i| (i.path.clone(), i.data.clone()))
                .collect(),
        )
        .await?;
    Ok(b.items.len())
}

/// `collection/id` for a backup collection, or `tenants/{id}/quota_shards/{n}`.
pub fn backup_path_ok(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').collect();
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

async fn load<P: Platform>(app: &App<P>, id: &str) -> Result<Tenant, ApiError> {
    app.repo
        .get_tenant(app, id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::TenantNotFound))
}

async fn update<P: Platform>(
    app: &App<P>,
    id: &str,
    input: &TenantInput,
    ctx: &Ctx,
) -> Result<Tenant, ApiError> {
    let mut t = load(app, id).await?;
    let old_quota = t.quota_total;
    tenants::apply(&mut t, input)?;
    t.updated_at = ctx.now_ms;
    app.repo.put_tenant(app, &t).await?;
    if t.quota_total != old_quota {
        app.repo
            .quota_adjust(app, &t.id, t.quota_total - old_quota)
            .await?;
    }
    Ok(t)
}

async fn tenant_action<P: Platform>(
    app: &App<P>,
    id: &str,
    action: TenantAction,
    req: &ApiRequest,
    ctx: &Ctx,
    actor: &str,
) -> Result<ApiResponse, ApiError> {
    let mut t = load(app, id).await?;
    match action {
        TenantAction::Suspend | TenantAction::Resume => {
            t.status = if action == TenantAction::Suspend {
                TenantStatus::Suspended
            } else {
                TenantStatus::Active
            };
            t.updated_at = ctx.now_ms;
            app.repo.put_tenant(app, &t).await?;
            audit(
                app,
                actor,
                if action == TenantAction::Suspend {
                    "tenant.suspend"
                } else {
                    "tenant.resume"
                },
                id,
                Value::Null,
                ctx,
            )
            .await;
            Ok(ok_json(200, tenant_json(&t), ctx))
        }
        TenantAction::Renew => {
            // A renewal starts a new period: the balance is reset to the new quota.
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                quota: i64,
                expires_at: Option<String>,
            }
            let b: Body = body::json(req)?;
            tenants::apply(
                &mut t,
                &TenantInput {
                    quota: Some(b.quota),
                    expires_at: Some(b.expires_at.clone()),
                    ..Default::default()
                },
            )?;
            t.status = TenantStatus::Active;
            t.updated_at = ctx.now_ms;
            app.repo.put_tenant(app, &t).await?;
            app.repo.quota_reset(app, &t.id, t.quota_total).await?;
            audit(
                app,
                actor,
                "tenant.renew",
                id,
                json!({"quota": b.quota, "expires_at": b.expires_at}),
                ctx,
            )
            .await;
            Ok(ok_json(200, tenant_json(&t), ctx))
        }
        TenantAction::RotateKey => {
            #[derive(Deserialize, Default)]
            #[serde(deny_unknown_fields)]
            struct Body {
                #[serde(default)]
                grace_secs: Option<i64>,
            }
            let b: Body = body::json(req)?;
            let grace = b.grace_secs.unwrap_or(86_400).clamp(0, 30 * 86_400);
            let (key, old_until) = tenants::rotate_key(app, &t, grace, ctx.now_ms).await?;
            audit(
                app,
                actor,
                "tenant.rotate_key",
                id,
                json!({"grace_secs": grace, "new_prefix": key.prefix}),
                ctx,
            )
            .await;
            Ok(ok_json(
                200,
                json!({"id": id, "api_key": key.plain, "old_keys_valid_until": iso8601(old_until)}),
                ctx,
            ))
        }
    }
}

/// `{"items":[{"op":"create", ...fields}, {"op":"update","id":"t_..", ...fields}]}`: each item is
/// validated and applied on its own; the answer lists a result per item, in order.
async fn bulk<P: Platform>(
    app: &App<P>,
    req: &ApiRequest,
    ctx: &Ctx,
    actor: &str,
) -> Result<ApiResponse, ApiError> {
    #[derive(Deserialize)]
    struct Body {
        items: Vec<Value>,
    }
    let b: Body = body::json(req)?;
    if b.items.is_empty() || b.items.len() > 100 {
        return Err(ApiError::msg(
            ErrorCode::ValidationFailed,
            "items must hold 1 to 100 entries",
        ));
    }
    let mut results = Vec::new();
    for (index, item) in b.items.into_iter().enumerate() {
        let result = bulk_item(app, item, ctx).await;
        let entry = match result {
            Ok(v) => {
                audit(
                    app,
                    actor,
                    "tenant.bulk",
                    v["id"].as_str().unwrap_or(""),
                    json!({"index": index}),
                    ctx,
                )
                .await;
                json!({"index": index, "ok": true, "data": v})
            }
            Err(e) => {
                json!({"index": index, "ok": false, "error": {"code": e.code.as_str(), "message": e.message}})
            }
        };
        results.push(entry);
    }
    let failed = results.iter().filter(|r| r["ok"] == false).count();
    Ok(ok_json(
        200,
        json!({"results": results, "succeeded": results.len() - failed, "failed": failed}),
        ctx,
    ))
}

async fn bulk_item<P: Platform>(
    app: &App<P>,
    mut item: Value,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    let obj = item
        .as_object_mut()
        .ok_or_else(|| ApiError::msg(ErrorCode::ValidationFailed, "each item must be an object"))?;
    let op = obj
        .remove("op")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let id = obj
        .remove("id")
        .and_then(|v| v.as_str().map(str::to_string));
    let input: TenantInput = serde_json::from_value(item)
        .map_err(|e| ApiError::msg(ErrorCode::ValidationFailed, e.to_string()))?;
    match (op.as_str(), id) {
        ("create", _) => {
            let created = tenants::create(app, &input, ctx.now_ms).await?;
            notify::once(app, &created.tenant, Notice::Welcome, ctx).await;
            let mut v = tenant_json(&created.tenant);
            v["api_key"] = json!(created.key.plain);
            Ok(v)
        }
        ("update", Some(id)) => Ok(tenant_json(&update(app, &id, &input, ctx).await?)),
        ("update", None) => Err(ApiError::msg(
            ErrorCode::ValidationFailed,
            "update needs an id",
        )),
        _ => Err(ApiError::msg(
            ErrorCode::ValidationFailed,
            "op must be \"create\" or \"update\"",
        )),
    }
}

/// The request body for the audit log, without anything that could be a secret.
fn redacted(req: &ApiRequest) -> Value {
    let mut v: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("api_key");
    }
    v
}

pub async fn audit<P: Platform>(
    app: &App<P>,
    actor: &str,
    action: &str,
    target: &str,
    details: Value,
    ctx: &Ctx,
) {
    let entry = json!({"at": iso8601(ctx.now_ms), "at_ms": ctx.now_ms, "actor": actor, "action": action, "target": target, "details": details, "request_id": ctx.request_id});
    if let Err(e) = app.repo.append_audit(app, &entry, ctx.now_ms).await {
        app.platform.log(&json!({"level": "error", "msg": "audit write failed", "request_id": ctx.request_id, "error": e.message}).to_string());
    }
}
