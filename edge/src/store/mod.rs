//! Firestore through its REST API (v1), over the `HttpClient` trait so the same code runs in
//! workerd (Fetch) and natively (reqwest). `value` maps JSON to Firestore values, `auth` gets
//! access tokens, `client` does the document operations the service uses.

pub mod auth;
pub mod client;
pub mod heat;
pub mod metrics;
pub mod value;

pub use client::{Doc, Filter, Firestore, Precondition, StoreError, Write};
