//! Native adapters (tests, tools): the same core over reqwest and the OS.

pub mod http;
pub mod platform;

pub use http::ReqwestClient;
pub use platform::NativePlatform;
