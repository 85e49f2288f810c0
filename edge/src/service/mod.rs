//! Business rules over the store and the gateways, one folder per bounded context. Nothing here
//! knows about HTTP: services take and return domain types and `crate::error::Error`.
//!
//! - `app`, `ctx`, `cache`, `secrets`, `sealing`, `model`, `repo`: the state (`App` holds
//!   config, secrets, store, platform, gateways and caches, and no logic), what one request
//!   carries (`Ctx`), the TTL cell the caches use, the keys, the records and the store layout.
//! - `otp`: send, resend and verify a code.
//! - `messaging`: every message out (`dispatch`), reroutes, direct messages, delivery reports,
//!   inbound SMS and opt-outs.
//! - `fleet`: the phones: signed link, standings, canaries, stuck messages, the fleet tick.
//! - `tenants`: keys, authentication, admission through the tenant gate, quota, tenant admin.
//! - `abuse`: destination rules (geo, number types), the fraud guard, the end user's address.
//! - `ops`: webhooks, alerts, notices, metrics, analytics, audit, CORS, the scheduled job.
//! - `later`: the work a request leaves for after its answer, run by the context that owns it.
//!
//! Dependencies point one way: the contexts use the state; the state uses only leaf types.

pub mod abuse;
pub mod app;
pub mod cache;
pub mod ctx;
pub mod fleet;
pub mod later;
pub mod messaging;
pub mod model;
pub mod ops;
pub mod otp;
pub mod repo;
pub mod sealing;
pub mod secrets;
pub mod tenants;
