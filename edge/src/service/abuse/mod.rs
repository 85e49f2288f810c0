//! What a send may not do: destinations by country and range (`geo`), number types
//! (`numbers`), pumping runs caught by the fraud guard (`fraud`), and the end user's address
//! that the per-address limit and the guard count (`end_user`).

pub mod destination;
pub mod end_user;
pub mod fraud;
pub mod geo;
pub mod numbers;
