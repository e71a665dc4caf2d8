//! The marshal codec against the Pyro4 4.82 vectors.
//!
//! * `unit_serializer_marshal.txt`: every `DATA`/`CALL` line decodes to the
//!   value its comment describes, and our encoding of that value equals
//!   Python's bytes once the reference-count-dependent parts are stripped
//!   (`marshal_support::normalize`: FLAG_REF bits, `r` back-references,
//!   interned-string codes). Python's bytes for these vectors always carry
//!   FLAG_REF (string constants and small ints are shared objects in the
//!   generating process), so byte identity is only defined after that step.
//! * every captured message with serializer id 3 in every vector file: the
//!   payload decodes, its Python `repr` equals the one recorded in the vector
//!   comment, our re-encoding equals the normalised Python bytes, and it
//!   decodes to the same value again.

mod marshal_support;

use marshal_support::{normalize, py_repr, same};
use pyro_proto::serialize::marshal;
use pyro_proto::value::{Dict, Value};
use pyro_tests::vectors;

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn i(n: i64) -> Value {
    Value::Int(n)
}

fn dict(pairs: Vec<(&str, Value)>) -> Value {
    Value::Dict(Dict(pairs.into_iter().map(|(k, v)| (s(k), v)).collect()))
}

fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|x| s(x)).collect())
}

fn call(object: &str, method: &str, vargs: Vec<Value>, kwargs: Value) -> Value {
    Value::Tuple(vec![s(object), s(method), Value::List(vargs), kwargs])
}

fn exception(class: &str, args: Vec<Value>, traceback: Value) -> Value {
    dict(vec![
        ("__class__", s(class)),
        ("__exception__", Value::Bool(true)),
        ("args", Value::Tuple(args)),
        ("attributes", dict(vec![("_pyroTraceback", traceback)])),
    ])
}

/// The value each unit vector's comment describes, by the comment's label.
fn expected(label: &str) -> Option<Value> {
    Some(match label {
        "call multiply(6,7)" => call("test.obj", "multiply", vec![i(6), i(7)], dict(vec![])),
        "call with kwargs" => call(
            "test.obj",
            "kwargs",
            vec![i(1)],
            dict(vec![("b", i(3)), ("extra", s("x"))]),
        ),
        "call no args" => call("Pyro.Daemon", "ping", vec![], dict(vec![])),
        "get_next_stream_item as sent by the proxy (vargs is a list)" => call(
            "Pyro.Daemon",
            "get_next_stream_item",
            vec![s("3f1b7c1e-0000-4000-8000-000000000000")],
            dict(vec![]),
        ),
        "handshake request with metadata" => {
            dict(vec![("handshake", s("hello")), ("object", s("test.obj"))])
        }
        "handshake request without metadata" => dict(vec![("handshake", s("hello"))]),
        "handshake response with meta" => dict(vec![
            ("handshake", s("hello")),
            (
                "meta",
                dict(vec![
                    ("methods", strs(&["echo", "multiply"])),
                    ("oneway", strs(&["fire"])),
                    ("attrs", strs(&["value"])),
                ]),
            ),
        ]),
        "plain int" => i(42),
        "None" => Value::None,
        "str" => s("héllo €"),
        "nested" => dict(vec![
            ("a", Value::List(vec![i(1), Value::Tuple(vec![i(2), i(3)])])),
            ("b", Value::None),
            ("c", Value::Bool(true)),
        ]),
        "float specials" => Value::List(vec![
            Value::Float(1.5),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
        ]),
        "URI" => dict(vec![
            ("__class__", s("Pyro4.core.URI")),
            (
                "state",
                Value::Tuple(vec![
                    s("PYRO"),
                    s("obj"),
                    Value::None,
                    s("localhost"),
                    i(1234),
                ]),
            ),
        ]),
        "exception ValueError with _pyroTraceback" => exception(
            "builtins.ValueError",
            vec![s("bad"), i(42)],
            strs(&["Traceback (most recent call last):\n", "ValueError: bad\n"]),
        ),
        "Pyro4.errors.NamingError" => exception(
            "Pyro4.errors.NamingError",
            vec![s("unknown name: x")],
            Value::None,
        ),
        "ProtocolError stream marker (as sent with ITEMSTREAMRESULT)" => exception(
            "Pyro4.errors.ProtocolError",
            vec![s("result of call is an iterator")],
            Value::None,
        ),
        "NS list(return_metadata=True) result" => dict(vec![(
            "a",
            Value::Tuple(vec![s("PYRO:a@h:1"), strs(&["m1"])]),
        )]),
        _ => return None,
    })
}

#[test]
fn unit_vectors_decode_to_the_described_values_and_encode_back() {
    let file = vectors::named("unit_serializer_marshal.txt");
    let mut checked = 0;
    let mut identical = 0;
    for line in file
        .lines
        .iter()
        .filter(|l| l.tag == "DATA" || l.tag == "CALL")
    {
        let comment = line.comments.last().expect("each vector has a comment");
        let label = comment
            .trim_start_matches('#')
            .trim()
            .split(": ")
            .next()
            .unwrap();
        let want = expected(label)
            .unwrap_or_else(|| panic!("line {}: no expected value for {label:?}", line.line_no));
        let got = marshal::loads(&line.bytes).unwrap();
        assert!(
            same(&got, &want),
            "line {}: {got:?} != {want:?}",
            line.line_no
        );
        let ours = marshal::dumps(&want).unwrap();
        assert_eq!(
            ours,
            normalize(&line.bytes),
            "line {}: our bytes differ from Python's (normalised)",
            line.line_no
        );
        if normalize(&line.bytes) == line.bytes {
            identical += 1;
        }
        if line.tag == "CALL" {
            let c = marshal::loads_call(&line.bytes).unwrap();
            let Value::Tuple(parts) = &want else {
                unreachable!()
            };
            assert_eq!(s(&c.object), parts[0]);
            assert_eq!(s(&c.method), parts[1]);
            assert_eq!(c.vargs, parts[2]);
            assert_eq!(c.kwargs.map(Value::Dict), Some(parts[3].clone()));
            // Ours from a Call with tuple vargs (as a Rust client builds it).
            let Value::List(vargs) = &parts[2] else {
                unreachable!()
            };
            let Value::Dict(kwargs) = &parts[3] else {
                unreachable!()
            };
            let ours = marshal::dumps_call(&pyro_proto::serialize::Call {
                object: c.object.clone(),
                method: c.method.clone(),
                vargs: Value::Tuple(vargs.clone()),
                kwargs: Some(kwargs.clone()),
            })
            .unwrap();
            assert_eq!(ours, normalize(&line.bytes), "line {}", line.line_no);
        }
        checked += 1;
    }
    assert_eq!(checked, 17, "unit vector count changed");
    // Only `None` carries no FLAG_REF (even 42 and the str are shared
    // objects in the generating process).
    eprintln!("{identical} of {checked} unit vectors byte-identical without normalising");
    assert_eq!(identical, 1);
}

fn has_set(v: &Value) -> bool {
    match v {
        Value::Set(_) | Value::FrozenSet(_) => true,
        Value::List(x) | Value::Tuple(x) => x.iter().any(has_set),
        Value::Dict(d) => d.0.iter().any(|(k, v)| has_set(k) || has_set(v)),
        _ => false,
    }
}

#[test]
fn every_captured_marshal_payload_round_trips() {
    let mut payloads = 0;
    let mut reprs = 0;
    let mut calls = 0;
    for file in vectors::all() {
        for line in &file.lines {
            if line.tag != "C2S" && line.tag != "S2C" {
                continue;
            }
            if line.bytes.len() < 24 || &line.bytes[..4] != b"PYRO" {
                continue;
            }
            let frame = vectors::raw_frame(&line.bytes);
            if frame.serializer_id != 3 || frame.payload.is_empty() {
                continue;
            }
            let at = format!("{}:{}", file.name, line.line_no);
            let value = marshal::loads(&frame.payload).unwrap_or_else(|e| panic!("{at}: {e}"));
            let ours = marshal::dumps(&value).unwrap();
            assert_eq!(ours, normalize(&frame.payload), "{at}: re-encoding differs");
            let again = marshal::loads(&ours).unwrap();
            assert!(same(&again, &value), "{at}");
            if frame.msg_type == 4 {
                marshal::loads_call(&frame.payload).unwrap_or_else(|e| panic!("{at}: {e}"));
                calls += 1;
            }
            // The comment block records `marshal.loads -> <repr>`.
            if let Some(text) = line
                .comments
                .iter()
                .find_map(|c| c.split_once("marshal.loads -> ").map(|(_, r)| r))
            {
                let ours = py_repr(&value);
                if has_set(&value) {
                    // The recorded repr came from another process: set
                    // iteration order differs (string hash randomisation),
                    // so compare the characters as a multiset.
                    let (mut a, mut b): (Vec<char>, Vec<char>) =
                        (ours.chars().collect(), text.chars().collect());
                    a.sort_unstable();
                    b.sort_unstable();
                    assert_eq!(
                        a, b,
                        "{at}: repr differs (set order ignored):\n{ours}\n{text}"
                    );
                } else {
                    assert_eq!(ours, text, "{at}: repr differs");
                }
                reprs += 1;
            }
            payloads += 1;
        }
    }
    assert!(payloads > 100, "only {payloads} marshal payloads found");
    assert_eq!(reprs, payloads, "every payload has a recorded repr");
    assert!(calls > 20, "only {calls} calls");
    eprintln!("{payloads} payloads, {calls} calls");
}
