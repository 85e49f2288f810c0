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
        // reqwest says "connect" only for a connection that never opened (refused, no route, no
        // such host, a failed handshake): the request was never written. A connection reset or
        // closed after that may have carried it, and stays ambiguous (`Other`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A peer that reads the request, then drops the connection: with a reset (`rst`) or a
    /// plain close.
    async fn dropping_peer(rst: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/send", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            if rst {
                // A zero linger resets the connection at once: it never blocks the drop.
                #[allow(deprecated)]
                sock.set_linger(Some(std::time::Duration::ZERO)).unwrap();
            }
            drop(sock);
        });
        url
    }

    async fn send_to(url: &str) -> Result<OutboundResponse, TransportError> {
        let req = OutboundRequest::new("POST", url)
            .json_body(b"{}".to_vec())
            .timeout_ms(5_000);
        ReqwestClient::default().send(req).await
    }

    #[tokio::test]
    async fn a_connection_dropped_after_the_request_is_ambiguous_a_refused_one_certain() {
        for rst in [true, false] {
            let url = dropping_peer(rst).await;
            let e = send_to(&url).await.unwrap_err();
            assert!(matches!(e, TransportError::Other(_)), "rst={rst}: {e:?}");
        }
        // A port nobody listens on (bound, then released).
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = send_to(&format!("http://127.0.0.1:{port}/v1/send"))
            .await
            .unwrap_err();
        assert!(matches!(e, TransportError::Connect(_)), "{e:?}");
    }
}
