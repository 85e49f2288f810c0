//! One-time code rules: what a code looks like, how an answer is normalised, how a code is
//! stored (HMAC-SHA256 keyed with a server secret and bound to its verification id) and compared
//! (constant time), and what an attacker's odds are.

use hmac::{Hmac, Mac};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::words;

/// How much of a code's life must be left for it to be worth another phone. A phone fails a
/// queued OTP it could not send before `expiry - REROUTE_MARGIN_MS` while at least this much is
/// left (rather than holding it to expire), so the edge can still hand it on.
pub const REROUTE_MARGIN_MS: i64 = 30_000;

/// The least validity the edge gives another phone a code with: the phone's margin less the time
/// its failure report may take to arrive (half the margin).
pub const MIN_REROUTE_VALIDITY_MS: i64 = REROUTE_MARGIN_MS / 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CodeType {
    Words { count: u8 },
    Digits { len: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeTypeError {
    #[error("word codes have 1 to 4 words")]
    WordCount,
    #[error("digit codes have 4 to 10 digits")]
    DigitLength,
}

impl CodeTypeError {
    pub fn code(&self) -> &'static str {
        "code_type_invalid"
    }
}

impl CodeType {
    pub fn validate(self) -> Result<Self, CodeTypeError> {
        match self {
            CodeType::Words { count } if !(1..=4).contains(&count) => Err(CodeTypeError::WordCount),
            CodeType::Digits { len } if !(4..=10).contains(&len) => Err(CodeTypeError::DigitLength),
            ok => Ok(ok),
        }
    }
}

/// A uniform integer below `n` (rejection sampling: no modulo bias).
fn below<R: RngCore>(rng: &mut R, n: u32) -> u32 {
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let x = rng.next_u32();
        if x < zone {
            return x % n;
        }
    }
}

/// A fresh code; words are joined by single spaces.
pub fn generate<R: RngCore>(ct: CodeType, rng: &mut R) -> String {
    match ct {
        CodeType::Words { count } => {
            let list = words::words();
            (0..count)
                .map(|_| list[below(rng, list.len() as u32) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        }
        CodeType::Digits { len } => (0..len)
            .map(|_| char::from(b'0' + below(rng, 10) as u8))
            .collect(),
    }
}

/// What the person typed, in the form the code was hashed in. Words: case and separators do not
/// matter ("Forest  River", "forest-river" -> "forest river"). Digits: spaces and dashes dropped.
pub fn normalize(ct: CodeType, input: &str) -> String {
    match ct {
        // Lower-case first: some capitals (Turkish İ) lower-case to a letter plus a combining dot,
        // which must not split a word; the dot itself is dropped so "FİSH" reads as "fish".
        CodeType::Words { .. } => {
            let lower: String = input
                .to_lowercase()
                .chars()
                .filter(|&c| c != '\u{307}')
                .collect();
            lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }
        CodeType::Digits { .. } => input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect(),
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Hex HMAC-SHA256 of the normalised code, bound to the verification id so a stored hash is
/// worthless for any other verification.
pub fn code_hmac(key: &[u8], verification_id: &str, normalized: &str) -> String {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
    mac.update(verification_id.as_bytes());
    mac.update(&[0]);
    mac.update(normalized.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn hmac_matches(key: &[u8], verification_id: &str, normalized: &str, stored_hex: &str) -> bool {
    code_hmac(key, verification_id, normalized)
        .as_bytes()
        .ct_eq(stored_hex.as_bytes())
        .into()
}

/// How many codes the configuration can produce.
pub fn code_space(ct: CodeType) -> u64 {
    match ct {
        CodeType::Words { count } => (words::words().len() as u64).saturating_pow(count as u32),
        CodeType::Digits { len } => 10u64.saturating_pow(len as u32),
    }
}

/// The chance that someone guessing gets one verification right within `max_checks` tries.
pub fn guess_odds(ct: CodeType, max_checks: u32) -> f64 {
    (max_checks as f64 / code_space(ct) as f64).min(1.0)
}

/// The weakest settings accepted: Twilio Verify's weakest (4 digits, 5 checks), 1 in 2,000 per
/// verification. One word (a list of ~2,700) therefore allows one check only.
pub const MAX_GUESS_ODDS: f64 = 5e-4;

/// The chance that someone guessing at one phone all day gets in at least once, when the phone
/// takes at most `failed_per_day` wrong checks (across verifications) per day: each guess is
/// against a fresh uniform code at best, so `1 - (1 - 1/space)^guesses`.
pub fn daily_guess_odds(ct: CodeType, failed_per_day: u32) -> f64 {
    let space = code_space(ct) as f64;
    // -expm1(k * ln(1 - 1/N)) keeps precision when 1/N is tiny.
    (-(failed_per_day as f64 * (-1.0 / space).ln_1p()).exp_m1()).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u32);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            // xorshift32: good enough low bits for a distribution check.
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            self.0
        }
        fn next_u64(&mut self) -> u64 {
            self.next_u32() as u64
        }
        fn fill_bytes(&mut self, d: &mut [u8]) {
            d.iter_mut().for_each(|b| *b = self.next_u32() as u8)
        }
        fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(d);
            Ok(())
        }
    }

    #[test]
    fn validates_bounds() {
        assert!(CodeType::Words { count: 0 }.validate().is_err());
        assert!(CodeType::Words { count: 5 }.validate().is_err());
        assert!(CodeType::Digits { len: 3 }.validate().is_err());
        assert!(CodeType::Digits { len: 10 }.validate().is_ok());
    }

    #[test]
    fn generates_codes_of_the_asked_shape() {
        let mut r = Counter(7);
        let w = generate(CodeType::Words { count: 3 }, &mut r);
        assert_eq!(w.split(' ').count(), 3);
        assert!(w.split(' ').all(words::contains));
        let d = generate(CodeType::Digits { len: 8 }, &mut r);
        assert!(d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn digits_are_uniform_enough() {
        let mut r = Counter(1);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            counts
                [(generate(CodeType::Digits { len: 4 }, &mut r).as_bytes()[0] - b'0') as usize] +=
                1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn normalisation_ignores_case_and_separators() {
        let w = CodeType::Words { count: 2 };
        assert_eq!(normalize(w, "  Forest   RIVER "), "forest river");
        assert_eq!(normalize(w, "forest-river,"), "forest river");
        assert_eq!(normalize(w, "FİSH"), "fish");
        assert_eq!(normalize(w, &normalize(w, "jjj İ")), normalize(w, "jjj İ"));
        assert_eq!(
            normalize(CodeType::Digits { len: 6 }, " 123-456 "),
            "123456"
        );
    }

    #[test]
    fn hmac_binds_the_verification() {
        let h = code_hmac(b"secret-0123456789", "ver_1", "forest");
        assert!(hmac_matches(b"secret-0123456789", "ver_1", "forest", &h));
        assert!(!hmac_matches(b"secret-0123456789", "ver_2", "forest", &h));
        assert!(!hmac_matches(b"secret-0123456789", "ver_1", "forests", &h));
        assert!(!h.contains("forest"));
    }

    #[test]
    fn odds_follow_the_space() {
        let n = words::words().len() as f64;
        assert!((guess_odds(CodeType::Words { count: 2 }, 5) - 5.0 / (n * n)).abs() < 1e-15);
        assert_eq!(code_space(CodeType::Digits { len: 6 }), 1_000_000);
        assert_eq!(guess_odds(CodeType::Digits { len: 4 }, 20_000), 1.0);
    }

    #[test]
    fn the_weakest_accepted_settings_are_twilios_weakest() {
        // 4 digits with 5 checks sits exactly on the floor; one word needs a single check.
        assert!(guess_odds(CodeType::Digits { len: 4 }, 5) <= MAX_GUESS_ODDS);
        assert!(guess_odds(CodeType::Digits { len: 4 }, 6) > MAX_GUESS_ODDS);
        assert!(guess_odds(CodeType::Words { count: 1 }, 1) <= MAX_GUESS_ODDS);
        assert!(guess_odds(CodeType::Words { count: 1 }, 2) > MAX_GUESS_ODDS);
        assert!(guess_odds(CodeType::Words { count: 2 }, 5) <= MAX_GUESS_ODDS);
    }

    #[test]
    fn daily_odds_grow_with_the_guesses_a_phone_allows() {
        let two_words = CodeType::Words { count: 2 };
        let n = code_space(two_words) as f64;
        let day = daily_guess_odds(two_words, 30);
        // Close to 30/N for a large space, never above it.
        assert!(day <= 30.0 / n && day > 29.9 / n, "{day}");
        assert!(daily_guess_odds(two_words, 10) < day);
        assert_eq!(daily_guess_odds(CodeType::Digits { len: 4 }, 0), 0.0);
    }
}
