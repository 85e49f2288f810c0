//! workers-rs glue: converts Workers requests to `ApiRequest`, runs the pipeline, converts back,
//! and hands the work left for after the answer to `waitUntil`. The `App` (config, derived keys,
//! parsed service-account key, caches) is built once per isolate.

mod fetch;
mod gate;
mod glue;
mod platform;

use std::rc::Rc;

use futures_util::StreamExt;
use worker::{event, web_sys, Context, Env, Request, Result, ScheduleContext, ScheduledEvent};

use crate::api::http::{ApiRequest, ApiResponse};
use crate::api::pipeline;
use crate::config::Config;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::later;
use platform::WorkerPlatform;

thread_local! {
    static APP: std::cell::RefCell<Option<Rc<App<WorkerPlatform>>>> = const { std::cell::RefCell::new(None) };
}

pub(crate) fn lookup(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| env.secret(name).ok().map(|s| s.to_string()))
}

fn app(env: &Env) -> std::result::Result<Rc<App<WorkerPlatform>>, String> {
    if let Some(app) = APP.with(|a| a.borrow().clone()) {
        return Ok(app);
    }
    let cfg = Config::from_lookup(|n| lookup(env, n)).map_err(|e| e.to_string())?;
    let app = Rc::new(App::new(
        cfg,
        WorkerPlatform {
            env: env.clone(),
            http: fetch::FetchClient,
        },
    ));
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    Ok(app)
}

/// Reads the body no further than `limit` (a declared or streamed excess is refused unread). The
/// head comes over in one call (`glue::request_head`): worker-rs's `Headers` iterator costs
/// several JS calls per header.
async fn to_api_request(req: web_sys::Request, app: &App<WorkerPlatform>) -> Result<ApiRequest> {
    let head = glue::request_head(&req);
    let mut lines = head.splitn(3, '\n');
    let (method, url) = (
        lines.next().unwrap_or("GET"),
        lines.next().unwrap_or_default(),
    );
    let mut api = ApiRequest::new(method, crate::net::path_and_query(url));
    api.headers = crate::net::split_header_pairs(lines.next().unwrap_or_default());
    api.client_ip = api.header("cf-connecting-ip").map(str::to_string);
    let limit = pipeline::body_limit(app, &api.path);
    let declared = api
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        api.body_too_large = true;
        return Ok(api);
    }
    if declared.is_some() {
        // Within the limit and framed by its length: one `arrayBuffer()` (a reader costs a
        // promise and a wake per chunk).
        api.body = glue::read_bytes(&req).await?;
    } else if let Ok(mut stream) = Request::from(req).stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if api.body.len() + chunk.len() > limit {
                api.body_too_large = true;
                api.body.clear();
                break;
            }
            api.body.extend_from_slice(&chunk);
        }
    }
    Ok(api)
}

fn to_response(resp: ApiResponse) -> Result<web_sys::Response> {
    let headers =
        crate::net::join_header_pairs(resp.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok(glue::make_response(resp.status, &headers, &resp.body))
}

/// The Cron Trigger of the fleet's minute (wrangler.toml `[triggers] crons`).
const FLEET_CRON: &str = "* * * * *";

/// Takes the platform's request as it comes: worker-rs's `Request` would read its method, URL and
/// `cf` properties first, each a call into JavaScript.
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    match app(&env) {
        Ok(app) => {
            let api = to_api_request(req, &app).await?;
            let handled = pipeline::handle(&app, api).await;
            if !handled.deferred.is_empty() {
                let app = app.clone();
                ctx.wait_until(async move { later::run(&app, handled.deferred).await });
            }
            to_response(handled.response)
        }
        Err(config_error) => {
            // The reason is for the operator's log only: it may name a secret's variable.
            worker::console_error!("configuration error: {config_error}");
            let body = serde_json::json!({"success": false, "error": {"code": "internal", "message": "The service is not configured correctly", "request_id": ""}});
            to_response(ApiResponse::json(503, &body))
        }
    }
}

/// Cron Triggers: `* * * * *` runs the fleet's minute (stuck messages, canaries, phone standings
/// and alerts), any other schedule the upkeep; `POST /v1/admin/cron/run` runs both.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match app(&env) {
        Ok(app) => {
            let now = js_sys::Date::now() as i64;
            let ctx = Ctx::new(
                crate::platform::new_id(&app.platform, "cron"),
                now,
                "cron".into(),
            );
            let summary = if event.cron() == FLEET_CRON {
                serde_json::json!(crate::service::ops::cron::every_minute(&app, &ctx).await)
            } else {
                serde_json::json!(crate::service::ops::cron::upkeep(&app, &ctx).await)
            };
            later::run(&app, ctx.take_deferred()).await;
            later::run(
                &app,
                vec![crate::service::ops::later::Later::FlushCounters.into()],
            )
            .await;
            worker::console_log!(
                "{}",
                serde_json::json!({"request_id": ctx.request_id, "cron": summary})
            );
        }
        Err(e) => worker::console_error!("configuration error: {e}"),
    }
}
