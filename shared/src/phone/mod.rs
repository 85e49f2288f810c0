//! Phone numbers, validated against libphonenumber's metadata: a number is accepted only when it
//! is valid for its region (right length, in a range the region assigns), and its region and type
//! (mobile, fixed line, premium rate...) are known. Input is E.164 with human formatting (spaces,
//! dashes, dots, parentheses; `00` for `+`), or a national format with its country
//! (`Phone::parse_with_country("0412 345 678", Some("AU"))`). The canonical form is E.164.
//!
//! The edge and the gateway run the same rule: [`Phone::parse`] (or `parse_with_country`), then
//! [`sms_policy`] on [`Phone::number_type`].

mod dialled;
mod global_range;
mod metadata;
mod number_type;
#[rustfmt::skip]
mod table;

use std::fmt;

pub use global_range::GlobalRange;
pub use number_type::{sms_policy, NumberType};

/// The `phonenumber` crate (feature `libphonenumber`, native only). It misreads a few valid
/// numbers (Italian landlines, Russia's `+7 8..`: see `tests/phone_crosscheck`): use it for
/// formatting, never to decide validity.
#[cfg(all(feature = "libphonenumber", not(target_arch = "wasm32")))]
pub use phonenumber as libphonenumber;

use metadata::{LengthFit, RegionId};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    region: RegionId,
    number_type: NumberType,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is required")]
    Required,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("country must be an ISO 3166 alpha-2 code, such as AU")]
    UnknownCountry,
    #[error("SMS codes go to mobile numbers; this is a {0} number")]
    NotMobile(NumberType),
}

impl PhoneError {
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Required => "phone_required",
            PhoneError::Invalid(_) => "phone_invalid",
            PhoneError::UnknownCountry => "country_invalid",
            PhoneError::NotMobile(_) => "phone_not_mobile",
        }
    }
}

/// The calling code `digits` starts with, if any (codes are prefix-free).
pub fn country_code_of(digits: &str) -> Option<u16> {
    metadata::country_code_of(digits)
}

impl Phone {
    /// A number in international form: `+` (or `00`) and the calling code.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        Phone::parse_with_country(input, None)
    }

    /// A number in international form, or in the national format of `country` (ISO 3166
    /// alpha-2, any case). A number with `+` keeps its own calling code whatever `country` says.
    pub fn parse_with_country(input: &str, country: Option<&str>) -> Result<Phone, PhoneError> {
        if input.trim().is_empty() {
            return Err(PhoneError::Required);
        }
        let hint = match country.map(str::trim).filter(|c| !c.is_empty()) {
            Some(iso) => Some(metadata::region_by_iso(iso).ok_or(PhoneError::UnknownCountry)?),
            None => None,
        };
        let dialled = dialled::parse(input, hint)?;
        let (cc, nsn) = (dialled.country_code, dialled.nsn);
        let found = metadata::region_of_number(cc, &nsn)
            .and_then(|r| Some((r, metadata::region(r).number_type(&nsn)?)));
        let Some((region, number_type)) = found else {
            return Err(PhoneError::Invalid(why_invalid(cc, &nsn)));
        };
        Ok(Phone {
            e164: format!("+{cc}{nsn}"),
            region,
            number_type,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.e164
    }

    pub fn country_code(&self) -> u16 {
        metadata::region(self.region).country_code
    }

    /// The national significant number: the digits after the calling code.
    pub fn national_number(&self) -> &str {
        &self.e164[1 + self.country_code().to_string().len()..]
    }

    /// ISO 3166 alpha-2 code of the number's region; `None` for the calling codes of no country
    /// (see [`Phone::global_range`]).
    pub fn region(&self) -> Option<&'static str> {
        let r = metadata::region(self.region);
        r.is_geographic().then_some(r.id)
    }

    pub fn number_type(&self) -> NumberType {
        self.number_type
    }

    /// The global service of a number outside every country (+800, +870, +882...).
    pub fn global_range(&self) -> Option<GlobalRange> {
        GlobalRange::of_country_code(self.country_code())
    }

    /// Ranges a geo policy should be able to deny as a whole: satellite phones, international
    /// networks and the other calling codes of no country, premium rate and freephone.
    pub fn is_high_risk_range(&self) -> bool {
        self.global_range().is_some()
            || matches!(
                self.number_type,
                NumberType::PremiumRate | NumberType::TollFree
            )
    }

    /// THE mask of a number, everywhere (logs, stored records, every API answer, the console):
    /// the calling code and three digits, then the last two (`+1415*****23`). One rule, so a reply
    /// and the message it answers show the same text. See [`mask_number`] for raw strings.
    pub fn masked(&self) -> String {
        let s = &self.e164;
        let keep_front = 1 + self.country_code().to_string().len() + 3;
        let keep_front = keep_front.min(s.len().saturating_sub(2));
        format!(
            "{}{}{}",
            &s[..keep_front],
            "*".repeat(s.len() - keep_front - 2),
            &s[s.len() - 2..]
        )
    }
}

/// [`Phone::masked`] for a number kept as text (a contact phone, an audited body): the same mask
/// when it parses; otherwise the first five and the last two characters around stars, so no
/// stored text ever shows a whole number either.
pub fn mask_number(raw: &str) -> String {
    if let Ok(p) = Phone::parse(raw) {
        return p.masked();
    }
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let front: String = chars[..5].iter().collect();
    let back: String = chars[chars.len() - 2..].iter().collect();
    format!("{front}{}{back}", "*".repeat(chars.len() - 7))
}

/// Every string in `v` that is a phone number (E.164: `+` and 8 to 15 digits) masked with
/// [`mask_number`]: audit details keep request bodies, which may carry numbers.
pub fn mask_numbers_in(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            let digits = s.len().saturating_sub(1);
            if s.starts_with('+')
                && (8..=15).contains(&digits)
                && s[1..].bytes().all(|b| b.is_ascii_digit())
            {
                *s = mask_number(s);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(mask_numbers_in),
        serde_json::Value::Object(o) => o.values_mut().for_each(mask_numbers_in),
        _ => {}
    }
}

/// Why a number with calling code `cc` is not valid, judged by its main region's lengths as
/// libphonenumber's `isPossibleNumberWithReason` does.
fn why_invalid(cc: u16, nsn: &str) -> &'static str {
    let main = metadata::region(metadata::regions_of(cc).start);
    match main.length_fit(nsn.len()) {
        LengthFit::TooShort => "is too short for its country",
        LengthFit::TooLong => "is too long for its country",
        LengthFit::LocalOnly => "lacks its area code",
        LengthFit::Invalid => "has a length its country does not use",
        LengthFit::Possible => "is not in a range its country assigns",
    }
}

/// The same as [`Phone::parse`].
pub fn parse_e164(input: &str) -> Result<Phone, PhoneError> {
    Phone::parse(input)
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

#[cfg(test)]
mod tests;
