//! workers-rs glue: converts Workers requests to `ApiRequest`, runs the core, converts back.
//! The `App` (config, parsed service-account key, cached access token) is built once per isolate.

mod fetch;
mod limiter;
mod platform;

use std::rc::Rc;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

use crate::api::app::App;
use crate::api::http::{ApiRequest, ApiResponse};
use crate::config::Config;
use platform::WorkerPlatform;

thread_local! {
    static APP: std::cell::RefCell<Option<Rc<App<WorkerPlatform>>>> = const { std::cell::RefCell::new(None) };
}

fn lookup(env: &Env, name: &str) -> Option<String> {
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

async fn to_api_request(mut req: Request) -> Result<ApiRequest> {
    let url = req.url()?;
    let mut api = ApiRequest::new(&req.method().to_string(), url.path());
    api.query = url.query().unwrap_or_default().to_string();
    api.headers = req.headers().entries().collect();
    api.client_ip = req.headers().get("cf-connecting-ip")?;
    api.body = req.bytes().await.unwrap_or_default();
    Ok(api)
}

fn to_response(resp: ApiResponse) -> Result<Response> {
    let mut out = Response::from_bytes(resp.body)?.with_status(resp.status);
    let headers = out.headers_mut();
    for (k, v) in &resp.headers {
        headers.set(k, v)?;
    }
    Ok(out)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match app(&env) {
        Ok(app) => to_response(app.handle(to_api_request(req).await?).await),
        Err(config_error) => {
            worker::console_error!("configuration error: {config_error}");
            let body = serde_json::json!({"success": false, "error": {"code": "internal", "message": format!("Service misconfigured: {config_error}"), "request_id": ""}});
            to_response(ApiResponse::json(500, &body))
        }
    }
}

/// Cron Trigger: the same job as `POST /v1/admin/cron/run`.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match app(&env) {
        Ok(app) => {
            let now = js_sys::Date::now() as i64;
            let ctx = crate::api::app::Ctx::new(
                crate::platform::new_id(&app.platform, "cron"),
                now,
                "cron".into(),
                crate::api::app::Envelope::V1,
            );
            let summary = crate::service::cron::run(&app, &ctx).await;
            worker::console_log!(
                "{}",
                serde_json::json!({"request_id": ctx.request_id, "cron": summary})
            );
        }
        Err(e) => worker::console_error!("configuration error: {e}"),
    }
}
