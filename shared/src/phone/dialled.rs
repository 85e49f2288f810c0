//! From what a person typed to a calling code and a national (significant) number, following
//! libphonenumber's parser: `+` or the region's international prefix, then the calling code; or a
//! national format with its region given (`0412 345 678`, AU), whose trunk prefix and carrier
//! code are dropped and, where the region says so, replaced (Argentina's `15` mobile prefix).
//!
//! The prefix rules are regexes with captures, so they run on regex-lite, compiled the first time
//! a region needs them. Numbers written in full (`+61412345678`) that are valid as written never
//! need them, which keeps the worker's usual request free of any compilation.

use std::sync::OnceLock;

use regex_lite::Regex;

use super::metadata::{self, LengthFit, RegionId, REGION_COUNT};
use super::PhoneError;

/// libphonenumber's bounds for a national significant number.
const NSN_LENGTHS: std::ops::RangeInclusive<usize> = 2..=17;

pub(super) struct Dialled {
    pub country_code: u16,
    pub nsn: String,
}

pub(super) fn parse(input: &str, region: Option<RegionId>) -> Result<Dialled, PhoneError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(PhoneError::Required);
    }
    if let Some(rest) = s.strip_prefix('+') {
        return international(&digits_of(rest)?);
    }
    let digits = digits_of(s)?;
    match region {
        Some(r) => match without_international_prefix(r, &digits) {
            Some(rest) => international(rest),
            None => national(r, &digits),
        },
        // `00` is the international prefix in most of the world.
        None => match digits.strip_prefix("00") {
            Some(rest) => international(rest),
            None => Err(PhoneError::Invalid(
                "must start with + and the country code, or come with its country",
            )),
        },
    }
}

/// The digits of `s`; the separators people write between them are dropped.
fn digits_of(s: &str) -> Result<String, PhoneError> {
    let mut digits = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(PhoneError::Invalid(
                    "may contain only digits, spaces, dashes, dots and parentheses",
                ))
            }
        }
    }
    Ok(digits)
}

/// Digits after `+` or an international prefix: the calling code, then the national number.
fn international(digits: &str) -> Result<Dialled, PhoneError> {
    if digits.starts_with('0') {
        return Err(PhoneError::Invalid("country code cannot start with 0"));
    }
    let country_code =
        metadata::country_code_of(digits).ok_or(PhoneError::Invalid("unknown country code"))?;
    let nsn = &digits[country_code.to_string().len()..];
    // A trunk prefix kept after the calling code (`+44 (0)20 7946 0000`) is dropped as
    // libphonenumber drops it, but only from a number that is not valid as written: a valid
    // number is never rewritten.
    let nsn = if is_valid(country_code, nsn) {
        nsn.to_string()
    } else {
        let main = metadata::regions_of(country_code).start;
        without_national_prefix(main, nsn).unwrap_or_else(|| nsn.to_string())
    };
    checked(country_code, nsn)
}

fn is_valid(country_code: u16, nsn: &str) -> bool {
    metadata::region_of_number(country_code, nsn)
        .is_some_and(|r| metadata::region(r).number_type(nsn).is_some())
}

/// A number in `r`'s national format, perhaps with its calling code but no `+`.
fn national(r: RegionId, digits: &str) -> Result<Dialled, PhoneError> {
    let region = metadata::region(r);
    let country_code = region.country_code;
    let main = metadata::regions_of(country_code).start;
    // `61 412 345 678` for Australia: the calling code is taken as such when the number is only
    // viable without it, or too long with it (libphonenumber's rule).
    if let Some(rest) = digits.strip_prefix(&country_code.to_string()) {
        let rest = strip_national_prefix(r, rest).unwrap_or_else(|| rest.to_string());
        let viable_only_without = !region.is_viable(digits) && region.is_viable(&rest);
        if viable_only_without || region.length_fit(digits.len()) == LengthFit::TooLong {
            let nsn = without_national_prefix(main, &rest).unwrap_or(rest);
            return checked(country_code, nsn);
        }
    }
    let nsn = without_national_prefix(r, digits).unwrap_or_else(|| digits.to_string());
    checked(country_code, nsn)
}

fn checked(country_code: u16, nsn: String) -> Result<Dialled, PhoneError> {
    if nsn.len() < *NSN_LENGTHS.start() {
        return Err(PhoneError::Invalid("is too short"));
    }
    if nsn.len() > *NSN_LENGTHS.end() {
        return Err(PhoneError::Invalid("is too long"));
    }
    Ok(Dialled { country_code, nsn })
}

/// `nsn` without its national prefix when libphonenumber drops it: the prefix rule matched and
/// what remains has a length the region uses (else the digits may be a short number).
fn without_national_prefix(r: RegionId, nsn: &str) -> Option<String> {
    let stripped = strip_national_prefix(r, nsn)?;
    match metadata::region(r).length_fit(stripped.len()) {
        LengthFit::Possible | LengthFit::TooLong => Some(stripped),
        LengthFit::TooShort | LengthFit::LocalOnly | LengthFit::Invalid => None,
    }
}

/// libphonenumber's `maybeStripNationalPrefixAndCarrierCode`: the region's prefix rule at the
/// start of `nsn`, removed or replaced by its transform; refused when it turns a number that
/// matched the region's general pattern into one that does not.
fn strip_national_prefix(r: RegionId, nsn: &str) -> Option<String> {
    let region = metadata::region(r);
    if nsn.is_empty() || region.national_prefix_for_parsing.is_empty() {
        return None;
    }
    let re = compiled(&NATIONAL_PREFIX, r, region.national_prefix_for_parsing);
    let caps = re.captures(nsn)?;
    let end = caps.get(0)?.end();
    let last_group = caps.get(caps.len() - 1);
    let result = if region.national_prefix_transform.is_empty() || last_group.is_none() {
        nsn[end..].to_string()
    } else {
        let mut out = String::new();
        caps.expand(region.national_prefix_transform, &mut out);
        out + &nsn[end..]
    };
    if region.is_viable(nsn) && !region.is_viable(&result) {
        return None;
    }
    Some(result)
}

/// What follows `r`'s international prefix ("00", "011"...), unless the next digit is 0: no
/// calling code starts with 0, so the digits are national (`0011` is not `00` then `11`).
fn without_international_prefix(r: RegionId, digits: &str) -> Option<&str> {
    let pattern = metadata::region(r).international_prefix;
    if pattern.is_empty() {
        return None;
    }
    let end = compiled(&INTERNATIONAL_PREFIX, r, pattern)
        .find(digits)?
        .end();
    let rest = &digits[end..];
    (!rest.starts_with('0')).then_some(rest)
}

type Cache = [OnceLock<Regex>; REGION_COUNT];
static NATIONAL_PREFIX: Cache = [const { OnceLock::new() }; REGION_COUNT];
static INTERNATIONAL_PREFIX: Cache = [const { OnceLock::new() }; REGION_COUNT];

/// `pattern`, anchored at the start, compiled once per region.
fn compiled(cache: &'static Cache, r: RegionId, pattern: &str) -> &'static Regex {
    cache[r as usize].get_or_init(|| {
        Regex::new(&format!("^(?:{pattern})")).expect("the table's patterns are checked by tests")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_rule_compiles() {
        for r in 0..REGION_COUNT as RegionId {
            let region = metadata::region(r);
            compiled(&NATIONAL_PREFIX, r, region.national_prefix_for_parsing);
            compiled(&INTERNATIONAL_PREFIX, r, region.international_prefix);
        }
    }
}
