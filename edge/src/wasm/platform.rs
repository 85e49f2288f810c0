//! `Platform` inside workerd: Fetch for HTTP, `Date.now`, `crypto.getRandomValues` (through
//! getrandom), the `GATE` Durable Objects, timers and `console.log`.

use worker::{Delay, Env};

use super::fetch::FetchClient;
use super::gate::Call;
use super::glue;
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
        let body = serde_json::to_string(&Call {
            gate: name.to_string(),
            ask: ask.clone(),
        })
        .map_err(|e| e.to_string())?;
        let r = glue::call_object(&self.env, "GATE", name, super::gate::GATE_URL, &body).await?;
        if !(200..=299).contains(&r.status) {
            return Err(format!(
                "gate answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        serde_json::from_slice::<GateAnswer>(&r.body).map_err(|e| e.to_string())
    }

    async fn tally(&self, counts: Vec<(String, Vec<(String, i64)>)>) -> Result<(), String> {
        // Every document of a hand-over is on one shard (`CounterBuffer::take`): its owner takes it.
        let shard = counts
            .first()
            .and_then(|(p, _)| crate::service::ops::analytics::shard_of(p))
            .unwrap_or(0);
        let name = super::gate::tally_object(shard);
        let body = serde_json::to_string(&counts).map_err(|e| e.to_string())?;
        let r = glue::call_object(&self.env, "GATE", &name, super::gate::TALLY_URL, &body).await?;
        match r.status {
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

    async fn blob_put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        let b = self.bucket()?;
        b.put(key, bytes)
            .execute()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn blob_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let b = self.bucket()?;
        let Some(obj) = b.get(key).execute().await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        match obj.body() {
            Some(body) => body.bytes().await.map(Some).map_err(|e| e.to_string()),
            None => Ok(Some(Vec::new())),
        }
    }

    async fn blob_list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let b = self.bucket()?;
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = b.list().prefix(prefix.to_string());
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = list.execute().await.map_err(|e| e.to_string())?;
            keys.extend(page.objects().iter().map(|o| o.key()));
            match (page.truncated(), page.cursor()) {
                (true, Some(c)) => cursor = Some(c),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn blob_delete(&self, key: &str) -> Result<(), String> {
        self.bucket()?.delete(key).await.map_err(|e| e.to_string())
    }

    async fn send_email(&self, from: &str, to: &str, raw: &str) -> Result<(), String> {
        let binding = self
            .env
            .send_email("ALERT_EMAIL")
            .map_err(|_| crate::platform::NO_EMAIL.to_string())?;
        let js_err = |e: js_sys::Error| String::from(e.message());
        let msg = worker::EmailMessage::new(from, to, raw).map_err(js_err)?;
        binding.send(&msg).await.map(|_| ()).map_err(js_err)
    }
}

impl WorkerPlatform {
    fn bucket(&self) -> Result<worker::Bucket, String> {
        self.env
            .bucket("BACKUPS")
            .map_err(|_| crate::platform::NO_BUCKET.to_string())
    }
}
