//! What the tenant gate is told after an answer.

use crate::platform::{GateAsk, Hit};

#[derive(Debug, Clone)]
pub enum Later {
    /// Limit hits of a request that ended before its gate call (bad input still counts).
    CountHits { gate: String, hits: Vec<Hit> },
    /// Something for a tenant's gate that needs no answer (an approval for the fraud guard).
    GateNote { gate: String, ask: Box<GateAsk> },
}
