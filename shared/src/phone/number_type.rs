//! What kind of line a number is, and which kinds an OTP may be sent to.

use serde::{Deserialize, Serialize};

use super::PhoneError;

/// libphonenumber's number types (a valid number always has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    FixedLine,
    Mobile,
    /// The numbering plan does not tell the two apart (the US, Canada, China...).
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    /// Follows a person to whatever line they choose (UK 070).
    PersonalNumber,
    Pager,
    /// Universal access / company numbers.
    Uan,
    Voicemail,
}

impl NumberType {
    pub const ALL: [NumberType; 11] = [
        NumberType::FixedLine,
        NumberType::Mobile,
        NumberType::FixedLineOrMobile,
        NumberType::TollFree,
        NumberType::PremiumRate,
        NumberType::SharedCost,
        NumberType::Voip,
        NumberType::PersonalNumber,
        NumberType::Pager,
        NumberType::Uan,
        NumberType::Voicemail,
    ];

    /// The snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::FixedLine => "fixed_line",
            NumberType::Mobile => "mobile",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::Voip => "voip",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
        }
    }
}

impl std::fmt::Display for NumberType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an OTP SMS may go to a number of this type: mobile lines, and lines the plan cannot
/// tell from mobile, always; VoIP numbers when the tenant allows them (many receive SMS, but they
/// are also what bulk fraud signs up with). Everything else (fixed lines, premium rate, shared
/// cost, toll free, personal, pager, UAN, voicemail) is refused with `phone_not_mobile`: a text
/// there is lost at best and, for premium and shared-cost ranges, a cost pumped by fraud.
pub fn sms_policy(number_type: NumberType, allow_voip: bool) -> Result<(), PhoneError> {
    match number_type {
        NumberType::Mobile | NumberType::FixedLineOrMobile => Ok(()),
        NumberType::Voip if allow_voip => Ok(()),
        other => Err(PhoneError::NotMobile(other)),
    }
}
