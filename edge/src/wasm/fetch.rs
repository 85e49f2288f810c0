//! `HttpClient` over the Workers Fetch API, with a time-out raced against the request.

use futures_util::future::{select, Either};
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::net::{HttpClient, OutboundRequest, OutboundResponse, TransportError};

const DEFAULT_TIMEOUT_MS: u32 = 15_000;

#[derive(Default)]
pub struct FetchClient;

fn method(m: &str) -> Method {
    match m {
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        _ => Method::Get,
    }
}

/// See [`crate::net::classify_fetch_error`].
fn classify(e: worker::Error) -> TransportError {
    crate::net::classify_fetch_error(&e.to_string())
}

impl HttpClient for FetchClient {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        let headers = Headers::new();
        for (k, v) in &req.headers {
            headers
                .append(k, v)
                .map_err(|e| TransportError::Other(e.to_string()))?;
        }
        let mut init = RequestInit::new();
        init.with_method(method(&req.method)).with_headers(headers);
        if !req.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(req.body.as_slice()).into()));
        }
        let request = Request::new_with_init(&req.url, &init)
            .map_err(|e| TransportError::Other(e.to_string()))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(request);
        let timeout = Delay::from(std::time::Duration::from_millis(
            req.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS) as u64,
        ));
        let send = fetch.send_with_signal(&signal);
        futures_util::pin_mut!(send);
        let resp = match select(send, timeout).await {
            Either::Left((r, _)) => r.map_err(classify)?,
            Either::Right(_) => {
                controller.abort();
                return Err(TransportError::Timeout);
            }
        };
        let status = resp.status_code();
        let headers = resp.headers().entries().collect();
        let body = body_bytes(resp)
            .await
            .map_err(|e| TransportError::Other(e.to_string()))?;
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }
}

/// A response's whole body in one `arrayBuffer()` call: workerd reads the stream natively.
/// `worker::Response::bytes` reads a streamed body through a reader instead, a promise, a wake and
/// a JS call per chunk, then `releaseLock`: the largest single CPU cost of a send in a V8 profile
/// (bench/edge_bench.py --stages).
pub(crate) async fn body_bytes(resp: worker::Response) -> worker::Result<Vec<u8>> {
    let sys: worker::web_sys::Response = resp.into();
    let buf = worker::wasm_bindgen_futures::JsFuture::from(sys.array_buffer()?).await?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}
