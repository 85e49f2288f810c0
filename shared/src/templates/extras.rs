//! Lines a tenant may add under the sentence so the phone fills the code in by itself:
//! - the WebOTP API's origin-bound line `@example.com #123456`, which must be the last line;
//! - the Android SMS Retriever hash of the tenant's app (11 characters), which only needs to be
//!   somewhere in the text, so it goes on the line before the WebOTP one.
//!
//! Both are plain ASCII within GSM-7, so they never change a text's encoding.

use super::TemplateError;

/// Longest WebOTP host accepted: a real host fits, and the line stays small enough for the
/// longest code to fit one SMS with it.
pub const MAX_WEBOTP_HOST: usize = 64;
pub const APP_HASH_LEN: usize = 11;

/// A bare, lowercase host name (`example.com`, `accounts.example.com`): what WebOTP compares
/// with the page's origin.
pub fn validate_webotp_host(host: &str) -> Result<(), TemplateError> {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.len() > MAX_WEBOTP_HOST || !host.split('.').all(label_ok) {
        return Err(TemplateError::WebOtpHost);
    }
    Ok(())
}

/// 11 characters of the base64 alphabet, as Android's `AppSignatureHelper` prints it.
pub fn validate_app_hash(hash: &str) -> Result<(), TemplateError> {
    let ok = hash.len() == APP_HASH_LEN
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !ok {
        return Err(TemplateError::AppHash);
    }
    Ok(())
}

/// The lines that follow the sentence (each starting with a line break), for `code`.
pub(super) fn lines(code: &str, webotp_host: Option<&str>, app_hash: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(hash) = app_hash {
        out.push('\n');
        out.push_str(hash);
    }
    if let Some(host) = webotp_host {
        // `#code` ends at whitespace: the words of a word code are joined by dashes, which the
        // verification accepts as separators.
        out.push_str(&format!("\n@{host} #{}", code.replace(' ', "-")));
    }
    out
}
