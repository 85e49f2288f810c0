//! Business rules over the store and the gateways. Nothing here knows about HTTP: services take
//! and return domain types and `crate::error::Error`.

pub mod admit;
pub mod alerts;
pub mod analytics;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cors;
pub mod cron;
pub mod dispatch;
pub mod end_user;
pub mod fleet;
pub mod fraud;
pub mod gate;
pub mod gateway;
pub mod geo;
pub mod guard;
pub mod inbound;
pub mod keys;
pub mod messages;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod optouts;
pub mod otp;
pub mod phones;
pub mod repo;
pub mod reports;
pub mod sealing;
pub mod secrets;
pub mod tenants;
pub mod webhooks;
