//! JSON <-> Firestore `Value`. Records are serde structs; they pass through `serde_json::Value`,
//! so any `Serialize` type maps to document fields. Integers stay integers (`integerValue`), times
//! are stored as unix milliseconds (plain integers) to keep one representation everywhere.

use serde_json::{json, Map, Value};

// The conversions take their input by value: a record's tree is moved into Firestore's shape and
// a response's back, strings and keys included, rather than copied and then dropped (building and
// dropping `Value` trees is a visible share of a send's CPU).

pub fn to_firestore(v: Value) -> Value {
    match v {
        Value::Null => json!({"nullValue": null}),
        Value::Bool(b) => json!({"booleanValue": b}),
        Value::Number(n) => match n.as_i64() {
            Some(i) => json!({"integerValue": i.to_string()}),
            None => json!({"doubleValue": n.as_f64().unwrap_or(0.0)}),
        },
        Value::String(s) => tagged("stringValue", Value::String(s)),
        Value::Array(a) => tagged(
            "arrayValue",
            tagged(
                "values",
                Value::Array(a.into_iter().map(to_firestore).collect()),
            ),
        ),
        Value::Object(o) => tagged("mapValue", tagged("fields", fields_of(o))),
    }
}

/// `{tag: inner}`, moving `inner`.
fn tagged(tag: &str, inner: Value) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(tag.to_string(), inner);
    Value::Object(m)
}

/// The `fields` object of a document from a JSON object.
pub fn fields_of(o: Map<String, Value>) -> Value {
    Value::Object(o.into_iter().map(|(k, v)| (k, to_firestore(v))).collect())
}

pub fn from_firestore(v: Value) -> Value {
    let Value::Object(o) = v else {
        return Value::Null;
    };
    let Some((kind, mut inner)) = o.into_iter().next() else {
        return Value::Null;
    };
    match kind.as_str() {
        "nullValue" => Value::Null,
        "integerValue" => match inner.as_str().and_then(|s| s.parse::<i64>().ok()) {
            Some(i) => Value::from(i),
            None => inner,
        },
        "booleanValue" | "doubleValue" | "stringValue" | "timestampValue" | "referenceValue"
        | "bytesValue" | "geoPointValue" => inner,
        "arrayValue" => match inner["values"].take() {
            Value::Array(a) => Value::Array(a.into_iter().map(from_firestore).collect()),
            _ => Value::Array(Vec::new()),
        },
        "mapValue" => from_fields(inner["fields"].take()),
        _ => Value::Null,
    }
}

/// A document's `fields` back to a JSON object (missing fields -> `{}`).
pub fn from_fields(fields: Value) -> Value {
    match fields {
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, from_firestore(v))).collect())
        }
        _ => Value::Object(Map::new()),
    }
}

/// A field path segment, quoted with backticks unless it is a plain identifier.
pub fn field_path(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_json_shape() {
        let v = json!({"s": "x", "i": -42, "big": 9_007_199_254_740_993i64, "f": 1.5, "b": true, "n": null, "a": [1, "two", [3]], "m": {"k": {"deep": 1}}});
        let fs = fields_of(v.as_object().unwrap().clone());
        assert_eq!(fs["i"], json!({"integerValue": "-42"}));
        assert_eq!(fs["big"], json!({"integerValue": "9007199254740993"}));
        assert_eq!(fs["s"], json!({"stringValue": "x"}));
        assert_eq!(
            fs["a"],
            json!({"arrayValue": {"values": [{"integerValue": "1"}, {"stringValue": "two"}, {"arrayValue": {"values": [{"integerValue": "3"}]}}]}})
        );
        assert_eq!(
            fs["m"],
            json!({"mapValue": {"fields": {"k": {"mapValue": {"fields": {"deep": {"integerValue": "1"}}}}}}})
        );
        assert_eq!(fs["n"], json!({"nullValue": null}));
        assert_eq!(fs["f"], json!({"doubleValue": 1.5}));
        assert_eq!(from_fields(fs), v);
    }

    #[test]
    fn empty_arrays_and_maps_survive() {
        let v = json!({"a": [], "m": {}});
        assert_eq!(from_fields(fields_of(v.as_object().unwrap().clone())), v);
        assert_eq!(from_firestore(json!({"arrayValue": {}})), json!([]));
        assert_eq!(from_firestore(json!({"mapValue": {}})), json!({}));
        assert_eq!(
            from_firestore(json!({"timestampValue": "2026-12-07T00:00:00Z"})),
            json!("2026-12-07T00:00:00Z")
        );
        assert_eq!(
            from_firestore(json!({"integerValue": "not a number"})),
            json!("not a number")
        );
    }

    #[test]
    fn quotes_unusual_field_names() {
        assert_eq!(field_path("otp_sent"), "otp_sent");
        assert_eq!(field_path("2fa"), "`2fa`");
        assert_eq!(field_path("a.b"), "`a.b`");
    }
}
