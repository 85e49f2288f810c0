//! One request in, one answer out (and the work left for after it). Everything the route table
//! says of a route is applied here, once: the body limit, who may call, the tenant's endpoint and
//! address limits, `Idempotency-Key`, the envelope, request ids, analytics and the log line.

use serde_json::json;

use super::handlers::{self, Call};
use super::http::{ApiRequest, ApiResponse};
use super::idempotency::{self, Prior};
use super::render;
use super::routes::{self, Access, Auth, Envelope, Idempotency, Limits, Matched, Route};
use crate::error::{Error, ErrorCode, ErrorKind};
use crate::platform::{new_id, Hit, LimitKind, Platform};
use crate::service::app::App;
use crate::service::ctx::{Ctx, Deferred};
use crate::service::later;
use crate::service::model::Tenant;
use crate::service::ops::analytics::request_fields;
use crate::service::ops::usage;
use crate::service::tenants::admission;
use crate::service::tenants::admission::tenant_gate;
use crate::service::tenants::auth;
use crate::service::tenants::auth::{require_admin, require_tenant};
use crate::service::tenants::keys::Scope;

/// An answer and what must still happen after it is sent.
pub struct Handled {
    pub response: ApiResponse,
    pub deferred: Vec<Deferred>,
}

/// Backups and bulk changes are large by nature; every other route keeps the small limit.
pub const ADMIN_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The largest body a request to `path` may have (platforms stop reading there).
pub fn body_limit<P: Platform>(app: &App<P>, path: &str) -> usize {
    if path.starts_with("/v1/admin/") {
        ADMIN_MAX_BODY_BYTES
    } else {
        app.cfg.max_body_bytes
    }
}

/// Handles `req` and runs what it left for later at once (native tools and tests).
pub async fn handle_now<P: Platform>(app: &App<P>, req: ApiRequest) -> ApiResponse {
    let h = handle(app, req).await;
    later::run(app, h.deferred).await;
    h.response
}

pub async fn handle<P: Platform>(app: &App<P>, req: ApiRequest) -> Handled {
    let started = app.platform.now_ms();
    let request_id = req
        .header("x-request-id")
        .filter(|v| otp_shared::ids::is_plain_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| new_id(&app.platform, "req"));
    let ctx = Ctx::new(
        request_id.clone(),
        started,
        req.client_ip.clone().unwrap_or_else(|| "unknown".into()),
    );
    // A CORS preflight; any other OPTIONS is an unsupported method like elsewhere (405, Allow).
    if req.method == "OPTIONS" && req.header("access-control-request-method").is_some() {
        let response = super::cors::preflight(app, &req, &request_id)
            .await
            .with_header("x-request-id", request_id.clone());
        log(
            app,
            &req,
            &response,
            (&request_id, "Preflight", None),
            started,
            None,
        );
        return Handled {
            response,
            deferred: Vec::new(),
        };
    }
    let matched = routes::find(&req.method, &req.path);
    // The route's name for the log line (the handler's, as in the metrics).
    let route_name = match &matched {
        Matched::Route(r, _) => format!("{:?}", r.handler),
        Matched::WrongMethod(_) => "WrongMethod".to_string(),
        Matched::NotFound => "Unmatched".to_string(),
    };
    // Requests by route and status, for the metrics: the callers' routes (tenants', gateways'). An
    // operator's own requests and the static public files are not counted: a backup restored
    // stays exactly as it was taken.
    let counted = match &matched {
        Matched::Route(r, _) if r.auth == Auth::Admin => None,
        Matched::Route(r, _) if r.auth == Auth::Public && r.envelope == Envelope::Raw => None,
        Matched::Route(r, _) => Some(format!("{:?}", r.handler)),
        Matched::WrongMethod(_) => Some("WrongMethod".to_string()),
        Matched::NotFound => Some("Unmatched".to_string()),
    };
    let (envelope, allow) = match &matched {
        Matched::Route(r, _) => (r.envelope, None),
        // Twilio's namespace: an unknown ServiceSid or path still answers in Twilio's shape.
        _ if req.path.starts_with("/v2/") => (Envelope::Twilio, None),
        Matched::WrongMethod(methods) => (Envelope::V1, Some(methods.join(", "))),
        Matched::NotFound => (Envelope::V1, None),
    };
    let mut deferred = Vec::new();
    let mut tenant_id = None;
    let mut cors_origin = None;
    let result = match matched {
        Matched::Route(route, param) => {
            run(
                app,
                &req,
                &ctx,
                route,
                param.as_deref(),
                (&mut tenant_id, &mut cors_origin),
                &mut deferred,
            )
            .await
        }
        Matched::WrongMethod(_) => Err(Error::new(ErrorCode::MethodNotAllowed)),
        Matched::NotFound => Err(Error::new(ErrorCode::NotFound)),
    };
    let error_code = result.as_ref().err().map(|e| e.code.as_str());
    let mut events = ctx.take_events();
    // A request that counted something (a send, a check) has its counts made durable before it is
    // answered; the others' request statistics are handed over after the answer.
    let counted_events = !events.is_empty();
    if let Some(t) = &tenant_id {
        let latency = app.platform.now_ms() - started;
        events.extend(
            request_fields(latency, error_code)
                .into_iter()
                .map(|f| (t.clone(), f)),
        );
    }
    let failure = result.as_ref().err().cloned();
    let mut response = match result {
        Ok(r) => r,
        Err(e) => render::error(envelope, &e, &request_id),
    };
    if let Some(route) = counted {
        events.push((
            "_all".to_string(),
            format!("http_{route}_{}", response.status),
        ));
    }
    if counted_events {
        usage::tally_now(app, &events, started).await;
    } else {
        usage::count(app, &events, started);
    }
    if let Some(origin) = &cors_origin {
        response = super::cors::decorate(response, origin);
    }
    response = response.with_header("x-request-id", request_id.clone());
    if let Some(methods) = allow {
        response = response.with_header("allow", methods);
    }
    deferred.extend(ctx.take_deferred());
    // Last, so it also carries what the work before it counts.
    deferred.push(crate::service::ops::later::Later::FlushCounters.into());
    log(
        app,
        &req,
        &response,
        (&request_id, &route_name, tenant_id.as_deref()),
        started,
        failure.as_ref(),
    );
    Handled { response, deferred }
}

/// The route's steps, in order.
async fn run<P: Platform>(
    app: &App<P>,
    req: &ApiRequest,
    ctx: &Ctx,
    route: &'static Route,
    param: Option<&str>,
    (tenant_id, cors_origin): (&mut Option<String>, &mut Option<String>),
    deferred: &mut Vec<Deferred>,
) -> Result<ApiResponse, Error> {
    if req.body_too_large || req.body.len() > body_limit(app, &req.path) {
        return Err(Error::new(ErrorCode::PayloadTooLarge));
    }
    let origin = super::cors::cross_origin(req);
    let (tenant, actor) = match route.auth {
        Auth::Public => {
            *cors_origin = origin.map(|_| "*".to_string());
            (None, None)
        }
        Auth::Gateway => (None, None),
        Auth::Tenant | Auth::Admin => {
            let presented = super::auth::presented_key(req)
                .ok_or_else(|| Error::msg(ErrorCode::Unauthorized, "API key is required"))?;
            let who = auth::authenticate(app, &presented, ctx).await?;
            ctx.set_global_switch(who.global_switch);
            if route.auth == Auth::Admin {
                // An admin key is never used from another site's page.
                if origin.is_some() {
                    return Err(Error::msg(
                        ErrorCode::OriginNotAllowed,
                        "Admin routes take no cross-origin calls",
                    ));
                }
                // The table pairs `Admin` with its roles and `Tenant` with its scope (the route
                // macro); were it ever not so, the strictest applies.
                let roles = match route.access {
                    Access::Admin(roles) => roles,
                    _ => routes::OWNER,
                };
                (None, Some(require_admin(who.principal, roles)?))
            } else {
                if let crate::service::tenants::auth::Principal::Tenant { tenant, .. } =
                    &who.principal
                {
                    *tenant_id = Some(tenant.id.to_string());
                }
                let scope = match route.access {
                    Access::Tenant(scope) => scope,
                    _ => Scope::Manage,
                };
                let t = require_tenant(who.principal, ctx.now_ms, scope)?;
                // A browser on another site only with an origin its tenant listed.
                if let Some(o) = origin {
                    if !crate::service::ops::cors::tenant_allows(&t, o) {
                        return Err(Error::msg(
                            ErrorCode::OriginNotAllowed,
                            format!("This key's tenant does not allow browser calls from {o}"),
                        ));
                    }
                    *cors_origin = Some(o.to_string());
                }
                (Some(t), None)
            }
        }
    };
    if let Some(t) = &tenant {
        // The end user's address, when the tenant passes it: the per-address limit counts it
        // instead of the tenant's server (a body field may name it later, for the same effect).
        let end_user = req
            .header("x-end-user-ip")
            .map(crate::service::abuse::end_user::parse)
            .transpose()?;
        let hits = limit_hits(t, route, &ctx.client_ip);
        if route.limits != Limits::No {
            ctx.add_hits(hits);
        }
        if let Some(user) = end_user {
            ctx.set_end_user(user);
        }
        if route.limits == Limits::Pipeline {
            admission::admit(app, ctx, t, Vec::new(), false).await?;
        }
    }
    let scope = match (&tenant, &actor) {
        (Some(t), _) => t.id.to_string(),
        (None, Some(a)) => format!("admin-{a}"),
        _ => String::new(),
    };
    let key = match route.idempotency {
        Idempotency::No => None,
        _ => idempotency::key_of(req, &scope)?,
    };
    let call = Call {
        req,
        ctx,
        param,
        tenant: tenant.as_ref(),
        actor: actor.as_deref(),
    };
    let result = match (&key, route.idempotency) {
        (Some(key), Idempotency::Claimed) => {
            match idempotency::claim_now(app, key, ctx.now_ms).await? {
                None => {
                    ctx.set_claim(crate::service::ctx::Claim {
                        committed: true,
                        ..idempotency::claim(key, ctx.now_ms, None)
                    });
                    handlers::dispatch(app, route.handler, &call).await
                }
                Some(prior) => return resolved(prior),
            }
        }
        (Some(key), _) => {
            // A retry of a finished or running request is answered from its record before it
            // counts against any limit; a new key's claim rides in the request's own commit.
            let version = match idempotency::look(app, key, ctx.now_ms).await? {
                None => None,
                Some(Prior::TakeOver(v)) => Some(v),
                Some(prior) => return resolved(prior),
            };
            ctx.set_claim(idempotency::claim(key, ctx.now_ms, version.as_deref()));
            let first = handlers::dispatch(app, route.handler, &call).await;
            match first {
                // Another request holds the key: answer as its record says, or take it over.
                Err(e)
                    if e.is(ErrorCode::IdempotencyInProgress)
                        && ctx.pending_claim_doc().is_some() =>
                {
                    match idempotency::prior(app, key, ctx.now_ms).await? {
                        Prior::TakeOver(version) => {
                            ctx.set_claim(idempotency::claim(key, ctx.now_ms, Some(&version)));
                            handlers::dispatch(app, route.handler, &call).await
                        }
                        prior => return resolved(prior),
                    }
                }
                other => other,
            }
        }
        (None, _) => handlers::dispatch(app, route.handler, &call).await,
    };
    // Hits the handler never took to its gate (it failed first) still count.
    if let Some(t) = &tenant {
        let left = ctx.take_hits();
        if !left.is_empty() {
            deferred.push(Deferred::from(
                crate::service::tenants::later::Later::CountHits {
                    gate: tenant_gate(&t.id),
                    hits: left,
                },
            ));
        }
    }
    if let (Some(key), Some(claim)) = (&key, ctx.claim()) {
        if claim.committed {
            let answer = match &result {
                Ok(r) => r.clone(),
                Err(e) => render::error(route.envelope, e, &ctx.request_id),
            };
            deferred.push(idempotency::settle(
                app,
                key,
                answer.status,
                &answer.body,
                ctx.now_ms,
            ));
        }
    }
    result
}

fn resolved(prior: Prior) -> Result<ApiResponse, Error> {
    match prior {
        Prior::Replay(r) => Ok(r),
        Prior::Refuse(e) => Err(e),
        Prior::TakeOver(_) => Err(Error::new(ErrorCode::IdempotencyInProgress).retry_after(1)),
    }
}

/// The endpoint and client-address limits of a tenant route. One bucket per route, whatever its
/// path parameter (a Twilio ServiceSid is the caller's choice); the sends', resends', checks' and
/// direct messages' own limit when the tenant set one.
fn limit_hits(t: &Tenant, route: &Route, client_ip: &str) -> Vec<Hit> {
    let l = &t.settings.limits;
    vec![
        Hit {
            kind: LimitKind::Endpoint,
            key: format!("{:?}", route.handler),
            rule: l.endpoint_rule(routes::limit_group(route.handler)),
            persist: false,
        },
        Hit {
            kind: LimitKind::Ip,
            key: client_ip.to_string(),
            rule: l.per_ip,
            persist: false,
        },
    ]
}

/// One JSON line per request: request id, route (the handler's name), tenant (when a tenant key
/// called), method, path, status and latency (`ms`, wall time; workerd's clock stands still while
/// the worker computes, so it is time spent waiting on the store and the phones). Internal and
/// unavailable errors carry their hidden cause here (and only here), with the request id to find
/// it by. Workers Logs keeps these lines (`[observability]` in wrangler.toml).
fn log<P: Platform>(
    app: &App<P>,
    req: &ApiRequest,
    resp: &ApiResponse,
    (request_id, route, tenant): (&str, &str, Option<&str>),
    started: i64,
    failure: Option<&Error>,
) {
    let mut line = json!({"request_id": request_id, "route": route, "tenant": tenant, "method": req.method, "path": req.path, "status": resp.status, "ms": app.platform.now_ms() - started});
    if let Some(e) = failure {
        line["error"] = json!(e.code.as_str());
        if matches!(e.code.kind(), ErrorKind::Internal | ErrorKind::Unavailable) {
            if let Some(cause) = &e.cause {
                line["cause"] = json!(cause);
            }
        }
    }
    app.platform.log(&line.to_string());
}
