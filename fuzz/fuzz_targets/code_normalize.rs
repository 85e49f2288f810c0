//! otp_shared::otp::normalize on arbitrary answers: no panic, idempotent, and the forms a person may type
//! (case, extra spaces, dashes, commas) of a generated code normalise to the code itself.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_shared::otp::{self, CodeType};
use rand_core::RngCore;

#[derive(Debug, Arbitrary)]
struct Input {
    words: bool,
    size: u8,
    answer: String,
    seed: u64,
    /// How to retype the generated code: per separator, which one; upper-casing; padding.
    separators: Vec<u8>,
    upper: bool,
    pad: u8,
}

/// splitmix64: a deterministic generator fed by the fuzzer (a byte-slice RNG could starve the
/// rejection sampling in `generate`, which is not what is tested here).
struct Mix(u64);
impl RngCore for Mix {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.iter_mut().for_each(|b| *b = self.next_u32() as u8)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

fuzz_target!(|input: Input| {
    let ct = if input.words { CodeType::Words { count: input.size } } else { CodeType::Digits { len: input.size } };

    // Any answer, any code type (valid or not): no panic, a fixed point after one pass.
    let once = otp::normalize(ct, &input.answer);
    assert_eq!(otp::normalize(ct, &once), once, "not idempotent for {:?}", input.answer);
    match ct {
        CodeType::Digits { .. } => assert!(!once.chars().any(|c| c.is_whitespace() || c == '-'), "{once:?}"),
        CodeType::Words { .. } => {
            assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "), "{once:?}");
        }
    }

    // A generated code is already normal, and the ways a person retypes it normalise back to it.
    let Ok(ct) = ct.validate() else { return };
    let code = otp::generate(ct, &mut Mix(input.seed));
    assert_eq!(otp::normalize(ct, &code), code, "generated code is not in normal form");
    let seps: &[&str] = match ct {
        CodeType::Words { .. } => &[" ", "  ", "-", ", ", " - ", "\t", "\n", "."],
        CodeType::Digits { .. } => &["", " ", "-", " - ", "\t"],
    };
    let mut typed = " ".repeat((input.pad % 4) as usize);
    let parts: Vec<String> = match ct {
        CodeType::Words { .. } => code.split(' ').map(str::to_string).collect(),
        CodeType::Digits { .. } => code.chars().map(String::from).collect(),
    };
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            let pick = input.separators.get(i).copied().unwrap_or(0) as usize;
            typed.push_str(seps[pick % seps.len()]);
        }
        typed.push_str(&if input.upper { part.to_uppercase() } else { part.clone() });
    }
    typed.push_str(&" ".repeat((input.pad / 4 % 4) as usize));
    assert_eq!(otp::normalize(ct, &typed), code, "typed as {typed:?}");
});
