//! `dumps_into` / `dumps_call_into`: they append exactly what `dumps` /
//! `dumps_call` return, keep what the buffer held, reuse its room, and
//! leave it as it was on error.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use super::{Call, SerializeError, SerializerId, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

fn s(x: &str) -> Value {
    Value::from(x)
}

fn values() -> Vec<Value> {
    vec![
        Value::None,
        Value::Int(-7),
        s("hello"),
        Value::Tuple(vec![
            s("hello"),
            Value::Int(42),
            Value::Float(3.25),
            Value::List((0..10).map(Value::Int).collect()),
            Value::Dict(Dict(vec![(s("a"), Value::Int(1)), (s("b"), s("two"))])),
        ]),
        // Large leaves take the codecs' up-front sizing paths.
        Value::Str("x".repeat(70_000).into()),
        Value::List(vec![s(&"é".repeat(40_000)), Value::Int(1 << 40)]),
        Value::Class(Box::new(ClassDict {
            class_name: "builtins.ValueError".into(),
            fields: Dict(vec![
                (s("__exception__"), Value::Bool(true)),
                (s("args"), Value::Tuple(vec![s("bad")])),
                (s("attributes"), Value::Dict(Dict::default())),
            ]),
        })),
    ]
}

fn calls() -> Vec<Call> {
    let mut calls: Vec<Call> = values()
        .into_iter()
        .map(|v| Call {
            object: "test.obj".into(),
            method: "method".into(),
            vargs: Value::Tuple(vec![v]),
            kwargs: Some(Dict(vec![(s("k"), Value::Float(0.5))])),
        })
        .collect();
    calls.push(Call {
        object: "Pyro.Daemon".into(),
        method: "__getattr__".into(),
        vargs: Value::List(vec![s("attr")]),
        kwargs: None,
    });
    calls
}

/// Nested `MAX_DEPTH + 2` lists deep after `before` items: every codec
/// refuses it, after having written part of the output.
fn too_deep(before: Vec<Value>) -> Value {
    let mut deep = Value::Int(0);
    for _ in 0..MAX_DEPTH + 2 {
        deep = Value::List(vec![deep]);
    }
    let mut items = before;
    items.push(deep);
    Value::List(items)
}

#[test]
fn appending_gives_the_same_bytes_after_what_the_buffer_held() {
    for &codec in SerializerId::ALL {
        let mut buf = b"prefix".to_vec();
        for v in values() {
            let expected = codec.dumps(&v).unwrap();
            buf.truncate(6);
            codec.dumps_into(&v, &mut buf).unwrap();
            assert_eq!(&buf[..6], b"prefix", "{codec:?}");
            assert_eq!(&buf[6..], &expected[..], "{codec:?} {v:?}");
        }
        for call in calls() {
            let expected = codec.dumps_call(&call).unwrap();
            buf.truncate(6);
            codec.dumps_call_into(&call, &mut buf).unwrap();
            assert_eq!(&buf[..6], b"prefix", "{codec:?}");
            assert_eq!(&buf[6..], &expected[..], "{codec:?} {call:?}");
        }
    }
}

#[test]
fn a_cleared_buffer_is_reused_without_growing() {
    let call = &calls()[3];
    for &codec in SerializerId::ALL {
        let mut buf = Vec::new();
        codec.dumps_call_into(call, &mut buf).unwrap();
        let (first, capacity, ptr) = (buf.clone(), buf.capacity(), buf.as_ptr());
        for _ in 0..3 {
            buf.clear();
            codec.dumps_call_into(call, &mut buf).unwrap();
            assert_eq!(buf, first, "{codec:?}");
            assert_eq!((buf.capacity(), buf.as_ptr()), (capacity, ptr), "{codec:?}");
        }
    }
}

#[test]
fn an_error_leaves_the_buffer_as_it_was() {
    // Values each codec refuses midway, after writing some of the output.
    let mut failing = vec![too_deep(vec![s("written first"), Value::Int(1)])];
    let refused_by = |codec: SerializerId| match codec {
        // json has no bytes; serpent refuses bytes as a dict key.
        SerializerId::Json => Some(Value::List(vec![s("a"), Value::Bytes(vec![1, 2])])),
        SerializerId::Serpent => Some(Value::List(vec![
            s("a"),
            Value::Dict(Dict(vec![(Value::Bytes(vec![1]), Value::Int(1))])),
        ])),
        _ => None,
    };
    for &codec in SerializerId::ALL {
        failing.extend(refused_by(codec));
        for v in &failing {
            let mut buf = b"kept".to_vec();
            assert!(codec.dumps_into(v, &mut buf).is_err(), "{codec:?} {v:?}");
            assert_eq!(buf, b"kept", "{codec:?}");
            let call = Call {
                object: "o".into(),
                method: "m".into(),
                vargs: Value::Tuple(vec![v.clone()]),
                kwargs: None,
            };
            let err = codec.dumps_call_into(&call, &mut buf).unwrap_err();
            assert_eq!(buf, b"kept", "{codec:?}");
            assert_eq!(Err(err), codec.dumps_call(&call).map(drop), "{codec:?}");
        }
        failing.truncate(1);
    }
    // An error on an empty buffer leaves it empty too.
    let mut buf = Vec::new();
    assert!(matches!(
        SerializerId::Pickle.dumps_into(&failing[0], &mut buf),
        Err(SerializeError::TooDeep { .. })
    ));
    assert!(buf.is_empty());
}

/// json and serpent write ints as Python's `repr` does, on their one- and
/// two-digit fast path and off it.
#[test]
fn ints_are_written_as_their_decimal_text() {
    let edges = [i64::MIN, i64::MIN + 1, -1_000_001, i64::MAX, 1 << 40];
    for i in (-120..=1100).chain(edges) {
        let text = alloc::format!("{i}");
        let json = SerializerId::Json.dumps(&Value::Int(i)).unwrap();
        assert_eq!(json, text.as_bytes(), "{i}");
        let serpent = SerializerId::Serpent.dumps(&Value::Int(i)).unwrap();
        assert_eq!(
            serpent[crate::serialize::serpent::HEADER.len()..],
            *text.as_bytes(),
            "{i}"
        );
    }
}

/// Pickle writes the call's object id and method name through a path of
/// its own for short names: every length on both sides of its limit gives
/// the plain SHORT_BINUNICODE record, and reads back.
#[test]
fn pickle_call_names_of_every_length() {
    let chars = ["x", "é", "€"];
    for c in chars {
        for n in 0..=20 {
            let object: alloc::string::String = c.repeat(n);
            let method: alloc::string::String = c.repeat(20 - n);
            let call = Call {
                object: object.as_str().into(),
                method: method.as_str().into(),
                vargs: Value::Tuple(vec![]),
                kwargs: None,
            };
            let out = SerializerId::Pickle.dumps_call(&call).unwrap();
            let mut body = vec![b'('];
            for name in [&object, &method] {
                body.extend_from_slice(&[0x8c, name.len() as u8]);
                body.extend_from_slice(name.as_bytes());
            }
            body.extend_from_slice(b")Nt");
            let mut expected = vec![0x80, 4, 0x95];
            expected.extend_from_slice(&(body.len() as u64 + 1).to_le_bytes());
            expected.extend_from_slice(&body);
            expected.push(b'.');
            assert_eq!(out, expected, "{object:?} {method:?}");
            let back = SerializerId::Pickle.loads_call(&out).unwrap();
            assert_eq!(
                (back.object.as_str(), back.method.as_str()),
                (&*object, &*method)
            );
        }
    }
}
