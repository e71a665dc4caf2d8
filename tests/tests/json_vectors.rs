//! The json codec against the Pyro4 4.82 vectors: the serializer unit
//! vectors byte-exact in both directions, and every json payload captured
//! from real sessions decoding and re-encoding to the same bytes.

use pyro_proto::serialize::{json, Call, SerializeError};
use pyro_proto::value::{ClassDict, Dict, Value};
use pyro_tests::vectors;

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn i(n: i64) -> Value {
    Value::Int(n)
}

fn tuple(items: Vec<Value>) -> Value {
    Value::Tuple(items)
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn dict(pairs: Vec<(&str, Value)>) -> Dict {
    Dict(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn class(name: &str, pairs: Vec<(&str, Value)>) -> Value {
    Value::Class(Box::new(ClassDict {
        class_name: name.into(),
        fields: dict(pairs),
    }))
}

fn call(object: &str, method: &str, vargs: Value, kwargs: Option<Dict>) -> Call {
    Call {
        object: object.into(),
        method: method.into(),
        vargs,
        kwargs,
    }
}

fn uri() -> Value {
    class(
        "Pyro4.core.URI",
        vec![(
            "state",
            tuple(vec![
                s("PYRO"),
                s("obj"),
                Value::None,
                s("localhost"),
                i(1234),
            ]),
        )],
    )
}

fn value_error() -> Value {
    class(
        "builtins.ValueError",
        vec![
            ("__exception__", Value::Bool(true)),
            ("args", tuple(vec![s("bad"), i(42)])),
            (
                "attributes",
                Value::Dict(dict(vec![(
                    "_pyroTraceback",
                    list(vec![
                        s("Traceback (most recent call last):\n"),
                        s("ValueError: bad\n"),
                    ]),
                )])),
            ),
        ],
    )
}

fn pyro_error(name: &str, text: &str) -> Value {
    class(
        name,
        vec![
            ("__exception__", Value::Bool(true)),
            ("args", tuple(vec![s(text)])),
            (
                "attributes",
                Value::Dict(dict(vec![("_pyroTraceback", Value::None)])),
            ),
        ],
    )
}

/// The Python objects of `unit_serializer_json.txt`, in file order, built as
/// a Rust program would build them (tuples as tuples, classes as classes).
enum Expected {
    Call(Call),
    Data(Value),
}

fn expected() -> Vec<Expected> {
    use Expected::{Call as C, Data as D};
    vec![
        C(call(
            "test.obj",
            "multiply",
            tuple(vec![i(6), i(7)]),
            Some(Dict::default()),
        )),
        C(call(
            "test.obj",
            "kwargs",
            tuple(vec![i(1)]),
            Some(dict(vec![("b", i(3)), ("extra", s("x"))])),
        )),
        C(call(
            "Pyro.Daemon",
            "ping",
            tuple(vec![]),
            Some(Dict::default()),
        )),
        C(call(
            "Pyro.Daemon",
            "get_next_stream_item",
            list(vec![s("3f1b7c1e-0000-4000-8000-000000000000")]),
            Some(Dict::default()),
        )),
        C(call(
            "test.obj",
            "__getattr__",
            tuple(vec![s("value")]),
            None,
        )),
        C(call(
            "test.obj",
            "__setattr__",
            tuple(vec![s("value"), i(99)]),
            None,
        )),
        C(call(
            "test.obj",
            "<batch>",
            list(vec![
                tuple(vec![
                    s("multiply"),
                    tuple(vec![i(7), i(6)]),
                    Value::Dict(Dict::default()),
                ]),
                tuple(vec![
                    s("echo"),
                    tuple(vec![s("hi")]),
                    Value::Dict(Dict::default()),
                ]),
            ]),
            None,
        )),
        D(Value::Dict(dict(vec![
            ("handshake", s("hello")),
            ("object", s("test.obj")),
        ]))),
        D(Value::Dict(dict(vec![("handshake", s("hello"))]))),
        D(Value::Dict(dict(vec![
            ("handshake", s("hello")),
            (
                "meta",
                Value::Dict(dict(vec![
                    ("methods", list(vec![s("echo"), s("multiply")])),
                    ("oneway", list(vec![s("fire")])),
                    ("attrs", list(vec![s("value")])),
                ])),
            ),
        ]))),
        D(i(42)),
        D(Value::None),
        D(s("héllo €")),
        D(Value::Dict(dict(vec![
            ("a", list(vec![i(1), tuple(vec![i(2), i(3)])])),
            ("b", Value::None),
            ("c", Value::Bool(true)),
        ]))),
        D(list(vec![
            Value::Float(1.5),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
        ])),
        D(uri()),
        D(value_error()),
        D(pyro_error("Pyro4.errors.NamingError", "unknown name: x")),
        D(list(vec![
            i(42),
            class(
                "Pyro4.futures._ExceptionWrapper",
                vec![("exception", value_error())],
            ),
        ])),
        D(pyro_error(
            "Pyro4.errors.ProtocolError",
            "result of call is an iterator",
        )),
        D(tuple(vec![uri(), list(vec![s("class:x")])])),
        D(Value::Dict(dict(vec![(
            "a",
            tuple(vec![s("PYRO:a@h:1"), list(vec![s("m1")])]),
        )]))),
    ]
}

/// The `#   text: ...` comment above a line: the payload as Python printed it.
fn text_comment(line: &vectors::Line) -> &str {
    line.comments
        .iter()
        .find_map(|c| c.strip_prefix("#   text: "))
        .unwrap_or_else(|| panic!("line {} has no text comment", line.line_no))
}

#[test]
fn unit_vectors_byte_exact_both_ways() {
    let file = vectors::named("unit_serializer_json.txt");
    let lines: Vec<_> = file
        .lines
        .iter()
        .filter(|l| l.tag == "CALL" || l.tag == "DATA")
        .collect();
    let expected = expected();
    assert_eq!(lines.len(), expected.len(), "vector file changed");
    for (line, want) in lines.iter().zip(&expected) {
        let at = format!("line {}: {}", line.line_no, line.comments[0]);
        assert_eq!(
            String::from_utf8(line.bytes.clone()).unwrap(),
            text_comment(line),
            "{at}"
        );
        match (line.tag.as_str(), want) {
            ("CALL", Expected::Call(c)) => {
                // Rust -> bytes: exactly what Pyro4's dumpsCall wrote.
                assert_eq!(json::dumps_call(c).unwrap(), line.bytes, "{at}");
                // bytes -> Rust -> bytes.
                let back = json::loads_call(&line.bytes).unwrap();
                assert_eq!(back.object, c.object, "{at}");
                assert_eq!(back.method, c.method, "{at}");
                assert!(matches!(back.vargs, Value::List(_)), "{at}");
                assert_eq!(back.kwargs.is_some(), c.kwargs.is_some(), "{at}");
                assert_eq!(json::dumps_call(&back).unwrap(), line.bytes, "{at}");
            }
            ("DATA", Expected::Data(v)) => {
                assert_eq!(json::dumps(v).unwrap(), line.bytes, "{at}");
                let back = json::loads(&line.bytes).unwrap();
                assert_eq!(json::dumps(&back).unwrap(), line.bytes, "{at}");
            }
            (tag, _) => panic!("{at}: tag {tag} does not match the expected kind"),
        }
    }
}

#[test]
fn unit_vectors_decode_to_raw_trees() {
    let file = vectors::named("unit_serializer_json.txt");
    let uri_line = file
        .lines
        .iter()
        .find(|l| l.comments.iter().any(|c| c.starts_with("# URI:")))
        .unwrap();
    // A class dict stays a plain dict, with __class__ first, the tuple a list.
    assert_eq!(
        json::loads(&uri_line.bytes).unwrap(),
        Value::Dict(dict(vec![
            ("__class__", s("Pyro4.core.URI")),
            (
                "state",
                list(vec![
                    s("PYRO"),
                    s("obj"),
                    Value::None,
                    s("localhost"),
                    i(1234)
                ])
            ),
        ]))
    );
    let batch = file
        .lines
        .iter()
        .find(|l| {
            l.comments
                .iter()
                .any(|c| c.starts_with("# batch (kwargs None"))
        })
        .unwrap();
    let c = json::loads_call(&batch.bytes).unwrap();
    assert_eq!(c.method, "<batch>");
    assert_eq!(c.kwargs, None);
    assert_eq!(
        c.vargs,
        list(vec![
            list(vec![
                s("multiply"),
                list(vec![i(7), i(6)]),
                Value::Dict(Dict::default())
            ]),
            list(vec![
                s("echo"),
                list(vec![s("hi")]),
                Value::Dict(Dict::default())
            ]),
        ])
    );
}

/// Every json message captured from real Pyro4 sessions: the payload decodes
/// and re-encodes to the same bytes, as a value and (INVOKE) as a call.
#[test]
fn every_captured_json_payload_round_trips_byte_identically() {
    let mut payloads = 0;
    let mut calls = 0;
    let mut refused = 0;
    let mut files = std::collections::BTreeSet::new();
    for file in vectors::all() {
        for line in &file.lines {
            if line.tag != "C2S" && line.tag != "S2C" {
                continue;
            }
            let frame = vectors::raw_frame(&line.bytes);
            if frame.serializer_id != 2 {
                continue;
            }
            let at = format!("{} line {}", file.name, line.line_no);
            let value = match json::loads(&frame.payload) {
                Ok(v) => v,
                Err(e) => {
                    // The one deliberate exception: a serpent payload sent
                    // under json's id. Python's json.loads fails on it too
                    // (the daemon answers with a JSONDecodeError), so we
                    // must refuse it as malformed.
                    assert_eq!(
                        (file.name.as_str(), frame.msg_type),
                        ("raw_invoke_payload_serializer_mismatch.txt", 4),
                        "{at}: {e}: {}",
                        String::from_utf8_lossy(&frame.payload)
                    );
                    assert!(frame.payload.starts_with(b"# serpent"), "{at}");
                    assert!(
                        matches!(
                            e,
                            SerializeError::Malformed {
                                codec: "json",
                                offset: 0,
                                ..
                            }
                        ),
                        "{at}: {e}"
                    );
                    refused += 1;
                    continue;
                }
            };
            assert_eq!(json::dumps(&value).unwrap(), frame.payload, "{at}");
            payloads += 1;
            files.insert(file.name.clone());
            if frame.msg_type == 4 {
                let c = json::loads_call(&frame.payload).unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(json::dumps_call(&c).unwrap(), frame.payload, "{at}");
                calls += 1;
            }
        }
    }
    eprintln!(
        "{payloads} json payloads ({calls} INVOKE calls) from {} files; {refused} refused",
        files.len()
    );
    assert!(payloads >= 100, "only {payloads} json payloads found");
    assert!(calls >= 30, "only {calls} json calls found");
    assert_eq!(refused, 1, "the serializer-mismatch vector was not seen");
}
