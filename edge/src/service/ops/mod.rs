//! Running the service: tenant webhooks, operator alerts, notices to a tenant's contact phone,
//! metrics, usage analytics, the audit log, CORS origins, and the scheduled job (`cron`).

pub mod alerts;
pub mod analytics;
pub mod audit;
pub mod backup;
pub mod conversion;
pub mod cors;
pub mod cron;
pub mod email;
pub mod end_users;
pub mod incidents;
pub mod later;
pub mod metrics;
pub mod notices;
pub mod notify;
pub mod operators;
pub mod usage;
pub mod webhooks;
