//! Tenants and their access: API keys (`keys`), who is calling (`auth`), admission through the
//! tenant's gate (`admission`, with the gate's own rules in `gate`), quota, and tenant
//! administration (`admin`).

pub mod admin;
pub mod admission;
pub mod auth;
pub mod gate;
pub mod key_cache;
pub mod keys;
pub mod later;
pub mod quota;
