//! HTTP-facing layer: request/response model, errors, routing and handlers.

pub mod error;
pub mod http;
