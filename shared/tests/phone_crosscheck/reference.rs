//! libphonenumber's validation rules (`isValidNumber`, `getNumberType`,
//! `getRegionCodeForNumberFromRegionList`) evaluated with the `regex` crate straight on the
//! `phonenumber` crate's metadata: full matches and per-type lengths, as the Java library does.
//! It shares nothing with the table and its automaton but the metadata, so it tells whether they
//! kept the patterns' meaning.

use otp_shared::phone::NumberType;
use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use regex::Regex;

struct Pattern {
    re: Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn of(d: &Descriptor) -> Pattern {
        let compact: String = d.national_number().as_str().split_whitespace().collect();
        Pattern {
            re: Regex::new(&format!("^(?:{compact})$")).unwrap(),
            lengths: d.possible_length().to_vec(),
        }
    }

    fn matches(&self, nsn: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(nsn.len() as u16)))
            && self.re.is_match(nsn)
    }
}

struct Region {
    id: String,
    leading_digits: Option<Regex>,
    general: Regex,
    /// In libphonenumber's order of precedence.
    special: Vec<(NumberType, Pattern)>,
    fixed_line: Option<Pattern>,
    mobile: Option<Pattern>,
    same_mobile_and_fixed_line: bool,
}

pub struct Reference {
    by_code: Vec<(u16, Vec<Region>)>,
}

impl Reference {
    pub fn new() -> Reference {
        let by_code = (1..1000u16)
            .filter_map(|cc| Some((cc, DATABASE.by_code(&cc)?.into_iter().map(region).collect())))
            .collect();
        Reference { by_code }
    }

    /// The region (None: no country) and type of a valid number; None if it is not valid.
    pub fn classify(&self, cc: u16, nsn: &str) -> Option<(Option<String>, NumberType)> {
        let regions = &self.by_code.iter().find(|(c, _)| *c == cc)?.1;
        let region = if regions.len() == 1 {
            &regions[0]
        } else {
            regions.iter().find(|r| match &r.leading_digits {
                Some(ld) => ld.is_match(nsn),
                None => r.number_type(nsn).is_some(),
            })?
        };
        let t = region.number_type(nsn)?;
        Some(((region.id != "001").then(|| region.id.clone()), t))
    }
}

impl Region {
    fn number_type(&self, nsn: &str) -> Option<NumberType> {
        if !self.general.is_match(nsn) {
            return None;
        }
        if let Some((t, _)) = self.special.iter().find(|(_, p)| p.matches(nsn)) {
            return Some(*t);
        }
        let is = |p: &Option<Pattern>| p.as_ref().is_some_and(|p| p.matches(nsn));
        if is(&self.fixed_line) {
            return Some(if self.same_mobile_and_fixed_line || is(&self.mobile) {
                NumberType::FixedLineOrMobile
            } else {
                NumberType::FixedLine
            });
        }
        (!self.same_mobile_and_fixed_line && is(&self.mobile)).then_some(NumberType::Mobile)
    }
}

fn region(m: &Metadata) -> Region {
    let d = m.descriptors();
    let special = [
        (NumberType::PremiumRate, d.premium_rate()),
        (NumberType::TollFree, d.toll_free()),
        (NumberType::SharedCost, d.shared_cost()),
        (NumberType::Voip, d.voip()),
        (NumberType::PersonalNumber, d.personal_number()),
        (NumberType::Pager, d.pager()),
        (NumberType::Uan, d.uan()),
        (NumberType::Voicemail, d.voicemail()),
    ];
    let text = |d: Option<&Descriptor>| d.map(|d| d.national_number().as_str().to_string());
    let general: String = d
        .general()
        .national_number()
        .as_str()
        .split_whitespace()
        .collect();
    Region {
        id: m.id().to_string(),
        leading_digits: m.leading_digits().map(|ld| {
            let compact: String = ld.as_str().split_whitespace().collect();
            Regex::new(&format!("^(?:{compact})")).unwrap()
        }),
        general: Regex::new(&format!("^(?:{general})$")).unwrap(),
        special: special
            .into_iter()
            .filter_map(|(t, d)| Some((t, Pattern::of(d?))))
            .collect(),
        fixed_line: d.fixed_line().map(Pattern::of),
        mobile: d.mobile().map(Pattern::of),
        same_mobile_and_fixed_line: text(d.fixed_line()) == text(d.mobile()),
    }
}
