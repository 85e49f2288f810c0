//! Operator alerts by email: the recipients' check and the message itself (RFC 5322, plain text,
//! UTF-8), which `Platform::send_email` hands to Cloudflare's `send_email` binding.

/// Most recipients an operator may set.
pub const MAX_RECIPIENTS: usize = 5;

/// Why `addr` is not an address we send alerts to, or `None`. Deliberately strict: a plain
/// `local@domain.tld` (no display name, comments, quotes or whitespace), so nothing can reach a
/// header but the address itself.
pub fn address_problem(addr: &str) -> Option<&'static str> {
    if addr.len() > 254 {
        return Some("is longer than 254 characters");
    }
    let Some((local, domain)) = addr.split_once('@') else {
        return Some("has no @");
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    if !local_ok {
        return Some("has an invalid part before the @");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !domain_ok {
        return Some("has an invalid domain (letters, digits, dots and hyphens, with a dot)");
    }
    None
}

/// The recipients as set (trimmed, lower-cased, without repeats), or why not.
pub fn check_recipients(list: &[String]) -> Result<Vec<String>, String> {
    if list.len() > MAX_RECIPIENTS {
        return Err(format!("emails: at most {MAX_RECIPIENTS} recipients"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        let a = raw.trim().to_ascii_lowercase();
        if let Some(why) = address_problem(&a) {
            return Err(format!("emails[{i}] {why}"));
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// RFC 5322 date: `Wed, 25 Nov 2026 10:30:00 +0000`.
pub fn rfc5322_date(ms: i64) -> String {
    let iso = crate::platform::iso8601(ms);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = crate::service::ops::analytics::iso_weekday(ms) as usize - 1;
    let month: usize = iso[5..7].parse().unwrap_or(1);
    format!(
        "{}, {} {} {} {} +0000",
        DAYS[wd],
        iso[8..10].trim_start_matches('0'),
        MONTHS[month - 1],
        &iso[..4],
        &iso[11..19]
    )
}

/// A header value on one line: control characters (CR, LF...) become spaces; non-ASCII text is
/// an RFC 2047 encoded word.
fn header_text(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() {
        clean
    } else {
        use base64::Engine;
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(clean.as_bytes())
        )
    }
}

/// The whole message: headers and a plain-text UTF-8 body, CRLF line ends. `id` makes the
/// Message-ID unique (Cloudflare requires one; its domain is the sender's).
pub fn message(from: &str, to: &str, subject: &str, body: &str, id: &str, now_ms: i64) -> String {
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let mut out = String::new();
    for (k, v) in [
        ("From", format!("otp-sms alerts <{from}>")),
        ("To", to.to_string()),
        ("Subject", header_text(subject)),
        ("Date", rfc5322_date(now_ms)),
        ("Message-ID", format!("<{id}@{domain}>")),
        ("MIME-Version", "1.0".into()),
        ("Content-Type", "text/plain; charset=utf-8".into()),
        ("Content-Transfer-Encoding", "8bit".into()),
        ("Auto-Submitted", "auto-generated".into()),
    ] {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    for line in body.lines() {
        // SMTP's limit is 998 octets a line; alert bodies are short, a long detail is cut.
        let mut l: String = line.chars().take(900).collect();
        // A line of a single dot would end the message on some SMTP paths.
        if l.starts_with('.') {
            l.insert(0, '.');
        }
        out.push_str(&l);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::parse_iso8601;

    #[test]
    fn recipients_are_plain_addresses() {
        assert_eq!(
            check_recipients(&[
                " Ops@Example.com ".into(),
                "ops@example.com".into(),
                "a.b+c@mail.example.org".into()
            ]),
            Ok(vec![
                "ops@example.com".to_string(),
                "a.b+c@mail.example.org".to_string()
            ])
        );
        for bad in [
            "no-at",
            "@example.com",
            "a@b",
            "a@-x.com",
            "a b@example.com",
            "a@example.com\r\nBcc: x@evil.com",
            "Ops <ops@example.com>",
            "a..b@example.com",
        ] {
            let e = check_recipients(&[bad.to_string()]).unwrap_err();
            assert!(e.starts_with("emails[0] "), "{bad}: {e}");
        }
        assert!(check_recipients(&vec!["a@example.com".to_string(); 6]).is_err());
    }

    #[test]
    fn the_message_is_rfc_5322_text() {
        let now = parse_iso8601("2026-11-25T10:30:05Z").unwrap();
        let m = message(
            "alerts@otp.example",
            "ops@example.com",
            "[otp-sms] ALERT phone-1\r\nBcc: x@evil.com: naïve",
            "line one\n.\nline three",
            "alert_123",
            now,
        );
        let (head, body) = m.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("From: otp-sms alerts <alerts@otp.example>\r\n"));
        assert!(head.contains("To: ops@example.com\r\n"));
        assert!(head.contains("Date: Wed, 25 Nov 2026 10:30:05 +0000\r\n"));
        assert!(head.contains("Message-ID: <alert_123@otp.example>\r\n"));
        // The subject stays one header (no injected Bcc), encoded because it is not ASCII.
        assert!(!head.contains("\r\nBcc"));
        let subject = head.lines().find(|l| l.starts_with("Subject: ")).unwrap();
        assert!(subject.starts_with("Subject: =?UTF-8?B?") && subject.ends_with("?="));
        assert_eq!(body, "line one\r\n..\r\nline three\r\n");
        assert_eq!(
            rfc5322_date(parse_iso8601("2026-12-06").unwrap()),
            "Sun, 6 Dec 2026 00:00:00 +0000"
        );
    }
}
