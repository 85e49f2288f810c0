//! Phone numbers in E.164: `+`, a country calling code assigned by the ITU, at most 15 digits.
//! Human formatting (spaces, dashes, dots, parentheses) and the `00` international prefix are
//! accepted; anything else is refused with a reason. North American numbers get their stricter
//! shape checked (`+1 NXX NXX XXXX`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is required")]
    Required,
    #[error("{0}")]
    Invalid(&'static str),
}

impl PhoneError {
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Required => "phone_required",
            PhoneError::Invalid(_) => "phone_invalid",
        }
    }
}

/// Country calling codes in service (ITU-T E.164 assignments).
const COUNTRY_CODES: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506,
    507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676,
    677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850, 852,
    853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966, 967,
    968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

/// The calling code `digits` starts with, if any (codes are prefix-free).
pub fn country_code_of(digits: &str) -> Option<u16> {
    (1..=3)
        .filter_map(|n| digits.get(..n)?.parse::<u16>().ok())
        .find(|c| COUNTRY_CODES.binary_search(c).is_ok())
}

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(PhoneError::Required);
        }
        let rest = if let Some(r) = s.strip_prefix('+') {
            r
        } else if let Some(r) = s.strip_prefix("00") {
            r
        } else {
            return Err(PhoneError::Invalid(
                "must start with + and the country code",
            ));
        };
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError::Invalid("may contain only digits after +")),
            }
        }
        if digits.starts_with('0') {
            return Err(PhoneError::Invalid("country code cannot start with 0"));
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(PhoneError::Invalid("must have 7 to 15 digits"));
        }
        let cc = country_code_of(&digits).ok_or(PhoneError::Invalid("unknown country code"))?;
        if cc == 1 {
            let b = digits.as_bytes();
            if digits.len() != 11 || b[1] < b'2' || b[4] < b'2' {
                return Err(PhoneError::Invalid(
                    "North American numbers are +1 followed by 10 digits",
                ));
            }
        }
        Ok(Phone(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn country_code(&self) -> u16 {
        country_code_of(&self.0[1..]).expect("validated on parse")
    }

    /// For logs: country code and last two digits only (`+1415*****23`).
    pub fn masked(&self) -> String {
        let s = &self.0;
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

/// The same as [`Phone::parse`].
pub fn parse_e164(input: &str) -> Result<Phone, PhoneError> {
    Phone::parse(input)
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(COUNTRY_CODES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn accepts_formatted_numbers() {
        assert_eq!(
            Phone::parse("+1 (415) 555-0123").unwrap().as_str(),
            "+14155550123"
        );
        assert_eq!(
            Phone::parse("0044 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(Phone::parse("+91.98765.43210").unwrap().country_code(), 91);
        assert_eq!(Phone::parse("+2348012345678").unwrap().country_code(), 234);
    }

    #[test]
    fn refuses_with_a_reason() {
        assert_eq!(Phone::parse("  ").unwrap_err().code(), "phone_required");
        for bad in [
            "12345",
            "4155550123",
            "+1 (415) abc",
            "+99912345678",
            "+0123456789",
            "+123",
            "+1234567890123456",
            "+10155550123",
            "+1415555012",
        ] {
            assert_eq!(
                Phone::parse(bad).unwrap_err().code(),
                "phone_invalid",
                "{bad}"
            );
        }
    }

    #[test]
    fn masks_all_but_the_ends() {
        assert_eq!(
            Phone::parse("+14155550123").unwrap().masked(),
            "+1415*****23"
        );
        assert_eq!(
            Phone::parse("+442079460958").unwrap().masked(),
            "+44207*****58"
        );
    }
}
