//! Notices to a tenant's contact phone: welcome, quota at 80% and exhausted, expiry in 3 days and
//! expired, and what each says. `notify` sends them.

use crate::platform::iso8601;
use crate::service::model::Tenant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Welcome,
    QuotaLow,
    QuotaExhausted,
    ExpirySoon,
    Expired,
}

impl Notice {
    pub fn key(self) -> &'static str {
        match self {
            Notice::Welcome => "welcome",
            Notice::QuotaLow => "quota_80",
            Notice::QuotaExhausted => "quota_exhausted",
            Notice::ExpirySoon => "expiry_soon",
            Notice::Expired => "expired",
        }
    }

    pub fn text(self, t: &Tenant) -> String {
        let until = if t.quota_expires_at > 0 {
            iso8601(t.quota_expires_at)[..10].to_string()
        } else {
            "no end date".into()
        };
        match self {
            Notice::Welcome => format!(
                "Welcome to otp-sms, {}! Your plan has {} messages, valid until {}.",
                t.name, t.quota_total, until
            ),
            Notice::QuotaLow => format!(
                "otp-sms: {} has used 80% of its {} messages.",
                t.name, t.quota_total
            ),
            Notice::QuotaExhausted => format!(
                "otp-sms: {} has used all {} messages; sends are refused until renewal.",
                t.name, t.quota_total
            ),
            Notice::ExpirySoon => format!(
                "otp-sms: the plan of {} ends on {}. Renew to keep sending.",
                t.name, until
            ),
            Notice::Expired => format!(
                "otp-sms: the plan of {} ended on {}; sends are refused until renewal.",
                t.name, until
            ),
        }
    }
}
