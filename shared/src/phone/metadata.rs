//! libphonenumber's metadata as static tables (`table.rs`, generated from the `phonenumber` crate
//! by `tests/phone_table`): per region its calling code, lengths and parsing rules, and one
//! minimised automaton over the digits for all number patterns. Reading a number is a walk of at
//! most 17 steps through static arrays: nothing is decoded or compiled when a worker starts.

use super::number_type::NumberType;
use super::table::{self, EDGE_DIGITS, EDGE_TARGETS, FIRST_EDGE, REGIONS, TAGS};

/// A region of libphonenumber's metadata, or a non-geographic entity (`id` "001", e.g. +800).
pub(super) struct Region {
    pub id: &'static str,
    pub country_code: u16,
    /// The automaton state its patterns start from.
    pub start: u16,
    pub flags: u8,
    /// National significant number lengths: bit n for n digits.
    pub lengths: u32,
    /// Lengths only dialled within an area (without its area code), never valid alone.
    pub local_only_lengths: u32,
    /// A regex matched at the start of a national number: the trunk prefix ("0") and, for some
    /// regions, a carrier code, or the local form of a number that gets an area code added.
    pub national_prefix_for_parsing: &'static str,
    /// What replaces that prefix when not empty (`9${1}` in Argentina).
    pub national_prefix_transform: &'static str,
    /// A regex for the prefix dialled to call abroad from the region ("00", "011").
    pub international_prefix: &'static str,
}

pub(super) type RegionId = u16;

impl Region {
    pub fn is_geographic(&self) -> bool {
        self.id != "001"
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether `nsn` matches the region's general pattern, whatever its length.
    pub fn is_viable(&self, nsn: &str) -> bool {
        tags(self.start, nsn) & table::GENERAL != 0
    }

    /// libphonenumber's number type: the first special type that matches wins, then fixed line
    /// and mobile (both, or the same pattern for both, is "fixed line or mobile").
    pub fn number_type(&self, nsn: &str) -> Option<NumberType> {
        let tags = tags(self.start, nsn);
        if tags & table::GENERAL == 0 {
            return None;
        }
        const SPECIAL: [(u16, NumberType); 8] = [
            (table::PREMIUM_RATE, NumberType::PremiumRate),
            (table::TOLL_FREE, NumberType::TollFree),
            (table::SHARED_COST, NumberType::SharedCost),
            (table::VOIP, NumberType::Voip),
            (table::PERSONAL_NUMBER, NumberType::PersonalNumber),
            (table::PAGER, NumberType::Pager),
            (table::UAN, NumberType::Uan),
            (table::VOICEMAIL, NumberType::Voicemail),
        ];
        if let Some((_, t)) = SPECIAL.iter().find(|(tag, _)| tags & tag != 0) {
            return Some(*t);
        }
        let same_pattern = self.has(table::SAME_MOBILE_AND_FIXED_LINE);
        if tags & table::FIXED_LINE != 0 {
            return Some(if same_pattern || tags & table::MOBILE != 0 {
                NumberType::FixedLineOrMobile
            } else {
                NumberType::FixedLine
            });
        }
        (!same_pattern && tags & table::MOBILE != 0).then_some(NumberType::Mobile)
    }

    pub fn length_fit(&self, len: usize) -> LengthFit {
        let bit = |l: usize| 1u32.checked_shl(l as u32).unwrap_or(0);
        if self.lengths == 0 {
            return LengthFit::Invalid;
        }
        let (min, max) = (
            self.lengths.trailing_zeros() as usize,
            31 - self.lengths.leading_zeros() as usize,
        );
        if self.local_only_lengths & bit(len) != 0 {
            LengthFit::LocalOnly
        } else if len < min {
            LengthFit::TooShort
        } else if len > max {
            LengthFit::TooLong
        } else if self.lengths & bit(len) != 0 {
            LengthFit::Possible
        } else {
            LengthFit::Invalid
        }
    }
}

/// How a national number's length compares with the region's (libphonenumber's
/// `ValidationResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LengthFit {
    Possible,
    LocalOnly,
    TooShort,
    TooLong,
    Invalid,
}

pub(super) fn region(id: RegionId) -> &'static Region {
    &REGIONS[id as usize]
}

/// The regions sharing a calling code, main region first (empty: no such code).
pub(super) fn regions_of(country_code: u16) -> std::ops::Range<RegionId> {
    let from = REGIONS.partition_point(|r| r.country_code < country_code);
    let to = REGIONS.partition_point(|r| r.country_code <= country_code);
    from as RegionId..to as RegionId
}

/// The calling code `digits` starts with, if any (calling codes are prefix-free).
pub(super) fn country_code_of(digits: &str) -> Option<u16> {
    (1..=3)
        .filter_map(|n| digits.get(..n)?.parse::<u16>().ok())
        .find(|&c| !regions_of(c).is_empty())
}

/// A geographic region by its ISO 3166 alpha-2 code, in any case.
pub(super) fn region_by_iso(iso: &str) -> Option<RegionId> {
    let iso = iso.trim();
    (iso.len() == 2)
        .then(|| REGIONS.iter().position(|r| r.id.eq_ignore_ascii_case(iso)))
        .flatten()
        .map(|i| i as RegionId)
}

/// The region a number belongs to among those sharing its calling code (libphonenumber's
/// `getRegionCodeForNumberFromRegionList`): the first whose leading digits it starts with or,
/// for a region without leading digits, whose patterns give it a type.
pub(super) fn region_of_number(country_code: u16, nsn: &str) -> Option<RegionId> {
    let ids = regions_of(country_code);
    if ids.len() == 1 {
        return Some(ids.start);
    }
    ids.into_iter().find(|&id| {
        let r = region(id);
        if r.has(table::HAS_LEADING_DIGITS) {
            tags(r.start, nsn) & table::LEADING_DIGITS != 0
        } else {
            r.number_type(nsn).is_some()
        }
    })
}

/// The tags of the state `nsn` leads to from `start`: which patterns match it in full.
fn tags(start: u16, nsn: &str) -> u16 {
    let mut state = start as usize;
    for b in nsn.bytes() {
        let d = b.wrapping_sub(b'0');
        let edges = FIRST_EDGE[state] as usize..FIRST_EDGE[state + 1] as usize;
        let hit = edges
            .into_iter()
            .find(|&e| EDGE_DIGITS[e] >> 4 <= d && d <= EDGE_DIGITS[e] & 15);
        match hit {
            Some(e) => state = EDGE_TARGETS[e] as usize,
            None => return 0,
        }
    }
    TAGS[state]
}

pub(super) const REGION_COUNT: usize = REGIONS.len();
