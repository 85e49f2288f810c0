//! Identifiers that cross a trust boundary (message, tenant, request and gateway ids) end up in
//! logs, database keys and URL paths, so they are kept short and plain: 1 to 64 of `A-Z a-z 0-9 _ -`.

/// Longest plain id.
pub const MAX_PLAIN_ID_LEN: usize = 64;

/// True when `s` is 1 to [`MAX_PLAIN_ID_LEN`] characters of `A-Z a-z 0-9 _ -`.
pub fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PLAIN_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_short_letters_digits_underscore_and_dash() {
        for ok in ["a", "msg_01jd9abc", "phone-1", "req_0123", &"x".repeat(64)] {
            assert!(is_plain_id(ok), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in [
            "",
            " ",
            "a b",
            "a.b",
            "a:b",
            "a/b",
            "ü",
            "id\n",
            long.as_str(),
        ] {
            assert!(!is_plain_id(bad), "{bad:?}");
        }
    }
}
