//! Twilio's Messages API as documented, and nothing else: the create request
//! (`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic with the account SID
//! and auth token or an API key SID and secret, form-encoded `To`, `From` or
//! `MessagingServiceSid`, `Body`, `StatusCallback`), its JSON answers (`sid`, `status`, `price`,
//! `price_unit`; errors as `{code, message, more_info, status}`), and the status callbacks it
//! POSTs back, signed with `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, the full URL
//! followed by every POST parameter, sorted by name, name and value concatenated)). Pure: the
//! request is built and the answers read here, sent and received elsewhere.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use crate::net::OutboundRequest;

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The documented errors this service acts on.
pub const ERR_INVALID_TO: u32 = 21211;
pub const ERR_REGION_NOT_ENABLED: u32 = 21408;
pub const ERR_UNSUBSCRIBED: u32 = 21610;

/// Who the message comes from: a number (or alphanumeric sender id) or a messaging service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    From(String),
    MessagingService(String),
}

/// Everything one create call needs, secrets opened.
pub struct Create<'a> {
    pub base_url: &'a str,
    pub account_sid: &'a str,
    /// Basic auth user and password: the account SID and auth token, or an API key SID and secret.
    pub user: &'a str,
    pub password: &'a str,
    pub sender: &'a Sender,
    pub to: &'a str,
    pub body: &'a str,
    pub status_callback: Option<&'a str>,
    /// Seconds the provider may keep trying (only honoured with a messaging service).
    pub validity_secs: Option<u32>,
}

pub fn create_request(c: &Create<'_>, timeout_ms: u32) -> OutboundRequest {
    let mut form: Vec<(&str, String)> = vec![("To", c.to.to_string())];
    match c.sender {
        Sender::From(f) => form.push(("From", f.clone())),
        Sender::MessagingService(s) => {
            form.push(("MessagingServiceSid", s.clone()));
            if let Some(v) = c.validity_secs {
                form.push(("ValidityPeriod", v.clamp(1, 36_000).to_string()));
            }
        }
    }
    form.push(("Body", c.body.to_string()));
    if let Some(cb) = c.status_callback {
        form.push(("StatusCallback", cb.to_string()));
    }
    let auth = B64.encode(format!("{}:{}", c.user, c.password));
    let mut req = OutboundRequest::new(
        "POST",
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            c.base_url, c.account_sid
        ),
    )
    .header("authorization", format!("Basic {auth}"))
    .header("content-type", "application/x-www-form-urlencoded")
    .header("accept", "application/json")
    .timeout_ms(timeout_ms);
    req.body = form_encode(&form).into_bytes();
    req
}

/// `GET` of one message resource (its price once the carrier has billed it).
pub fn fetch_request(
    base_url: &str,
    account_sid: &str,
    user: &str,
    password: &str,
    sid: &str,
    timeout_ms: u32,
) -> OutboundRequest {
    let auth = B64.encode(format!("{user}:{password}"));
    OutboundRequest::new(
        "GET",
        format!("{base_url}/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"),
    )
    .header("authorization", format!("Basic {auth}"))
    .header("accept", "application/json")
    .timeout_ms(timeout_ms)
}

/// A message resource as the API answers it (the fields read here).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MessageResource {
    pub sid: String,
    pub status: String,
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub price_unit: Option<String>,
    #[serde(default)]
    pub error_code: Option<u32>,
}

/// An error answer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ApiError {
    pub code: u32,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Created(MessageResource),
    /// Refused with a documented error: nothing was created, nothing will be sent.
    Refused(ApiError),
    /// Any other answer (a 5xx, 429, or a body that is not the documented one).
    Unexpected(u16, String),
}

pub fn read_answer(status: u16, body: &[u8]) -> Answer {
    if (200..300).contains(&status) {
        if let Ok(m) = serde_json::from_slice::<MessageResource>(body) {
            return Answer::Created(m);
        }
    } else if (400..500).contains(&status) && status != 429 {
        if let Ok(mut e) = serde_json::from_slice::<ApiError>(body) {
            e.status = status;
            return Answer::Refused(e);
        }
    }
    let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
    Answer::Unexpected(status, text)
}

/// What an error means for the message: a stable reason for the record and the API.
pub fn error_reason(code: u32) -> &'static str {
    match code {
        ERR_INVALID_TO => "invalid_number",
        ERR_REGION_NOT_ENABLED => "region_not_enabled",
        ERR_UNSUBSCRIBED => "opted_out",
        _ => "provider_rejected",
    }
}

/// Where a status callback's `MessageStatus` puts the message: still on its way, sent (or
/// delivered: the handset has it), or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Pending,
    Sent,
    Failed,
}

pub fn progress(status: &str) -> Option<Progress> {
    match status {
        "accepted" | "scheduled" | "queued" | "sending" => Some(Progress::Pending),
        "sent" | "delivered" | "read" => Some(Progress::Sent),
        "undelivered" | "failed" | "canceled" => Some(Progress::Failed),
        _ => None,
    }
}

/// `price` as the API writes it ("-0.00750", negative: a charge) in millionths of its unit.
pub fn price_micros(price: &str) -> Option<i64> {
    let p = price.trim().trim_start_matches('-');
    let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut f: String = frac.chars().take(6).collect();
    while f.len() < 6 {
        f.push('0');
    }
    whole.checked_mul(1_000_000)?.checked_add(f.parse().ok()?)
}

/// The signature Twilio puts in `X-Twilio-Signature` for a POST to `url` with `params`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).expect("any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    B64.encode(mac.finalize().into_bytes())
}

/// Whether `given` is the signature of this callback (compared in constant time).
pub fn signature_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    given: &str,
) -> bool {
    use subtle::ConstantTimeEq;
    let expected = signature(auth_token, url, params);
    !given.is_empty() && bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes()))
}

/// `application/x-www-form-urlencoded`, every byte but the unreserved ones percent-encoded.
pub fn form_encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A form body's pairs, decoded (`+` is a space); `None` for bytes that are not UTF-8 once decoded.
pub fn form_decode(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((unpct(k)?, unpct(v)?))
        })
        .collect()
}

fn unpct(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A Twilio SID: two letters then 32 hex digits.
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn signs_as_twilio_documents() {
        // The example of Twilio's security page (auth token 12345).
        let params = [
            p("CallSid", "CA1234567890ABCDE"),
            p("Caller", "+12349013030"),
            p("Digits", "1234"),
            p("From", "+12349013030"),
            p("To", "+18005551212"),
        ];
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(signature_valid(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!signature_valid(
            "12346",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!signature_valid(
            "12345",
            url,
            &params[1..],
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!signature_valid("12345", url, &params, ""));
    }

    #[test]
    fn the_create_call_is_form_encoded_with_basic_auth() {
        let sender = Sender::From("+15005550006".into());
        let r = create_request(
            &Create {
                base_url: "http://127.0.0.1:9",
                account_sid: "AC0123",
                user: "AC0123",
                password: "tok",
                sender: &sender,
                to: "+14155550123",
                body: "Code: a&b =c",
                status_callback: Some("https://x.example/cb?m=msg_1"),
                validity_secs: Some(300),
            },
            5000,
        );
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/2010-04-01/Accounts/AC0123/Messages.json"
        );
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert_eq!(body, "To=%2B14155550123&From=%2B15005550006&Body=Code%3A%20a%26b%20%3Dc&StatusCallback=https%3A%2F%2Fx.example%2Fcb%3Fm%3Dmsg_1");
        assert_eq!(
            form_decode(body.as_bytes()).unwrap()[2],
            p("Body", "Code: a&b =c")
        );
        assert!(r.headers.contains(&(
            "authorization".into(),
            format!("Basic {}", B64.encode("AC0123:tok"))
        )));
    }

    #[test]
    fn answers_and_errors_are_read_as_documented() {
        let created = br#"{"sid":"SM0123","status":"queued","price":null,"price_unit":"USD","error_code":null}"#;
        match read_answer(201, created) {
            Answer::Created(m) => assert_eq!((m.sid.as_str(), m.price), ("SM0123", None)),
            other => panic!("{other:?}"),
        }
        let refused = br#"{"code":21211,"message":"The 'To' number 123 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#;
        match read_answer(400, refused) {
            Answer::Refused(e) => {
                assert_eq!((e.code, error_reason(e.code)), (21211, "invalid_number"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_answer(503, b"busy"),
            Answer::Unexpected(503, _)
        ));
        assert_eq!(error_reason(21610), "opted_out");
        assert_eq!(error_reason(21408), "region_not_enabled");
    }

    #[test]
    fn prices_become_millionths() {
        assert_eq!(price_micros("-0.00750"), Some(7500));
        assert_eq!(price_micros("0.0079"), Some(7900));
        assert_eq!(price_micros("1"), Some(1_000_000));
        assert_eq!(price_micros("x"), None);
        assert_eq!(price_micros(""), None);
    }

    #[test]
    fn statuses_map_to_progress() {
        assert_eq!(progress("delivered"), Some(Progress::Sent));
        assert_eq!(progress("undelivered"), Some(Progress::Failed));
        assert_eq!(progress("queued"), Some(Progress::Pending));
        assert_eq!(progress("bogus"), None);
    }
}
