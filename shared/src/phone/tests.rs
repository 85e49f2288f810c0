//! Facts about real numbering plans (each checked with Python's port of libphonenumber, 9.0.33);
//! the exhaustive comparison with libphonenumber is in `tests/phone_crosscheck`.

use super::*;

fn parsed(s: &str) -> Phone {
    Phone::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn accepts_formatted_numbers() {
    assert_eq!(parsed("+1 (415) 555-0123").as_str(), "+14155550123");
    assert_eq!(parsed("0044 20 7946 0958").as_str(), "+442079460958");
    assert_eq!(parsed("+91.98765.43210").country_code(), 91);
    assert_eq!(parsed("+2348012345678").country_code(), 234);
    assert_eq!(parsed("+55 11 91234 5678").national_number(), "11912345678");
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
        // Shaped like a number, assigned to nobody.
        "+1 000 000 0000",
        // The UK's range for drama (Ofcom): the right length, never in service.
        "+447700900123",
        "+52 1 55 1234 5678",
        "+35620",
    ] {
        let e = Phone::parse(bad).unwrap_err();
        assert_eq!(e.code(), "phone_invalid", "{bad}");
        assert!(!e.to_string().is_empty());
    }
    let reason = |s| Phone::parse(s).unwrap_err().to_string();
    assert_eq!(reason("+1415555012"), "is too short for its country");
    assert_eq!(
        reason("+1 000 000 0000"),
        "is not in a range its country assigns"
    );
}

#[test]
fn knows_region_and_type() {
    let cases = [
        ("+14155550123", Some("US"), NumberType::FixedLineOrMobile),
        ("+442079460000", Some("GB"), NumberType::FixedLine),
        ("+447400123456", Some("GB"), NumberType::Mobile),
        ("+447012345678", Some("GB"), NumberType::PersonalNumber),
        ("+19005550123", Some("US"), NumberType::PremiumRate),
        ("+33612345678", Some("FR"), NumberType::Mobile),
        ("+4930123456", Some("DE"), NumberType::FixedLine),
        ("+4915123456789", Some("DE"), NumberType::Mobile),
        ("+61212345678", Some("AU"), NumberType::FixedLine),
        ("+870301234567", None, NumberType::Mobile),
        ("+80012345678", None, NumberType::TollFree),
    ];
    for (s, region, t) in cases {
        let p = parsed(s);
        assert_eq!((p.region(), p.number_type()), (region, t), "{s}");
    }
}

#[test]
fn national_formats_need_their_country() {
    let au = Phone::parse_with_country("0412 345 678", Some("AU")).unwrap();
    assert_eq!((au.as_str(), au.region()), ("+61412345678", Some("AU")));
    assert_eq!(au.number_type(), NumberType::Mobile);
    assert_eq!(
        Phone::parse_with_country("0412345678", Some(" au ")).unwrap(),
        au
    );
    // The calling code typed without +, and the country's own international prefix (0011).
    assert_eq!(
        Phone::parse_with_country("61 412 345 678", Some("AU")).unwrap(),
        au
    );
    assert_eq!(
        Phone::parse_with_country("0011 61 412 345 678", Some("AU")).unwrap(),
        au
    );
    // + wins over the country given.
    let gb = Phone::parse_with_country("+44 20 7946 0000", Some("AU")).unwrap();
    assert_eq!(gb.region(), Some("GB"));
    // No country: a national format cannot be read.
    assert_eq!(
        Phone::parse("0412 345 678").unwrap_err().code(),
        "phone_invalid"
    );
    for unknown in ["XX", "AUS", "001"] {
        let e = Phone::parse_with_country("0412 345 678", Some(unknown)).unwrap_err();
        assert_eq!(e.code(), "country_invalid", "{unknown}");
    }
    assert_eq!(
        Phone::parse_with_country("", Some("XX"))
            .unwrap_err()
            .code(),
        "phone_required"
    );
}

#[test]
fn a_trunk_prefix_after_the_country_code_is_dropped() {
    assert_eq!(parsed("+44 (0)20 7946 0000").as_str(), "+442079460000");
}

#[test]
fn sms_goes_to_mobiles_only() {
    assert_eq!(sms_policy(NumberType::Mobile, false), Ok(()));
    assert_eq!(sms_policy(NumberType::FixedLineOrMobile, false), Ok(()));
    assert_eq!(sms_policy(NumberType::Voip, true), Ok(()));
    assert_eq!(
        sms_policy(NumberType::Voip, false),
        Err(PhoneError::NotMobile(NumberType::Voip))
    );
    let refused = NumberType::ALL
        .iter()
        .filter(|&&t| sms_policy(t, true).is_err());
    for &t in refused {
        let e = sms_policy(t, true).unwrap_err();
        assert_eq!(e.code(), "phone_not_mobile");
        assert!(e.to_string().contains(t.as_str()), "{e}");
    }
    let landline = parsed("+442079460000");
    let e = sms_policy(landline.number_type(), true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "SMS codes go to mobile numbers; this is a fixed_line number"
    );
}

#[test]
fn number_types_are_snake_case_in_json() {
    for t in NumberType::ALL {
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
    assert_eq!(
        serde_json::to_string(&NumberType::FixedLineOrMobile).unwrap(),
        "\"fixed_line_or_mobile\""
    );
}

#[test]
fn high_risk_ranges_are_told_apart() {
    let risky = [
        ("+870301234567", Some(GlobalRange::Satellite)),
        ("+881612345678", Some(GlobalRange::Satellite)),
        ("+8823421234", Some(GlobalRange::InternationalNetworks)),
        ("+883510012345", Some(GlobalRange::InternationalNetworks)),
        ("+80012345678", Some(GlobalRange::Freephone)),
        ("+80812345678", Some(GlobalRange::SharedCost)),
        ("+979123456789", Some(GlobalRange::PremiumRate)),
        ("+19005550123", None),
    ];
    for (s, range) in risky {
        let p = parsed(s);
        assert_eq!(p.global_range(), range, "{s}");
        assert!(p.is_high_risk_range(), "{s}");
    }
    for s in ["+14155550123", "+447400123456", "+61212345678"] {
        assert!(!parsed(s).is_high_risk_range(), "{s}");
    }
}

#[test]
fn masks_all_but_the_ends() {
    assert_eq!(parsed("+14155550123").masked(), "+1415*****23");
    assert_eq!(parsed("+442079460958").masked(), "+44207*****58");
    // One rule for raw text too: a stored contact phone masks like a message's number.
    assert_eq!(super::mask_number("+14155550123"), "+1415*****23");
    assert_eq!(super::mask_number("+99912345678"), "+9991*****78");
    let mut v = serde_json::json!({"contact_phone": "+14155550123", "name": "Acme", "n": [ "+442079460958", "+12" ]});
    super::mask_numbers_in(&mut v);
    assert_eq!(
        v,
        serde_json::json!({"contact_phone": "+1415*****23", "name": "Acme", "n": ["+44207*****58", "+12"]})
    );
}
