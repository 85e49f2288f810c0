//! The otp-sms public API. Everything outside `wasm` compiles natively so `cargo test` exercises it;
//! `wasm` is the thin workers-rs adapter.

pub mod api;
pub mod config;
pub mod error;
pub mod net;
pub mod platform;
pub mod service;
pub mod store;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(target_arch = "wasm32")]
mod wasm;
