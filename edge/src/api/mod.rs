//! The HTTP layer: the route table, the pipeline that applies it, request bodies, the renderings
//! of answers and errors, and the handlers (thin: input in, one service call, answer out).

pub mod auth;
pub mod body;
pub mod compat;
pub mod cors;
pub mod handlers;
pub mod http;
pub mod idempotency;
pub mod openapi;
pub mod pipeline;
pub mod render;
pub mod requests;
pub mod routes;
pub mod schemas;
pub mod views;
