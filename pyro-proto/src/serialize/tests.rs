//! Behaviour of the codec dispatch itself (`SerializerId`).

use alloc::vec;
use alloc::vec::Vec;

use super::{Call, SerializeError, SerializerId, MAX_DEPTH};
use crate::value::{recreate, Dict, Value};

fn s(x: &str) -> Value {
    Value::from(x)
}

/// `loads_call` skips the class step for marshal and json when their reader
/// saw nothing it could act on: every call gives what the raw call after
/// `recreate` gives, class dicts anywhere (vargs, nested, kwargs) and nesting
/// at the depth limit included.
#[test]
fn class_step_is_skipped_only_when_it_has_nothing_to_do() {
    let class = |name: &str| {
        Value::Dict(Dict(vec![
            (s("__class__"), s(name)),
            (s("x"), Value::Int(1)),
        ]))
    };
    let call = |vargs: Vec<Value>, kwargs: Dict| Call {
        object: "o".into(),
        method: "m".into(),
        vargs: Value::Tuple(vargs),
        kwargs: Some(kwargs),
    };
    let mut deep = Value::Int(0);
    for _ in 0..MAX_DEPTH - 2 {
        deep = Value::List(vec![deep]);
    }
    let cases = [
        call(vec![s("plain"), Value::Int(1)], Dict::default()),
        call(vec![class("nowhere.Unknown")], Dict::default()),
        call(
            vec![Value::List(vec![Value::Dict(Dict(vec![(
                s("k"),
                class("nowhere.Unknown"),
            )]))])],
            Dict::default(),
        ),
        call(vec![], Dict(vec![(s("kw"), class("nowhere.Unknown"))])),
        call(
            vec![class("Pyro4.errors.CommunicationError")],
            Dict::default(),
        ),
        call(vec![deep], Dict::default()),
    ];
    for ser in [SerializerId::Marshal, SerializerId::Json] {
        for c in &cases {
            let data = ser.dumps_call(c).unwrap();
            let expected = ser.loads_call_raw(&data).and_then(|raw| {
                let vargs = recreate(raw.vargs, ser, None)?;
                let kwargs = match raw.kwargs {
                    Some(d) => match recreate(Value::Dict(d), ser, None)? {
                        Value::Dict(d) => Some(d),
                        other => panic!("kwargs became {other:?}"),
                    },
                    None => None,
                };
                Ok((vargs, kwargs))
            });
            let got = ser.loads_call(&data).map(|call| (call.vargs, call.kwargs));
            assert_eq!(got, expected, "{ser:?}");
        }
        // The unknown class is refused, the known one rebuilt.
        let data = ser
            .dumps_call(&call(vec![class("nowhere.Unknown")], Dict::default()))
            .unwrap();
        assert!(
            matches!(ser.loads_call(&data), Err(SerializeError::UnknownClass(_))),
            "{ser:?}"
        );
        let error = Value::Dict(Dict(vec![
            (s("__class__"), s("Pyro4.errors.CommunicationError")),
            (s("__exception__"), Value::Bool(true)),
            (s("args"), Value::Tuple(vec![s("lost")])),
            (s("attributes"), Value::Dict(Dict::default())),
        ]));
        let data = ser.dumps_call(&call(vec![error], Dict::default())).unwrap();
        let (Value::List(args) | Value::Tuple(args)) = ser.loads_call(&data).unwrap().vargs else {
            panic!("{ser:?}: arguments are a sequence");
        };
        assert!(matches!(&args[0], Value::Class(_)), "{ser:?}: {args:?}");
    }
}
