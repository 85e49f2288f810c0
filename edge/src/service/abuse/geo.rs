//! Geo permissions: where a tenant's SMS may go.
//!
//! - Per tenant, an allowlist of countries (ISO 3166 alpha-2). Empty, the default, allows every
//!   country.
//! - For everyone, a deny of the high-risk ranges (`Phone::is_high_risk_range`): the calling codes
//!   of no country (satellite, international networks, personal telecommunications, disaster
//!   relief, international freephone, shared cost and premium rate) and national premium-rate
//!   and freephone numbers. An admin relaxes it range by range, for the whole service
//!   (`config/geo`) or for one tenant (`settings.geo.allowed_ranges`).
//!
//! A relaxed range is reachable whatever the country list says when it has no country (a +870
//! satellite number belongs to none); a national one still needs its country allowed.
//! A refusal is 403 `geo_blocked`, decided before the tenant's gate: it costs no quota.

use otp_shared::phone::{GlobalRange, NumberType, Phone};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Error, ErrorCode};

/// The high-risk ranges, as an admin names them to relax one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskyRange {
    /// +870 (Inmarsat), +881 (Iridium, Globalstar...).
    Satellite,
    /// +882, +883: maritime, in-flight, global IoT and MVNO ranges.
    InternationalNetworks,
    /// +878.
    PersonalTelecommunications,
    /// +888.
    DisasterRelief,
    /// +800 and every country's toll-free numbers.
    Freephone,
    /// +808.
    SharedCost,
    /// +979 and every country's premium-rate numbers.
    PremiumRate,
}

impl RiskyRange {
    pub const ALL: [RiskyRange; 7] = [
        RiskyRange::Satellite,
        RiskyRange::InternationalNetworks,
        RiskyRange::PersonalTelecommunications,
        RiskyRange::DisasterRelief,
        RiskyRange::Freephone,
        RiskyRange::SharedCost,
        RiskyRange::PremiumRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskyRange::Satellite => "satellite",
            RiskyRange::InternationalNetworks => "international_networks",
            RiskyRange::PersonalTelecommunications => "personal_telecommunications",
            RiskyRange::DisasterRelief => "disaster_relief",
            RiskyRange::Freephone => "freephone",
            RiskyRange::SharedCost => "shared_cost",
            RiskyRange::PremiumRate => "premium_rate",
        }
    }

    /// The high-risk range a number is in, if any (exactly when `is_high_risk_range` says so).
    pub fn of(phone: &Phone) -> Option<RiskyRange> {
        if let Some(g) = phone.global_range() {
            return Some(match g {
                GlobalRange::Freephone => RiskyRange::Freephone,
                GlobalRange::SharedCost => RiskyRange::SharedCost,
                GlobalRange::Satellite => RiskyRange::Satellite,
                GlobalRange::PersonalTelecommunications => RiskyRange::PersonalTelecommunications,
                GlobalRange::InternationalNetworks => RiskyRange::InternationalNetworks,
                GlobalRange::DisasterRelief => RiskyRange::DisasterRelief,
                GlobalRange::PremiumRate => RiskyRange::PremiumRate,
            });
        }
        match phone.number_type() {
            NumberType::PremiumRate => Some(RiskyRange::PremiumRate),
            NumberType::TollFree => Some(RiskyRange::Freephone),
            _ => None,
        }
    }
}

/// A tenant's geo permissions (`settings.geo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct GeoSettings {
    /// ISO 3166 alpha-2 codes SMS may go to; empty = every country.
    #[schema(example = json!(["FR"]))]
    pub allowed_countries: Vec<String>,
    /// High-risk ranges this tenant may reach although the service denies them.
    pub allowed_ranges: Vec<RiskyRange>,
}

/// The service-wide relaxations of the high-risk deny (`config/geo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GlobalGeo {
    pub allowed_ranges: Vec<RiskyRange>,
}

impl GeoSettings {
    /// Upper-cases the countries, drops repeats, and refuses codes libphonenumber does not know.
    pub fn normalize(&mut self) -> Result<(), Error> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.allowed_countries {
            let c = c.trim().to_ascii_uppercase();
            if !crate::service::abuse::numbers::is_known_country(&c) {
                return Err(Error::msg(
                    ErrorCode::CountryInvalid,
                    format!("settings.geo.allowed_countries: {c:?} is not an ISO 3166 alpha-2 code with a numbering plan"),
                ));
            }
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if out.len() > 250 {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "settings.geo.allowed_countries lists more countries than exist",
            ));
        }
        self.allowed_countries = out;
        self.allowed_ranges.sort_by_key(|r| r.as_str());
        self.allowed_ranges.dedup();
        Ok(())
    }
}

/// Whether `phone` may be sent to under `tenant` and `global`; `geo_blocked` says why not.
pub fn check(phone: &Phone, tenant: &GeoSettings, global: &GlobalGeo) -> Result<(), Error> {
    let country = phone.region();
    if let Some(range) = RiskyRange::of(phone) {
        let relaxed =
            tenant.allowed_ranges.contains(&range) || global.allowed_ranges.contains(&range);
        if !relaxed {
            return Err(Error::msg(
                ErrorCode::GeoBlocked,
                format!(
                    "SMS to the {} range are not allowed for this account; nothing was sent or charged",
                    range.as_str()
                ),
            )
            .details(json!({"range": range.as_str(), "country": country})));
        }
        if country.is_none() {
            return Ok(());
        }
    }
    match country {
        Some(c)
            if !tenant.allowed_countries.is_empty()
                && !tenant.allowed_countries.iter().any(|a| a == c) =>
        {
            Err(Error::msg(
                ErrorCode::GeoBlocked,
                format!("SMS to {c} are not allowed for this account; nothing was sent or charged"),
            )
            .details(json!({"country": c})))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(s: &str) -> Phone {
        Phone::parse(s).unwrap()
    }

    #[test]
    fn every_high_risk_number_has_a_range() {
        for n in [
            "+870301234567",
            "+8823421234",
            "+80012345678",
            "+19005550123",
            "+18005550123",
            "+33612345678",
            "+14155550123",
            "+442079460000",
        ] {
            let p = phone(n);
            assert_eq!(RiskyRange::of(&p).is_some(), p.is_high_risk_range(), "{n}");
        }
        assert_eq!(
            RiskyRange::of(&phone("+870301234567")),
            Some(RiskyRange::Satellite)
        );
        assert_eq!(
            RiskyRange::of(&phone("+19005550123")),
            Some(RiskyRange::PremiumRate)
        );
    }

    #[test]
    fn by_default_every_country_but_no_high_risk_range() {
        let (t, g) = (GeoSettings::default(), GlobalGeo::default());
        assert!(check(&phone("+33612345678"), &t, &g).is_ok());
        assert!(check(&phone("+2348031234567"), &t, &g).is_ok());
        let e = check(&phone("+870301234567"), &t, &g).unwrap_err();
        assert_eq!(e.code, ErrorCode::GeoBlocked);
        assert_eq!(e.details.unwrap()["range"], "satellite");
        assert_eq!(
            check(&phone("+19005550123"), &t, &g)
                .unwrap_err()
                .details
                .unwrap()["range"],
            "premium_rate"
        );
    }

    #[test]
    fn an_allowlist_keeps_other_countries_out() {
        let mut t = GeoSettings {
            allowed_countries: vec!["fr".into(), " US ".into(), "FR".into()],
            allowed_ranges: Vec::new(),
        };
        t.normalize().unwrap();
        assert_eq!(t.allowed_countries, ["FR", "US"]);
        let g = GlobalGeo::default();
        assert!(check(&phone("+33612345678"), &t, &g).is_ok());
        let e = check(&phone("+447400123456"), &t, &g).unwrap_err();
        assert_eq!(e.details.unwrap()["country"], "GB");
        let mut bad = GeoSettings {
            allowed_countries: vec!["XX".into()],
            ..Default::default()
        };
        assert_eq!(bad.normalize().unwrap_err().code, ErrorCode::CountryInvalid);
    }

    #[test]
    fn an_admin_relaxes_a_range_for_a_tenant_or_for_everyone() {
        let sat = phone("+870301234567");
        let tenant = GeoSettings {
            allowed_countries: vec!["FR".into()],
            allowed_ranges: vec![RiskyRange::Satellite],
        };
        // A satellite number has no country: the country list does not apply to it.
        assert!(check(&sat, &tenant, &GlobalGeo::default()).is_ok());
        let global = GlobalGeo {
            allowed_ranges: vec![RiskyRange::Satellite],
        };
        assert!(check(&sat, &GeoSettings::default(), &global).is_ok());
        // A national premium number, relaxed, still needs its country.
        let premium = GeoSettings {
            allowed_countries: vec!["FR".into()],
            allowed_ranges: vec![RiskyRange::PremiumRate],
        };
        let e = check(&phone("+19005550123"), &premium, &GlobalGeo::default()).unwrap_err();
        assert_eq!(e.details.unwrap()["country"], "US");
    }
}
