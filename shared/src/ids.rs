//! Identifiers that travel in paths, headers and document names (`msg_…`, `t_…`, gateway ids,
//! request ids): short and plain, so they can never spell a path, a query or markup.

/// `[A-Za-z0-9_-]`, 1 to 64 characters.
pub fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::is_plain_id;

    #[test]
    fn only_short_plain_ids_pass() {
        assert!(is_plain_id("msg_01jd9-x"));
        assert!(!is_plain_id(""));
        assert!(!is_plain_id(&"a".repeat(65)));
        for bad in ["../etc", "a/b", "a b", "a%2f", "ä", "a.b", "a:b"] {
            assert!(!is_plain_id(bad), "{bad}");
        }
    }
}
