//! otp_shared::sms::analyze / validate_message on arbitrary text: no panic, and the segment count is
//! consistent with the units and the 3GPP limits (GSM-7: 160 alone, 153 per part; UCS-2: 70 / 67).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_shared::sms::{self, Encoding, MessageError};

/// GSM 03.38 extension table (escape + one septet each), written out from the spec.
const EXTENSION: [char; 10] = ['\x0c', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

#[derive(Debug, Arbitrary)]
struct Input {
    text: String,
    extra: char,
    max_segments: u8,
}

fn ceil_div(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

fuzz_target!(|input: Input| {
    let Input { text, extra, max_segments } = input;
    let info = sms::analyze(&text);
    assert_eq!(info.chars, text.chars().count());

    let septets: Option<Vec<usize>> = text.chars().map(sms::gsm_septets).collect();
    let costs: Vec<usize> = match (&septets, info.encoding) {
        (Some(s), Encoding::Gsm7) => {
            for c in text.chars() {
                let want = if EXTENSION.contains(&c) { 2 } else { 1 };
                assert_eq!(sms::gsm_septets(c), Some(want), "{c:?}");
            }
            s.clone()
        }
        (None, Encoding::Ucs2) => text.chars().map(char::len_utf16).collect(),
        (s, e) => panic!("encoding {e:?} but all-GSM = {}", s.is_some()),
    };
    let units: usize = costs.iter().sum();
    assert_eq!(info.units, units);
    if info.encoding == Encoding::Ucs2 {
        assert_eq!(units, text.encode_utf16().count());
    }

    let (single, part) = (info.encoding.single_limit(), info.encoding.part_limit());
    assert_eq!((single, part), if info.encoding == Encoding::Gsm7 { (160, 153) } else { (70, 67) });
    match units {
        0 => assert_eq!(info.segments, 0),
        u if u <= single => assert_eq!(info.segments, 1),
        u => {
            // Each part holds at most `part` units and loses at most one to a character kept whole.
            assert!(info.segments >= ceil_div(u, part).max(2), "{info:?}");
            assert!(info.segments <= ceil_div(u, part - 1), "{info:?}");
            // And it is the fewest parts in which no character straddles two parts.
            let mut parts = vec![0usize];
            for c in &costs {
                if parts.last().unwrap() + c > part {
                    parts.push(0);
                }
                *parts.last_mut().unwrap() += c;
            }
            assert!(parts.iter().all(|&p| p <= part && p > 0));
            assert_eq!(info.segments, parts.len(), "{info:?}");
        }
    }

    // Adding a character never makes a message cheaper.
    let longer = sms::analyze(&format!("{text}{extra}"));
    assert!(longer.segments >= info.segments, "{info:?} then {longer:?} after {extra:?}");

    let max = max_segments as usize;
    match sms::validate_message(&text, max) {
        Ok(v) => {
            assert_eq!(v, info);
            assert!(v.segments <= max && !text.trim().is_empty());
            assert!(!text.chars().any(|c| c.is_control() && c != '\n' && c != '\r'));
        }
        Err(MessageError::Required) => assert!(text.trim().is_empty()),
        Err(MessageError::InvalidChars) => assert!(text.chars().any(|c| c.is_control() && c != '\n' && c != '\r')),
        Err(e @ MessageError::TooLong { .. }) => {
            assert!(info.segments > max);
            assert_eq!(e.code(), "message_too_long");
        }
    }
});
