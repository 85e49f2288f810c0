//! The phone gateway: a signed HTTP endpoint in front of a durable SQLite queue, drained by a paced
//! sender that runs `termux-sms-send`, with delivery reports to the edge and a kill switch.

pub mod app;
pub mod budget;
pub mod callback;
pub mod capacity;
pub mod classify;
pub mod cleanup;
pub mod config;
pub mod device;
pub mod enrol;
pub mod fair_share;
pub mod inbound;
pub mod keyring;
pub mod kill_switch;
pub mod net;
pub mod pacing;
pub mod reports;
pub mod run;
pub mod sender;
pub mod server;
pub mod store;

/// The version this binary reports (`--version`, `GET /health`): set at build time by the release
/// build (`PHONE_GATEWAY_VERSION`), else the crate's.
pub const VERSION: &str = match option_env!("PHONE_GATEWAY_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Unix milliseconds now.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Exponential backoff for attempt `n` (1-based): half fixed, half random ("equal jitter").
pub fn backoff_ms(base_ms: u64, max_ms: u64, n: u32) -> u64 {
    use rand::Rng;
    let exp = base_ms
        .saturating_mul(1u64 << n.saturating_sub(1).min(30))
        .min(max_ms)
        .max(1);
    exp / 2 + rand::thread_rng().gen_range(0..=exp / 2)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..6 {
            let b = super::backoff_ms(1000, 10_000, n);
            let exp = (1000u64 << (n - 1)).min(10_000);
            assert!(b >= exp / 2 && b <= exp, "attempt {n}: {b}");
        }
        assert!(super::backoff_ms(1000, 10_000, 40) <= 10_000);
    }
}
