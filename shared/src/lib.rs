//! Rules shared by the edge and the phone gateway. Pure Rust, no I/O: callers pass in time and randomness.

pub mod enrol;
pub mod ids;
pub mod otp;
pub mod phone;
pub mod sms;
pub mod templates;
pub mod wire;
pub mod words;
