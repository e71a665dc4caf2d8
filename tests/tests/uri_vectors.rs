//! URIs in the captured Pyro4 4.82 traffic (tests/vectors): every URI object
//! a Python peer put in a json payload rebuilds with `Uri::from_value` and
//! maps back to the same dict with `to_value`, and every URI Python printed
//! (`<Pyro4.core.URI at 0x...; PYRO:...>`) parses and prints back unchanged;
//! serpent payloads carry the URI objects byte for byte as Rust's state renders.

use std::collections::BTreeSet;

use pyro_proto::uri::Uri;
use pyro_proto::{Dict, Value};
use pyro_tests::vectors;
use serde_json::{json, Value as Json};

/// JSON as Pyro's json serializer delivers it, as the codec's raw value.
fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map_or(Value::Float(n.as_f64().unwrap()), Value::Int),
        Json::String(s) => Value::Str(s.as_str().into()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect()),
        Json::Object(map) => Value::Dict(Dict(
            map.iter()
                .map(|(k, v)| (Value::Str(k.as_str().into()), from_json(v)))
                .collect(),
        )),
    }
}

/// What Pyro's json serializer writes for a value (tuples and sets as arrays).
fn to_json(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Int(i) => json!(i),
        Value::Str(s) => json!(s),
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            Json::Array(items.iter().map(to_json).collect())
        }
        Value::Class(c) => {
            let mut map = serde_json::Map::new();
            map.insert("__class__".into(), json!(c.class_name));
            for (k, v) in &c.fields.0 {
                let Value::Str(k) = k else {
                    panic!("non-str field")
                };
                map.insert(k.to_string(), to_json(v));
            }
            Json::Object(map)
        }
        other => panic!("a URI value holds no {other:?}"),
    }
}

/// Every `{"__class__": "Pyro4.core.URI", ...}` object inside `j`.
fn uri_dicts<'a>(j: &'a Json, found: &mut Vec<&'a Json>) {
    match j {
        Json::Object(map) => {
            if map.get("__class__") == Some(&json!("Pyro4.core.URI")) {
                found.push(j);
            }
            map.values().for_each(|v| uri_dicts(v, found));
        }
        Json::Array(items) => items.iter().for_each(|v| uri_dicts(v, found)),
        _ => {}
    }
}

/// The `PYRO...` strings of Python's `<Pyro4.core.URI at 0x...; STR>` reprs.
fn printed_uris(text: &str) -> Vec<String> {
    text.split("<Pyro4.core.URI at 0x")
        .skip(1)
        .filter_map(|rest| {
            let (_, after) = rest.split_once("; ")?;
            Some(after.split_once('>')?.0.to_string())
        })
        .collect()
}

/// serpent's text for the simple values a URI state holds.
fn serpent_text(v: &Value) -> String {
    match v {
        Value::None => "None".into(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => {
            assert!(
                !s.contains(['\'', '\\']) && s.is_ascii(),
                "keep to simple strings"
            );
            format!("'{s}'")
        }
        Value::Tuple(items) => {
            let inner: Vec<String> = items.iter().map(serpent_text).collect();
            format!("({})", inner.join(","))
        }
        Value::Class(c) => {
            let mut parts = vec![format!("'__class__':'{}'", c.class_name)];
            for (k, v) in &c.fields.0 {
                parts.push(format!("{}:{}", serpent_text(k), serpent_text(v)));
            }
            format!("{{{}}}", parts.join(","))
        }
        other => panic!("a URI value holds no {other:?}"),
    }
}

#[test]
fn serpent_payloads_hold_the_rust_state() {
    const START: &str = "{'__class__':'Pyro4.core.URI','state':(";
    let mut checked = 0;
    for file in vectors::all() {
        let printed: BTreeSet<String> = file
            .header
            .iter()
            .chain(file.lines.iter().flat_map(|l| l.comments.iter()))
            .flat_map(|c| printed_uris(c))
            .collect();
        let rendered: BTreeSet<String> = printed
            .iter()
            .map(|s| serpent_text(&Uri::parse(s).unwrap().to_value()))
            .collect();
        for line in &file.lines {
            let payload = match line.tag.as_str() {
                "DATA" | "CALL" if file.name == "unit_serializer_serpent.txt" => line.bytes.clone(),
                "C2S" | "S2C" | "MSG" if file.name.starts_with("serpent_") => {
                    let frame = vectors::raw_frame(&line.bytes);
                    if frame.serializer_id != 1 {
                        continue;
                    }
                    frame.payload
                }
                _ => continue,
            };
            let text = String::from_utf8_lossy(&payload);
            for (at, _) in text.match_indices(START) {
                let end = at + text[at..].find(")}").expect("closed URI dict") + 2;
                let found = &text[at..end];
                assert!(
                    rendered.contains(found),
                    "{} line {}: {found} is not the state of any URI Python printed ({rendered:?})",
                    file.name,
                    line.line_no
                );
                checked += 1;
            }
        }
    }
    eprintln!("{checked} serpent URI objects match");
    assert!(checked >= 3, "only {checked} serpent URI objects found");
}

#[test]
fn uris_in_the_vectors() {
    let (mut objects, mut printed) = (0, 0);
    for file in vectors::all() {
        let comments: Vec<&String> = file
            .header
            .iter()
            .chain(file.lines.iter().flat_map(|l| l.comments.iter()))
            .collect();
        let shown: BTreeSet<String> = comments.iter().flat_map(|c| printed_uris(c)).collect();
        for s in &shown {
            let uri = Uri::parse(s).unwrap_or_else(|e| panic!("{}: {s:?}: {e}", file.name));
            assert_eq!(&uri.to_string(), s, "{}", file.name);
            printed += 1;
        }
        for line in &file.lines {
            let json_text = match line.tag.as_str() {
                "DATA" | "CALL" if file.name == "unit_serializer_json.txt" => line.bytes.clone(),
                // The json_* scenarios (the raw_* ones hold deliberately broken frames).
                "C2S" | "S2C" | "MSG" if file.name.starts_with("json_") => {
                    let frame = vectors::raw_frame(&line.bytes);
                    if frame.serializer_id != 2 {
                        continue;
                    }
                    frame.payload
                }
                _ => continue,
            };
            // Payloads with NaN/Infinity are not standard JSON; they hold no URI.
            let Ok(payload) = serde_json::from_slice::<Json>(&json_text) else {
                continue;
            };
            let mut found = Vec::new();
            uri_dicts(&payload, &mut found);
            for dict in found {
                let uri = Uri::from_value(&from_json(dict))
                    .unwrap_or_else(|e| panic!("{} line {}: {dict}: {e}", file.name, line.line_no));
                assert_eq!(
                    &to_json(&uri.to_value()),
                    dict,
                    "{} line {}",
                    file.name,
                    line.line_no
                );
                if !shown.is_empty() {
                    assert!(
                        shown.contains(&uri.to_string()),
                        "{} line {}: {uri} not among the URIs Python printed: {shown:?}",
                        file.name,
                        line.line_no
                    );
                }
                objects += 1;
            }
        }
    }
    eprintln!("{objects} URI objects in json payloads, {printed} printed URIs");
    assert!(
        objects >= 5,
        "only {objects} URI objects found in the vectors"
    );
    assert!(
        printed >= 5,
        "only {printed} printed URIs found in the vectors"
    );
}
