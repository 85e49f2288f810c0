//! Routes that speak other systems' contracts: the seed's `/api/*` aliases and Twilio Verify v2.

pub mod seed;
pub mod twilio;
