//! The SMS around a code, always one SMS (GSM-7: 160 characters, UCS-2: 70): a built-in sentence
//! in the reader's language, or a tenant's own template with `{code}`, `{minutes}` and `{app}`;
//! then, per tenant, the Android SMS Retriever hash and the WebOTP line (`@example.com #123456`).
//!
//! Built-in sentences come in two styles ([`TextStyle`]): `natural`, the seed's personal-looking
//! message ("Here's what you asked for, forest river, Have a nice day.": a random opening that
//! carries the code and a random closing), the default for word codes; and `standard`, a plain code
//! sentence with the app name and validity, the default for digits. They are picked at random
//! among those that fit one SMS with the actual code, app name and extra lines, falling back to
//! the language's other style, then to English, then to the bare code; so a text never takes a
//! second SMS. A custom template is checked once, when set, against the worst case of the
//! tenant's settings, and refused with the figures when it cannot fit.

mod extras;
mod locales;

use rand_core::RngCore;

use crate::otp::CodeType;
use crate::sms::{self, Encoding, SmsInfo};
use crate::words;

pub use extras::{validate_app_hash, validate_webotp_host, APP_HASH_LEN, MAX_WEBOTP_HOST};
pub use locales::{locale_for_region, resolve_locale};

/// App names are cut to this many characters in a text, so the worst case is known.
pub const MAX_APP_NAME: usize = 20;
/// The longest validity, in minutes (a day).
pub const MAX_MINUTES: u32 = 1440;

/// How a built-in text reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TextStyle {
    /// A short personal message around the code: random opening, random closing.
    Natural,
    /// "Acme: your code is forest river. Do not share it with anyone."
    Standard,
}

impl TextStyle {
    /// The style a code gets when its tenant chose none: natural for word codes (words read as a
    /// message), standard for digits (a number in a chatty sentence reads like a bulk code anyway).
    pub fn default_for(code: &str) -> TextStyle {
        if code.bytes().any(|b| b.is_ascii_alphabetic()) {
            TextStyle::Natural
        } else {
            TextStyle::Standard
        }
    }
}

/// Everything a text is made from.
#[derive(Debug, Clone, Copy)]
pub struct TextParams<'a> {
    pub code: &'a str,
    /// The tenant's style; `None`: [`TextStyle::default_for`] the code.
    pub style: Option<TextStyle>,
    pub minutes: u32,
    pub app: &'a str,
    /// Host for the WebOTP line (`@host #code`, the last line), if the tenant wants it.
    pub webotp_host: Option<&'a str>,
    /// The tenant's Android app hash for the SMS Retriever API, if it wants it.
    pub app_hash: Option<&'a str>,
}

/// What a custom template is checked against: the tenant's settings, `None` where not known
/// yet (then the longest allowed: a 20-character GSM-7 app name, a day's validity).
#[derive(Debug, Clone, Copy)]
pub struct TemplateLimits<'a> {
    pub code_type: CodeType,
    pub app: Option<&'a str>,
    pub minutes: Option<u32>,
    pub webotp_host: Option<&'a str>,
    pub app_hash: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template must contain {{code}} exactly once")]
    CodePlaceholder,
    #[error("unknown placeholder {{{0}}}; use {{code}}, {{minutes}} or {{app}}")]
    UnknownPlaceholder(String),
    #[error("the template contains control characters (only line breaks are allowed)")]
    ControlChars,
    #[error(
        "the text does not fit one SMS: with {worst} it takes {units} {unit} in {encoding}, \
         and one SMS holds {limit}"
    )]
    TooLong {
        worst: String,
        units: usize,
        unit: &'static str,
        encoding: Encoding,
        limit: usize,
    },
    #[error("the WebOTP host must be a bare lowercase host name such as example.com, at most 64 characters")]
    WebOtpHost,
    #[error("the app hash must be the 11 characters Android's AppSignatureHelper prints")]
    AppHash,
}

impl TemplateError {
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::WebOtpHost => "webotp_host_invalid",
            TemplateError::AppHash => "app_hash_invalid",
            _ => "template_invalid",
        }
    }
}

/// Locales with built-in sentences.
pub fn locales() -> impl Iterator<Item = &'static str> {
    locales::LOCALES.iter().map(|l| l.tag)
}

/// A built-in text in `locale` ("es-MX" -> "es"; unknown -> English), one SMS whatever the code,
/// app name and extra lines.
pub fn render_with<R: RngCore>(locale: &str, p: &TextParams, rng: &mut R) -> String {
    let app = short_app(p.app);
    let extras = extras::lines(p.code, p.webotp_host, p.app_hash);
    let chosen = locales::find(resolve_locale(Some(locale), None)).expect("resolved");
    let english = &locales::LOCALES[0];
    let style = p.style.unwrap_or_else(|| TextStyle::default_for(p.code));
    let styles = match style {
        TextStyle::Natural => [TextStyle::Natural, TextStyle::Standard],
        TextStyle::Standard => [TextStyle::Standard, TextStyle::Natural],
    };
    for locale in [chosen, english] {
        for style in styles {
            let fitting: Vec<String> = sentences(locale, style)
                .map(|s| fill(&s, p.code, &locale.duration(p.minutes), &app) + &extras)
                .filter(|t| fits_one_sms(t))
                .collect();
            if !fitting.is_empty() {
                return fitting[(rng.next_u32() as usize) % fitting.len()].clone();
            }
        }
    }
    // Fits by construction: a code of at most 35 characters and the bounded extra lines.
    format!("{}{extras}", p.code)
}

/// Every built-in sentence of `locale` in `style`, placeholders unfilled: for the natural style,
/// each opening followed by each closing, so a random pick among them is a random pair.
fn sentences(
    locale: &'static locales::Locale,
    style: TextStyle,
) -> Box<dyn Iterator<Item = std::borrow::Cow<'static, str>>> {
    use std::borrow::Cow;
    match style {
        TextStyle::Standard => Box::new(locale.sentences.iter().map(|s| Cow::Borrowed(*s))),
        TextStyle::Natural => {
            let n = &locale.natural;
            Box::new(n.openings.iter().flat_map(move |o| {
                n.closings
                    .iter()
                    .map(move |c| Cow::Owned(format!("{o} {c}")))
            }))
        }
    }
}

/// [`render_with`] without extra lines, in the default style for the code.
pub fn render<R: RngCore>(
    locale: &str,
    code: &str,
    minutes: u32,
    app: &str,
    rng: &mut R,
) -> String {
    let p = TextParams {
        code,
        style: None,
        minutes,
        app,
        webotp_host: None,
        app_hash: None,
    };
    render_with(locale, &p, rng)
}

/// A tenant's template filled in, with the extra lines; refused if it does not fit one SMS (it
/// was checked against the worst case when set, but the app name may have changed since).
pub fn render_custom_with(template: &str, p: &TextParams) -> Result<String, TemplateError> {
    check_syntax(template)?;
    let app = short_app(p.app);
    let text = fill(template, p.code, &p.minutes.to_string(), &app)
        + &extras::lines(p.code, p.webotp_host, p.app_hash);
    one_sms(&text, || {
        format!("the code {:?} and the app name {app:?}", p.code)
    })?;
    Ok(text)
}

/// [`render_custom_with`] without extra lines.
pub fn render_custom(
    template: &str,
    code: &str,
    minutes: u32,
    app: &str,
) -> Result<String, TemplateError> {
    let p = TextParams {
        code,
        style: None,
        minutes,
        app,
        webotp_host: None,
        app_hash: None,
    };
    render_custom_with(template, &p)
}

/// Checks a tenant template: one `{code}`, known placeholders only, the extra lines well formed,
/// and one SMS in the worst case of `limits`. Returns the worst case's size.
pub fn validate_custom_with(
    template: &str,
    limits: &TemplateLimits,
) -> Result<SmsInfo, TemplateError> {
    check_syntax(template)?;
    limits.webotp_host.map(validate_webotp_host).transpose()?;
    limits.app_hash.map(validate_app_hash).transpose()?;
    let code = longest_code(limits.code_type);
    let app = match limits.app {
        Some(a) => short_app(a),
        None => "W".repeat(MAX_APP_NAME),
    };
    let minutes = limits.minutes.unwrap_or(MAX_MINUTES).to_string();
    let text = fill(template, &code, &minutes, &app)
        + &extras::lines(&code, limits.webotp_host, limits.app_hash);
    let worst = || {
        let extra = match (limits.webotp_host, limits.app_hash) {
            (None, None) => "",
            (Some(_), None) => " and the WebOTP line",
            (None, Some(_)) => " and the app hash line",
            (Some(_), Some(_)) => ", the app hash line and the WebOTP line",
        };
        format!(
            "the longest code ({} characters), a {}-character app name{extra}",
            code.chars().count(),
            app.chars().count()
        )
    };
    one_sms(&text, worst)
}

/// [`validate_custom_with`] for any code type and unknown settings: four of the longest words.
pub fn validate_custom(template: &str) -> Result<(), TemplateError> {
    let limits = TemplateLimits {
        code_type: CodeType::Words { count: 4 },
        app: None,
        minutes: None,
        webotp_host: None,
        app_hash: None,
    };
    validate_custom_with(template, &limits).map(|_| ())
}

/// The longest code a code type can produce.
pub fn longest_code(ct: CodeType) -> String {
    match ct {
        CodeType::Digits { len } => "8".repeat(len as usize),
        CodeType::Words { count } => {
            let longest = words::words()
                .iter()
                .max_by_key(|w| w.len())
                .expect("a word list");
            vec![*longest; count as usize].join(" ")
        }
    }
}

fn fits_one_sms(text: &str) -> bool {
    sms::analyze(text).segments <= 1
}

fn one_sms(text: &str, worst: impl Fn() -> String) -> Result<SmsInfo, TemplateError> {
    let info = sms::analyze(text);
    if info.segments <= 1 {
        return Ok(info);
    }
    Err(TemplateError::TooLong {
        worst: worst(),
        units: info.units,
        unit: if info.encoding == Encoding::Gsm7 {
            "characters"
        } else {
            "UTF-16 units"
        },
        encoding: info.encoding,
        limit: info.encoding.single_limit(),
    })
}

fn short_app(app: &str) -> String {
    app.trim()
        .chars()
        .take(MAX_APP_NAME)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Fills the placeholders in one pass, so a value that looks like a placeholder stays as it is.
/// Built-in sentences say `{duration}`; custom templates say `{minutes}` (a bare number).
fn fill(text: &str, code: &str, duration: &str, app: &str) -> String {
    let values = [
        ("{code}", code),
        ("{app}", app),
        ("{duration}", duration),
        ("{minutes}", duration),
    ];
    let mut out = String::with_capacity(text.len() + code.len() + app.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let at = &rest[start..];
        let (value, len) = values
            .iter()
            .find(|(name, _)| at.starts_with(name))
            .map_or(("{", 1), |(name, value)| (*value, name.len()));
        out.push_str(value);
        rest = &at[len..];
    }
    out + rest
}

fn check_syntax(template: &str) -> Result<(), TemplateError> {
    if template.matches("{code}").count() != 1 {
        return Err(TemplateError::CodePlaceholder);
    }
    if template.chars().any(|c| c.is_control() && c != '\n') {
        return Err(TemplateError::ControlChars);
    }
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| TemplateError::UnknownPlaceholder(after.chars().take(20).collect()))?;
        let name = &after[..end];
        if !matches!(name, "code" | "minutes" | "app") {
            return Err(TemplateError::UnknownPlaceholder(name.to_string()));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests;
