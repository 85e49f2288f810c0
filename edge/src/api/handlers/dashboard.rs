//! The operators' dashboard: static files compiled into the worker. The page asks for a key (an
//! admin key for the console, a tenant key for that tenant's own view) and calls the API like any
//! other client; serving it needs no key. `app.js` and `app.css` are esbuild's bundle of
//! `assets/dashboard/src/` with uPlot (`scripts/build-dashboard.sh`, run by setup and the worker
//! build); `index.html` is served as written.

use crate::api::http::ApiResponse;

const INDEX: &str = include_str!("../../../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../../../assets/dashboard/dist/app.js");
const STYLE: &str = include_str!("../../../assets/dashboard/dist/app.css");

pub fn page() -> ApiResponse {
    asset("text/html; charset=utf-8", INDEX)
}

pub fn script() -> ApiResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub fn style() -> ApiResponse {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &str, body: &'static str) -> ApiResponse {
    ApiResponse::raw(200, content_type, body)
        .with_header("content-security-policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        .with_header("x-frame-options", "DENY")
        .with_header("x-content-type-options", "nosniff")
        .with_header("referrer-policy", "no-referrer")
        .with_header("cache-control", "no-cache")
}
