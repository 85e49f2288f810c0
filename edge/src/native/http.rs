//! `HttpClient` over reqwest, for native runs.

use crate::net::{HttpClient, OutboundRequest, OutboundResponse, TransportError};

#[derive(Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl Default for ReqwestClient {
    fn default() -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("reqwest client builds");
        Self { client }
    }
}

impl HttpClient for ReqwestClient {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| TransportError::Other(e.to_string()))?;
        let mut r = self.client.request(method, &req.url).body(req.body);
        for (k, v) in &req.headers {
            r = r.header(k, v);
        }
        if let Some(ms) = req.timeout_ms {
            r = r.timeout(std::time::Duration::from_millis(ms as u64));
        }
        let resp = r.send().await.map_err(|e| {
            if e.is_connect() {
                TransportError::Connect(e.to_string())
            } else if e.is_timeout() {
                TransportError::Timeout
            } else {
                TransportError::Other(e.to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    TransportError::Timeout
                } else {
                    TransportError::Other(e.to_string())
                }
            })?
            .to_vec();
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }
}
