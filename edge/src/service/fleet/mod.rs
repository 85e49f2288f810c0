//! The phone fleet: the signed link to each phone (`gateway`), which phone to offer a message to
//! first (`standing`), messages stuck without a final state
//! found and dealt with (`stuck`), canaries between the phones (`canary`), and the scheduled part
//! that probes every phone and raises and clears the fleet's alerts (`tick`). The phones' own half
//! (SIM budgets, failure classes, device health) is in `phone-gateway`.

pub mod canary;
pub mod converting;
pub mod enrol;
pub mod enrolled;
pub mod gateway;
pub mod links;
pub mod model;
pub mod outcomes;
pub mod phone;
pub mod roster;
pub mod standing;
pub mod stuck;
pub mod tick;

pub use tick::tick;
