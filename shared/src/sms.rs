//! SMS encoding and segment counting (3GPP TS 23.038 / 23.040). A text that fits the GSM 03.38
//! alphabet is sent as GSM-7 (160 septets alone, 153 per part when concatenated; extension-table
//! characters take two septets and are never split across parts); one character outside it turns
//! the whole message into UCS-2 (70 UTF-16 units alone, 67 per part; surrogate pairs kept whole).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        })
    }
}

impl Encoding {
    pub fn single_limit(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }
    pub fn part_limit(self) -> usize {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "\x0c^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` if it is not in the alphabet.
pub fn gsm_septets(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsInfo {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
    pub chars: usize,
}

pub fn analyze(text: &str) -> SmsInfo {
    let chars = text.chars().count();
    let gsm: Option<Vec<usize>> = text.chars().map(gsm_septets).collect();
    let (encoding, costs) = match gsm {
        Some(c) => (Encoding::Gsm7, c),
        None => (Encoding::Ucs2, text.chars().map(char::len_utf16).collect()),
    };
    let units: usize = costs.iter().sum();
    let segments = if units == 0 {
        0
    } else if units <= encoding.single_limit() {
        1
    } else {
        // Pack character by character: a two-unit character never straddles two parts.
        let (mut parts, mut used) = (1, 0);
        for c in costs {
            if used + c > encoding.part_limit() {
                parts += 1;
                used = 0;
            }
            used += c;
        }
        parts
    };
    SmsInfo {
        encoding,
        units,
        segments,
        chars,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message text is required")]
    Required,
    #[error("the message contains control characters (only line breaks are allowed)")]
    InvalidChars,
    #[error("the message is {segments} SMS parts long; at most {max} parts are allowed ({per_part} {unit} per part in {encoding})")]
    TooLong {
        segments: usize,
        max: usize,
        per_part: usize,
        unit: &'static str,
        encoding: Encoding,
    },
}

impl MessageError {
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::Required => "message_required",
            MessageError::InvalidChars => "message_invalid_chars",
            MessageError::TooLong { .. } => "message_too_long",
        }
    }
}

pub fn validate_message(text: &str, max_segments: usize) -> Result<SmsInfo, MessageError> {
    if text.trim().is_empty() {
        return Err(MessageError::Required);
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(MessageError::InvalidChars);
    }
    let info = analyze(text);
    if info.segments > max_segments {
        let unit = if info.encoding == Encoding::Gsm7 {
            "characters"
        } else {
            "UTF-16 units"
        };
        return Err(MessageError::TooLong {
            segments: info.segments,
            max: max_segments,
            per_part: info.encoding.part_limit(),
            unit,
            encoding: info.encoding,
        });
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_limits() {
        assert_eq!(analyze(&"a".repeat(160)).segments, 1);
        assert_eq!(analyze(&"a".repeat(161)).segments, 2);
        assert_eq!(analyze(&"a".repeat(306)).segments, 2);
        assert_eq!(analyze(&"a".repeat(307)).segments, 3);
        assert_eq!(
            analyze("Here's what you asked for, forest, Have a nice day.").encoding,
            Encoding::Gsm7
        );
    }

    #[test]
    fn extension_characters_take_two_and_never_straddle() {
        let i = analyze(&"€".repeat(80));
        assert_eq!((i.encoding, i.units, i.segments), (Encoding::Gsm7, 160, 1));
        // 152 septets then a two-septet char: it moves whole to part two.
        let i = analyze(&format!("{}€{}", "a".repeat(152), "a".repeat(10)));
        assert_eq!((i.units, i.segments), (164, 2));
    }

    #[test]
    fn one_non_gsm_char_switches_to_ucs2() {
        let i = analyze(&format!("{}ш", "a".repeat(69)));
        assert_eq!((i.encoding, i.units, i.segments), (Encoding::Ucs2, 70, 1));
        assert_eq!(analyze(&"Привет! ".repeat(10)).segments, 2);
        let emoji = analyze(&"😀".repeat(34));
        assert_eq!((emoji.units, emoji.segments), (68, 1));
        // 33 pairs = 66 units, the 34th pair would straddle 67: it moves to part two.
        assert_eq!(analyze(&"😀".repeat(36)).segments, 2);
    }

    #[test]
    fn validation_errors_have_codes() {
        assert_eq!(
            validate_message(" ", 3).unwrap_err().code(),
            "message_required"
        );
        assert_eq!(
            validate_message("hi\x07", 3).unwrap_err().code(),
            "message_invalid_chars"
        );
        assert!(validate_message("line one\nline two\r\n", 1).is_ok());
        let e = validate_message(&"a".repeat(1000), 3).unwrap_err();
        assert_eq!(e.code(), "message_too_long");
        assert!(e.to_string().contains("153"));
    }
}
