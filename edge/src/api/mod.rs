//! HTTP-facing layer: request/response model, errors, routing and handlers.

pub mod admin;
pub mod app;
pub mod body;
pub mod callback;
pub mod dashboard;
pub mod error;
pub mod http;
pub mod messages;
pub mod openapi;
pub mod otp;
pub mod router;
pub mod seed;
pub mod status;
pub mod twilio;
pub mod usage;
