//! otp_shared::phone on arbitrary text: parsing never panics, and what it accepts is canonical E.164.
//!
//! Properties of an accepted number: `+` then ASCII digits, no leading 0, a known country code
//! a national number of 2..=17 digits, a region exactly when the code
//! belongs to a country, parsing its canonical form gives it back (idempotent), also with any
//! country given, `parse_e164` agrees with `Phone::parse`, and the masked form hides digits without
//! moving or inventing any.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_shared::phone::{self, Phone, PhoneError};

fuzz_target!(|input: &str| {
    let parsed = Phone::parse(input);
    assert_eq!(parsed, phone::parse_e164(input));
    let p = match parsed {
        Ok(p) => p,
        Err(PhoneError::Required) => {
            assert!(input.trim().is_empty(), "Required only for blank input");
            return;
        }
        Err(e) => {
            assert_eq!(e.code(), "phone_invalid");
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let s = p.as_str();
    let digits = s.strip_prefix('+').expect("canonical form starts with +");
    assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{s:?}");
    assert!(!digits.starts_with('0'), "{s:?}");
    let cc = p.country_code();
    assert_eq!(phone::country_code_of(digits), Some(cc));
    assert!(digits.starts_with(&cc.to_string()));
    // (Not "+1 numbers have 11 digits": Canada's 310-xxxx UAN numbers are valid with 7, as
    // libphonenumber says; SMS refuses them by type, see `sms_policy`.)
    assert!((2..=17).contains(&p.national_number().len()), "{s:?}");
    assert_eq!(p.region().is_some(), p.global_range().is_none(), "{s:?}");

    assert_eq!(Phone::parse(s).as_ref(), Ok(&p), "idempotent");
    assert_eq!(Phone::parse_with_country(s, Some("DE")).as_ref(), Ok(&p), "+ wins");
    assert_eq!(p.to_string(), s);

    let m = p.masked();
    assert_eq!(m.len(), s.len());
    assert_eq!(&m[m.len() - 2..], &s[s.len() - 2..]);
    assert!(m.chars().zip(s.chars()).all(|(mc, sc)| mc == '*' || mc == sc), "{m:?} vs {s:?}");
    // At most the country code, three more digits and the last two are shown.
    let shown = m.bytes().filter(u8::is_ascii_digit).count();
    assert!(shown <= cc.to_string().len() + 3 + 2, "{m:?}");
});
