//! The bindings to `glue.js`: requests made, read and answered with one wasm -> JS call each.

use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys;

#[wasm_bindgen(module = "/src/wasm/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = httpCall)]
    fn http_call(
        url: &str,
        method: &str,
        headers: &str,
        body: &[u8],
        timeout_ms: u32,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = objectCall)]
    fn object_call(
        env: &JsValue,
        binding: &str,
        name: &str,
        url: &str,
        body: &str,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = requestHead)]
    pub fn request_head(req: &web_sys::Request) -> String;

    // The only import that wasm-bindgen links straight to the module (no shim): a second one
    // would list the module twice in the import object, which esbuild warns of.
    #[wasm_bindgen(js_name = requestBytes)]
    fn request_bytes(req: &web_sys::Request) -> js_sys::Promise;

    #[wasm_bindgen(js_name = makeResponse)]
    pub fn make_response(status: u16, headers: &str, body: &[u8]) -> web_sys::Response;

    type Answer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Answer) -> u16;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &Answer) -> String;
    #[wasm_bindgen(method, getter)]
    fn body(this: &Answer) -> Vec<u8>;
}

/// An answer read whole: status, header pairs, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a failed call threw, as text ("TypeError: Network connection lost."); `otp-timeout` when
/// its time-out fired.
pub fn error_text(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.to_string()),
        None => e.as_string().unwrap_or_else(|| format!("{e:?}")),
    }
}

/// The glue's marker for a call its time-out ended.
pub const TIMED_OUT: &str = "otp-timeout";

async fn reply(promise: js_sys::Promise) -> Result<Reply, String> {
    let answer: Answer = JsFuture::from(promise)
        .await
        .map_err(|e| error_text(&e))?
        .unchecked_into();
    Ok(Reply {
        status: answer.status(),
        headers: crate::net::split_header_pairs(&answer.headers()),
        body: answer.body(),
    })
}

pub async fn fetch(
    url: &str,
    method: &str,
    headers: &str,
    body: &[u8],
    timeout_ms: u32,
) -> Result<Reply, String> {
    reply(http_call(url, method, headers, body, timeout_ms)).await
}

/// A POST to the Durable Object `name` of the namespace bound as `binding`.
pub async fn call_object(
    env: &JsValue,
    binding: &str,
    name: &str,
    url: &str,
    body: &str,
) -> Result<Reply, String> {
    reply(object_call(env, binding, name, url, body)).await
}

pub async fn read_bytes(req: &web_sys::Request) -> Result<Vec<u8>, String> {
    let bytes = JsFuture::from(request_bytes(req))
        .await
        .map_err(|e| error_text(&e))?;
    Ok(bytes.unchecked_into::<js_sys::Uint8Array>().to_vec())
}
