//! `Platform` inside workerd: Fetch for HTTP, `Date.now`, `crypto.getRandomValues` (through
//! getrandom), the `GATE` Durable Objects, timers and `console.log`.

use worker::{Delay, Env, Method, Request, RequestInit};

use super::fetch::FetchClient;
use super::gate::Call;
use crate::platform::{GateAnswer, GateAsk, Platform};

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

    async fn gate(&self, name: &str, ask: &GateAsk) -> Result<GateAnswer, String> {
        let ns = self.env.durable_object("GATE").map_err(|e| e.to_string())?;
        let stub = ns.get_by_name(name).map_err(|e| e.to_string())?;
        let body = serde_json::to_string(&Call {
            gate: name.to_string(),
            ask: ask.clone(),
        })
        .map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req = Request::new_with_init("https://gate/", &init).map_err(|e| e.to_string())?;
        let mut resp = stub
            .fetch_with_request(req)
            .await
            .map_err(|e| e.to_string())?;
        resp.json::<GateAnswer>().await.map_err(|e| e.to_string())
    }

    async fn tally(&self, counts: Vec<(String, Vec<(String, i64)>)>) -> Result<(), String> {
        let mut pick = [0u8; 1];
        self.fill_random(&mut pick);
        let name = super::gate::tally_object(pick[0] as u32);
        let ns = self.env.durable_object("GATE").map_err(|e| e.to_string())?;
        let stub = ns.get_by_name(&name).map_err(|e| e.to_string())?;
        let body = serde_json::to_string(&counts).map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req =
            Request::new_with_init(super::gate::TALLY_URL, &init).map_err(|e| e.to_string())?;
        let resp = stub
            .fetch_with_request(req)
            .await
            .map_err(|e| e.to_string())?;
        match resp.status_code() {
            200..=299 => Ok(()),
            s => Err(format!("tally answered {s}")),
        }
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(std::time::Duration::from_millis(ms)).await;
    }

    fn log(&self, line: &str) {
        worker::console_log!("{line}");
    }
}
