//! What the table needs from libphonenumber's metadata, read from the `phonenumber` crate.

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};

/// The number types the table tells apart, in the order of their tag bits. Bit 0 is the general
/// pattern (any number of the region), the last one the region's leading digits.
pub const TYPES: [&str; 10] = [
    "FIXED_LINE",
    "MOBILE",
    "TOLL_FREE",
    "PREMIUM_RATE",
    "SHARED_COST",
    "PERSONAL_NUMBER",
    "VOIP",
    "PAGER",
    "UAN",
    "VOICEMAIL",
];
pub const GENERAL_TAG: u16 = 1;
pub const LEADING_DIGITS_TAG: u16 = 1 << (TYPES.len() + 1);

pub fn type_tag(i: usize) -> u16 {
    1 << (i + 1)
}

pub fn descriptors(m: &Metadata) -> [Option<&Descriptor>; 10] {
    let d = m.descriptors();
    [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
}

pub struct Region {
    pub id: String,
    pub country_code: u16,
    pub same_mobile_and_fixed_line: bool,
    pub has_leading_digits: bool,
    /// National number lengths (bit n: n digits): every type's lengths, as libphonenumber's
    /// build computes the general description's.
    pub lengths: u32,
    pub local_only_lengths: u32,
    pub national_prefix_for_parsing: String,
    pub national_prefix_transform: String,
    pub international_prefix: String,
    /// (tag, lengths, pattern) for the automaton.
    pub patterns: Vec<(u16, u32, String)>,
}

fn bits(lengths: &[u16]) -> u32 {
    lengths.iter().fold(0, |m, &l| m | 1 << l)
}

/// The metadata patterns are written across lines for reading; the whitespace means nothing.
fn compact(pattern: &str) -> String {
    pattern.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every region (and non-geographic entity, id "001") by country code, the main region first:
/// the runtime finds a calling code's regions by binary search and takes the first as main.
pub fn regions() -> Vec<Region> {
    let mut out = Vec::new();
    for cc in 1..1000u16 {
        let metas = DATABASE.by_code(&cc).unwrap_or_default();
        assert!(
            metas.len() < 2 || metas[0].is_main_country_for_code(),
            "+{cc}: no main region"
        );
        out.extend(metas.into_iter().map(region));
    }
    out
}

fn region(m: &Metadata) -> Region {
    let descs = descriptors(m);
    let mut patterns = vec![(
        GENERAL_TAG,
        u32::MAX,
        compact(m.descriptors().general().national_number().as_str()),
    )];
    let (mut lengths, mut local) = (0, 0);
    for (i, desc) in descs.iter().enumerate() {
        let Some(desc) = desc else { continue };
        let own = bits(desc.possible_length());
        lengths |= own;
        local |= bits(desc.possible_local_length());
        let own = if own == 0 { u32::MAX } else { own };
        patterns.push((type_tag(i), own, compact(desc.national_number().as_str())));
    }
    if let Some(ld) = m.leading_digits() {
        // "Starts with" as a full match: the leading digits, then anything.
        let pattern = format!("(?:{})\\d*", compact(ld.as_str()));
        patterns.push((LEADING_DIGITS_TAG, u32::MAX, pattern));
    }
    let pattern_of = |d: Option<&Descriptor>| d.map(|d| compact(d.national_number().as_str()));
    let national_prefix = m.national_prefix().unwrap_or_default();
    Region {
        id: m.id().to_string(),
        country_code: m.country_code(),
        same_mobile_and_fixed_line: pattern_of(m.descriptors().fixed_line())
            == pattern_of(m.descriptors().mobile()),
        has_leading_digits: m.leading_digits().is_some(),
        lengths,
        local_only_lengths: local & !lengths,
        // As libphonenumber's build: no rule for parsing means the national prefix itself.
        national_prefix_for_parsing: m
            .national_prefix_for_parsing()
            .map(|r| compact(r.as_str()))
            .unwrap_or_else(|| national_prefix.to_string()),
        national_prefix_transform: braced_groups(
            m.national_prefix_transform_rule().unwrap_or_default(),
        ),
        international_prefix: m
            .international_prefix()
            .map(|r| compact(r.as_str()))
            .unwrap_or_default(),
        patterns,
    }
}

/// `9$1` -> `9${1}`: regex-lite would read `$1abc` as a group named `1abc`.
fn braced_groups(rule: &str) -> String {
    let mut out = String::new();
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push_str("${");
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                out.push(d);
            }
            out.push('}');
        } else {
            out.push(c);
        }
    }
    out
}
