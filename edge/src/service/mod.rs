//! Business rules over the store and the gateways.

pub mod keys;
pub mod model;
pub mod ratelimit;
pub mod sealing;
