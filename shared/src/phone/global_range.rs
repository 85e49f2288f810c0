//! Calling codes that belong to no country (ITU-T E.164 "global services"). A geo policy that
//! allows countries cannot name them, so they are told apart here: satellite phones and
//! international networks receive SMS, yet are an expensive and unusual place for an OTP.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobalRange {
    /// +800, International Freephone Service.
    Freephone,
    /// +808, International Shared Cost Service.
    SharedCost,
    /// +870 (Inmarsat) and +881 (Iridium, Globalstar and other mobile satellite systems).
    Satellite,
    /// +878, Universal Personal Telecommunications.
    PersonalTelecommunications,
    /// +882 and +883, international networks (maritime, in-flight, global IoT and MVNO ranges).
    InternationalNetworks,
    /// +888, telecommunications for disaster relief (UN OCHA).
    DisasterRelief,
    /// +979, International Premium Rate Service.
    PremiumRate,
}

impl GlobalRange {
    /// The range of a calling code, or `None` for a country's code.
    pub fn of_country_code(country_code: u16) -> Option<GlobalRange> {
        Some(match country_code {
            800 => GlobalRange::Freephone,
            808 => GlobalRange::SharedCost,
            870 | 881 => GlobalRange::Satellite,
            878 => GlobalRange::PersonalTelecommunications,
            882 | 883 => GlobalRange::InternationalNetworks,
            888 => GlobalRange::DisasterRelief,
            979 => GlobalRange::PremiumRate,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::metadata::{region, regions_of};
    use super::*;

    #[test]
    fn every_calling_code_of_no_country_has_a_range() {
        for cc in 1..1000 {
            let ids = regions_of(cc);
            if ids.is_empty() {
                continue;
            }
            let geographic = region(ids.start).is_geographic();
            assert_eq!(
                GlobalRange::of_country_code(cc).is_none(),
                geographic,
                "+{cc}"
            );
        }
    }
}
