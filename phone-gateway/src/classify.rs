//! What a run of `termux-sms-send` says about the send, read from its exit status and output.
//!
//! Stock Termux:API hands the text to Android and returns before Android's result: a failure it
//! cannot see is not reported. A Termux:API build (or a wrapper named in `sender.program`) that
//! waits for the sent broadcast prints Android's result by its `SmsManager` name
//! (`RESULT_ERROR_LIMIT_EXCEEDED`...), and those names are what is classified here. Termux:API's
//! own errors come as JSON on stdout (`{"error": "..."}`), with exit status 0: the Google Play
//! build answers every send with "Sending SMS is no longer permitted by Google", which is a
//! failure, not a send.

use otp_shared::wire::FailureClass;

/// Android's result names (and the texts some builds print instead), by class, most specific
/// first: a limit is also a generic "failure" to a reader that only looks for that word.
const PATTERNS: &[(&str, FailureClass)] = &[
    ("limit_exceeded", FailureClass::LimitExceeded),
    ("limit exceeded", FailureClass::LimitExceeded),
    ("no longer permitted", FailureClass::NotPermitted),
    ("permission", FailureClass::NotPermitted),
    ("securityexception", FailureClass::NotPermitted),
    ("no_service", FailureClass::NoService),
    ("no service", FailureClass::NoService),
    ("radio_off", FailureClass::NoService),
    ("radio off", FailureClass::NoService),
    ("radio_not_available", FailureClass::NoService),
    ("airplane mode", FailureClass::NoService),
    ("generic_failure", FailureClass::GenericFailure),
    ("generic failure", FailureClass::GenericFailure),
];

/// The class of a failure whose output is `text`, if the output names one.
pub fn class_of(text: &str) -> Option<FailureClass> {
    let lower = text.to_ascii_lowercase();
    PATTERNS
        .iter()
        .find(|(p, _)| lower.contains(p))
        .map(|&(_, c)| c)
}

/// A finished run: `None` when it sent, else the short error code (never the program's output,
/// which may hold the number) and the class.
pub fn outcome(
    exit_ok: bool,
    exit_code: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> Option<(String, FailureClass)> {
    let said = format!("{stdout}\n{stderr}");
    let named = class_of(&said);
    // A JSON error object on stdout is Termux:API refusing, whatever the exit status.
    let json_error = serde_json::from_str::<serde_json::Value>(stdout.trim())
        .ok()
        .is_some_and(|v| v.get("error").is_some());
    if exit_ok && stderr.trim().is_empty() && named.is_none() && !json_error {
        return None;
    }
    let class = named.unwrap_or(FailureClass::Unknown);
    let code = match (class, exit_ok, exit_code) {
        (FailureClass::Unknown, false, Some(c)) => format!("exit_status_{c}"),
        (FailureClass::Unknown, false, None) => "killed_by_signal".into(),
        (FailureClass::Unknown, true, _) if json_error => "termux_api_error".into(),
        (FailureClass::Unknown, true, _) => "stderr_output".into(),
        (c, _, _) => c.as_str().into(),
    };
    Some((code, class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn android_results_are_classified_by_name() {
        for (text, class) in [
            ("RESULT_ERROR_LIMIT_EXCEEDED", FailureClass::LimitExceeded),
            ("error: RESULT_ERROR_NO_SERVICE", FailureClass::NoService),
            ("RESULT_ERROR_RADIO_OFF", FailureClass::NoService),
            ("RESULT_RADIO_NOT_AVAILABLE", FailureClass::NoService),
            ("RESULT_ERROR_GENERIC_FAILURE", FailureClass::GenericFailure),
            ("Generic failure", FailureClass::GenericFailure),
        ] {
            assert_eq!(class_of(text), Some(class), "{text}");
            assert_eq!(
                outcome(false, Some(1), "", text),
                Some((class.as_str().to_string(), class))
            );
        }
        assert_eq!(class_of("something else"), None);
    }

    #[test]
    fn the_play_store_build_refuses_with_exit_status_0_and_that_is_no_send() {
        let out = r#"{"error":"Sending SMS is no longer permitted by Google"}"#;
        assert_eq!(
            outcome(true, Some(0), out, ""),
            Some(("not_permitted".into(), FailureClass::NotPermitted))
        );
        assert_eq!(
            outcome(true, Some(0), r#"{"error":"Sim slot 3 not found"}"#, ""),
            Some(("termux_api_error".into(), FailureClass::Unknown))
        );
    }

    #[test]
    fn unexplained_failures_keep_their_short_codes() {
        assert_eq!(outcome(true, Some(0), "", ""), None);
        assert_eq!(outcome(true, Some(0), "ok\n", ""), None);
        assert_eq!(
            outcome(false, Some(2), "", "fake: failing"),
            Some(("exit_status_2".into(), FailureClass::Unknown))
        );
        assert_eq!(
            outcome(true, Some(0), "", "warning"),
            Some(("stderr_output".into(), FailureClass::Unknown))
        );
        assert_eq!(
            outcome(false, None, "", ""),
            Some(("killed_by_signal".into(), FailureClass::Unknown))
        );
    }
}
