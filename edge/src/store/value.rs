//! JSON <-> Firestore `Value`. Records are serde structs; they pass through `serde_json::Value`,
//! so any `Serialize` type maps to document fields. Integers stay integers (`integerValue`), times
//! are stored as unix milliseconds (plain integers) to keep one representation everywhere.

use serde_json::{json, Map, Value};

pub fn to_firestore(v: &Value) -> Value {
    match v {
        Value::Null => json!({"nullValue": null}),
        Value::Bool(b) => json!({"booleanValue": b}),
        Value::Number(n) => match n.as_i64() {
            Some(i) => json!({"integerValue": i.to_string()}),
            None => json!({"doubleValue": n.as_f64().unwrap_or(0.0)}),
        },
        Value::String(s) => json!({"stringValue": s}),
        Value::Array(a) => {
            json!({"arrayValue": {"values": a.iter().map(to_firestore).collect::<Vec<_>>()}})
        }
        Value::Object(o) => json!({"mapValue": {"fields": fields_of(o)}}),
    }
}

/// The `fields` object of a document from a JSON object.
pub fn fields_of(o: &Map<String, Value>) -> Value {
    Value::Object(
        o.iter()
            .map(|(k, v)| (k.clone(), to_firestore(v)))
            .collect(),
    )
}

pub fn from_firestore(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return Value::Null;
    };
    let Some((kind, inner)) = o.iter().next() else {
        return Value::Null;
    };
    match kind.as_str() {
        "nullValue" => Value::Null,
        "booleanValue" => inner.clone(),
        "integerValue" => inner
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .map(Value::from)
            .unwrap_or_else(|| inner.clone()),
        "doubleValue" => inner.clone(),
        "stringValue" | "timestampValue" | "referenceValue" | "bytesValue" => inner.clone(),
        "geoPointValue" => inner.clone(),
        "arrayValue" => Value::Array(
            inner
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(from_firestore).collect())
                .unwrap_or_default(),
        ),
        "mapValue" => from_fields(inner.get("fields").unwrap_or(&Value::Null)),
        _ => Value::Null,
    }
}

/// A document's `fields` back to a JSON object (missing fields -> `{}`).
pub fn from_fields(fields: &Value) -> Value {
    match fields.as_object() {
        Some(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), from_firestore(v)))
                .collect(),
        ),
        None => Value::Object(Map::new()),
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
        let fs = fields_of(v.as_object().unwrap());
        assert_eq!(fs["i"], json!({"integerValue": "-42"}));
        assert_eq!(fs["big"], json!({"integerValue": "9007199254740993"}));
        assert_eq!(from_fields(&fs), v);
    }

    #[test]
    fn empty_arrays_and_maps_survive() {
        let v = json!({"a": [], "m": {}});
        assert_eq!(from_fields(&fields_of(v.as_object().unwrap())), v);
        assert_eq!(from_firestore(&json!({"arrayValue": {}})), json!([]));
        assert_eq!(from_firestore(&json!({"mapValue": {}})), json!({}));
    }

    #[test]
    fn quotes_unusual_field_names() {
        assert_eq!(field_path("otp_sent"), "otp_sent");
        assert_eq!(field_path("2fa"), "`2fa`");
        assert_eq!(field_path("a.b"), "`a.b`");
    }
}
