//! `HttpClient` over the Fetch API, through `glue.js`: one call per request, the time-out an
//! `AbortSignal` that covers the answer's body too.

use super::glue;
use crate::net::{HttpClient, OutboundRequest, OutboundResponse, TransportError};

const DEFAULT_TIMEOUT_MS: u32 = 15_000;

#[derive(Default)]
pub struct FetchClient;

impl HttpClient for FetchClient {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        let headers = crate::net::join_header_pairs(
            req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let timeout = req.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        match glue::fetch(&req.url, &req.method, &headers, &req.body, timeout).await {
            Ok(r) => Ok(OutboundResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) if e.contains(glue::TIMED_OUT) => Err(TransportError::Timeout),
            // See [`crate::net::classify_fetch_error`].
            Err(e) => Err(crate::net::classify_fetch_error(&e)),
        }
    }
}
