//! Every Firestore read and write the service makes, one file per document type; the layout is in
//! docs/design.md. A `Repo` is a short-lived view borrowed from the app (`app.repo()`): the store,
//! the HTTP client it talks through, the time, and the number of quota shards. Methods return the
//! store's own error, so services can tell a lost race (precondition) from an outage.

pub mod alerts;
pub mod canaries;
pub mod counters;
pub mod end_users;
pub mod enrolment;
pub mod fallback;
pub mod fleet;
pub mod geo;
pub mod idempotency;
pub mod inbound;
pub mod keys;
pub mod log;
pub mod messages;
pub mod quota;
pub mod reverse;
pub mod tenants;
pub mod upkeep;
pub mod verifications;
pub mod view;
pub mod webhooks;

pub use quota::ShardState;
pub use view::{Repo, COUNTDOWN_MS};
