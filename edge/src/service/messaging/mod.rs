//! Messages out and in: `dispatch` is the one way a message leaves (charge, record, hand to a
//! phone, correct); `reroute` gives a failed OTP to another phone; `messages` is the direct SMS;
//! `reports` takes delivery reports from the phones; `inbound` takes replies; `optouts` keeps
//! the numbers that said STOP.

pub mod converted;
pub mod dispatch;
pub mod fallback;
pub mod inbound;
pub mod later;
pub mod log;
pub mod messages;
pub mod optouts;
pub mod reports;
pub mod reroute;
