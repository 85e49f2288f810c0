//! What the core needs from its host: outbound HTTP, time, randomness, rate-limit state and logs.
//! `wasm::WorkerPlatform` provides them inside workerd; `native::NativePlatform` in tests and tools.

pub mod fraud;

use serde::{Deserialize, Serialize};

use crate::net::HttpClient;

#[allow(async_fn_in_trait)]
pub trait Platform {
    type Http: HttpClient;
    fn http(&self) -> &Self::Http;
    fn now_ms(&self) -> i64;
    fn fill_random(&self, buf: &mut [u8]);
    /// One call to the tenant's gate (a Durable Object per tenant on Workers; memory natively):
    /// its rate limits, per-phone windows and quota lease, answered together. Errors only when
    /// the gate cannot be reached.
    async fn gate(&self, tenant_id: &str, ask: &GateAsk) -> Result<GateAnswer, String>;
    /// Hands analytics counts (counter document path, fields and amounts) to a durable holder
    /// that adds them to the store soon after (a tally Durable Object, which keeps them in its
    /// storage and commits them on an alarm; natively, at once). `Ok` means they are durable.
    async fn tally(&self, counts: Vec<(String, Vec<(String, i64)>)>) -> Result<(), String>;
    /// Waits `ms` (a retry waiting for an idempotent answer to be recorded backs off with it).
    async fn sleep(&self, ms: u64);
    /// One structured log line (JSON). Never pass secrets, codes or full phone numbers.
    fn log(&self, line: &str);
    /// The backup bucket (R2 binding `BACKUPS` on Workers): put, get, list by prefix, delete.
    /// Hosts without one answer `NO_BUCKET`.
    async fn blob_put(&self, _key: &str, _bytes: Vec<u8>) -> Result<(), String> {
        Err(NO_BUCKET.into())
    }
    async fn blob_get(&self, _key: &str) -> Result<Option<Vec<u8>>, String> {
        Err(NO_BUCKET.into())
    }
    /// Every key under `prefix`, in key order.
    async fn blob_list(&self, _prefix: &str) -> Result<Vec<String>, String> {
        Err(NO_BUCKET.into())
    }
    async fn blob_delete(&self, _key: &str) -> Result<(), String> {
        Err(NO_BUCKET.into())
    }
    /// Sends one email (`raw`: the whole RFC 5322 message) through the `send_email` binding
    /// `ALERT_EMAIL`. Hosts without one answer `NO_EMAIL`.
    async fn send_email(&self, _from: &str, _to: &str, _raw: &str) -> Result<(), String> {
        Err(NO_EMAIL.into())
    }
}

/// What a host without an email binding answers.
pub const NO_EMAIL: &str = "no email binding (send_email ALERT_EMAIL in wrangler.toml)";

/// What a host without a backup bucket answers.
pub const NO_BUCKET: &str = "no backup bucket (R2 binding BACKUPS in wrangler.toml)";

/// `limit` requests per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateRule {
    /// Requests allowed per window (the burst size).
    #[schema(minimum = 1)]
    pub limit: u32,
    #[schema(minimum = 1, maximum = 86400)]
    pub window_secs: u32,
}

/// Which limit a hit counts against; the refusal names it so the caller picks its error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Endpoint,
    Ip,
    /// OTP sends to one phone (`max_sends` per `send_window_secs`).
    PhoneSends,
    /// Direct messages to one phone.
    PhoneMessages,
    /// Failed authentications from one client address (checked before a key is looked up).
    AuthFailures,
    /// The fraud guard holds the destination or the end user (`GateAnswer::fraud` says which).
    Fraud,
}

/// One request counted against one limit of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub kind: LimitKind,
    /// The key within the tenant (a route name, a client address, a phone's hash).
    pub key: String,
    pub rule: RateRule,
    /// Unused: every limit's state is now kept in the gate's durable storage (an eviction resets
    /// none). Still accepted on the wire, so a gate and a worker of different versions agree.
    #[serde(default)]
    pub persist: bool,
}

/// What the request wants from the tenant's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum QuotaOp {
    #[default]
    None,
    /// One unit, from the lease (refilled from the store's shards when empty).
    Take,
    /// Units that paid for nothing go back to the lease.
    Refund { units: u32 },
    /// Drop the lease (the balance was reset by an admin): later takes read the shards afresh.
    Reset,
    /// How many units the lease holds (they are no longer in the shards).
    Peek,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GateAsk {
    #[serde(default)]
    pub hits: Vec<Hit>,
    #[serde(default)]
    pub quota: QuotaOp,
    /// Only say whether the hits would pass; count nothing.
    #[serde(default)]
    pub peek: bool,
    /// Give the hits back (a request counted them, then did nothing: a duplicate, a lost race).
    #[serde(default)]
    pub undo: bool,
    /// The fraud guard's part: an OTP about to be sent, an approval, or an admin's look.
    #[serde(default)]
    pub fraud: Option<crate::platform::fraud::FraudAsk>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub kind: LimitKind,
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum QuotaAnswer {
    #[default]
    None,
    Granted,
    Exhausted,
    /// The shards could not be read or written; nothing was taken.
    Unavailable {
        why: String,
    },
    Leased {
        units: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GateAnswer {
    /// The first limit that refused; then nothing was counted or taken.
    pub refused: Option<Refusal>,
    pub quota: QuotaAnswer,
    #[serde(default)]
    pub fraud: Option<crate::platform::fraud::FraudAnswer>,
}

/// A `rand_core` RNG over the platform's randomness, for the shared code generators.
pub struct PlatformRng<'a, P: Platform>(pub &'a P);

impl<P: Platform> rand_core::RngCore for PlatformRng<'_, P> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill_random(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill_random(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_random(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill_random(dest);
        Ok(())
    }
}

/// Random identifiers: a prefix and 20 base32 characters (100 bits), sortable by creation time
/// because the first 8 characters encode the millisecond clock.
pub fn new_id<P: Platform>(p: &P, prefix: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut out = String::with_capacity(prefix.len() + 1 + 20);
    out.push_str(prefix);
    out.push('_');
    let t = p.now_ms().max(0) as u64;
    for i in (0..8).rev() {
        out.push(ALPHABET[((t >> (i * 5)) & 31) as usize] as char);
    }
    let mut rnd = [0u8; 12];
    p.fill_random(&mut rnd);
    for b in rnd {
        out.push(ALPHABET[(b & 31) as usize] as char);
    }
    out
}

/// Milliseconds since the epoch as ISO 8601 UTC (`2026-11-25T10:00:00.000Z`), without a date crate.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

/// Parses `YYYY-MM-DD` or a full ISO 8601 UTC timestamp into unix milliseconds.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = s.get(0..10)?;
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (hh, mm, ss) = if s.len() > 10 {
        let t = s.get(11..19)?;
        let mut tp = t.split(':');
        (
            tp.next()?.parse::<i64>().ok()?,
            tp.next()?.parse::<i64>().ok()?,
            tp.next()?.parse::<i64>().ok()?,
        )
    } else {
        (0, 0, 0)
    };
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips() {
        for ms in [0i64, 951_782_400_000, 1_764_064_800_123, 4_102_444_800_000] {
            let s = iso8601(ms);
            assert_eq!(parse_iso8601(&s), Some(ms - ms % 1000), "{s}");
        }
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_iso8601("2000-02-29"), Some(951_782_400_000));
        assert_eq!(parse_iso8601("2000-13-01"), None);
    }
}
