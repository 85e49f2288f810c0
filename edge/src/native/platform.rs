//! `Platform` for native runs (tests, tools): reqwest for HTTP, the system clock, the OS's
//! randomness, and rate-limit state in memory (what the `Limiter` Durable Object holds on Workers).

use std::collections::HashMap;
use std::sync::Mutex;

use super::http::ReqwestClient;
use crate::platform::Platform;
use crate::service::ratelimit::{gcra, RateDecision, RateRule};

#[derive(Default)]
pub struct NativePlatform {
    pub http: ReqwestClient,
    tats: Mutex<HashMap<String, i64>>,
    /// Log lines, kept so tests can assert that nothing secret is logged.
    pub logs: Mutex<Vec<String>>,
}

impl Platform for NativePlatform {
    type Http = ReqwestClient;

    fn http(&self) -> &ReqwestClient {
        &self.http
    }

    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        getrandom::getrandom(buf).expect("OS randomness");
    }

    async fn rate_hit(
        &self,
        key: &str,
        rule: RateRule,
        _persist: bool,
    ) -> Result<RateDecision, String> {
        let now = self.now_ms();
        let mut tats = self.tats.lock().map_err(|e| e.to_string())?;
        let tat = tats.get(key).copied().unwrap_or(0);
        let (decision, new_tat) = gcra(rule, tat, now);
        tats.insert(key.to_string(), new_tat);
        Ok(decision)
    }

    fn log(&self, line: &str) {
        if let Ok(mut l) = self.logs.lock() {
            l.push(line.to_string());
        }
    }
}
