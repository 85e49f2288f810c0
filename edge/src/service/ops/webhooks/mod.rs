//! Tenant webhooks. An event is written as one delivery document per subscribed endpoint in the
//! same commit as the change it reports (a message's new state, a verification's check, an inbound
//! SMS), so it can neither be lost nor reported for a change that did not happen: at least once.
//! The first attempt runs after the answer (`ops::later::Later::Webhooks`, `waitUntil`); retries run from
//! the scheduled job with exponential back-off for a day; an endpoint failing for a day is
//! disabled with a notice. Nothing here is on a request's path but that commit.

pub mod deliver;
pub mod endpoints;
pub mod events;
pub mod sign;
pub mod targets;

pub use events::{Event, EventType, Target};
