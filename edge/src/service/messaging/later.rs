//! What messaging does after an answer.

#[derive(Debug, Clone)]
pub enum Later {
    /// Give a failed OTP to another phone while its code is valid (`reroute`).
    Reroute { message_id: String },
}
