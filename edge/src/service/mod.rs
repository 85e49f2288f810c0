//! Business rules over the store and the gateways.

pub mod analytics;
pub mod cron;
pub mod gateway;
pub mod keys;
pub mod messages;
pub mod model;
pub mod notify;
pub mod otp;
pub mod quota;
pub mod ratelimit;
pub mod repo;
pub mod sealing;
pub mod tenants;
