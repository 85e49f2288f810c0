//! Identifiers that cross a trust boundary (message, tenant, request and gateway ids) end up in
//! logs, database keys and URL paths, so they are kept short and plain: 1 to 64 of `A-Z a-z 0-9 _ -`.

/// Longest plain id.
pub const MAX_PLAIN_ID_LEN: usize = 64;

/// [`is_plain_id`] as a JSON Schema `pattern`, for the OpenAPI document (it cannot say the
/// Firestore-reserved `__.*__` names apart; the handlers refuse those).
pub const PLAIN_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// True when `s` is 1 to [`MAX_PLAIN_ID_LEN`] characters of `A-Z a-z 0-9 _ -`, and not a name
/// Firestore reserves for itself (`__.*__`): ids become document ids, and the store refuses those.
pub fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PLAIN_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !(s.len() >= 4 && s.starts_with("__") && s.ends_with("__"))
}

/// An id newtype: the plain string on the wire and in the store (`serde(transparent)`), its own
/// type in the code, so a tenant id cannot be passed where a message id is meant. Reads as a
/// `&str` (`Deref`, `AsRef`, `Borrow`) and compares with strings.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }
        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }
        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type!(
    /// A tenant (`t_…`).
    TenantId
);
id_type!(
    /// A message the service sent (`msg_…`), also its id on the phone that holds it.
    MessageId
);
id_type!(
    /// A phone gateway (`phone-1`, or the id enrolment gave it).
    GatewayId
);

/// A point in time as unix milliseconds, as records keep it (`UnixMs(0)`: never, or not set).
/// Plain `i64` on the wire and in the store. A time plus or minus a duration in ms is a time; two
/// times apart are a duration (`i64`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = i64)]
pub struct UnixMs(pub i64);

impl UnixMs {
    /// Set (not the zero that stands for "never").
    pub fn is_set(self) -> bool {
        self.0 != 0
    }
}

impl From<i64> for UnixMs {
    fn from(ms: i64) -> Self {
        UnixMs(ms)
    }
}

impl From<UnixMs> for i64 {
    fn from(t: UnixMs) -> i64 {
        t.0
    }
}

impl std::ops::Add<i64> for UnixMs {
    type Output = UnixMs;
    fn add(self, ms: i64) -> UnixMs {
        UnixMs(self.0 + ms)
    }
}

impl std::ops::Sub<i64> for UnixMs {
    type Output = UnixMs;
    fn sub(self, ms: i64) -> UnixMs {
        UnixMs(self.0 - ms)
    }
}

impl std::ops::Sub for UnixMs {
    type Output = i64;
    fn sub(self, other: UnixMs) -> i64 {
        self.0 - other.0
    }
}

impl PartialEq<i64> for UnixMs {
    fn eq(&self, other: &i64) -> bool {
        self.0 == *other
    }
}

impl PartialOrd<i64> for UnixMs {
    fn partial_cmp(&self, other: &i64) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(other)
    }
}

impl PartialEq<UnixMs> for i64 {
    fn eq(&self, other: &UnixMs) -> bool {
        *self == other.0
    }
}

impl PartialOrd<UnixMs> for i64 {
    fn partial_cmp(&self, other: &UnixMs) -> Option<std::cmp::Ordering> {
        self.partial_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_short_letters_digits_underscore_and_dash() {
        for ok in [
            "a",
            "msg_01jd9abc",
            "phone-1",
            "req_0123",
            &"x".repeat(64),
            "__a",
            "a__",
            "___",
        ] {
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
            // Firestore's reserved document ids (schemathesis found `__main__` as a gateway id: a 500).
            "____",
            "__main__",
        ] {
            assert!(!is_plain_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_schema_pattern_says_the_same_length_and_letters() {
        assert_eq!(
            PLAIN_ID_PATTERN,
            format!("^[A-Za-z0-9_-]{{1,{MAX_PLAIN_ID_LEN}}}$")
        );
    }

    #[test]
    fn ids_are_plain_strings_on_the_wire_and_compare_with_strings() {
        let id = MessageId::from("msg_1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"msg_1\"");
        let back: MessageId = serde_json::from_str("\"msg_1\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(id, "msg_1");
        assert_eq!("msg_1", id);
        assert_eq!(String::from("msg_1"), id);
        assert_eq!(&*id, "msg_1");
        let t = UnixMs(1_000);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1000");
        assert_eq!((t + 500) - t, 500);
        assert!(t < 2_000 && 500 < t && t == 1_000);
    }
}
