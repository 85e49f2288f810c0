//! `Platform` inside workerd: Fetch for HTTP, `Date.now`, `crypto.getRandomValues` (through
//! getrandom), the `LIMITER` Durable Object for rate-limit state and `console.log` for logs.

use worker::{Env, Method, Request, RequestInit};

use super::fetch::FetchClient;
use super::limiter::{shard_name, Hit};
use crate::platform::Platform;
use crate::service::ratelimit::{RateDecision, RateRule};

pub struct WorkerPlatform {
    pub env: Env,
    pub http: FetchClient,
}

impl Platform for WorkerPlatform {
    type Http = FetchClient;

    fn http(&self) -> &FetchClient {
        &self.http
    }

    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }

    fn fill_random(&self, buf: &mut [u8]) {
        getrandom::getrandom(buf).expect("crypto.getRandomValues is available in workerd");
    }

    async fn rate_hit(
        &self,
        key: &str,
        rule: RateRule,
        persist: bool,
    ) -> Result<RateDecision, String> {
        let ns = self
            .env
            .durable_object("LIMITER")
            .map_err(|e| e.to_string())?;
        let stub = ns
            .get_by_name(&shard_name(key))
            .map_err(|e| e.to_string())?;
        let body = serde_json::to_string(&Hit {
            key: key.to_string(),
            rule,
            persist,
        })
        .map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req =
            Request::new_with_init("https://limiter/hit", &init).map_err(|e| e.to_string())?;
        let mut resp = stub
            .fetch_with_request(req)
            .await
            .map_err(|e| e.to_string())?;
        resp.json::<RateDecision>().await.map_err(|e| e.to_string())
    }

    fn log(&self, line: &str) {
        worker::console_log!("{line}");
    }
}
